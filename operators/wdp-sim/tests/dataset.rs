//! The dataset writer's shards read back with the Arrow IPC reader.
#![allow(clippy::unwrap_used)]

use arrow_array::{Array, FixedSizeListArray, Float32Array, ListArray, UInt32Array, UInt8Array};
use arrow_ipc::reader::FileReader;
use wdp_sim::{write_dataset, DatasetOptions, Scene};

#[test]
fn shards_hold_windows_truth_and_schema_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut scene = Scene::preset("office").unwrap();
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
            for r in 0..batch.num_rows() {
                let p = n_people.value(r) as usize;
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
}
