//! `dataflows/inference-fused.yml`: the simulated room through preprocessing into the whole
//! model in one node. No trained checkpoint ships yet, so this checks the plumbing, never the
//! poses: one output set per window, the output contract's shapes and types, `t_ns` carried from
//! the radio, and the loud `untrained` marking.

mod common;

use std::time::Duration;
use wdp_tensor::view;

#[test]
fn fused_model_turns_windows_into_the_pose_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rec");
    let flow = common::prepare(
        "inference-fused.yml",
        dir.path(),
        &[
            ("csi-source", "PACING", "fast"),
            ("csi-source", "DURATION_S", "3"),
            ("csi-recorder", "OUT_DIR", out.to_str().expect("utf8")),
        ],
    );
    let run = common::run_dataflow(&flow, Duration::from_secs(180));
    assert!(run.success, "dataflow failed:\n{}", run.log);
    assert!(
        run.log.contains("UNTRAINED"),
        "untrained weights are announced:\n{}",
        run.log
    );

    let keypoints = wdp_record::read_dir(out.join("pose_keypoints")).expect("keypoints");
    let boxes = wdp_record::read_dir(out.join("pose_boxes")).expect("boxes");
    let parts = wdp_record::read_dir(out.join("pose_parts")).expect("parts");
    let uv = wdp_record::read_dir(out.join("pose_uv")).expect("uv");
    // 3 s at 100 Hz, windows of 100 with a hop of 10: about 21.
    assert!(keypoints.len() >= 15, "{} pose messages", keypoints.len());
    assert_eq!(boxes.len(), keypoints.len());
    assert_eq!(parts.len(), keypoints.len());
    assert_eq!(uv.len(), keypoints.len());

    let mut last_t = i64::MIN;
    for i in 0..keypoints.len() {
        let (k, b, p, u) = (&keypoints[i], &boxes[i], &parts[i], &uv[i]);
        let people = k.meta.shape[0];
        assert!(people <= 5, "lite keeps at most 5 people");
        assert_eq!(k.meta.shape[1..], [17, 3]);
        assert_eq!(b.meta.shape, [people, 5]);
        assert_eq!(p.meta.shape[0], people);
        assert_eq!(u.meta.shape[..2], [people, 2]);
        assert_eq!(
            u.meta.shape[2..],
            p.meta.shape[1..],
            "UV over the part grid"
        );
        for r in [k, b, p, u] {
            assert_eq!(r.meta.t_ns, k.meta.t_ns, "one capture time per window");
            assert_eq!(r.meta_json["untrained"], true);
            assert_eq!(r.meta_json["model"], "lite");
            assert_eq!(r.meta.room, "lab");
        }
        assert!(
            k.meta.t_ns > last_t && k.meta.t_ns <= 3_100_000_000,
            "radio clock"
        );
        last_t = k.meta.t_ns;
        let mask = view::<u8>(p.values.as_ref(), &p.meta).expect("parts");
        assert!(mask.iter().all(|&v| v <= 24));
        let kp = view::<f32>(k.values.as_ref(), &k.meta).expect("keypoints");
        assert!(kp.iter().all(|v| v.is_finite()));
    }
}
