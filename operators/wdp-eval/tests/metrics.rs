//! Hand-computed expectations for PCK, part IoU, UV error, confusion matrices and the per-room
//! breakdown.

use ndarray::{array, Array2, Array3};
use wdp_eval::coco::{DetPerson, GtPerson};
use wdp_eval::{
    ConfusionMatrix, EvalConfig, EvalError, PartIouAccumulator, PckAccumulator, RoomEvaluator,
    UvErrorAccumulator,
};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn gt_with(points: &[(usize, f32, f32)], bbox: [f32; 4]) -> GtPerson {
    let mut keypoints = [[0.0f32; 3]; 17];
    for &(j, x, y) in points {
        keypoints[j] = [x, y, 2.0];
    }
    GtPerson {
        keypoints,
        bbox_xywh: bbox,
        area: bbox[2] * bbox[3] * 0.6,
        iscrowd: false,
    }
}

#[test]
fn pck_torso_scale_bbox_fallback_and_misses() {
    // gt A: all 17 labelled; left shoulder (100, 100), right hip (130, 140): torso 50, so a
    // keypoint is correct within 0.2 * 50 = 10 px. The detection is off by j px in x at keypoint
    // j: keypoints 0..=10 correct, 11..=16 wrong.
    let mut points: Vec<(usize, f32, f32)> = (0..17)
        .map(|j| (j, 90.0 + 3.0 * j as f32, 80.0 + 6.0 * j as f32))
        .collect();
    points[5] = (5, 100.0, 100.0);
    points[12] = (12, 130.0, 140.0);
    let a = gt_with(&points, [80.0, 70.0, 80.0, 200.0]);
    let mut det = a.keypoints;
    for (j, k) in det.iter_mut().enumerate() {
        k[0] += j as f32;
        k[2] = 0.9;
    }
    // gt B: only keypoints 0..=3 labelled (no torso): box diagonal 50 (30 x 40); not detected.
    let b = gt_with(
        &(0..4)
            .map(|j| (j, 600.0 + j as f32, 600.0))
            .collect::<Vec<_>>(),
        [590.0, 590.0, 30.0, 40.0],
    );
    // A crowd gt and a far false positive count for nothing.
    let mut crowd = a.clone();
    crowd.iscrowd = true;
    crowd.keypoints.iter_mut().for_each(|k| k[0] += 2000.0);
    let fp_keypoints = [[3000.0f32, 3000.0, 0.5]; 17];

    let mut pck = PckAccumulator::default();
    pck.add_image(
        &[a, b, crowd],
        &[
            DetPerson {
                keypoints: fp_keypoints,
                score: 0.99,
            },
            DetPerson {
                keypoints: det,
                score: 0.5,
            },
        ],
    );
    let r = pck.result();
    assert_eq!(r.alpha, 0.2);
    assert_eq!(
        (r.n_gt, r.n_matched, r.bbox_scale_gts, r.skipped_gts),
        (2, 1, 1, 0)
    );
    for j in 0..4 {
        assert_eq!(
            r.per_keypoint[j],
            Some(0.5),
            "keypoint {j}: A right, B missed"
        );
    }
    for j in 4..=10 {
        assert_eq!(r.per_keypoint[j], Some(1.0), "keypoint {j}");
    }
    for j in 11..17 {
        assert_eq!(r.per_keypoint[j], Some(0.0), "keypoint {j}");
    }
    assert!(close(r.mean.expect("labels"), 11.0 / 21.0));
    assert_eq!(r.labelled.iter().sum::<u64>(), 21);

    // A looser alpha takes keypoints up to 16 px off: all of A.
    let mut loose = PckAccumulator::new(0.4).expect("alpha");
    let (a, b) = (
        gt_with(&points, [80.0, 70.0, 80.0, 200.0]),
        DetPerson {
            keypoints: det,
            score: 0.5,
        },
    );
    loose.add_image(&[a], &[b]);
    assert_eq!(loose.result().mean, Some(1.0));
    assert!(PckAccumulator::new(0.0).is_err());
    assert_eq!(PckAccumulator::default().result().mean, None);
}

#[test]
fn pck_matches_greedily_by_oks_not_by_score() {
    // Two people; the higher-scored detection lies exactly on B, the lower on A.
    let pa: Vec<(usize, f32, f32)> = (0..17)
        .map(|j| (j, 100.0 + j as f32, 10.0 * j as f32))
        .collect();
    let pb: Vec<(usize, f32, f32)> = pa.iter().map(|&(j, x, y)| (j, x + 25.0, y)).collect();
    let a = gt_with(&pa, [100.0, 0.0, 17.0, 160.0]);
    let b = gt_with(&pb, [125.0, 0.0, 17.0, 160.0]);
    let mut pck = PckAccumulator::default();
    pck.add_image(
        &[a.clone(), b.clone()],
        &[
            DetPerson {
                keypoints: b.keypoints,
                score: 0.9,
            },
            DetPerson {
                keypoints: a.keypoints,
                score: 0.8,
            },
        ],
    );
    assert_eq!(pck.result().mean, Some(1.0));
}

