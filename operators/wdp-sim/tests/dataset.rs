//! The dataset writer's shards read back with the Arrow IPC reader.
#![allow(clippy::unwrap_used)]

use arrow_array::{
    Array, FixedSizeListArray, Float32Array, Int64Array, ListArray, UInt32Array, UInt8Array,
};
use arrow_ipc::reader::FileReader;
use std::collections::HashMap;
use wdp_csi::MetaValue;
use wdp_sim::{write_dataset, DatasetOptions, Scene, Simulator};

#[test]
fn shards_hold_windows_truth_and_schema_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut scene = Scene::preset("office").unwrap();
    // AGC steps often, so the window's gains vary
    scene.impairments.agc_step_probability = 0.2;
    if let Some(c) = scene.camera.as_mut() {
        c.resolution = [64, 48];
        c.gt_resolution = Some([32, 24]);
    }
    let opts = DatasetOptions {
        duration_s: 2.0,
        window: Some(10),
        shard_rows: 16,
        include_rgb: true,
        include_uv: true,
        compress: true,
    };
    let summary = write_dataset(&scene, dir.path(), &opts).unwrap();
    assert_eq!(summary.csi_shape, [10, 3, 3, 30, 2]);
    // 40 frames, the first ~2 lack 10 packets
    assert!((36..=39).contains(&summary.rows), "{}", summary.rows);
    assert_eq!(summary.shards.len(), summary.rows.div_ceil(16));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("dataset.json")).unwrap())
            .unwrap();
    assert_eq!(json["rows"], summary.rows);
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["scene"]["name"], "office");

    // the same run again: every packet's AGC gain by time, the bodies at any time
    let mut reference = scene.clone();
    reference.duration_s = Some(2.0);
    let mut sim = Simulator::new(reference).unwrap();
    let mut agc_at: HashMap<i64, f64> = HashMap::new();
    while let Some(p) = sim.next_packet() {
        let MetaValue::Float(db) = p.meta["agc_db"] else {
            panic!("agc_db is not a float")
        };
        agc_at.insert(p.timestamp_ns, db);
    }
    let [sx, sy, _] = scene.room.size_m;
    let (mut agc_values, mut agc_steps) = (0, 0);

    let mut rows = 0;
    let mut last_seq = None;
    for shard in &summary.shards {
        let reader = FileReader::try_new(std::fs::File::open(shard).unwrap(), None).unwrap();
        let meta = reader.schema().metadata().clone();
        assert_eq!(meta["wdp.csi_shape"], "[10, 3, 3, 30, 2]");
        for batch in reader {
            let batch = batch.unwrap();
            let csi = batch
                .column_by_name("csi")
                .unwrap()
                .as_any()
                .downcast_ref::<FixedSizeListArray>()
                .unwrap();
            assert_eq!(csi.value_length(), 10 * 3 * 3 * 30 * 2);
            let n_people = batch
                .column_by_name("n_people")
                .unwrap()
                .as_any()
                .downcast_ref::<UInt32Array>()
                .unwrap();
            let kp = batch
                .column_by_name("keypoints")
                .unwrap()
                .as_any()
                .downcast_ref::<ListArray>()
                .unwrap();
            let parts = batch
                .column_by_name("part_index")
                .unwrap()
                .as_any()
                .downcast_ref::<ListArray>()
                .unwrap();
            let uv = batch
                .column_by_name("uv")
                .unwrap()
                .as_any()
                .downcast_ref::<ListArray>()
                .unwrap();
            let rgb = batch
                .column_by_name("rgb")
                .unwrap()
                .as_any()
                .downcast_ref::<ListArray>()
                .unwrap();
            let seq = batch
                .column_by_name("seq")
                .unwrap()
                .as_any()
                .downcast_ref::<arrow_array::UInt64Array>()
                .unwrap();
            let column = |name: &str| batch.column_by_name(name).unwrap().clone();
            let position = column("position_m");
            let position = position.as_any().downcast_ref::<ListArray>().unwrap();
            let agc = column("csi_agc_db");
            let agc = agc.as_any().downcast_ref::<FixedSizeListArray>().unwrap();
            assert_eq!(agc.value_length(), 10);
            let csi_t = column("csi_t_ns");
            let csi_t = csi_t.as_any().downcast_ref::<FixedSizeListArray>().unwrap();
            let t_ns = column("t_ns");
            let t_ns = t_ns.as_any().downcast_ref::<Int64Array>().unwrap();
            for r in 0..batch.num_rows() {
                let p = n_people.value(r) as usize;
                // the pelvis of each person, inside the room, where the simulator put it
                let pos = position.value(r);
                let pos = pos.as_any().downcast_ref::<Float32Array>().unwrap();
                assert_eq!(pos.len(), p * 3);
                let bodies = sim.people_at(t_ns.value(r) as f64 * 1e-9);
                for (i, xyz) in pos.values().chunks(3).enumerate() {
                    assert!((0.0..=sx as f32).contains(&xyz[0]), "{xyz:?}");
                    assert!((0.0..=sy as f32).contains(&xyz[1]), "{xyz:?}");
                    assert!((0.2..1.5).contains(&xyz[2]), "pelvis height {xyz:?}");
                    let pelvis = bodies[i].pelvis();
                    let d = (pelvis.x - xyz[0] as f64)
                        .hypot(pelvis.y - xyz[1] as f64)
                        .hypot(pelvis.z - xyz[2] as f64);
                    assert!(d < 1e-4, "person {i} row {r}: {xyz:?} vs {pelvis:?}");
                }
                // each packet's AGC gain, in window order
                let gains = agc.value(r);
                let gains = gains.as_any().downcast_ref::<Float32Array>().unwrap();
                let times = csi_t.value(r);
                let times = times.as_any().downcast_ref::<Int64Array>().unwrap();
                for (g, t) in gains.values().iter().zip(times.values()) {
                    assert_eq!(*g, agc_at[t] as f32, "packet at {t} ns");
                    agc_values += 1;
                    agc_steps += usize::from(*g != 0.0);
                }
                assert_eq!(p, 2);
                assert_eq!(kp.value(r).len(), p * 17 * 3);
                assert_eq!(parts.value(r).len(), p * 24 * 32);
                assert_eq!(uv.value(r).len(), p * 2 * 24 * 32);
                assert_eq!(rgb.value(r).len(), 48 * 64 * 3);
                let window = csi.value(r);
                let w = window.as_any().downcast_ref::<Float32Array>().unwrap();
                assert!(w.values().iter().all(|v| v.is_finite()));
                assert!(w.values().iter().any(|v| *v != 0.0));
                let mask = parts.value(r);
                let m = mask.as_any().downcast_ref::<UInt8Array>().unwrap();
                assert!(m.values().iter().all(|v| *v <= 24));
                if let Some(prev) = last_seq {
                    assert_eq!(seq.value(r), prev + 1);
                }
                last_seq = Some(seq.value(r));
                rows += 1;
            }
        }
    }
    assert_eq!(rows, summary.rows);
    assert_eq!(agc_values, rows * 10);
    assert!(
        agc_steps > 0,
        "the AGC never moved: the check proves nothing"
    );
}
