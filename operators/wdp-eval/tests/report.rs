//! The report writes Markdown with every metric per scope, a JSON file and PNG plots that decode.

use ndarray::{Array2, Array3};
use wdp_eval::coco::{DetPerson, GtPerson};
use wdp_eval::{write_report, EvalConfig, RoomEvaluator};

/// A filled evaluator: three rooms, a few people with growing keypoint error, label maps, UV and
/// two classification heads.
fn evaluator() -> RoomEvaluator {
    let config = EvalConfig {
        heads: vec![
            ("presence".into(), vec!["empty".into(), "occupied".into()]),
            (
                "activity".into(),
                vec!["walk".into(), "sit".into(), "fall".into(), "wave".into()],
            ),
        ],
        ..EvalConfig::default()
    };
    let mut eval = RoomEvaluator::new(config).expect("config");
    for (r, room) in ["office", "kitchen", "lab"].iter().enumerate() {
        for image in 0..6u64 {
            let x0 = 50.0 + 40.0 * image as f32;
            let mut keypoints = [[0.0f32; 3]; 17];
            for (j, k) in keypoints.iter_mut().enumerate() {
                *k = [
                    x0 + 4.0 * (j % 5) as f32,
                    20.0 + 9.0 * j as f32,
                    if j % 7 == 3 { 0.0 } else { 2.0 },
                ];
            }
            let gt = GtPerson {
                keypoints,
                bbox_xywh: [x0, 20.0, 30.0, 150.0],
                area: 2700.0,
                iscrowd: false,
            };
            let mut det = keypoints;
            for (j, k) in det.iter_mut().enumerate() {
                k[0] += ((j as f32) * 0.7 + image as f32) * (r as f32 + 1.0) * 0.6;
                k[2] = 0.8;
            }
            let dets = [
                DetPerson {
                    keypoints: det,
                    score: 0.5 + 0.05 * image as f32,
                },
                DetPerson {
                    keypoints: [[400.0, 400.0, 0.1]; 17],
                    score: 0.3,
                },
            ];
            eval.add_keypoints(room, image, &[gt], &dets)
                .expect("keypoints");

            let (h, w) = (24, 32);
            let gt_parts = Array2::from_shape_fn((h, w), |(y, x)| {
                if (4..20).contains(&y) && (8..24).contains(&x) {
                    (1 + (x + y) % 24) as u8
                } else {
                    0
                }
            });
            let pred_parts = Array2::from_shape_fn((h, w), |(y, x)| {
                let g = gt_parts[[y, x]];
                // Every (3 + r)-th pixel gets the next class: rooms differ in quality.
                match (x * 7 + y * 3 + r + image as usize) % (3 + r) {
                    0 => (g + 1) % 25,
                    _ => g,
                }
            });
            let gt_uv =
                Array3::from_shape_fn((2, h, w), |(c, y, x)| ((x + c * y) % 10) as f32 / 10.0);
            let pred_uv = Array3::from_shape_fn((2, h, w), |(c, y, x)| {
                gt_uv[[c, y, x]] + ((x * y + c) % 7) as f32 * 0.03 * (r as f32 + 1.0)
            });
            eval.add_parts(room, gt_parts.view(), pred_parts.view())
                .expect("parts");
            eval.add_uv(
                room,
                gt_parts.view(),
                gt_uv.view(),
                pred_parts.view(),
                pred_uv.view(),
            )
            .expect("uv");
            eval.add_class(
                room,
                "presence",
                (image % 2) as usize,
                usize::from(image % 3 != 0),
            )
            .expect("presence");
            eval.add_class(
                room,
                "activity",
                (image % 4) as usize,
                ((image + r as u64) % 4) as usize,
            )
            .expect("activity");
        }
    }
    eval
}

#[test]
fn report_writes_markdown_json_and_decodable_pngs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("eval");
    let report = evaluator().finish();
    let files = write_report(&report, &out, "Simulated rooms").expect("report written");

    let md = std::fs::read_to_string(&files.markdown).expect("markdown");
    for heading in [
        "# Simulated rooms",
        "## Keypoints: COCO OKS AP / AR",
        "## PCK@0.2",
        "## Body-part masks: IoU",
        "## UV error",
        "## Classification: activity",
        "## Classification: presence",
    ] {
        assert!(md.contains(heading), "missing {heading}");
    }
    for room in ["all", "office", "kitchen", "lab"] {
        assert!(md.contains(&format!("| {room} |")), "no row for {room}");
    }
    let kp = report.all.keypoints.as_ref().expect("keypoints");
    let ap = format!("{:.3}", kp.stats.ap);
    assert!(md.contains(&ap), "the AP {ap} is in the table");
    assert!(md.contains("| left_shoulder |") && md.contains("| 24 head_left |"));

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files.json).expect("json")).expect("valid JSON");
    assert_eq!(json["rooms"].as_object().map(|r| r.len()), Some(3));
    assert!(json["all"]["uv"]["mean_foreground"].as_f64().is_some());

    let expected = [
        "keypoints_pr.png",
        "pck.png",
        "part_iou.png",
        "part_confusion.png",
        "uv_error.png",
        "uv_error_parts.png",
        "confusion_activity.png",
        "confusion_presence.png",
    ];
    let names: Vec<String> = files
        .plots
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    for name in expected {
        assert!(names.iter().any(|n| n == name), "no {name} in {names:?}");
        assert!(md.contains(&format!("]({name})")), "{name} not linked");
    }
    for path in &files.plots {
        let decoder = png::Decoder::new(std::fs::File::open(path).expect("png exists"));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("png decodes");
        assert!(
            info.width >= 400 && info.height >= 300,
            "{}: {}x{}",
            path.display(),
            info.width,
            info.height
        );
        let pixels = &buf[..info.buffer_size()];
        let dark = pixels
            .chunks(3)
            .filter(|p| p.iter().all(|&c| c < 80))
            .count();
        let colored = pixels
            .chunks(3)
            .filter(|p| p.iter().max() != p.iter().min())
            .count();
        assert!(dark > 500, "{}: text and axes are drawn", path.display());
        assert!(colored > 200, "{}: data is drawn in colour", path.display());
    }
}

#[test]
fn report_without_data_has_no_plots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = RoomEvaluator::new(EvalConfig::default())
        .expect("config")
        .finish();
    let files = write_report(&report, dir.path(), "Empty").expect("report written");
    assert!(files.plots.is_empty());
    let md = std::fs::read_to_string(&files.markdown).expect("markdown");
    assert!(md.starts_with("# Empty") && !md.contains("## Keypoints"));
}
