//! Filters, the tracker and the smoother.
#![allow(clippy::unwrap_used)]

use wdp_pose::filter::PointFilter;
use wdp_pose::track::{box_iou, hungarian};
use wdp_pose::wdp_tensor::TensorMeta;
use wdp_pose::{
    FilterConfig, FilterKind, Kalman2d, KalmanConfig, KeypointKind, OneEuro, OneEuroConfig, Person,
    PoseFrame, PoseSmoother, SmootherConfig, Tracker, TrackerConfig,
};

/// Deterministic uniform noise in [-1, 1) (a 64-bit LCG).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

fn variance(v: &[f64]) -> f64 {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64
}

#[test]
fn one_euro_matches_hand_computed_steps() {
    // alpha = 1 / (1 + tau / dt), tau = 1 / (2 pi cutoff); dt = 0.1 s
    let mut f = OneEuro::new(OneEuroConfig {
        min_cutoff: 1.0,
        beta: 0.0,
        d_cutoff: 1.0,
    });
    assert_eq!(f.filter(0.0, 0.0), 0.0);
    assert!((f.filter(0.1, 1.0) - 0.385_869_545).abs() < 1e-6);
    assert!((f.filter(0.2, 1.0) - 0.622_843_784).abs() < 1e-6);
    // with beta the cutoff rises with the filtered speed: 1 + 0.5 * 3.8587 Hz
    let mut f = OneEuro::new(OneEuroConfig {
        min_cutoff: 1.0,
        beta: 0.5,
        d_cutoff: 1.0,
    });
    f.filter(0.0, 0.0);
    assert!((f.filter(0.1, 1.0) - 0.647_957_170).abs() < 1e-6);
    assert!((f.filter(0.2, 1.0) - 0.874_250_531).abs() < 1e-6);
    // no time elapsed: the previous output
    assert!((f.filter(0.2, 5.0) - 0.874_250_531).abs() < 1e-6);
}

#[test]
fn one_euro_reduces_jitter_and_follows_a_step() {
    let mut noise = Noise(7);
    let mut f = OneEuro::new(OneEuroConfig::default());
    let dt = 1.0 / 30.0;
    let (mut raw, mut out) = (Vec::new(), Vec::new());
    for i in 0..300 {
        let x = 100.0 + 2.0 * noise.next();
        let y = f.filter(i as f64 * dt, x);
        if i >= 30 {
            raw.push(x);
            out.push(y);
        }
    }
    let (vr, vo) = (variance(&raw), variance(&out));
    assert!(vo < 0.25 * vr, "filtered variance {vo} vs raw {vr}");
    let mean = out.iter().sum::<f64>() / out.len() as f64;
    assert!((mean - 100.0).abs() < 0.5);

    // a 100 px step at t = 1 s
    let mut f = OneEuro::new(OneEuroConfig::default());
    for i in 0..30 {
        f.filter(i as f64 * dt, 0.0);
    }
    let after: Vec<f64> = (30..60).map(|i| f.filter(i as f64 * dt, 100.0)).collect();
    assert!(
        after[0] < 100.0 && after[0] > 10.0,
        "first step output {}",
        after[0]
    );
    let settle = after.iter().position(|&y| y > 90.0).expect("reaches 90 %");
    assert!(settle <= 5, "reaches 90 % after {} frames", settle + 1);
    assert!(
        after.windows(2).all(|w| w[1] >= w[0]),
        "no overshoot or oscillation"
    );
}

#[test]
fn kalman_tracks_constant_velocity() {
    let mut k = Kalman2d::new(KalmanConfig::default());
    let truth = |t: f64| [10.0 + 50.0 * t, 20.0 - 30.0 * t];
    let dt = 1.0 / 30.0;
    for i in 0..60 {
        let t = i as f64 * dt;
        let est = k.filter(t, truth(t));
        if i >= 30 {
            let e = truth(t);
            assert!(
                (est[0] - e[0]).abs() < 0.1 && (est[1] - e[1]).abs() < 0.1,
                "{est:?} vs {e:?}"
            );
        }
    }
    let v = k.velocity().unwrap();
    assert!(
        (v[0] - 50.0).abs() < 0.5 && (v[1] + 30.0).abs() < 0.5,
        "velocity {v:?}"
    );

    // with measurement noise the estimate is closer to the truth than the measurements
    let mut noise = Noise(3);
    let mut k = Kalman2d::new(KalmanConfig::default());
    let (mut err_raw, mut err_est) = (0.0, 0.0);
    for i in 0..300 {
        let t = i as f64 * dt;
        let e = truth(t);
        let z = [e[0] + 5.0 * noise.next(), e[1] + 5.0 * noise.next()];
        let est = k.filter(t, z);
        if i >= 30 {
            err_raw += (z[0] - e[0]).powi(2) + (z[1] - e[1]).powi(2);
            err_est += (est[0] - e[0]).powi(2) + (est[1] - e[1]).powi(2);
        }
    }
    assert!(err_est < 0.5 * err_raw, "{err_est} vs {err_raw}");
}

