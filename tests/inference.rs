//! `dataflows/inference.yml`, the main job (the simulated room through every stage as its own
//! node: preprocess, encoder, upsampler, densepose, temporal, pose sink), and
//! `inference-fused.yml` (the model in one node). Checks the pose contract as the sink recorded
//! it, `t_ns` carried from the radio to the sink, the latency trace through every stage, track
//! ids, the sink's files, and the loud marking of untrained weights.

mod common;

use std::time::Duration;
use wdp_tensor::view;

#[test]
fn split_pipeline_delivers_tracked_poses_with_a_trace_through_every_stage() {
    check_pipeline(
        "inference.yml",
        &[
            "preprocess",
            "encoder",
            "upsampler",
            "densepose",
            "temporal",
        ],
        &[],
        false,
    );
}

/// A preset that places people by the upsampler's locator, counts them by its count head and
/// has a floor head (`person.centre: locator`, `person.count: head`, `upsampler.floor`): the
/// densepose node pairs every picture with its `locator`, `count` and `floor` messages, no
/// frame is lost, and every person has a floor position (untrained weights: the plumbing).
#[test]
fn split_pipeline_with_a_located_counted_and_floored_preset_pairs_every_picture() {
    let preset = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/presets/lite-floor.yaml"
    );
    let mut extra = Vec::new();
    for node in ["encoder", "upsampler", "densepose"] {
        extra.push((node, "PRESET", preset));
        extra.push((node, "CHECKPOINT", ""));
    }
    let log = check_pipeline_of(
        "inference.yml",
        "lite-floor",
        &[
            "preprocess",
            "encoder",
            "upsampler",
            "densepose",
            "temporal",
        ],
        &extra,
        true,
    );
    // The densepose node read the locator, the count and the floor map (none ignored as an
    // unknown input) and dropped nothing.
    let summary = log
        .lines()
        .find(|l| l.contains("densepose: ") && l.contains("messages handled"))
        .unwrap_or_else(|| panic!("no densepose summary:\n{log}"));
    assert!(summary.contains(", 0 dropped"), "{summary}");
    assert!(!summary.contains("unknown inputs"), "{summary}");
}

#[test]
fn fused_pipeline_delivers_the_same_contract() {
    check_pipeline(
        "inference-fused.yml",
        &["preprocess", "densepose-fused", "temporal"],
        &[],
        false,
    );
}

#[test]
fn untrained_weights_are_announced_and_marked() {
    check_pipeline(
        "inference-fused.yml",
        &["preprocess", "densepose-fused", "temporal"],
        &[("densepose-fused", "CHECKPOINT", "")],
        true,
    );
}

/// [`check_pipeline_of`] with the main job's model, `lite-floor`.
fn check_pipeline(dataflow: &str, stages: &[&str], extra: &[(&str, &str, &str)], untrained: bool) {
    check_pipeline_of(dataflow, "lite-floor", stages, extra, untrained);
}

/// Models whose preset has a floor head: every person they draw has a floor position.
const FLOOR_MODELS: [&str; 1] = ["lite-floor"];