#[test]
fn part_iou_hand_computed() {
    let gt = array![[0u8, 0, 1, 1], [0, 2, 2, 1]];
    let pred = array![[0u8, 1, 1, 1], [0, 2, 0, 1]];
    let mut acc = PartIouAccumulator::new();
    acc.add(gt.view(), pred.view()).expect("valid maps");
    let r = acc.result();
    // class 0: tp 2, gt 3, pred 3 -> 2/4; class 1: tp 3, gt 3, pred 4 -> 3/4; class 2: 1/2.
    assert_eq!(r.per_class[0], Some(0.5));
    assert_eq!(r.per_class[1], Some(0.75));
    assert_eq!(r.per_class[2], Some(0.5));
    assert!(r.per_class[3..].iter().all(Option::is_none));
    assert!(close(r.miou.expect("classes"), (0.5 + 0.75 + 0.5) / 3.0));
    assert!(close(r.miou_parts.expect("parts"), (0.75 + 0.5) / 2.0));
    assert_eq!(r.pixel_accuracy, Some(0.75));
    assert_eq!(r.confusion.counts[2][0], 1);
    assert_eq!(r.classes[24], "head_left");

    // Invalid input counts nothing.
    let bad = array![[0u8, 25, 1, 1], [0, 2, 2, 1]];
    assert!(matches!(
        acc.add(gt.view(), bad.view()),
        Err(EvalError::Label { label: 25, .. })
    ));
    let small = Array2::<u8>::zeros((1, 4));
    assert!(matches!(
        acc.add(gt.view(), small.view()),
        Err(EvalError::Shape { .. })
    ));
    assert_eq!(acc.result().confusion.total, 8);
}

#[test]
fn uv_error_hand_computed() {
    // Three pixels: part 1 (predicted 1), part 2 (predicted 3), background (ignored).
    let gt_parts = array![[1u8, 2, 0]];
    let pred_parts = array![[1u8, 3, 1]];
    let mut gt_uv = Array3::<f32>::zeros((2, 1, 3));
    let mut pred_uv = Array3::<f32>::zeros((2, 1, 3));
    gt_uv.fill(0.5);
    // Pixel 0: (0.2, 0.48) off -> 0.52. Pixel 1: (0, 0.27) off -> 0.27. Pixel 2: anything.
    pred_uv[[0, 0, 0]] = 0.7;
    pred_uv[[1, 0, 0]] = 0.98;
    pred_uv[[0, 0, 1]] = 0.5;
    pred_uv[[1, 0, 1]] = 0.77;
    pred_uv[[0, 0, 2]] = 0.0;
    let mut acc = UvErrorAccumulator::new();
    acc.add(
        gt_parts.view(),
        gt_uv.view(),
        pred_parts.view(),
        pred_uv.view(),
    )
    .expect("valid");
    let r = acc.result();
    let near = |a: Option<f64>, b: f64| (a.expect("value") - b).abs() < 1e-6;
    assert!(near(r.mean_foreground, (0.52 + 0.27) / 2.0));
    assert_eq!((r.n_foreground, r.n_same_part), (2, 1));
    assert!(near(r.mean_same_part, 0.52));
    assert!(near(r.per_part[1], 0.52) && near(r.per_part[2], 0.27));
    assert!(r.per_part[0].is_none() && r.per_part[3].is_none());
    assert_eq!((r.histogram[10], r.histogram[5]), (1, 1));
    assert_eq!(r.histogram.iter().sum::<u64>(), 2);

    let wrong_uv = Array3::<f32>::zeros((2, 1, 2));
    assert!(acc
        .add(
            gt_parts.view(),
            wrong_uv.view(),
            pred_parts.view(),
            pred_uv.view()
        )
        .is_err());
    assert_eq!(
        acc.result().n_foreground,
        2,
        "nothing counted from bad input"
    );
    assert_eq!(UvErrorAccumulator::new().result().mean_foreground, None);
}