#[test]
fn point_filter_none_passes_through() {
    let mut f = PointFilter::new(&FilterConfig {
        kind: FilterKind::None,
        ..FilterConfig::default()
    });
    assert_eq!(f.filter(0.0, [1.0, 2.0]), [1.0, 2.0]);
    assert_eq!(f.filter(0.1, [5.0, 7.0]), [5.0, 7.0]);
}

#[test]
fn hungarian_finds_the_optimum_where_greedy_does_not() {
    // greedy takes (0,0) = 1 first and then pays 10; the optimum is 2 + 2
    let cost = vec![vec![1.0, 2.0], vec![2.0, 10.0]];
    assert_eq!(hungarian(&cost), [Some(1), Some(0)]);
    let wide = vec![vec![5.0, 1.0, 3.0]];
    assert_eq!(hungarian(&wide), [Some(1)]);
    let tall = vec![vec![5.0], vec![1.0], vec![3.0]];
    assert_eq!(hungarian(&tall), [None, Some(0), None]);
    let square = vec![
        vec![4.0, 1.0, 3.0],
        vec![2.0, 0.0, 5.0],
        vec![3.0, 2.0, 2.0],
    ];
    assert_eq!(hungarian(&square), [Some(1), Some(0), Some(2)]);
    assert!(hungarian(&[]).is_empty());
}

