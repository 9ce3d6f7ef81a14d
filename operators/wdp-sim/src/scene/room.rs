//! The room: its box, the materials of its six surfaces, its furniture, and the seed of its
//! static multipath (derived from the description when a scene file gives none).

use serde::{Deserialize, Serialize};

/// The room box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RoomSpec")]
pub struct Room {
    /// Size `[x, y, z]` in metres.
    pub size_m: [f64; 3],
    /// The six surfaces.
    pub walls: Walls,
    /// Static scatterers.
    pub furniture: Vec<Furniture>,
    /// Seed of everything random but static about the room (the furniture's scattering phases):
    /// it belongs to the room, so every sequence (`Scene::seed`) of one room has the same static
    /// multipath. When absent from a scene file it is [`Room::derived_seed`] of the room's size,
    /// walls and furniture, so identical descriptions are identical rooms.
    pub seed: u64,
}

/// The room as written in a scene file: `seed` may be absent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoomSpec {
    size_m: [f64; 3],
    #[serde(default)]
    walls: Walls,
    #[serde(default)]
    furniture: Vec<Furniture>,
    #[serde(default)]
    seed: Option<u64>,
}

impl From<RoomSpec> for Room {
    fn from(r: RoomSpec) -> Self {
        let seed = r
            .seed
            .unwrap_or_else(|| Room::derived_seed(r.size_m, &r.walls, &r.furniture));
        Room {
            size_m: r.size_m,
            walls: r.walls,
            furniture: r.furniture,
            seed,
        }
    }
}

impl Room {
    /// A room from its description, its seed derived from it ([`Room::derived_seed`]).
    pub fn new(size_m: [f64; 3], walls: Walls, furniture: Vec<Furniture>) -> Self {
        let seed = Room::derived_seed(size_m, &walls, &furniture);
        Room {
            size_m,
            walls,
            furniture,
            seed,
        }
    }

    /// The seed of a room given without one: 64-bit FNV-1a of the JSON text of
    /// `[size_m, walls, furniture]` (stable across runs, platforms and versions of this crate as
    /// long as those fields keep their names).
    pub fn derived_seed(size_m: [f64; 3], walls: &Walls, furniture: &[Furniture]) -> u64 {
        let text = serde_json::to_string(&(size_m, walls, furniture)).unwrap_or_default();
        text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
}

/// Materials of the six room surfaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Walls {
    /// The wall at x = 0.
    #[serde(default = "Material::concrete")]
    pub x_min: Material,
    /// The wall at x = `size_m[0]`.
    #[serde(default = "Material::concrete")]
    pub x_max: Material,
    /// The wall at y = 0.
    #[serde(default = "Material::drywall")]
    pub y_min: Material,
    /// The wall at y = `size_m[1]`.
    #[serde(default = "Material::drywall")]
    pub y_max: Material,
    /// The floor (z = 0).
    #[serde(default = "Material::concrete")]
    pub floor: Material,
    /// The ceiling (z = `size_m[2]`).
    #[serde(default = "Material::drywall")]
    pub ceiling: Material,
}

impl Default for Walls {
    fn default() -> Self {
        Self {
            x_min: Material::concrete(),
            x_max: Material::concrete(),
            y_min: Material::drywall(),
            y_max: Material::drywall(),
            floor: Material::concrete(),
            ceiling: Material::drywall(),
        }
    }
}

impl Walls {
    /// The six materials in the order x_min, x_max, y_min, y_max, floor, ceiling.
    pub fn all(&self) -> [(&'static str, &Material); 6] {
        [
            ("x_min", &self.x_min),
            ("x_max", &self.x_max),
            ("y_min", &self.y_min),
            ("y_max", &self.y_max),
            ("floor", &self.floor),
            ("ceiling", &self.ceiling),
        ]
    }
}

/// A surface material: a name or an amplitude reflection coefficient in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Material {
    /// A named material with a typical 5 GHz reflection coefficient.
    Named(MaterialName),
    /// An explicit amplitude reflection coefficient in [0, 1].
    Coefficient(f64),
}

/// Named materials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaterialName {
    /// Concrete, 0.55.
    Concrete,
    /// Brick, 0.45.
    Brick,
    /// Plasterboard, 0.35.
    Drywall,
    /// Glass, 0.25.
    Glass,
    /// Wood panels, 0.3.
    Wood,
    /// Metal, 0.95.
    Metal,
    /// Carpet on concrete, 0.2.
    Carpet,
    /// RF absorber, 0.
    Absorber,
}

impl Material {
    fn concrete() -> Self {
        Material::Named(MaterialName::Concrete)
    }
    fn drywall() -> Self {
        Material::Named(MaterialName::Drywall)
    }

    /// Amplitude reflection coefficient (magnitude; reflection adds a phase of pi).
    pub fn reflection_coefficient(&self) -> f64 {
        match self {
            Material::Coefficient(c) => *c,
            Material::Named(n) => match n {
                MaterialName::Concrete => 0.55,
                MaterialName::Brick => 0.45,
                MaterialName::Drywall => 0.35,
                MaterialName::Glass => 0.25,
                MaterialName::Wood => 0.3,
                MaterialName::Metal => 0.95,
                MaterialName::Carpet => 0.2,
                MaterialName::Absorber => 0.0,
            },
        }
    }
}

/// A static scatterer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Furniture {
    /// A point scatterer.
    Point {
        /// Position in metres.
        position_m: [f64; 3],
        /// Bistatic radar cross-section in m².
        rcs_m2: f64,
    },
    /// An axis-aligned box, scattering from points sampled on its surface.
    Box {
        /// Lower corner in metres.
        min_m: [f64; 3],
        /// Upper corner in metres.
        max_m: [f64; 3],
        /// Radar cross-section per m² of surface.
        rcs_per_m2: f64,
    },
}