fn check_pipeline_of(
    dataflow: &str,
    model: &str,
    stages: &[&str],
    extra: &[(&str, &str, &str)],
    untrained: bool,
) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("poses");
    let mut overrides = vec![
        ("csi-source", "PACING", "fast"),
        ("csi-source", "DURATION_S", "3"),
        ("pose-sink", "OUT_DIR", out.to_str().expect("utf8")),
        ("pose-sink", "PNG_EVERY", "10"),
        ("pose-sink", "GIF_FRAMES", "12"),
    ];
    overrides.extend_from_slice(extra);
    // The split pipeline's intermediate outputs, recorded beside it.
    let mut taps = vec![("window", "csi-preprocess/window")];
    if stages.contains(&"encoder") {
        taps.extend([
            ("features", "encoder/features"),
            ("spatial", "upsampler/spatial"),
        ]);
    }
    let source =
        std::fs::read_to_string(common::root().join("dataflows").join(dataflow)).expect("dataflow");
    let locates = source.contains("csi-locate/radio_map");
    if locates {
        taps.push(("radio_map", "csi-locate/radio_map"));
    }
    let tapped = dir.path().join("taps");
    let flow = common::prepare_with_taps(dataflow, dir.path(), &overrides, &taps, &tapped);
    let run = common::run_dataflow(&flow, Duration::from_secs(240));
    assert!(run.success, "dataflow failed:\n{}", run.log);
    assert_eq!(
        run.log.contains("UNTRAINED"),
        untrained,
        "untrained weights are announced, trained ones are not:\n{}",
        run.log
    );

    // 3 s at 100 packets/s, windows of 100 with a hop of 5: about 41 frames.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(out.join("poses.jsonl"))
        .expect("poses.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert!(lines.len() >= 35, "{} frames:\n{}", lines.len(), run.log);
    let mut last_t = 0i64;
    for l in &lines {
        let t = l["t_ns"].as_i64().expect("t_ns");
        // Radio clock of the simulator: a window every 5 resampled packets (50 ms); its time is
        // its newest received packet's, so lost packets and jitter move it by a packet or two.
        assert!(t > last_t && t <= 3_100_000_000, "t_ns {t} after {last_t}");
        if last_t > 0 {
            assert!(
                (25_000_000..=80_000_000).contains(&(t - last_t)),
                "hop {}",
                t - last_t
            );
        }
        last_t = t;
        assert_eq!(l["room"], "living-room");
        assert_eq!(l["model"], model);
        assert_eq!(l["untrained"], untrained);
        for p in l["people"].as_array().expect("people") {
            assert!(
                p["track_id"].as_i64().is_some(),
                "temporal assigns ids: {p}"
            );
            if FLOOR_MODELS.contains(&model) {
                let xy = p["floor_m"].as_array().expect("a floor position");
                assert!(
                    xy.len() == 2 && xy.iter().all(|v| v.as_f64().is_some_and(f64::is_finite)),
                    "{p}"
                );
            }
        }
    }

    let first = lines[0]["t_ns"].as_i64().unwrap_or(0);
    let mean_hop = (last_t - first) as f64 / (lines.len() - 1) as f64;
    assert!((mean_hop - 50e6).abs() < 3e6, "mean hop {mean_hop} ns");

    let arrow = |name: &str| wdp_record::read_dir(out.join("arrow").join(name)).expect(name);
    let (keypoints, boxes, parts, uv) = (
        arrow("keypoints"),
        arrow("boxes"),
        arrow("parts"),
        arrow("uv"),
    );
    assert_eq!(keypoints.len(), lines.len());
    assert_eq!(boxes.len(), lines.len());
    assert_eq!(parts.len(), lines.len());
    assert_eq!(uv.len(), lines.len());
    for i in 0..keypoints.len() {
        let (k, b, p, u) = (&keypoints[i], &boxes[i], &parts[i], &uv[i]);
        let people = k.meta.shape[0];
        assert!(people <= 5, "lite keeps at most 5 people");
        assert_eq!(k.meta.shape[1..], [17, 3]);
        assert_eq!(k.meta.dims, ["person", "keypoint", "xys"]);
        assert_eq!(b.meta.shape, [people, 5]);
        assert_eq!(b.meta_json["format"], "xyxy");
        assert_eq!(p.meta.shape[0], people);
        assert_eq!(u.meta.shape[..2], [people, 2]);
        assert_eq!(u.meta.shape[2..], p.meta.shape[1..]);
        assert_eq!(p.meta_json["region"], "box");
        assert_eq!(k.meta_json["image_wh"], serde_json::json!([128, 96]));
        for r in [k, b, p, u] {
            assert_eq!(r.meta.t_ns, k.meta.t_ns, "one capture time per frame");
            assert_eq!(r.meta.t_ns, lines[i]["t_ns"].as_i64().unwrap_or(-1));
            // Every stage appended itself to the trace, in pipeline order.
            assert_eq!(r.meta_json["trace_stages"], serde_json::json!(stages));
            let ns: Vec<i64> = r.meta_json["trace_ns"]
                .as_array()
                .expect("trace_ns")
                .iter()
                .filter_map(serde_json::Value::as_i64)
                .collect();
            assert_eq!(ns.len(), 2 * stages.len(), "received and sent per stage");
            assert!(
                ns.windows(2).all(|w| w[1] >= w[0]),
                "each stage receives after the previous one sent: {ns:?}"
            );
        }
        let mask = view::<u8>(p.values.as_ref(), &p.meta).expect("parts");
        assert!(mask.iter().all(|&v| v <= 24));
    }

    // Every stage's own output: one per window, its shape and dims, the window's capture time.
    let windows = wdp_record::read_dir(tapped.join("window")).expect("windows");
    assert_eq!(windows.len(), lines.len(), "one pose frame per window");
    for (w, l) in windows.iter().zip(&lines) {
        assert_eq!(w.meta.shape, [2, 9, 30, 100]);
        assert_eq!(
            w.meta.t_ns,
            l["t_ns"].as_i64().unwrap_or(-1),
            "t_ns window -> sink"
        );
    }
    if locates {
        // The radio's floor image: its windows end on the same packets as the model's (same
        // hop), so every model window finds the image of its own moment.
        let maps = wdp_record::read_dir(tapped.join("radio_map")).expect("radio maps");
        let times: std::collections::HashSet<i64> = maps.iter().map(|m| m.meta.t_ns).collect();
        for m in &maps {
            assert_eq!(m.meta.shape, [24, 32]);
            assert_eq!(m.meta.dims, ["y", "x"]);
            let v = wdp_tensor::view::<f32>(m.values.as_ref(), &m.meta).expect("radio map");
            assert!(
                v.iter().all(|x| (0.0..=1.0).contains(x)),
                "an image in [0, 1]"
            );
        }
        for w in &windows {
            assert!(
                times.contains(&w.meta.t_ns),
                "no image at window t_ns {}",
                w.meta.t_ns
            );
        }
    }
    if stages.contains(&"encoder") {
        let features = wdp_record::read_dir(tapped.join("features")).expect("features");
        let spatial = wdp_record::read_dir(tapped.join("spatial")).expect("spatial");
        assert_eq!(features.len(), windows.len());
        assert_eq!(spatial.len(), windows.len());
        for ((w, f), s) in windows.iter().zip(&features).zip(&spatial) {
            assert_eq!(f.meta.shape, [256]);
            assert_eq!(f.meta.dims, ["feature"]);
            assert_eq!(s.meta.shape, [3, 96, 128]);
            assert_eq!(s.meta.dims, ["channel", "height", "width"]);
            assert_eq!((f.meta.t_ns, s.meta.t_ns), (w.meta.t_ns, w.meta.t_ns));
            assert_eq!(s.meta_json["untrained"], untrained);
            let v = wdp_tensor::view::<f32>(s.values.as_ref(), &s.meta).expect("spatial");
            assert!(v.iter().all(|x| (0.0..=1.0).contains(x)), "sigmoid image");
        }
    }

    let latency: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("latency.json")).expect("latency.json"),
    )
    .expect("latency JSON");
    assert_eq!(latency["frames"].as_u64(), Some(lines.len() as u64));
    for stage in stages {
        assert!(
            latency["processing"][stage]["count"].as_u64() == Some(lines.len() as u64),
            "{stage} in {latency}"
        );
    }
    assert!(
        run.log.contains("end to end p50"),
        "latency printed at stop"
    );

    let pngs = std::fs::read_dir(out.join("png")).expect("png").count();
    assert_eq!(pngs, lines.len().div_ceil(10));
    let gif = std::fs::File::open(out.join("summary.gif")).expect("gif");
    let mut decoder = gif::DecodeOptions::new()
        .read_info(gif)
        .expect("gif decodes");
    let mut frames = 0;
    while decoder.read_next_frame().expect("frame").is_some() {
        frames += 1;
    }
    assert_eq!(frames, 12);
    run.log
}

