//! Same seed, same output; different seed, different output; events in time order.
#![allow(clippy::unwrap_used)]

use wdp_sim::{Scene, SimEvent, Simulator};

fn lab(seed: u64) -> Simulator {
    let mut scene = Scene::preset("lab").unwrap();
    scene.seed = seed;
    scene.duration_s = Some(1.0);
    if let Some(c) = scene.camera.as_mut() {
        c.resolution = [64, 48];
        c.rgb = true;
    }
    Simulator::new(scene).unwrap()
}

#[test]
fn same_seed_same_events_different_seed_different_packets() {
    let a: Vec<SimEvent> = lab(5).collect();
    let b: Vec<SimEvent> = lab(5).collect();
    assert_eq!(a, b);
    let c: Vec<SimEvent> = lab(6).collect();
    let packets = |v: &[SimEvent]| -> Vec<Vec<num_complex::Complex32>> {
        v.iter()
            .filter_map(|e| match e {
                SimEvent::Packet(p) => Some(p.csi.clone()),
                _ => None,
            })
            .collect()
    };
    assert_ne!(packets(&a), packets(&c));
    // the person wanders elsewhere with another seed
    assert_ne!(
        lab(5).people_at(0.9)[0].joints,
        lab(6).people_at(0.9)[0].joints
    );
}

#[test]
fn events_come_in_time_order_with_loss_and_jitter() {
    let mut scene = Scene::preset("lab").unwrap();
    scene.duration_s = Some(5.0);
    scene.impairments.packet_loss = 0.1;
    if let Some(c) = scene.camera.as_mut() {
        c.resolution = [32, 24];
        c.rgb = false;
    }
    let sim = Simulator::new(scene).unwrap();
    let (mut last_t, mut packets, mut frames, mut last_seq) = (i64::MIN, 0, 0, -1i64);
    let mut gaps = 0;
    let mut off_grid = 0;
    for ev in sim {
        let t = match &ev {
            SimEvent::Packet(p) => {
                packets += 1;
                assert!(p.is_consistent());
                assert_eq!(p.format, wdp_csi::CaptureFormat::Simulated);
                let seq = p.meta_int("seq").unwrap();
                gaps += seq - last_seq - 1;
                last_seq = seq;
                if p.timestamp_ns % 10_000_000 != 0 {
                    off_grid += 1;
                }
                p.timestamp_ns
            }
            SimEvent::Frame(g) => {
                assert_eq!(g.frame_index, frames as u64);
                frames += 1;
                g.t_ns
            }
        };
        assert!(t >= last_t, "events out of order");
        last_t = t;
    }
    assert_eq!(frames, 100);
    assert!((400..480).contains(&packets), "{packets} packets");
    assert!(gaps >= 20, "{gaps} lost");
    assert!(off_grid > packets / 2, "timestamps carry jitter");
}
