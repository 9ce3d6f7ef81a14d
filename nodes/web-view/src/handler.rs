//! The node's handler: pose frames, the simulator's truth and room states into the [`Board`],
//! the board's view published to the [`Server`] after every change.

use crate::{Board, Server};
use eyre::{eyre, Result};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use wdp_node::{Context, Handler, HandlerError, Input};
use wdp_pose::PoseAssembler;

/// The node's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The address the page is served on.
    pub addr: SocketAddr,
    /// Least time between two camera frames of a room encoded for the page.
    pub frame_interval: Duration,
}

/// The default least time between a room's camera frames on the page (10 frames/s).
pub const DEFAULT_FRAME_INTERVAL_MS: u64 = 100;

/// Loopback: nothing leaves the machine unless the configuration says so.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// The default port.
pub const DEFAULT_PORT: u16 = 8090;

impl Config {
    /// From `HOST` (default `127.0.0.1`), `PORT` (default 8090; 0: any free port) and
    /// `FRAME_INTERVAL_MS` (default 100).
    pub fn from_env() -> Result<Self> {
        let host = wdp_node::env::var("HOST").unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let ip: IpAddr = host
            .parse()
            .map_err(|e| eyre!("HOST={host}: {e} (an IP address, e.g. 127.0.0.1 or 0.0.0.0)"))?;
        let port = wdp_node::env::parse_or("PORT", DEFAULT_PORT)?;
        let interval = wdp_node::env::parse_or("FRAME_INTERVAL_MS", DEFAULT_FRAME_INTERVAL_MS)?;
        Ok(Self {
            addr: SocketAddr::new(ip, port),
            frame_interval: Duration::from_millis(interval),
        })
    }
}

/// The handler.
pub struct WebView {
    board: Board,
    assembler: PoseAssembler,
    server: Option<Server>,
    frame_interval: Duration,
    /// When each room's last camera frame was published.
    last_frame: HashMap<String, Instant>,
}

impl WebView {
    /// A handler that publishes to `server` (none: it only keeps the board, for tests).
    pub fn new(assembler: PoseAssembler, server: Option<Server>) -> Self {
        Self {
            board: Board::new(),
            assembler,
            server,
            frame_interval: Duration::from_millis(DEFAULT_FRAME_INTERVAL_MS),
            last_frame: HashMap::new(),
        }
    }

    /// Publishes a room's camera frames at most once per `interval` (the others are skipped:
    /// encoding every 20 frames/s of every room is work no eye needs).
    pub fn with_frame_interval(mut self, interval: Duration) -> Self {
        self.frame_interval = interval;
        self
    }

    /// A camera frame `[H, W, 3]` for its room's page: encoded as PNG and published when the
    /// room's last one is older than the interval. `Ok(false)`: skipped.
    fn on_frame(&mut self, input: &Input) -> Result<bool, HandlerError> {
        let frame = input.tensor::<u8>(&["height", "width", "channel"])?;
        let shape = frame.data.shape().to_vec();
        if shape.len() != 3 || shape[2] != 3 || shape[0] == 0 || shape[1] == 0 {
            return Err(HandlerError::bad(
                "shape",
                format!("{shape:?}, expected [H, W, 3]"),
            ));
        }
        let room = crate::room_name(&frame.meta.room);
        let now = Instant::now();
        if let Some(last) = self.last_frame.get(&room) {
            if now.duration_since(*last) < self.frame_interval {
                return Ok(false);
            }
        }
        let view = frame
            .data
            .into_dimensionality::<wdp_tensor::ndarray::Ix3>()
            .map_err(|e| HandlerError::bad("shape", e))?;
        let png = wdp_pose::RgbImage::from_view(view)
            .to_png()
            .map_err(|e| HandlerError::bad("png", e))?;
        self.last_frame.insert(room.clone(), now);
        self.board.camera_frame(&room, [shape[1], shape[0]]);
        if let Some(server) = &self.server {
            server.publish_frame(&room, png);
        }
        Ok(true)
    }

    /// The rooms so far.
    pub fn board(&self) -> &Board {
        &self.board
    }

    fn publish(&self) {
        if let Some(server) = &self.server {
            server.publish(self.board.view());
        }
    }

    fn on_room_state(&mut self, input: &Input) -> Result<(), HandlerError> {
        let text = input.text()?;
        let meta_room = match input.metadata.parameters.get("room") {
            Some(dora_node_api::Parameter::String(r)) => r.clone(),
            _ => String::new(),
        };
        self.board
            .room_state(text, &meta_room)
            .map_err(|e| HandlerError::bad("json", e))?;
        Ok(())
    }
}

impl Handler for WebView {
    fn accepts(&self, id: &str) -> bool {
        matches!(
            id,
            "keypoints" | "boxes" | "parts" | "uv" | "truth" | "room_state" | "frame"
        )
    }

    fn on_input(&mut self, _ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        match input.id.as_str() {
            "room_state" => self.on_room_state(&input)?,
            "frame" => {
                if !self.on_frame(&input)? {
                    return Ok(());
                }
            }
            "truth" => {
                let truth = input.pose("boxes")?;
                let people = truth.data.shape().first().copied().unwrap_or(0);
                let floor = truth.floor_positions()?.unwrap_or_default();
                let room = crate::room_name(&truth.meta.room);
                self.board.truth(&room, people, floor);
            }
            id => {
                let message = input.pose(id)?;
                self.assembler.push(message)?;
                let before = self.board.frames();
                while let Some(frame) = self.assembler.pop() {
                    self.board.frame(&frame, input.received_ns);
                }
                if self.board.frames() == before {
                    return Ok(());
                }
            }
        }
        self.publish();
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        let rooms = self.board.view().rooms.len();
        let mut line = format!(
            "{} pose frames from {rooms} rooms; pose frames {:?}",
            self.board.frames(),
            self.assembler.stats()
        );
        if let Some(mut server) = self.server.take() {
            let s = server.stats();
            line += &format!(
                "; {} browser connections, {} states sent, {} frames skipped for slow browsers",
                s.connections, s.sent, s.skipped
            );
            server.stop()?;
        }
        ctx.announce(&line);
        Ok(())
    }
}
