//! A building of rooms spread over machines, with nothing of dora or the model in it:
//!
//! - [`BuildingPlan`], the building description that room-fusion reads and `wdp building`
//!   writes (rooms, each with the simulator's scene and the machine capturing it, and which
//!   rooms share doors), parsed and checked, or generated for N rooms on M machines;
//! - [`dataflow_yaml`], the dora dataflow of such a building (per room the simulator,
//!   preprocessing, model and tracking, placed by a [`Split`]; room-fusion on the compute
//!   machine).
//!
//! Every string of a description that ends up in YAML is quoted as YAML, so that whatever a
//! description accepted by [`BuildingPlan::validate`] holds, the texts written here read back
//! as the same values (the fuzz target `building` checks it).

mod dataflow;
mod description;

pub use dataflow::{dataflow_yaml, DataflowPlan, Split};
pub use description::{yaml_scalar, BuildingPlan, DoorPlan, RoomPlan, SCENES};
