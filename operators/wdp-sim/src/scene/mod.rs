//! Scene description: room, radios, people, camera, impairments and seed.
//!
//! Coordinates are metres in the room frame: the room is the box `[0, size_m[0]] x [0, size_m[1]] x
//! [0, size_m[2]]`, z is up, the floor is z = 0. Angles are degrees, counter-clockwise from +x seen
//! from above.
//!
//! The description types live in `types` (the scene and its camera), `room`, `radio` and `people`;
//! `parse` reads and writes YAML, `validate` checks value ranges, `location` finds the line of a
//! field for error messages, and `presets` holds the named rooms. Everything public is re-exported
//! here.

mod generated;
mod location;
mod parse;
mod people;
mod presets;
mod radio;
mod room;
mod types;
mod validate;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

pub use generated::GENERATED_PREFIX;
pub use people::{Motion, Person};
pub use presets::{HELD_OUT_PRESETS, TRAIN_PRESETS};
pub use radio::{AntennaArray, Impairments, Radio, SPEED_OF_LIGHT_MPS};
pub use room::{Furniture, Material, MaterialName, Room, Walls};
pub use types::{Camera, Intrinsics, Scene};
