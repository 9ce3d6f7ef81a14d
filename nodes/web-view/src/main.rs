//! # web-view
//!
//! A live web page of the rooms, served by this node (loopback by default): per room the
//! people as skeletons, a floor plan in metres, the people count, presence, frames/s,
//! per-stage latency and a frame counter. Every asset is in the binary; nothing is fetched
//! from elsewhere. The node prints `web view: http://ADDRESS:PORT/` once it listens.
//!
//! ## Inputs
//! - `keypoints`, `boxes` (`parts`, `uv` accepted, not needed): the pose contract (temporal,
//!   densepose, densepose-fused, or csi-source's ground truth), reassembled by `seq`. The
//!   keypoints are drawn in image space (`image_wh`); `floor_m`, when present, on the floor
//!   plan; the latency trace gives per-stage times.
//! - `truth` (optional): the ground truth's `boxes` (csi-source in `MODE: sim`): the true
//!   people's count and floor positions (rings on the floor plan).
//! - `room_state` (optional): room-state's JSON states: presence, people, tracks, breathing.
//! - `frame` (optional): UInt8 `[H, W, 3]` camera frames (csi-source in `MODE: sim` with
//!   `RGB`, or a camera node), by the `room` metadata: the skeletons are drawn over the room's
//!   newest one. At most one per `FRAME_INTERVAL_MS` per room is encoded (PNG) for the page;
//!   the others are skipped, not queued.
//!
//! A message that breaks its contract is reported on stderr, counted and dropped; the node
//! keeps running.
//!
//! ## Served
//! - `/`: the page (`/app.js`, `/style.css`); it reconnects with backoff when the node goes.
//! - `/ws`: a WebSocket sending the newest state (JSON) whenever it changes; a slow browser
//!   skips frames instead of queueing them.
//! - `/frame/<room>`: the room's newest camera frame, PNG (404 before the first).
//! - `/state.json`: `{"server": {connections, open, sent, skipped}, "state": ...}`, the same
//!   state as the WebSocket's.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `HOST` | address to listen on (`0.0.0.0`: every interface) | `127.0.0.1` |
//! | `PORT` | port (0: any free port, printed at start) | `8090` |
//! | `FRAME_INTERVAL_MS` | least time between two camera frames of a room on the page | `100` |

use dora_node_api::DoraNode;
use eyre::Result;
use web_view::{Config, Server, WebView};

fn main() -> Result<()> {
    let config = Config::from_env()?;
    let server = Server::start(config.addr)?;
    wdp_node::announce(&format!("web view: {}", server.url()));
    let (node, events) = DoraNode::init_from_env()?;
    let assembler = wdp_pose::dora::assembler_for(&node, 32);
    let mut handler =
        WebView::new(assembler, Some(server)).with_frame_interval(config.frame_interval);
    wdp_node::run("web-view", node, events, &mut handler)?;
    Ok(())
}
