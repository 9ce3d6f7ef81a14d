//! The node's handler in dora's testing mode on the simulator's packets: a floor image per
//! window, its peak near the walking person; a misshapen, a NaN, a wrong-layout and an
//! unknown-id message, and the harness's malformed sweep, dropped and counted while the stream
//! goes on.

use super::Locate;
use serde_json::{json, Value};
use wdp_locate::{simulated_background, LocatorSettings, RadioGeometry};
use wdp_node::testing::{assert_malformed_dropped, malformed_tensor_events, run_test};
use wdp_sim::{Scene, SimEvent, Simulator};
use wdp_tensor::{MetaValue, TensorMeta};

fn scene() -> Scene {
    let mut s = Scene::from_yaml_str(
        r#"
name: csi-locate-test
room:
  seed: 4
  size_m: [5.0, 4.0, 2.7]
  walls: { x_min: concrete, x_max: drywall, y_min: drywall, y_max: glass, floor: concrete, ceiling: drywall }
radio:
  carrier_hz: 5.32e9
  layout: intel5300
  packet_rate_hz: 100.0
tx: { position_m: [0.2, 2.0, 1.2], antennas: 3, axis_deg: 90 }
rx: { position_m: [4.8, 2.0, 1.2], antennas: 3, axis_deg: 90 }
people:
  - height_m: 1.75
    motion: { kind: walk, waypoints_m: [[1.0, 1.0], [4.0, 3.0]], speed_mps: 0.7 }
seed: 2
"#,
    )
    .expect("scene");
    s.duration_s = Some(5.0);
    s
}

fn csi_event(t_ns: i64, id: &str, shape: Value, sub: &[i32], values: &[f32]) -> Value {
    let data: Vec<Value> = values
        .iter()
        .map(|v| if v.is_nan() { json!("NaN") } else { json!(v) })
        .collect();
    json!({
        "time_offset_secs": 0.0,
        "type": "Input",
        "id": id,
        "metadata": {
            "shape": {"ListInt": shape},
            "dims": {"String": "tx,rx,subcarrier,complex"},
            "t_ns": {"Integer": t_ns},
            "room": {"String": "csi-locate-test"},
            "subcarriers": {"ListInt": sub},
        },
        "data": data,
        "data_type": "Float32",
    })
}

#[test]
fn floor_images_out_near_the_person_bad_messages_dropped() {
    let scene = scene();
    let geometry = RadioGeometry::from_scene(&scene);
    let mut sim = Simulator::new(scene.clone()).expect("simulator");
    let (mut events, mut truth, mut packets) = (Vec::new(), Vec::new(), 0);
    let mut span = (i64::MAX, i64::MIN);
    while let Some(event) = sim.next_event() {
        match event {
            SimEvent::Frame(t) => {
                if let Some(p) = t.people.first() {
                    truth.push([p.position_m[0], p.position_m[1]]);
                }
            }
            SimEvent::Packet(f) => {
                span = (span.0.min(f.timestamp_ns), span.1.max(f.timestamp_ns));
                let values: Vec<f32> = f.csi.iter().flat_map(|c| [c.re, c.im]).collect();
                let shape = json!([f.n_tx, f.n_rx, f.subcarriers.len(), 2]);
                events.push(csi_event(
                    f.timestamp_ns,
                    "csi",
                    shape.clone(),
                    &f.subcarriers,
                    &values,
                ));
                packets += 1;
                if packets == 120 {
                    let t = f.timestamp_ns;
                    let nan = vec![f32::NAN; values.len()];
                    events.push(csi_event(
                        t,
                        "csi",
                        json!([7]),
                        &f.subcarriers,
                        &values[..7],
                    ));
                    events.push(csi_event(t, "csi", shape, &f.subcarriers, &nan));
                    // One transmit antenna: not the geometry's 9 pairs.
                    let one = json!([1, f.n_rx, f.subcarriers.len(), 2]);
                    events.push(csi_event(
                        t,
                        "csi",
                        one,
                        &f.subcarriers,
                        &values[..values.len() / 3],
                    ));
                    events.push(csi_event(
                        t,
                        "window",
                        json!([2]),
                        &f.subcarriers,
                        &[1.0, 2.0],
                    ));
                }
                if packets == 200 {
                    // Empty, infinite, f64, shapeless, and under dims that are not csi's.
                    let shape = [f.n_tx, f.n_rx, f.subcarriers.len(), 2];
                    let meta = TensorMeta::new(&shape, wdp_csi::CSI_DIMS)
                        .with_time_ns(f.timestamp_ns)
                        .with_room("csi-locate-test")
                        .with(
                            "subcarriers",
                            MetaValue::Ints(f.subcarriers.iter().map(|&k| i64::from(k)).collect()),
                        );
                    // At offset 0 like the packets (dora's testing mode sorts events by
                    // offset), so that the stream goes on after them.
                    let malformed = malformed_tensor_events(0.0, "csi", &meta, &values);
                    events.extend(malformed.into_iter().map(|mut e| {
                        e["time_offset_secs"] = 0.0.into();
                        e
                    }));
                }
            }
        }
    }
    let settings = LocatorSettings::default();
    let [nx, ny] = settings.grid.cells;
    let cell = settings.grid.cell_m as f32;
    let length = settings.preprocess.window.length;
    let hop = settings.preprocess.window.hop;
    // The room's own calibration: the still image weighs in beside the moving one.
    let background = simulated_background(&scene, &settings).expect("background");
    assert!(background.is_some());
    let mut handler = Locate::new(super::config::Config {
        geometry,
        settings,
        background,
    });
    let run = run_test("csi-locate", events, &mut handler).expect("run");
    let maps = run.on("radio_map");
    // One image per hop of the 100 Hz grid (lost packets are resampled over) once the first
    // window is full.
    let samples = ((span.1 - span.0) / 10_000_000) as usize + 1;
    let expected = (samples - length) / hop + 1;
    assert!(
        maps.len() + 1 >= expected && maps.len() <= expected + 1,
        "{} of {expected}",
        maps.len()
    );
    let c = &run.report.counts;
    assert_eq!(c.handled, packets as u64);
    assert_eq!(c.bad_total(), 8, "{c:?}");
    assert_eq!(c.bad["csi/layout"], 1, "{c:?}");
    // The `[7]` message's dims name 4 axes (`csi/dims`), the NaN one is `csi/values`.
    assert_malformed_dropped(c, "csi", [0, 1, 0, 1]);
    assert_eq!(c.unknown["window"], 1);
    // The peak cell of each image against where the person walks (the camera's frames are at
    // 20 fps like the windows, so the image k windows in is near frame k + length / hop).
    let mut errors: Vec<f32> = maps
        .iter()
        .enumerate()
        .filter_map(|(k, m)| {
            let v = m.numbers();
            assert_eq!(v.len(), nx * ny);
            assert!(
                v.iter().all(|x| (0.0..=1.0).contains(x)),
                "values in [0, 1]"
            );
            let peak = (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b]))?;
            let (x, y) = (
                (peak % nx) as f32 * cell + cell / 2.0,
                (peak / nx) as f32 * cell + cell / 2.0,
            );
            let p = truth.get(k + length / hop)?;
            Some(((x - p[0]).powi(2) + (y - p[1]).powi(2)).sqrt())
        })
        .collect();
    errors.sort_by(f32::total_cmp);
    let median = errors[errors.len() / 2];
    assert!(
        median < 0.8,
        "median peak error {median:.2} m over {} images",
        errors.len()
    );
}
