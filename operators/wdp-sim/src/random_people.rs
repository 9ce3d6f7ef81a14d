//! People drawn at random for one sequence: how many, their heights, reflectivities, bodies and
//! motions all come from the sequence seed, so every sequence of a room holds other people doing
//! other things while the room stays the room.

use crate::error::SimError;
use crate::rng::{SimRng, Stream};
use crate::scene::{Furniture, Motion, Person, Scene};
use std::fmt;
use std::str::FromStr;

/// Most people a scene holds.
pub const MAX_PEOPLE: usize = 5;
/// Distance kept from the walls, metres (less in rooms too narrow for it).
const WALL_MARGIN_M: f64 = 0.5;
/// Room kept around a body (its half-width) when avoiding furniture and other people.
const BODY_RADIUS_M: f64 = 0.3;
/// Chance that a person wanders; the rest stand, wave, squat, sit or turn somewhere.
const WANDER_PROBABILITY: f64 = 0.6;

/// A count range `MIN..MAX` (both included) of people per sequence, `0 <= MIN <= MAX <= 5`.
/// Parses `2..4`, `2..=4` and `3` (exactly three).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeopleRange {
    /// Fewest people.
    pub min: usize,
    /// Most people (included).
    pub max: usize,
}

impl FromStr for PeopleRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "expected MIN..MAX people with 0 <= MIN <= MAX <= {MAX_PEOPLE} (e.g. 0..3, both \
                 included, or a single count), got `{s}`"
            )
        };
        let t = s.trim();
        let (lo, hi) = match t.split_once("..") {
            Some((lo, hi)) => (lo, hi.strip_prefix('=').unwrap_or(hi)),
            None => (t, t),
        };
        let min: usize = lo.trim().parse().map_err(|_| bad())?;
        let max: usize = hi.trim().parse().map_err(|_| bad())?;
        if min > max || max > MAX_PEOPLE {
            return Err(bad());
        }
        Ok(PeopleRange { min, max })
    }
}

impl fmt::Display for PeopleRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.min, self.max)
    }
}

/// Draws the people of one sequence from `seed` (the sequence seed, `Scene::seed`), to replace
/// `scene.people`: between `min` and `max` (included, at most 5) people, count uniform, height
/// 1.50-1.95 m, reflectivity 0.8-1.2, each with its own `body_seed`. About 60 % wander over the
/// whole floor (0.4-1.3 m/s, pauses of 0.5-3 s, 0.5 m from the walls); the others stand, wave,
/// squat, sit or turn at a uniformly random floor position inside that margin, outside the
/// furniture and apart from each other, facing anywhere. Only the room's size and furniture are
/// read from `scene`.
pub fn random_people(
    scene: &Scene,
    seed: u64,
    min: usize,
    max: usize,
) -> Result<Vec<Person>, SimError> {
    if min > max || max > MAX_PEOPLE {
        return Err(SimError::invalid(
            "random_people",
            format!("needs 0 <= min <= max <= {MAX_PEOPLE}, got {min}..{max}"),
        ));
    }
    let [sx, sy, _] = scene.room.size_m;
    // the scene rejects a wander margin that leaves no floor to walk on
    let margin = WALL_MARGIN_M.min(0.4 * sx.min(sy));
    let mut rng = SimRng::new(seed, Stream::People, 0);
    let count = min + ((rng.uniform() * (max - min + 1) as f64) as usize).min(max - min);
    let mut placed: Vec<[f64; 2]> = Vec::new();
    let mut people = Vec::with_capacity(count);
    for _ in 0..count {
        let height_m = rng.range(1.50, 1.95);
        let reflectivity = rng.range(0.8, 1.2);
        let body_seed = Some(rng.next_u64());
        let motion = if rng.chance(WANDER_PROBABILITY) {
            Motion::Wander {
                speed_mps: rng.range(0.4, 1.3),
                pause_s: rng.range(0.5, 3.0),
                margin_m: margin,
            }
        } else {
            let position_m = free_spot(scene, margin, height_m, &placed, &mut rng);
            placed.push(position_m);
            let facing_deg = rng.range(-180.0, 180.0);
            match (rng.uniform() * 5.0) as usize {
                0 => Motion::Stand {
                    position_m,
                    facing_deg,
                    breathing_hz: rng.range(0.2, 0.33),
                    breathing_amplitude_m: rng.range(0.003, 0.006),
                },
                1 => Motion::Wave {
                    position_m,
                    facing_deg,
                    period_s: rng.range(0.9, 1.6),
                },
                2 => Motion::Squat {
                    position_m,
                    facing_deg,
                    period_s: rng.range(3.0, 5.0),
                },
                3 => Motion::Sit {
                    position_m,
                    facing_deg,
                    period_s: rng.range(6.0, 10.0),
                },
                _ => Motion::Turn {
                    position_m,
                    period_s: rng.range(4.0, 9.0),
                },
            }
        };
        people.push(Person {
            height_m,
            reflectivity,
            motion,
            body_seed,
        });
    }
    Ok(people)
}

/// A uniformly random floor point `margin` from the walls, outside every furniture box the person
/// would stand in (boxes lower than the head) and apart from the people already placed; the last
/// draw when none of a few dozen is free.
fn free_spot(
    scene: &Scene,
    margin: f64,
    height_m: f64,
    placed: &[[f64; 2]],
    rng: &mut SimRng,
) -> [f64; 2] {
    let [sx, sy, _] = scene.room.size_m;
    let mut p = [sx / 2.0, sy / 2.0];
    for _ in 0..64 {
        p = [
            rng.range(margin, sx - margin),
            rng.range(margin, sy - margin),
        ];
        let in_furniture = scene.room.furniture.iter().any(|f| match f {
            Furniture::Box { min_m, max_m, .. } => {
                min_m[2] < height_m
                    && (min_m[0] - BODY_RADIUS_M..=max_m[0] + BODY_RADIUS_M).contains(&p[0])
                    && (min_m[1] - BODY_RADIUS_M..=max_m[1] + BODY_RADIUS_M).contains(&p[1])
            }
            Furniture::Point { .. } => false,
        });
        let crowded = placed
            .iter()
            .any(|q| (p[0] - q[0]).hypot(p[1] - q[1]) < 2.0 * BODY_RADIUS_M);
        if !in_furniture && !crowded {
            break;
        }
    }
    p
}
