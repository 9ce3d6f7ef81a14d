//! `dataflows/sim-record.yml`: the simulator as a source. Its `csi` messages are exactly what the
//! simulator library gives for the same scene and seed, and every camera frame brings ground
//! truth (keypoints, boxes, parts, UV, an RGB frame with dora-hub image metadata) on the same clock.

mod common;

use std::time::Duration;
use wdp_tensor::view;

#[test]
fn simulated_room_streams_csi_and_ground_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rec");
    let duration_s = 2.0;
    let flow = common::prepare(
        "sim-record.yml",
        dir.path(),
        &[
            ("csi-source", "PACING", "fast"),
            ("csi-source", "DURATION_S", "2"),
            ("csi-source", "SEED", "7"),
            ("csi-recorder", "OUT_DIR", out.to_str().expect("utf8")),
        ],
    );
    let run = common::run_dataflow(&flow, Duration::from_secs(120));
    assert!(run.success, "dataflow failed:\n{}", run.log);

    // The same scene and seed in the library, for comparison.
    let mut scene = wdp_sim::Scene::preset("lab").expect("preset");
    scene.seed = 7;
    scene.duration_s = Some(duration_s);
    let mut sim = wdp_sim::Simulator::new(scene).expect("simulator");
    let mut expected = Vec::new();
    while let Some(frame) = sim.next_packet() {
        expected.push(frame);
    }

    let csi = wdp_record::read_dir(out.join("csi")).expect("csi");
    assert_eq!(
        csi.len(),
        expected.len(),
        "every simulated packet, none lost"
    );
    for (record, frame) in csi.iter().zip(&expected) {
        assert_eq!(record.meta.t_ns, frame.timestamp_ns);
        assert_eq!(record.meta.room, "lab");
        assert_eq!(record.meta_json["format"], "simulated");
        let got = view::<f32>(record.values.as_ref(), &record.meta).expect("csi tensor");
        assert_eq!(
            got.shape(),
            [frame.n_tx, frame.n_rx, frame.n_subcarriers(), 2]
        );
        let c = frame.get(2, 1, 7).expect("value");
        assert_eq!((got[[2, 1, 7, 0]], got[[2, 1, 7, 1]]), (c.re, c.im));
    }

    let fps = 20.0;
    let n_frames = (duration_s * fps) as usize;
    let keypoints = wdp_record::read_dir(out.join("keypoints")).expect("keypoints");
    assert_eq!(keypoints.len(), n_frames);
    for (i, k) in keypoints.iter().enumerate() {
        assert_eq!(k.meta.shape, [1, 17, 3]);
        assert_eq!(
            k.meta.t_ns,
            (i as f64 * 1e9 / fps).round() as i64,
            "camera clock"
        );
        let v = view::<f32>(k.values.as_ref(), &k.meta).expect("keypoints");
        assert!(v.iter().all(|x| x.is_finite()));
    }
    let parts = wdp_record::read_dir(out.join("parts")).expect("parts");
    let uv = wdp_record::read_dir(out.join("uv")).expect("uv");
    let boxes = wdp_record::read_dir(out.join("boxes")).expect("boxes");
    assert_eq!(
        (parts.len(), uv.len(), boxes.len()),
        (n_frames, n_frames, n_frames)
    );
    let p = &parts[n_frames / 2];
    let mask = view::<u8>(p.values.as_ref(), &p.meta).expect("parts");
    assert!(
        mask.iter().any(|&v| v > 0) && mask.iter().all(|&v| v <= 24),
        "a visible person"
    );
    assert_eq!(uv[0].meta.shape[..2], [1, 2]);
    assert_eq!(boxes[0].meta.shape, [1, 5]);

    let frames = wdp_record::read_dir(out.join("frame")).expect("frames");
    assert_eq!(frames.len(), n_frames);
    let f = &frames[0];
    assert_eq!(f.meta.shape, [240, 320, 3]);
    assert_eq!(f.meta_json["encoding"], "rgb8");
    assert_eq!(f.meta_json["width"], 320);
    assert_eq!(f.meta_json["height"], 240);
    assert_eq!(f.meta_json["primitive"], "image");
}
