//! The evaluation glue end to end on simulated recordings: predictions copied from the truth
//! score perfectly on AP and count and land on the floor as close as the truth keypoints do;
//! the training set's room prior, scored the same way, scores clearly worse; a shift of the
//! perfect poses shows in metres.
#![allow(clippy::unwrap_used)]

use wdp_train::{
    evaluate_with, load_dataset, Detection, EvalOptions, LoadOptions, RoomPrior, Sample,
};

fn recording(seed: u64, dir: &std::path::Path) -> Vec<Sample> {
    let mut scene = wdp_sim::Scene::preset("office").unwrap();
    scene.seed = seed;
    let options = wdp_sim::DatasetOptions {
        duration_s: 2.5,
        include_rgb: false,
        ..wdp_sim::DatasetOptions::default()
    };
    wdp_sim::write_dataset(&scene, dir, &options).unwrap();
    load_dataset(dir, &LoadOptions::default()).unwrap().0
}

/// The truth of each sample as detections, moved `dx` pixels right.
fn from_truth(samples: &[&Sample], dx: f32) -> Vec<Vec<Detection>> {
    samples
        .iter()
        .map(|s| {
            s.people
                .iter()
                .filter(|p| p.keypoints.iter().any(|k| k[2] > 0.0))
                .map(|p| Detection {
                    keypoints: p.keypoints.map(|k| [k[0] + dx, k[1], k[2].min(1.0)]),
                    bbox: [p.bbox[0] + dx, p.bbox[1], p.bbox[2] + dx, p.bbox[3]],
                    score: 1.0,
                    parts: Vec::new(),
                    uv: Vec::new(),
                    grid: 0,
                    floor_m: None,
                })
                .collect()
        })
        .collect()
}

#[test]
fn perfect_predictions_prior_and_shift() {
    let tmp = tempfile::tempdir().unwrap();
    let test = recording(11, &tmp.path().join("test"));
    let train = recording(12, &tmp.path().join("train"));
    assert!(!test.is_empty() && !train.is_empty());
    assert!(test.iter().all(|s| s.camera.is_some()));
    assert!(test
        .iter()
        .flat_map(|s| &s.people)
        .all(|p| p.position_m.is_some()));
    let refs: Vec<&Sample> = test.iter().collect();
    let options = EvalOptions::default();

    let perfect = evaluate_with(&refs, &from_truth(&refs, 0.0), &options).unwrap();
    let all = &perfect.all;
    let ap = all.keypoints.as_ref().unwrap().stats.ap;
    assert!(ap > 0.99, "AP of the truth itself: {ap}");
    let count = all.count.as_ref().unwrap();
    assert_eq!(count.accuracy, Some(1.0));
    assert_eq!(count.mean_abs_error, Some(0.0));
    let floor = all.floor.as_ref().unwrap();
    let own = all.floor_truth_keypoints.as_ref().unwrap();
    // The same points: the truth keypoints' own error exactly.
    assert_eq!(floor.median_m, own.median_m);
    assert_eq!(floor.matched, own.matched);
    let median = floor.median_m.unwrap();
    // Ankles lie within a step of the pelvis: the camera and positions agree.
    assert!(median < 0.3, "perfect floor median {median} m");
    assert!(floor.matched > 0);
    assert!(floor.miss_rate.unwrap() < 0.1, "{floor:?}");

    // 20 px sideways: the same count, a floor error that grows.
    let shifted = evaluate_with(&refs, &from_truth(&refs, 20.0), &options).unwrap();
    let moved = shifted.all.floor.as_ref().unwrap().median_m.unwrap();
    assert!(moved > median + 0.05, "shifted {moved} vs {median}");
    assert_eq!(shifted.all.count.as_ref().unwrap().accuracy, Some(1.0));

    let train_refs: Vec<&Sample> = train.iter().collect();
    let prior = RoomPrior::fit(&train_refs, 0).unwrap();
    assert!(prior.rooms.contains_key(&test[0].room));
    let blind = evaluate_with(&refs, &prior.predict(&refs), &options).unwrap();
    let b = &blind.all;
    let prior_ap = b.keypoints.as_ref().unwrap().stats.ap;
    assert!(prior_ap < 0.9 * ap, "prior AP {prior_ap}");
    let prior_floor = b.floor.as_ref().unwrap();
    assert!(
        prior_floor.median_m.is_none_or(|m| m > median) || prior_floor.missed > floor.missed,
        "prior {prior_floor:?} vs perfect {floor:?}"
    );
    eprintln!(
        "perfect {}\nshifted {}\nprior {}",
        wdp_train::evaluate::summary(all),
        wdp_train::evaluate::summary(&shifted.all),
        wdp_train::evaluate::summary(b)
    );
    let summary = wdp_train::evaluate::summary(b);
    for key in ["median_m", "p90_m", "truth_keypoints_median_m", "missed"] {
        assert!(summary["floor"].get(key).is_some(), "{summary}");
    }
    assert!(summary["count"]["accuracy"].is_number(), "{summary}");
    assert!(summary["keypoints"]["ap50"].is_number(), "{summary}");
}

/// Masks are kept at `mask_stride`: every n-th row and column of the recorded ones, unchanged.
#[test]
fn masks_are_subsampled_at_load() {
    let tmp = tempfile::tempdir().unwrap();
    let full_options = LoadOptions {
        mask_stride: 1,
        ..LoadOptions::default()
    };
    let _ = recording(13, tmp.path());
    let full = load_dataset(tmp.path(), &full_options).unwrap().0;
    let half = load_dataset(tmp.path(), &LoadOptions::default()).unwrap().0;
    assert_eq!(full.len(), half.len());
    let (f, h) = (&full[full.len() / 2], &half[half.len() / 2]);
    let (p, fh, fw) = f.part_index.dim();
    assert_eq!(h.part_index.dim(), (p, fh.div_ceil(2), fw.div_ceil(2)));
    assert!(h.part_index.iter().any(|&v| v > 0), "a person in the mask");
    for ((i, y, x), &v) in h.part_index.indexed_iter() {
        assert_eq!(v, f.part_index[[i, 2 * y, 2 * x]]);
    }
    let (fu, hu) = (f.uv.as_ref().unwrap(), h.uv.as_ref().unwrap());
    for ((i, c, y, x), &v) in hu.indexed_iter() {
        assert_eq!(v, fu[[i, c, 2 * y, 2 * x]]);
    }
}

/// `labels_only` keeps the same frames and people without their windows and masks.
#[test]
fn labels_only_loads_the_same_frames_without_windows_or_masks() {
    let tmp = tempfile::tempdir().unwrap();
    let _ = recording(13, tmp.path());
    let full = load_dataset(tmp.path(), &LoadOptions::default()).unwrap().0;
    let labels_options = LoadOptions {
        labels_only: true,
        ..LoadOptions::default()
    };
    let labels = load_dataset(tmp.path(), &labels_options).unwrap().0;
    assert_eq!(full.len(), labels.len());
    for (f, l) in full.iter().zip(&labels) {
        assert_eq!((f.seq, f.t_ns, &f.room), (l.seq, l.t_ns, &l.room));
        assert_eq!(f.people, l.people);
        assert_eq!(f.window_shape, l.window_shape);
        assert!(l.window.is_empty() && l.uv.is_none() && l.part_index.is_empty());
    }
}
