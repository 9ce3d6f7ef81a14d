//! Rooms drawn from a seed: `generated-<seed>` is a room no preset describes, for measuring how
//! a model or the radio's floor image does in rooms it has never seen, as many as wanted.
//!
//! Everything about the room comes from the seed: its size (3.5-8 x 3-6 x 2.4-3.2 m, so it fits
//! the floor grid of the shipped floor head, 8 x 6 m), the material of each surface, 0-5 boxes
//! of furniture against the walls and 0-3 point scatterers, the carrier (one of four 5 GHz
//! channels), where the two radios hang (on two different walls, 0.8-2.2 m high, their arrays
//! turned anywhere) and the camera (in a corner under the ceiling, looking at the middle of
//! the room). The room's static multipath is derived from that description like any scene
//! file's ([`Room::new`]); the people are one wanderer, meant to be replaced per sequence
//! (`random_people`).

use super::{AntennaArray, Camera, Furniture, Material, MaterialName, Motion, Person, Radio};
use super::{Impairments, Room, Scene, Walls};
use crate::layout::SubcarrierLayout;
use crate::rng::{SimRng, Stream};

/// The prefix of a generated room's name: `generated-<seed>`.
pub const GENERATED_PREFIX: &str = "generated-";

/// Wall materials drawn for a generated room (metal is rare).
const WALL_MATERIALS: [MaterialName; 6] = [
    MaterialName::Concrete,
    MaterialName::Brick,
    MaterialName::Drywall,
    MaterialName::Glass,
    MaterialName::Wood,
    MaterialName::Drywall,
];
const FLOOR_MATERIALS: [MaterialName; 3] = [
    MaterialName::Concrete,
    MaterialName::Carpet,
    MaterialName::Wood,
];
const CEILING_MATERIALS: [MaterialName; 3] = [
    MaterialName::Drywall,
    MaterialName::Concrete,
    MaterialName::Drywall,
];
/// 5 GHz channels 36, 64, 100 and 149.
const CARRIERS_HZ: [f64; 4] = [5.18e9, 5.32e9, 5.5e9, 5.745e9];

impl Scene {
    /// The room `generated-<seed>` ([`GENERATED_PREFIX`]): see the module's documentation.
    /// Its sequence seed is `seed` too; the same seed always gives the same room.
    pub fn generated(seed: u64) -> Scene {
        let mut rng = SimRng::new(seed, Stream::Room, 0);
        let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
        let walls = Walls {
            x_min: Material::Named(WALL_MATERIALS[pick(WALL_MATERIALS.len())]),
            x_max: Material::Named(WALL_MATERIALS[pick(WALL_MATERIALS.len())]),
            y_min: Material::Named(WALL_MATERIALS[pick(WALL_MATERIALS.len())]),
            y_max: Material::Named(WALL_MATERIALS[pick(WALL_MATERIALS.len())]),
            floor: Material::Named(FLOOR_MATERIALS[pick(FLOOR_MATERIALS.len())]),
            ceiling: Material::Named(CEILING_MATERIALS[pick(CEILING_MATERIALS.len())]),
        };
        let mut rng = SimRng::new(seed, Stream::Room, 1);
        let size = [
            round_cm(rng.range(3.5, 8.0)),
            round_cm(rng.range(3.0, 6.0)),
            round_cm(rng.range(2.4, 3.2)),
        ];
        let furniture = furniture(&mut rng, size);
        let carrier_hz = CARRIERS_HZ[(rng.next_u64() % CARRIERS_HZ.len() as u64) as usize];
        let tx_wall = (rng.next_u64() % 4) as usize;
        let tx = array_on_wall(&mut rng, size, tx_wall);
        // Another wall, and 2 m or more apart on the floor (two radios in one corner see
        // the room through nearly one path); the opposite wall when draws keep failing.
        let apart = |a: &AntennaArray| {
            let (p, q) = (a.position_m, tx.position_m);
            (p[0] - q[0]).hypot(p[1] - q[1]) >= 2.0
        };
        let mut rx = None;
        for _ in 0..16 {
            let wall = (tx_wall + 1 + (rng.next_u64() % 3) as usize) % 4;
            let a = array_on_wall(&mut rng, size, wall);
            if apart(&a) {
                rx = Some(a);
                break;
            }
        }
        let rx = rx.unwrap_or_else(|| array_on_wall(&mut rng, size, tx_wall ^ 1));
        let corner = (rng.next_u64() % 4) as usize;
        let inset = 0.2;
        let cx = if corner & 1 == 0 {
            inset
        } else {
            size[0] - inset
        };
        let cy = if corner & 2 == 0 {
            inset
        } else {
            size[1] - inset
        };
        let camera = Camera {
            position_m: [cx, cy, round_cm((size[2] - 0.3).min(2.4))],
            look_at_m: [size[0] / 2.0, size[1] / 2.0, 0.8],
            fov_deg: 80.0,
            intrinsics: None,
            resolution: [320, 240],
            gt_resolution: None,
            fps: 20.0,
            rgb: true,
        };
        Scene {
            name: format!("{GENERATED_PREFIX}{seed}"),
            room: Room::new(size, walls, furniture),
            radio: Radio {
                carrier_hz,
                layout: SubcarrierLayout::Intel5300,
                packet_rate_hz: 100.0,
                tx_power_dbm: 20.0,
                max_reflection_order: 2,
                body_points_per_person: 128,
            },
            tx,
            rx,
            people: vec![Person {
                height_m: 1.75,
                reflectivity: 1.0,
                motion: Motion::Wander {
                    speed_mps: 0.9,
                    pause_s: 1.5,
                    margin_m: 0.5,
                },
                body_seed: None,
            }],
            camera: Some(camera),
            impairments: Impairments::default(),
            duration_s: None,
            seed,
        }
    }

