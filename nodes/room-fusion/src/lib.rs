//! # room-fusion
//!
//! One building from many rooms: each room's pose stream (its own capture and model, possibly
//! on other machines) merged into one view: the people of every room with track ids stable
//! inside the room (`wdp_room`'s floor tracker, as room-state reports them), a building-level
//! id that a person keeps when they leave a room and appear in one that shares a door with it,
//! the building's occupancy, and each room's health (waiting, live, stale since T, rejoined)
//! from when its messages arrive. The node binary is `main.rs`; the logic is here so that it is
//! tested without a dataflow.
//!
//! ## Inputs
//! - `<room>_keypoints`, `<room>_boxes` for every room of the building description (the pose
//!   contract, usually `temporal`'s outputs; `parts`/`uv` are not needed and are ignored). The
//!   room is the input id's prefix, so the dataflow's wiring, not a message, says which room
//!   a stream is. `floor_m` on the poses gives the tracks; without it the rooms report counts.
//! - `tick`: a dora timer; one `building_state` per tick, and health moves on.
//!
//! A message that breaks the contract (type, shape, NaN, an unknown room) is reported on
//! stderr, counted and dropped; the node keeps running.
//!
//! ## Outputs
//! JSON, one object per message as an Arrow UTF-8 array of one element, metadata `t_ns` (wall
//! clock):
//! - `building_state`: [`BuildingState`] every tick;
//! - `events`: [`BuildingEvent`] (`handover`, `stale`, `rejoined`) as they happen.
//!
//! With `OUT_FILE`, every state and event is also one line of that JSON-lines file, and at
//! stop a last line `{"latency": {room: {frames, p50_ms, p99_ms}}}`: each room's end-to-end
//! latency from its first traced stage (csi-preprocess receiving the packet that completed the
//! window) to this node, on the wall clock (meaningful when the machines' clocks agree).
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `BUILDING` | the building description ([`wdp_building::BuildingPlan`]), inline YAML or a file | required |
//! | `FUSION_CONFIG` | [`FusionConfig`] as YAML, inline or a file (`stale_after_s`, `rejoined_for_s`, `handover_window_s`, `door_radius_m`) | its defaults |
//! | `ROOM_CONFIG` | each room's `wdp_room::RoomConfig` (track events are always on) | its defaults |
//! | `OUT_FILE` | JSON-lines file of states and events (relative: to the dataflow's folder) | none |

pub mod fusion;
pub mod handler;

pub use fusion::{
    BuildingEvent, BuildingState, Fusion, FusionConfig, Health, PersonView, RoomView,
};
pub use handler::{Config, RoomFusionNode};
pub use wdp_building::BuildingPlan;

#[cfg(test)]
mod tests;