#[test]
fn confusion_matrix_hand_computed() {
    let mut cm = ConfusionMatrix::new(vec!["a".into(), "b".into(), "c".into()]);
    cm.add_all(&[0, 0, 1, 2, 2, 2], &[0, 1, 1, 1, 2, 2])
        .expect("valid");
    let r = cm.result();
    assert!(close(r.accuracy.expect("samples"), 4.0 / 6.0));
    assert_eq!(r.counts, vec![vec![1, 1, 0], vec![0, 1, 0], vec![0, 1, 2]]);
    let (p, rc, f1): (Vec<f64>, Vec<f64>, Vec<f64>) = (
        r.per_class
            .iter()
            .map(|c| c.precision.expect("p"))
            .collect(),
        r.per_class.iter().map(|c| c.recall.expect("r")).collect(),
        r.per_class.iter().map(|c| c.f1.expect("f1")).collect(),
    );
    assert!(close(p[0], 1.0) && close(p[1], 1.0 / 3.0) && close(p[2], 1.0));
    assert!(close(rc[0], 0.5) && close(rc[1], 1.0) && close(rc[2], 2.0 / 3.0));
    assert!(close(f1[0], 2.0 / 3.0) && close(f1[1], 0.5) && close(f1[2], 0.8));
    assert_eq!(r.per_class[2].support, 3);
    assert!(close(cm.iou(1).expect("iou"), 1.0 / 3.0));

    assert!(matches!(
        cm.add(3, 0),
        Err(EvalError::Label { label: 3, .. })
    ));
    assert!(cm.add_all(&[0, 5], &[0, 0]).is_err());
    assert!(cm.add_all(&[0], &[0, 0]).is_err());
    assert_eq!(cm.total(), 6, "nothing counted from bad input");

    let mut other = ConfusionMatrix::with_classes(3);
    other.add(1, 0).expect("valid");
    cm.merge(&other).expect("same size");
    assert_eq!(cm.count(1, 0), 1);
    assert!(cm.merge(&ConfusionMatrix::with_classes(2)).is_err());
    assert_eq!(ConfusionMatrix::with_classes(2).accuracy(), None);
}

#[test]
fn rooms_and_all() {
    let config = EvalConfig {
        heads: vec![("count".into(), vec!["0".into(), "1".into(), "2+".into()])],
        ..EvalConfig::default()
    };
    let mut eval = RoomEvaluator::new(config).expect("config");
    let points: Vec<(usize, f32, f32)> = (0..17)
        .map(|j| (j, 100.0 + j as f32, 10.0 * j as f32))
        .collect();
    let gt = gt_with(&points, [100.0, 0.0, 17.0, 160.0]);
    let hit = DetPerson {
        keypoints: gt.keypoints,
        score: 0.9,
    };
    // The same image id in two rooms: two different images in `all`.
    eval.add_keypoints(
        "office",
        0,
        std::slice::from_ref(&gt),
        std::slice::from_ref(&hit),
    )
    .expect("ok");
    eval.add_keypoints("lab", 0, std::slice::from_ref(&gt), &[])
        .expect("ok");
    let parts = array![[0u8, 1], [2, 2]];
    eval.add_parts("office", parts.view(), parts.view())
        .expect("ok");
    eval.add_class("lab", "count", 2, 1).expect("ok");
    eval.add_class("office", "count", 1, 1).expect("ok");
    assert!(matches!(
        eval.add_class("kitchen", "activity", 0, 0),
        Err(EvalError::UnknownHead(_))
    ));
    assert!(eval
        .add_parts("lab", parts.view(), array![[0u8]].view())
        .is_err());
    assert!(eval.add_class("kitchen", "count", 3, 0).is_err());
    assert!(eval
        .add_parts("garage", parts.view(), array![[0u8]].view())
        .is_err());
    assert_eq!(
        eval.rooms().collect::<Vec<_>>(),
        vec!["lab", "office"],
        "no room for a refused input"
    );

    let report = eval.finish();
    let all_kp = report.all.keypoints.as_ref().expect("keypoints");
    assert_eq!((all_kp.n_images, all_kp.n_gt, all_kp.n_dets), (2, 2, 1));
    assert!((all_kp.stats.ar - 0.5).abs() < 1e-12);
    let office = &report.rooms["office"];
    assert!((office.keypoints.as_ref().expect("kp").stats.ap - 1.0).abs() < 1e-9);
    assert_eq!(
        report.rooms["lab"].keypoints.as_ref().expect("kp").stats.ar,
        0.0
    );
    assert_eq!(report.all.pck.as_ref().and_then(|p| p.mean), Some(0.5));
    assert_eq!(office.parts.as_ref().and_then(|p| p.miou), Some(1.0));
    assert!(
        report.rooms["lab"].parts.is_none(),
        "the refused map left no trace"
    );
    assert_eq!(
        report.all.parts.as_ref().map(|p| p.confusion.total),
        Some(4)
    );
    assert_eq!(report.all.heads["count"].accuracy, Some(0.5));
    assert_eq!(report.rooms["lab"].heads["count"].accuracy, Some(0.0));
    assert!(report.all.uv.is_none());

    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(json["rooms"]["office"]["heads"]["count"]["total"], 1);
    assert!(json["all"]["keypoints"]["precision"][0][0]
        .as_array()
        .is_some_and(|p| p.len() == 101));
    assert!(RoomEvaluator::new(EvalConfig {
        pck_alpha: -1.0,
        ..EvalConfig::default()
    })
    .is_err());
}