#[test]
fn learned_temporal_module_refines_the_features_with_the_shipped_weights() {
    // inference.yml with a second temporal node between encoder and upsampler: the shipped
    // `lite-sim` checkpoint's trained temporal module over the last 8 frames' features (the
    // main job's `lite-floor` has no temporal module: it is trained frame by frame).
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("poses");
    let tapped = dir.path().join("taps");
    let weights = common::root().join("models/weights");
    let checkpoint = weights.join("lite-sim.safetensors");
    let checkpoint = checkpoint.to_str().expect("utf8");
    let preprocess = weights.join("lite-sim.preprocess.yaml");
    let mut overrides = vec![
        ("csi-source", "PACING", "fast"),
        ("csi-source", "DURATION_S", "2"),
        ("csi-source", "RGB", "false"),
        ("pose-sink", "OUT_DIR", out.to_str().expect("utf8")),
        (
            "csi-preprocess",
            "WDP_PREPROCESS_CONFIG",
            preprocess.to_str().expect("utf8"),
        ),
    ];
    for node in ["encoder", "upsampler", "densepose"] {
        overrides.push((node, "PRESET", "lite"));
        overrides.push((node, "CHECKPOINT", checkpoint));
    }
    let flow = common::prepare_with_taps(
        "inference.yml",
        dir.path(),
        &overrides,
        &[
            ("features", "encoder/features"),
            ("refined", "temporal-features/features"),
        ],
        &tapped,
    );
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&flow).expect("flow")).expect("YAML");
    let nodes = doc["nodes"].as_sequence_mut().expect("nodes");
    let encoder = nodes
        .iter()
        .find(|n| n["id"] == "encoder")
        .expect("encoder")
        .clone();
    let temporal = nodes
        .iter()
        .find(|n| n["id"] == "temporal")
        .expect("temporal")
        .clone();
    let mut learned = serde_yaml::Mapping::new();
    learned.insert("id".into(), "temporal-features".into());
    learned.insert("path".into(), temporal["path"].clone());
    let mut features = serde_yaml::Mapping::new();
    features.insert("source".into(), "encoder/features".into());
    features.insert("queue_size".into(), 1000.into());
    features.insert("queue_policy".into(), "backpressure".into());
    let mut inputs = serde_yaml::Mapping::new();
    inputs.insert("features".into(), features.into());
    learned.insert("inputs".into(), inputs.into());
    learned.insert(
        "outputs".into(),
        vec![serde_yaml::Value::from("features")].into(),
    );
    let mut env = serde_yaml::Mapping::new();
    env.insert("PRESET".into(), "lite".into());
    env.insert("CHECKPOINT".into(), encoder["env"]["CHECKPOINT"].clone());
    env.insert("SEQUENCE".into(), "8".into());
    learned.insert("env".into(), env.into());
    nodes.push(learned.into());
    let upsampler = nodes
        .iter_mut()
        .find(|n| n["id"] == "upsampler")
        .expect("upsampler");
    // Same queue settings as before, another source.
    upsampler["inputs"]["features"]["source"] = "temporal-features/features".into();
    std::fs::write(&flow, serde_yaml::to_string(&doc).expect("YAML")).expect("write flow");

    let run = common::run_dataflow(&flow, Duration::from_secs(240));
    assert!(run.success, "dataflow failed:\n{}", run.log);
    assert!(
        !run.log.contains("UNTRAINED"),
        "the shipped checkpoint holds a trained temporal module:\n{}",
        run.log
    );
    assert!(
        run.log.contains("temporal (learned, features)"),
        "{}",
        run.log
    );

    let raw = wdp_record::read_dir(tapped.join("features")).expect("features");
    let refined = wdp_record::read_dir(tapped.join("refined")).expect("refined");
    assert!(raw.len() >= 20, "{} frames", raw.len());
    assert_eq!(raw.len(), refined.len(), "one refined vector per frame");
    let mut changed = 0;
    for (a, b) in raw.iter().zip(&refined) {
        assert_eq!(b.meta.shape, [256]);
        assert_eq!(a.meta.t_ns, b.meta.t_ns, "the frame's capture time is kept");
        let a = view::<f32>(a.values.as_ref(), &a.meta).expect("features");
        let b = view::<f32>(b.values.as_ref(), &b.meta).expect("refined");
        assert!(b.iter().all(|v| v.is_finite()));
        let diff: f32 = a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).sum();
        changed += usize::from(diff > 1e-3);
    }
    assert_eq!(changed, raw.len(), "the module refines every frame");

    let poses = wdp_record::read_dir(out.join("arrow").join("keypoints")).expect("keypoints");
    assert_eq!(
        poses.len(),
        raw.len(),
        "every refined frame reaches the sink:\n{}",
        run.log
    );
    assert_eq!(
        poses[0].meta_json["trace_stages"],
        serde_json::json!([
            "preprocess",
            "encoder",
            "temporal",
            "upsampler",
            "densepose",
            "temporal"
        ])
    );
}
