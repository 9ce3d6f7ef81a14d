//! The room-fusion node: see the library's documentation (`lib.rs`) for inputs, outputs and
//! configuration.

use dora_node_api::DoraNode;
use eyre::Result;
use room_fusion::{Config, RoomFusionNode};

fn main() -> Result<()> {
    let config = Config::from_env()?;
    let mut handler = RoomFusionNode::new(config)?;
    let (node, events) = DoraNode::init_from_env()?;
    wdp_node::run("room-fusion", node, events, &mut handler)?;
    Ok(())
}
