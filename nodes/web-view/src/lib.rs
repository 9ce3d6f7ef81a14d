//! # web-view
//!
//! A live web page of the rooms, served by the node itself: per room the people as COCO-17
//! skeletons (the pose contract's keypoints, image space), a floor plan with each person's
//! `floor_m` (and the simulator's true positions as rings when the `truth` input is wired),
//! the people count, presence (from room-state when wired), frames/s, per-stage latency from
//! the frames' latency traces, a frame counter, and the skeletons over the room's camera frame
//! when a `frame` input brings one. Every asset is in the binary: the page
//! needs nothing but the node.
//!
//! - [`state`]: the rooms as the inputs describe them ([`Board`]) and what the page gets
//!   ([`ViewState`], JSON);
//! - [`server`]: HTTP and WebSocket ([`Server`]), the newest state only, never a queue;
//! - [`handler`]: the dora side ([`WebView`], on the `wdp-node` runtime).

pub mod handler;
pub mod server;
pub mod state;

pub use handler::{Config, WebView};
pub use server::{Server, StatsView};
pub use state::{
    room_name, Board, CameraView, LatencyView, PersonView, RoomView, StageLatency, Timing,
    ViewState,
};
