//! Runs a room preset (or a scene file) for some seconds and prints statistics; optionally writes
//! the ground-truth overlay of one camera frame as a PNG.
//!
//! ```text
//! cargo run --release -p wdp-sim --example simulate -- [PRESET|scene.yaml] [SECONDS] [overlay.png]
//! ```
//!
//! With the default `lab` preset and 10 s this prints about 990 packets (1 % loss), 200 frames and
//! the simulation speed as a multiple of real time.

use std::time::Instant;
use wdp_sim::{render_overlay, Scene, SimEvent, Simulator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("lab");
    let seconds: f64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(10.0);
    let png = args.get(2);
    let mut scene = if which.ends_with(".yaml") || which.ends_with(".yml") {
        Scene::from_file(std::path::Path::new(which))?
    } else {
        Scene::preset(which)?
    };
    scene.duration_s = Some(seconds);
    let mut sim = Simulator::new(scene)?;
    let (n_tx, n_rx, n_sub) = sim.csi_dims();
    println!(
        "room {}: {} people, {n_tx}x{n_rx} antennas, {n_sub} subcarriers, {} packets/s, camera {} fps",
        sim.scene().name,
        sim.scene().people.len(),
        sim.scene().radio.packet_rate_hz,
        sim.camera_config().fps
    );
    // how strongly the people change the channel: ideal CSI against the empty room
    let empty = sim.empty_room_csi();
    let empty_power: f64 = empty.iter().map(|h| h.norm_sqr() as f64).sum();
    let mut change = 0.0;
    let samples = (seconds * 2.0).ceil() as usize;
    for i in 0..samples {
        let h = sim.clean_csi_at(i as f64 * 0.5);
        change += h
            .iter()
            .zip(&empty)
            .map(|(a, b)| (a - b).norm_sqr() as f64)
            .sum::<f64>();
    }
    println!(
        "people's share of the channel: {:.1} dB relative to the empty room",
        10.0 * (change / samples.max(1) as f64 / empty_power).log10()
    );
    let start = Instant::now();
    let (mut packets, mut frames, mut visible) = (0usize, 0usize, 0usize);
    let mut power = 0.0f64;
    let mut rssi = 0.0f64;
    let mut written = false;
    let mut last_seq = -1i64;
    let mut lost = 0i64;
    while let Some(ev) = sim.next_event() {
        match ev {
            SimEvent::Packet(f) => {
                packets += 1;
                power +=
                    f.csi.iter().map(|h| h.norm_sqr() as f64).sum::<f64>() / f.csi.len() as f64;
                rssi += f.rssi_dbm.unwrap_or(0.0) as f64;
                let seq = f.meta_int("seq").unwrap_or(0);
                lost += seq - last_seq - 1;
                last_seq = seq;
            }
            SimEvent::Frame(gt) => {
                frames += 1;
                visible += gt
                    .people
                    .iter()
                    .map(|p| p.keypoints.iter().filter(|k| k[2] == 2.0).count())
                    .sum::<usize>();
                if let Some(path) = png {
                    if !written && gt.t_ns as f64 >= seconds * 0.5e9 {
                        render_overlay(&gt).write_png(std::path::Path::new(path))?;
                        written = true;
                    }
                }
            }
        }
    }
    let wall = start.elapsed().as_secs_f64();
    println!(
        "{packets} packets ({lost} lost), {frames} frames in {wall:.2} s wall = {:.1}x real time",
        seconds / wall
    );
    println!(
        "mean |H|^2 {:.3e}, mean RSSI {:.1} dBm, visible keypoints per frame {:.1}",
        power / packets.max(1) as f64,
        rssi / packets.max(1) as f64,
        visible as f64 / frames.max(1) as f64
    );
    if written {
        println!(
            "overlay written to {}",
            png.map(String::as_str).unwrap_or("")
        );
    }
    Ok(())
}
