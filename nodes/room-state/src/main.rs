//! # room-state
//!
//! The answers an integrator asks for, per room: is somebody there (and how sure), is somebody
//! moving, how many people, where each tracked person stands (metres, room frame), a still
//! person's breathing rate, and when the room was entered and left and when somebody fell. From the pose pipeline, from the radio's own signal
//! (`wdp-sense`, no model needed: a single ESP32 is enough), or both (`operators/wdp-room`).
//! Links no libtorch.
//!
//! ## Inputs
//! - `keypoints`, `boxes` (and `parts`/`uv` when wired, not needed): the pose contract
//!   (densepose, densepose-fused, temporal, or csi-source's ground truth in `MODE: sim`),
//!   reassembled by `seq`. People count per frame; `floor_m` metadata, when present, gives
//!   the tracks; boxes, keypoints and track ids feed the fall detector.
//! - `csi` (optional): csi-source's per-packet CSI, `[tx, rx, subcarrier, 2]`; one
//!   signal-level sensor per room and link answers each second of capture time (it calibrates
//!   on the first 5 s, which should be quiet), with the breathing rate of a still person.
//! - `tick`: a dora timer (`dora/timer/millis/500`): one `room_state` per known room per tick.
//!
//! The room of a message is its `room` metadata (`default` when empty), or `ROOM` for all.
//! A message that breaks its contract (type, shape, dims, NaN) is reported, counted and
//! dropped; the node keeps running.
//!
//! ## Outputs
//! JSON, one object per message, as an Arrow UTF-8 array of one element, metadata `t_ns` and
//! `room` (docs/CONTRACT.md, `room_state` and `events`):
//! - `room_state`: `{room, t_ns, presence, presence_confidence, motion, people, tracks: [{id,
//!   x_m, y_m, moving}], source, breathing_bpm}` every tick;
//! - `events`: `{room, t_ns, event: "entered" | "left" | "fall", track_id?}` when it happens.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `ROOM_CONFIG` | `wdp_room::RoomConfig` as YAML, inline or a file | its defaults |
//! | `SENSE_CONFIG` | `wdp_sense::SenseConfig` as YAML, inline or a file | its defaults |
//! | `ROOM` | the room name of every input (instead of their `room` metadata) | none |

mod handler;
#[cfg(test)]
mod tests;

use dora_node_api::DoraNode;
use eyre::Result;
use handler::{Config, RoomStateNode};

fn main() -> Result<()> {
    let config = Config::from_env()?;
    let (node, events) = DoraNode::init_from_env()?;
    let assembler = wdp_pose::dora::assembler_for(&node, 32);
    let mut handler = RoomStateNode::new(config, assembler);
    wdp_node::run("room-state", node, events, &mut handler)?;
    Ok(())
}
