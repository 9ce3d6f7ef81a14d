//! The node's handler: pose frames, the simulator's truth and room states into the [`Board`],
//! the board's view published to the [`Server`] after every change.

use crate::{Board, Server};
use arrow_array::{Array, StringArray};
use eyre::{eyre, Result};
use std::net::{IpAddr, SocketAddr};
use wdp_node::{Context, Handler, HandlerError, Input};
use wdp_pose::PoseAssembler;

/// The node's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The address the page is served on.
    pub addr: SocketAddr,
}

/// Loopback: nothing leaves the machine unless the configuration says so.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// The default port.
pub const DEFAULT_PORT: u16 = 8090;

impl Config {
    /// From `HOST` (default `127.0.0.1`) and `PORT` (default 8090; 0: any free port).
    pub fn from_env() -> Result<Self> {
        let host = wdp_node::env::var("HOST").unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let ip: IpAddr = host
            .parse()
            .map_err(|e| eyre!("HOST={host}: {e} (an IP address, e.g. 127.0.0.1 or 0.0.0.0)"))?;
        let port = wdp_node::env::parse_or("PORT", DEFAULT_PORT)?;
        Ok(Self {
            addr: SocketAddr::new(ip, port),
        })
    }
}

/// The handler.
pub struct WebView {
    board: Board,
    assembler: PoseAssembler,
    server: Option<Server>,
}

impl WebView {
    /// A handler that publishes to `server` (none: it only keeps the board, for tests).
    pub fn new(assembler: PoseAssembler, server: Option<Server>) -> Self {
        Self {
            board: Board::new(),
            assembler,
            server,
        }
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
        let array = input.data.as_array();
        let text = array
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| {
                HandlerError::bad(
                    "type",
                    format!("{:?}, expected one UTF-8 string", array.data_type()),
                )
            })?;
        if text.len() != 1 || text.is_null(0) {
            return Err(HandlerError::bad(
                "length",
                format!("{} strings, expected one", text.len()),
            ));
        }
        let meta_room = match input.metadata.parameters.get("room") {
            Some(dora_node_api::Parameter::String(r)) => r.clone(),
            _ => String::new(),
        };
        self.board
            .room_state(text.value(0), &meta_room)
            .map_err(|e| HandlerError::bad("json", e))?;
        Ok(())
    }
}

impl Handler for WebView {
    fn accepts(&self, id: &str) -> bool {
        matches!(
            id,
            "keypoints" | "boxes" | "parts" | "uv" | "truth" | "room_state"
        )
    }

    fn on_input(&mut self, _ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        match input.id.as_str() {
            "room_state" => self.on_room_state(&input)?,
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