    /// The seed of a generated room's name (`generated-<seed>`), `None` for any other name.
    pub fn generated_seed(name: &str) -> Option<u64> {
        name.strip_prefix(GENERATED_PREFIX)?.parse().ok()
    }
}

fn round_cm(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// 0-5 boxes standing against the walls (cupboards, desks, a bed, a sofa) and 0-3 point
/// scatterers (a lamp, a screen) anywhere, 0.3 m or more from the walls.
fn furniture(rng: &mut SimRng, size: [f64; 3]) -> Vec<Furniture> {
    let mut out = Vec::new();
    for _ in 0..rng.next_u64() % 6 {
        let (long, deep) = (rng.range(0.6, 2.0), rng.range(0.4, 1.0));
        let height = round_cm(rng.range(0.4, 1.8).min(size[2] - 0.4));
        let wall = rng.next_u64() % 4;
        let along_x = wall < 2;
        let (w, d) = if along_x {
            (long.min(size[0] - 0.4), deep)
        } else {
            (deep, long.min(size[1] - 0.4))
        };
        let x0 = match wall {
            2 => 0.05,
            3 => size[0] - 0.05 - w,
            _ => rng.range(0.1, size[0] - 0.1 - w),
        };
        let y0 = match wall {
            0 => 0.05,
            1 => size[1] - 0.05 - d,
            _ => rng.range(0.1, size[1] - 0.1 - d),
        };
        out.push(Furniture::Box {
            min_m: [round_cm(x0), round_cm(y0), 0.0],
            max_m: [round_cm(x0 + w), round_cm(y0 + d), height],
            rcs_per_m2: round_cm(rng.range(0.2, 0.6)),
        });
    }
    for _ in 0..rng.next_u64() % 4 {
        out.push(Furniture::Point {
            position_m: [
                round_cm(rng.range(0.3, size[0] - 0.3)),
                round_cm(rng.range(0.3, size[1] - 0.3)),
                round_cm(rng.range(0.5, 2.0).min(size[2] - 0.2)),
            ],
            rcs_m2: round_cm(rng.range(0.2, 1.0)),
        });
    }
    out
}

/// A 3-antenna array 0.3 m from wall `wall` (0: y = 0, 1: y = max, 2: x = 0, 3: x = max),
/// anywhere along it but 0.5 m from the corners, 0.8-2.2 m high, turned anywhere.
fn array_on_wall(rng: &mut SimRng, size: [f64; 3], wall: usize) -> AntennaArray {
    let (x, y) = match wall {
        0 => (rng.range(0.5, size[0] - 0.5), 0.3),
        1 => (rng.range(0.5, size[0] - 0.5), size[1] - 0.3),
        2 => (0.3, rng.range(0.5, size[1] - 0.5)),
        _ => (size[0] - 0.3, rng.range(0.5, size[1] - 0.5)),
    };
    AntennaArray {
        position_m: [
            round_cm(x),
            round_cm(y),
            round_cm(rng.range(0.8, 2.2).min(size[2] - 0.2)),
        ],
        antennas: 3,
        spacing_m: None,
        axis_deg: round_cm(rng.range(-90.0, 90.0)),
    }
}
