//! # csi-source
//!
//! Emits one CSI message per received packet, from a capture file of any supported format
//! (Intel 5300, Atheros, Nexmon, ESP32, PicoScenes; detected from its content) or a live radio.
//!
//! ## Outputs
//! - `csi`: Float32, shape `[tx, rx, subcarrier, 2]` (re, im; raw values as the radio reports
//!   them), dims `tx,rx,subcarrier,complex`; metadata `t_ns` (capture time, ns), `seq`, `room`,
//!   `link`, `subcarriers` (real indices), `format`, `rssi_dbm`, `noise_dbm` and every field the
//!   format carries (e.g. `agc`, `perm`, `rate`).
//!
//! In `sim` mode, per camera frame (dora-hub conventions beside ours; `t_ns` on the packets'
//! clock, `frame_index`, `track_ids` and `image_wh` in the metadata):
//! - `keypoints`: Float32 `[P, 17, 3]` (x, y in pixels, COCO visibility 0/1/2)
//! - `boxes`: Float32 `[P, 5]` (x1, y1, x2, y2, score = 1), `format: xyxy`
//! - `parts`: UInt8 `[P, h, w]` (0 background, 1-24 DensePose parts)
//! - `uv`: Float32 `[P, 2, h, w]`
//! - `frame`: UInt8 `[H, W, 3]` rendered RGB (`encoding: rgb8`, `width`, `height`,
//!   `primitive: image`), when the scene renders RGB
//!
//! ## Inputs
//! None needed. Any input (e.g. a `dora/timer`) is ignored; `Stop` ends the node.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `MODE` | `file`, `live` or `sim` | `file` |
//! | `SCENE` | simulated scene: a preset (`lab`, `office`, `living-room`, `kitchen`, `corridor`, `bedroom`) or a scene file | `lab` |
//! | `SEED`, `DURATION_S`, `RGB` | override the scene's seed, length (s) and RGB rendering | the scene's |
//! | `CAPTURE` | capture file (mode `file`) | required |
//! | `PACING` | `recorded` (the file's own timing; real time for `sim`) or `fast` | `recorded` |
//! | `SPEED` | replay speed factor with recorded pacing | `1.0` |
//! | `LOOP` | start again at the end of the file | `false` |
//! | `INPUT` | `serial:DEVICE[@BAUD]`, `udp:ADDR:PORT` or `stdin` (mode `live`) | required |
//! | `FORMAT` | force a format (`intel5300`, `atheros`, `nexmon`, `esp32`, `picoscenes`) | detected; `esp32` live |
//! | `NEXMON_CHIP`, `NEXMON_BANDWIDTH_MHZ`, `ENDIAN` | reader options | inferred |
//! | `ROOM`, `LINK` | names put on every message | `default` (the scene's name in `sim`), `link0` |
//! | `MAX_FRAMES` | stop after this many frames | unlimited |
//!
//! At the end it logs the counts of good and skipped packets, with the reasons.

mod config;
mod input;
mod pacer;
mod source;
#[cfg(test)]
mod tests;
mod truth;

use config::Config;
use dora_node_api::DoraNode;
use eyre::{Context, Result};

fn main() -> Result<()> {
    let config = Config::from_env().wrap_err("csi-source configuration")?;
    let (node, events) = DoraNode::init_from_env()?;
    let mut source = source::CsiSource::new(config)?;
    wdp_node::run_source("csi-source", node, events, &mut source)?;
    Ok(())
}