#[test]
fn iou_of_boxes() {
    assert_eq!(
        box_iou(&[0.0, 0.0, 10.0, 10.0], &[0.0, 0.0, 10.0, 10.0]),
        1.0
    );
    assert!((box_iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
    assert_eq!(box_iou(&[0.0, 0.0, 1.0, 1.0], &[2.0, 2.0, 3.0, 3.0]), 0.0);
}

/// A standing figure in a 40 x 100 box at `(x, y)`.
fn figure(x: f32, y: f32) -> Person {
    const LAYOUT: [(f32, f32); 17] = [
        (0.5, 0.05),
        (0.45, 0.04),
        (0.55, 0.04),
        (0.4, 0.05),
        (0.6, 0.05),
        (0.3, 0.2),
        (0.7, 0.2),
        (0.2, 0.35),
        (0.8, 0.35),
        (0.15, 0.5),
        (0.85, 0.5),
        (0.35, 0.55),
        (0.65, 0.55),
        (0.35, 0.75),
        (0.65, 0.75),
        (0.35, 0.95),
        (0.65, 0.95),
    ];
    let mut p = Person::from_box([x, y, x + 40.0, y + 100.0, 0.9]);
    for (k, (fx, fy)) in p.keypoints.iter_mut().zip(LAYOUT) {
        *k = [x + 40.0 * fx, y + 100.0 * fy, 0.9];
    }
    p
}

const DT_NS: i64 = 33_333_333;

/// Person A walks right at y = 100, B walks left at y = 110, 20 px a frame (half a box width);
/// they cross at frame 10 with heavily overlapping boxes. B is missed at frame 12 (without the
/// tracker's velocity prediction B then loses its id); C appears at frame 15. People are listed
/// in a different order on odd frames.
fn crossing_frames() -> Vec<(PoseFrame, Vec<char>)> {
    (0..21)
        .map(|i| {
            let x = 20.0 * i as f32;
            let mut people = vec![('A', figure(30.0 + x, 100.0))];
            if i != 12 {
                people.push(('B', figure(430.0 - x, 110.0)));
            }
            if i >= 15 {
                people.push(('C', figure(20.0, 300.0)));
            }
            if i % 2 == 1 {
                people.reverse();
            }
            let base = TensorMeta::default()
                .with_time_ns(i * DT_NS)
                .with_seq(i as u64);
            let names = people.iter().map(|(n, _)| *n).collect();
            let frame = PoseFrame::new(&base, people.into_iter().map(|(_, p)| p).collect());
            (frame, names)
        })
        .collect()
}

fn check_ids(ids_by_frame: &[(Vec<char>, Vec<Option<i64>>)]) {
    let mut seen: std::collections::BTreeMap<char, i64> = Default::default();
    for (i, (names, ids)) in ids_by_frame.iter().enumerate() {
        for (name, id) in names.iter().zip(ids) {
            let id = id.unwrap_or_else(|| panic!("frame {i}: {name} has no id"));
            let first = *seen.entry(*name).or_insert(id);
            assert_eq!(first, id, "frame {i}: {name} changed id");
        }
    }
    assert_eq!(seen[&'A'], 0);
    assert_eq!(seen[&'B'], 1);
    assert_eq!(seen[&'C'], 2, "a new person gets a new id");
}

#[test]
fn tracker_keeps_ids_through_crossing_and_a_missed_frame() {
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut record = Vec::new();
    for (frame, names) in crossing_frames() {
        let ids = tracker.update(
            frame.t_ns() as f64 * 1e-9,
            &frame.people,
            KeypointKind::Score,
        );
        record.push((names, ids));
    }
    check_ids(&record);
    assert_eq!(tracker.live_ids(), [0, 1, 2]);
}

#[test]
fn tracks_die_after_max_missed_frames() {
    let mut tracker = Tracker::new(TrackerConfig {
        max_missed: 2,
        ..TrackerConfig::default()
    });
    let p = [figure(0.0, 0.0)];
    assert_eq!(tracker.update(0.0, &p, KeypointKind::Score), [Some(0)]);
    for i in 1..=2 {
        tracker.update(i as f64, &[], KeypointKind::Score);
        assert_eq!(tracker.live_ids(), [0], "alive after {i} misses");
    }
    assert_eq!(tracker.update(2.5, &p, KeypointKind::Score), [Some(0)]);
    for i in 0..3 {
        tracker.update(3.0 + i as f64, &[], KeypointKind::Score);
    }
    assert!(tracker.live_ids().is_empty());
    assert_eq!(tracker.update(7.0, &p, KeypointKind::Score), [Some(1)]);
}

#[test]
fn low_scoring_people_are_not_tracked() {
    let mut tracker = Tracker::new(TrackerConfig {
        min_box_score: 0.5,
        ..TrackerConfig::default()
    });
    let mut weak = figure(100.0, 0.0);
    weak.bbox[4] = 0.1;
    let ids = tracker.update(0.0, &[figure(0.0, 0.0), weak], KeypointKind::Score);
    assert_eq!(ids, [Some(0), None]);
}

#[test]
fn smoother_sets_ids_and_smooths_jitter() {
    for kind in [FilterKind::OneEuro, FilterKind::Kalman] {
        let config = SmootherConfig {
            filter: FilterConfig {
                kind,
                ..FilterConfig::default()
            },
            ..SmootherConfig::default()
        };
        let mut smoother = PoseSmoother::new(config);
        let mut record = Vec::new();
        for (frame, names) in crossing_frames() {
            let out = smoother.process(frame);
            record.push((names, out.people.iter().map(|p| p.track_id).collect()));
        }
        check_ids(&record);

        // one person standing still with 3 px jitter on every coordinate
        let mut smoother = PoseSmoother::new(config);
        let mut noise = Noise(11);
        let (mut raw_err, mut out_err) = (0.0, 0.0);
        for i in 0..120 {
            let truth = figure(100.0, 50.0);
            let mut p = truth;
            for k in p.keypoints.iter_mut() {
                k[0] += 3.0 * noise.next() as f32;
                k[1] += 3.0 * noise.next() as f32;
            }
            for c in p.bbox[..4].iter_mut() {
                *c += 3.0 * noise.next() as f32;
            }
            let base = TensorMeta::default().with_time_ns(1_000_000_000_000 + i * DT_NS);
            let out = smoother.process(PoseFrame::new(&base, vec![p]));
            let q = out.people[0];
            assert_eq!(q.track_id, Some(0));
            assert_eq!(q.keypoints[3][2], 0.9, "scores are not filtered");
            if i >= 20 {
                for k in 0..17 {
                    for c in 0..2 {
                        raw_err += f64::from(p.keypoints[k][c] - truth.keypoints[k][c]).powi(2);
                        out_err += f64::from(q.keypoints[k][c] - truth.keypoints[k][c]).powi(2);
                    }
                }
                for c in 0..4 {
                    raw_err += f64::from(p.bbox[c] - truth.bbox[c]).powi(2);
                    out_err += f64::from(q.bbox[c] - truth.bbox[c]).powi(2);
                }
            }
        }
        assert!(out_err < 0.4 * raw_err, "{kind:?}: {out_err} vs {raw_err}");
    }
}

#[test]
fn absent_keypoints_are_left_alone() {
    let mut smoother = PoseSmoother::new(SmootherConfig::default());
    let mut p = figure(0.0, 0.0);
    for i in 0..5 {
        let base = TensorMeta::default().with_time_ns(i * DT_NS);
        let out = smoother.process(PoseFrame::new(&base, vec![p]));
        assert_eq!(out.people[0].keypoints[0], p.keypoints[0]);
        // the nose disappears (score 0 at the origin) and comes back far away
        p.keypoints[0] = if i % 2 == 0 {
            [0.0, 0.0, 0.0]
        } else {
            [35.0, 9.0, 0.9]
        };
    }
}
