//! Decoding, ROIAlign, losses and the global filter on synthetic inputs with known answers.
#![allow(clippy::unwrap_used)]

use tch::{nn, nn::Module, Device, Kind, Tensor};
use wdp_models::DomainDiscriminator;
use wdp_models::{
    decode::{center_targets, decode_centers, decode_keypoints, decode_parts, CenterDecode},
    gfl::{FilterSpec, GlobalFilter},
    losses,
    roi::roi_align,
};

const F32: (Kind, Device) = (Kind::Float, Device::Cpu);

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn planted_centre_peaks_decode_to_their_boxes() {
    // Two people in a 96x128 frame, stride 4 -> 24x32 maps; targets are built by the
    // same convention the decoder reads.
    let boxes = Tensor::from_slice(&[10f32, 20., 50., 90., 70., 8., 118., 60.]).view([2, 4]);
    let t = center_targets(&[boxes.shallow_clone()], (24, 32), 4).unwrap();
    // Logits: +6 at centres (p = 0.998), the Gaussian shoulders below, -6 elsewhere.
    let logits = (&t.heatmap * 12.0 - 6.0).get(0); // [1, 24, 32]
    let cfg = CenterDecode {
        max_people: 5,
        score_threshold: 0.5,
        stride: 4,
        image_hw: (96, 128),
    };
    let got = decode_centers(&logits, &t.size.get(0), &t.offset.get(0), None, &cfg).unwrap();
    assert_eq!(got.size(), [2, 5]);
    let got = Vec::<f32>::try_from(&got.view([-1])).unwrap();
    let want = [[10f32, 20., 50., 90.], [70., 8., 118., 60.]];
    for w in want {
        let hit = got
            .chunks(5)
            .any(|g| g[..4].iter().zip(&w).all(|(a, b)| (a - b).abs() < 1e-3) && g[4] > 0.99);
        assert!(hit, "box {w:?} not found in {got:?}");
    }
    // Shoulders of each Gaussian are not peaks: no third detection at threshold 0.5.
    let strict = CenterDecode {
        score_threshold: 0.999,
        ..cfg
    };
    assert_eq!(
        decode_centers(&logits, &t.size.get(0), &t.offset.get(0), None, &strict)
            .unwrap()
            .size(),
        [0, 5]
    );
}

/// With a count distribution the count decides how many people there are and the centre map
/// where: three peaks, of which the two highest are kept when the count says two.
#[test]
fn a_count_keeps_that_many_of_the_best_peaks() {
    let boxes = Tensor::from_slice(&[10f32, 20., 50., 90., 70., 8., 118., 60., 60., 60., 80., 90.])
        .view([3, 4]);
    let t = center_targets(&[boxes], (24, 32), 4).unwrap();
    // Peak heights 0.27, 0.12 and 0.05: none clears 0.5 on its own.
    let height = Tensor::from_slice(&[-1f32, -2., -3.]);
    let logits = Tensor::full([1, 24, 32], -8.0, F32);
    let centres = t.mask.get(0).get(0).nonzero(); // [3, 2] (y, x), row-major order
    for (i, c) in Vec::<i64>::try_from(&centres.reshape([-1]))
        .unwrap()
        .chunks(2)
        .enumerate()
    {
        logits
            .get(0)
            .get(c[0])
            .get(c[1])
            .copy_(&height.get(i as i64));
    }
    let cfg = CenterDecode {
        max_people: 5,
        score_threshold: 0.5,
        stride: 4,
        image_hw: (96, 128),
    };
    let peaks = decode_centers(&logits, &t.size.get(0), &t.offset.get(0), None, &cfg).unwrap();
    assert_eq!(peaks.size(), [0, 5], "no peak clears 0.5 by itself");
    // P(0, 1, 2, 3 people) = 0.05, 0.15, 0.7, 0.1: at least one 0.95, two 0.8, three 0.1.
    let probs = Tensor::from_slice(&[0.05f32, 0.15, 0.7, 0.1]);
    let got = decode_centers(
        &logits,
        &t.size.get(0),
        &t.offset.get(0),
        Some(&probs),
        &cfg,
    )
    .unwrap();
    assert_eq!(got.size(), [2, 5]);
    let got = Vec::<f32>::try_from(&got.view([-1])).unwrap();
    assert!(close(got[4] as f64, 0.95, 1e-5) && close(got[9] as f64, 0.8, 1e-5));
    // The best two peaks: the first and second rows of the centre order.
    let centre_x = |b: &[f32]| (b[0] + b[2]) / 2.0;
    let mut xs = [centre_x(&got[0..5]), centre_x(&got[5..10])];
    xs.sort_by(f32::total_cmp);
    let order: Vec<i64> = Vec::<i64>::try_from(&centres.reshape([-1])).unwrap();
    let want_x = |i: usize| (order[2 * i + 1] as f32 + 0.5) * 4.0;
    let mut want = [want_x(0), want_x(1)];
    want.sort_by(f32::total_cmp);
    for (g, w) in xs.iter().zip(want) {
        assert!((g - w).abs() <= 4.0, "kept centres {xs:?}, want {want:?}");
    }
    // One person or three, hardly two: the most likely count (3), not the median (2).
    let bimodal = Tensor::from_slice(&[0.0f32, 0.44, 0.1, 0.46]);
    let all = CenterDecode {
        score_threshold: 0.0,
        ..cfg
    };
    let got = decode_centers(
        &logits,
        &t.size.get(0),
        &t.offset.get(0),
        Some(&bimodal),
        &all,
    )
    .unwrap();
    assert_eq!(got.size(), [3, 5]);
    let scores: Vec<f32> = Vec::<f32>::try_from(&got.select(1, 4)).unwrap();
    for (s, want) in scores.iter().zip([1.0, 0.56, 0.46]) {
        assert!(close(*s as f64, want, 1e-5), "scores {scores:?}");
    }
}

#[test]
fn keypoints_from_heatmaps_with_sub_pixel_refinement() {
    // A quadratic bump peaking at (x, y) = (5.3, 2.75) cells on a 16x16 map, height 0.9.
    let (px, py) = (5.3f64, 2.75f64);
    let xs = Tensor::arange(16, F32).view([1, 16]);
    let ys = Tensor::arange(16, F32).view([16, 1]);
    let bump = (-((xs - px).square() + (ys - py).square()) * 0.05 + 0.9).view([1, 1, 16, 16]);
    let second = Tensor::zeros([1, 1, 16, 16], F32);
    let _ = second.narrow(2, 10, 1).narrow(3, 12, 1).fill_(0.4); // peak at a cell centre
    let heat = Tensor::cat(&[bump, second], 1); // [1, 2, 16, 16]
    let boxes = Tensor::from_slice(&[20f32, 40., 52., 72., 0.9]).view([1, 5]); // 2 px per cell
    let kp = decode_keypoints(&heat, &boxes).unwrap();
    assert_eq!(kp.size(), [1, 2, 3]);
    let kp = Vec::<f32>::try_from(&kp.view([-1])).unwrap();
    // Cell centres sit at (i + 0.5): the peak at 5.3 cells is pixel 20 + (5.3 + 0.5) * 2.
    assert!(close(kp[0] as f64, 20.0 + (px + 0.5) * 2.0, 1e-3), "{kp:?}");
    assert!(close(kp[1] as f64, 40.0 + (py + 0.5) * 2.0, 1e-3), "{kp:?}");
    assert!(close(
        kp[2] as f64,
        0.9 - 0.05 * (0.3f64.powi(2) + 0.25f64.powi(2)),
        1e-4
    ));
    assert!(
        close(kp[3] as f64, 20.0 + 12.5 * 2.0, 1e-4)
            && close(kp[4] as f64, 40.0 + 10.5 * 2.0, 1e-4)
    );
    assert!(close(kp[5] as f64, 0.4, 1e-6));
}

#[test]
fn part_index_and_uv_of_the_chosen_part() {
    let mut logits = Tensor::zeros([1, 25, 2, 2], F32);
    let _ = logits.get(0).get(0).fill_(1.0); // background everywhere
    let _ = logits
        .narrow(1, 7, 1)
        .narrow(2, 0, 1)
        .narrow(3, 1, 1)
        .fill_(5.0); // part 7 at (0, 1)
    let _ = logits
        .narrow(1, 24, 1)
        .narrow(2, 1, 1)
        .narrow(3, 0, 1)
        .fill_(5.0); // part 24 at (1, 0)
    logits = logits.contiguous();
    let uv = Tensor::arange(24 * 2 * 4, F32).view([1, 24, 2, 2, 2]) / 1000.0;
    let (parts, uv_out) = decode_parts(&logits, &uv).unwrap();
    assert_eq!(parts.kind(), Kind::Uint8);
    assert_eq!(
        Vec::<u8>::try_from(&parts.view([-1])).unwrap(),
        vec![0, 7, 24, 0]
    );
    let got = Vec::<f32>::try_from(&uv_out.view([-1])).unwrap(); // [2 (u, v), 2, 2]
    let at = |part: i64, c: i64, y: i64, x: i64| {
        uv.get(0)
            .get(part - 1)
            .get(c)
            .get(y)
            .get(x)
            .double_value(&[]) as f32
    };
    assert_eq!(
        got,
        vec![
            0.0,
            at(7, 0, 0, 1),
            at(24, 0, 1, 0),
            0.0,
            0.0,
            at(7, 1, 0, 1),
            at(24, 1, 1, 0),
            0.0
        ]
    );
}

#[test]
fn roi_align_samples_bilinearly() {
    // f(x, y) = 2x + 3y over cell centres (x + 0.5, y + 0.5): bilinear sampling is exact
    // for a linear map, so every bin equals f at its centre.
    let (h, w) = (12i64, 16i64);
    let xs = Tensor::arange(w, F32).view([1, w]) + 0.5;
    let ys = Tensor::arange(h, F32).view([h, 1]) + 0.5;
    let fmap = (xs * 2.0 + ys * 3.0).view([1, 1, h, w]);
    // Two channels (f, -f), at batch index 1.
    let fmap = Tensor::cat(&[fmap.shallow_clone(), fmap * -1.0], 1);
    let feats = Tensor::cat(&[Tensor::zeros([1, 2, h, w], F32), fmap], 0);
    // Box in image pixels (stride 4): x 8..40, y 12..36 -> cells 2..10, 3..9.
    let rois = Tensor::from_slice(&[1f32, 8., 12., 40., 36.]).view([1, 5]);
    let out = roi_align(&feats, &rois, 0.25, 4, 2).unwrap();
    assert_eq!(out.size(), [1, 2, 4, 4]);
    for by in 0..4 {
        for bx in 0..4 {
            let cx = 2.0 + (bx as f64 + 0.5) * 2.0; // bin width 8/4 = 2 cells
            let cy = 3.0 + (by as f64 + 0.5) * 1.5;
            let v = out.get(0).get(0).get(by).get(bx).double_value(&[]);
            assert!(close(v, 2.0 * cx + 3.0 * cy, 1e-4), "bin ({by},{bx}): {v}");
            assert!(close(
                out.get(0).get(1).get(by).get(bx).double_value(&[]),
                -v,
                1e-4
            ));
        }
    }
    assert_eq!(
        roi_align(&feats, &Tensor::zeros([0, 5], F32), 0.25, 4, 2)
            .unwrap()
            .size(),
        [0, 2, 4, 4]
    );
}

#[test]
fn gradient_reversal_flips_and_scales_the_gradient() {
    let x = Tensor::from_slice(&[1.0f32, -2.0, 3.0]).set_requires_grad(true);
    let y = losses::gradient_reversal(&x, 0.5);
    assert!(y.allclose(&x, 1e-6, 1e-6, false));
    (y * Tensor::from_slice(&[1.0f32, 2.0, 3.0]))
        .sum(Kind::Float)
        .backward();
    let g = Vec::<f32>::try_from(&x.grad()).unwrap();
    assert_eq!(g, vec![-0.5, -1.0, -1.5]);
}

#[test]
fn domain_discriminator_reverses_the_feature_gradient() {
    tch::manual_seed(4);
    let vs = nn::VarStore::new(Device::Cpu);
    let disc = DomainDiscriminator::new(vs.root(), 8, (16, 8), 0.5);
    let features = Tensor::randn([4, 8], F32);
    let domain = Tensor::from_slice(&[0i64, 0, 1, 1]);
    let feature_grad = |lambda: f64| {
        let f = features.copy().set_requires_grad(true);
        let logits = disc.forward_t(&f, lambda, false);
        assert_eq!(logits.size(), [4]);
        DomainDiscriminator::loss(&logits, &domain)
            .unwrap()
            .backward();
        f.grad()
    };
    // lambda = -1 makes the reversal layer a plain identity: the ordinary gradient.
    let plain = feature_grad(-1.0);
    assert!(plain.abs().sum(Kind::Float).double_value(&[]) > 0.0);
    assert!(feature_grad(1.0).allclose(&(-&plain), 1e-5, 1e-7, false));
    assert!(feature_grad(0.3).allclose(&(&plain * -0.3), 1e-5, 1e-7, false));
    let names: Vec<String> = vs.variables().into_keys().collect();
    assert!(
        names.iter().any(|n| n == "domain_discriminator.6.weight"),
        "{names:?}"
    );
}

#[test]
fn mmd_is_zero_for_identical_and_positive_for_shifted() {
    tch::manual_seed(0);
    let a = Tensor::randn([64, 8], F32);
    let same = losses::mmd(&a, &a.copy(), &[]).unwrap().double_value(&[]);
    assert!(same.abs() < 1e-5, "{same}");
    let shifted = losses::mmd(&a, &(&a + 1.5), &[]).unwrap().double_value(&[]);
    assert!(shifted > 0.05, "{shifted}");
    let b = Tensor::randn([64, 8], F32);
    let near = losses::mmd(&a, &b, &[1.0, 2.0]).unwrap().double_value(&[]);
    let far = losses::mmd(&a, &(b + 3.0), &[1.0, 2.0])
        .unwrap()
        .double_value(&[]);
    assert!(far > near && near >= -1e-6, "{near} {far}");

    // LMMD: zero when target = source with matching one-hot probabilities; positive when
    // one class's target samples move.
    let labels = Tensor::from_slice(&[0i64, 1, 2, 0, 1, 2, 0, 1]).repeat([8]); // 64
    let probs = labels.one_hot(3).to_kind(Kind::Float);
    let l0 = losses::lmmd(&a, &a.copy(), &labels, &probs, &[])
        .unwrap()
        .double_value(&[]);
    assert!(l0.abs() < 1e-5, "{l0}");
    let moved = &a + labels.eq(1).to_kind(Kind::Float).unsqueeze(1) * 2.0;
    let l1 = losses::lmmd(&a, &moved, &labels, &probs, &[])
        .unwrap()
        .double_value(&[]);
    assert!(l1 > 0.01, "{l1}");
}

#[test]
fn lmmd_aligns_classes_not_just_the_pooled_distribution() {
    tch::manual_seed(1);
    // Two classes at different places; the target has the same two clusters but the
    // predicted labels are swapped: plain MMD sees nothing, LMMD sees the class mismatch.
    let a = Tensor::randn([32, 4], F32) * 0.1;
    let b = Tensor::randn([32, 4], F32) * 0.1 + 3.0;
    let source = Tensor::cat(&[&a, &b], 0);
    let target = Tensor::cat(&[&a.copy(), &b.copy()], 0);
    let labels = Tensor::cat(
        &[
            Tensor::zeros([32], (Kind::Int64, Device::Cpu)),
            Tensor::ones([32], (Kind::Int64, Device::Cpu)),
        ],
        0,
    );
    let right = labels.one_hot(2).to_kind(Kind::Float);
    let swapped = right.flip([1]);
    let bw = [1.0, 2.0];
    let pooled = losses::mmd(&source, &target, &bw)
        .unwrap()
        .double_value(&[]);
    let aligned = losses::lmmd_weighted(&source, &target, &right, &right, &bw)
        .unwrap()
        .double_value(&[]);
    let crossed = losses::lmmd_weighted(&source, &target, &right, &swapped, &bw)
        .unwrap()
        .double_value(&[]);
    assert!(
        pooled.abs() < 1e-5 && aligned.abs() < 1e-5,
        "{pooled} {aligned}"
    );
    assert!(crossed > 0.5, "{crossed}");
    // Hard labels through `lmmd` are the one-hot case of `lmmd_weighted`.
    let hard = losses::lmmd(&source, &target, &labels, &swapped, &bw)
        .unwrap()
        .double_value(&[]);
    assert!(close(hard, crossed, 1e-6), "{hard} {crossed}");
    // A class with no source mass is left out instead of dividing by zero.
    let only_first = Tensor::cat(
        &[Tensor::ones([64, 1], F32), Tensor::zeros([64, 1], F32)],
        1,
    );
    let partial = losses::lmmd_weighted(&source, &target, &only_first, &right, &bw)
        .unwrap()
        .double_value(&[]);
    assert!(partial.is_finite(), "{partial}");
    assert!(losses::lmmd_weighted(&source, &target, &right.narrow(0, 0, 3), &right, &bw).is_err());
}

#[test]
fn foreground_term_pulls_unknown_person_pixels_away_from_background() {
    // Two pixels: one predicted background, one predicted a part; both on the person.
    let logits = Tensor::zeros([1, 3, 1, 2], F32);
    let _ = logits.get(0).get(0).get(0).get(0).fill_(5.0); // background wins
    let _ = logits.get(0).get(2).get(0).get(1).fill_(5.0); // part 2 wins
    let unknown = Tensor::from_slice(&[true, true]).view([1, 1, 2]);
    let both = losses::foreground_ce(&logits, &unknown)
        .unwrap()
        .double_value(&[]);
    let on_part = Tensor::from_slice(&[false, true]).view([1, 1, 2]);
    let good = losses::foreground_ce(&logits, &on_part)
        .unwrap()
        .double_value(&[]);
    assert!(good < 0.02 && both > 2.0, "{good} {both}");
    let none = Tensor::from_slice(&[false, false]).view([1, 1, 2]);
    assert_eq!(
        losses::foreground_ce(&logits, &none)
            .unwrap()
            .double_value(&[]),
        0.0
    );
    assert!(losses::foreground_ce(&logits, &none.view([2, 1, 1])).is_err());
}

#[test]
fn keypoint_tokens_pool_the_features_under_each_joint() {
    // Features = the x coordinate in one channel and the y coordinate in another; a joint
    // whose heatmap peaks at a cell gets (about) that cell's coordinates as its token.
    let (h, w) = (8i64, 8i64);
    let xs = Tensor::arange(w, F32)
        .view([1, 1, 1, w])
        .expand([1, 1, h, w], false);
    let ys = Tensor::arange(h, F32)
        .view([1, 1, h, 1])
        .expand([1, 1, h, w], false);
    let features = Tensor::cat(&[xs, ys], 1); // stride 1, whole image as the ROI
    let rois = Tensor::from_slice(&[0f32, 0.0, 0.0, 8.0, 8.0]).view([1, 5]);
    let r = 8i64;
    let heat = Tensor::full([1, 2, r, r], -30.0, F32);
    let _ = heat.get(0).get(0).get(2).get(5).fill_(30.0); // joint 0 at (x 5, y 2)
    let _ = heat.get(0).get(1).get(6).get(1).fill_(30.0); // joint 1 at (x 1, y 6)
    let tokens = losses::keypoint_tokens(&features, &rois, &heat, 1, 2).unwrap();
    assert_eq!(tokens.size(), [1, 2, 2]);
    let t: Vec<f32> = Vec::try_from(tokens.reshape([-1])).unwrap();
    // ROIAlign samples at cell centres: a cell's value is its coordinate (+0.5 - 0.5).
    for (got, want) in t.iter().zip([5.0f32, 2.0, 1.0, 6.0]) {
        assert!((got - want).abs() < 0.3, "{t:?}");
    }
    assert!(losses::keypoint_tokens(&features, &rois, &heat.view([1, 2, 64]), 1, 2).is_err());
}

#[test]
fn token_and_coordinate_distillation_terms() {
    tch::manual_seed(2);
    let teacher = Tensor::randn([3, 17, 64], F32);
    // Tokens are compared by pattern: a scaled and shifted copy matches, noise does not.
    let scaled = &teacher * 4.0 + 1.0;
    let same = losses::token_mse(&scaled, &teacher)
        .unwrap()
        .double_value(&[]);
    let other = losses::token_mse(&Tensor::randn([3, 17, 64], F32), &teacher)
        .unwrap()
        .double_value(&[]);
    assert!(same < 1e-4 && other > 0.5, "{same} {other}");
    assert!(losses::token_mse(&teacher.narrow(2, 0, 8), &teacher).is_err());

    // Coordinate classification: zero for equal heatmaps, positive when the peak moves along
    // x (a classification: any wrong bin costs alike), and the student's gradient points
    // towards the teacher's peak.
    let peak = |x: i64| {
        let t = Tensor::zeros([1, 1, 8, 8], F32);
        let _ = t.get(0).get(0).get(4).get(x).fill_(6.0);
        t
    };
    let teacher = peak(2);
    let zero = losses::coordinate_kl(&teacher, &teacher, 1.0)
        .unwrap()
        .double_value(&[]);
    let near = losses::coordinate_kl(&peak(3), &teacher, 1.0)
        .unwrap()
        .double_value(&[]);
    let far = losses::coordinate_kl(&peak(7), &teacher, 1.0)
        .unwrap()
        .double_value(&[]);
    assert!(
        zero.abs() < 1e-6 && near > 0.1 && (far - near).abs() < 1e-3,
        "{zero} {near} {far}"
    );
    let student = peak(6).set_requires_grad(true);
    losses::coordinate_kl(&student, &teacher, 1.0)
        .unwrap()
        .backward();
    let g = student.grad();
    assert!(
        g.double_value(&[0, 0, 4, 2]) < 0.0 && g.double_value(&[0, 0, 4, 6]) > 0.0,
        "descent raises the teacher's peak and lowers the student's"
    );
    assert!(losses::coordinate_kl(&peak(1), &peak(1).view([1, 1, 64, 1]), 1.0).is_err());
}

#[test]
fn losses_on_known_inputs() {
    // UV loss sees only foreground pixels.
    let parts = Tensor::from_slice(&[0i64, 3, 0, 0]).view([1, 2, 2]);
    let target = Tensor::full([1, 2, 2, 2], 0.5, F32);
    let mut uv = Tensor::full([1, 24, 2, 2, 2], 0.5, F32);
    let _ = uv.narrow(1, 0, 1).fill_(0.9); // part 1 is wrong but absent
    uv = uv.contiguous();
    assert!(
        losses::uv_smooth_l1(&uv, &target, &parts)
            .unwrap()
            .double_value(&[])
            .abs()
            < 1e-7
    );
    let _ = uv
        .narrow(1, 2, 1)
        .narrow(3, 0, 1)
        .narrow(4, 1, 1)
        .fill_(0.7); // part 3 at (0, 1) off by 0.2
    let l = losses::uv_smooth_l1(&uv, &target, &parts)
        .unwrap()
        .double_value(&[]);
    assert!(close(l, 0.5 * 0.04, 1e-6), "{l}"); // smooth-L1 0.5 d^2, mean over U and V
    assert_eq!(
        losses::uv_smooth_l1(&uv, &target, &parts.zeros_like())
            .unwrap()
            .double_value(&[]),
        0.0
    );

    // KL between identical logits is zero, else positive; mask CE of a confident right answer ~0.
    let s = Tensor::randn([2, 25, 4, 4], F32);
    assert!(
        losses::soft_target_kl(&s, &s, 3.0, 1)
            .unwrap()
            .double_value(&[])
            .abs()
            < 1e-6
    );
    assert!(
        losses::soft_target_kl(&s, &(s.randn_like() * 3.0), 3.0, 1)
            .unwrap()
            .double_value(&[])
            > 0.0
    );
    let cls = Tensor::randint(25, [2, 4, 4], (Kind::Int64, Device::Cpu));
    let logits = cls.one_hot(25).permute([0, 3, 1, 2]).to_kind(Kind::Float) * 50.0;
    assert!(
        losses::part_mask_ce(&logits, &cls)
            .unwrap()
            .double_value(&[])
            < 1e-6
    );

    // Focal loss: a confident hit on a centre scores lower than a miss.
    let heat = Tensor::zeros([1, 1, 5, 5], F32);
    let _ = heat.narrow(2, 2, 1).narrow(3, 2, 1).fill_(1.0);
    let good = &heat * 16.0 - 8.0;
    let bad = heat.ones_like() * -8.0;
    let lg = losses::center_focal_loss(&good, &heat)
        .unwrap()
        .double_value(&[]);
    let lb = losses::center_focal_loss(&bad, &heat)
        .unwrap()
        .double_value(&[]);
    assert!(lg < 0.01 && lb > 1.0, "{lg} {lb}");

    // Temporal smoothness: zero for a constant sequence, motion term zero for constant velocity.
    let still = Tensor::ones([1, 4, 3], F32);
    assert_eq!(
        losses::temporal_smoothness(&still, 1.0, 0.5)
            .unwrap()
            .double_value(&[]),
        0.0
    );
    let linear = Tensor::arange(4, F32).view([1, 4, 1]).repeat([1, 1, 3]);
    assert!(close(
        losses::temporal_smoothness(&linear, 0.0, 1.0)
            .unwrap()
            .double_value(&[]),
        0.0,
        1e-7
    ));
    assert!(close(
        losses::temporal_smoothness(&linear, 1.0, 0.0)
            .unwrap()
            .double_value(&[]),
        1.0,
        1e-6
    ));

    // Shape disagreements are errors.
    assert!(losses::keypoint_heatmap_mse(&s, &cls.to_kind(Kind::Float), None).is_err());
}

#[test]
fn global_filter_with_identity_weights_is_the_identity() {
    for dynamic in [None, Some((3, 2))] {
        for (h, w) in [(6, 8), (5, 7)] {
            let vs = nn::VarStore::new(Device::Cpu);
            let mut filter = GlobalFilter::new(
                vs.root(),
                FilterSpec {
                    h,
                    w,
                    dim: 4,
                    dynamic,
                },
            )
            .unwrap();
            filter.set_identity();
            let x = Tensor::randn([2, h, w, 4], F32);
            let y = filter.forward(&x);
            assert!(
                y.allclose(&x, 1e-4, 1e-5, false),
                "dynamic={dynamic:?} {h}x{w}"
            );
        }
    }
    // A filter that keeps only the DC term returns the per-channel spatial mean.
    let vs = nn::VarStore::new(Device::Cpu);
    let filter = GlobalFilter::new(
        vs.root(),
        FilterSpec {
            h: 4,
            w: 6,
            dim: 3,
            dynamic: None,
        },
    )
    .unwrap();
    tch::no_grad(|| {
        let mut cw = vs.root().get("complex_weight").unwrap();
        let _ = cw.zero_();
        let _ = cw.narrow(0, 0, 1).narrow(1, 0, 1).select(-1, 0).fill_(1.0);
    });
    let x = Tensor::randn([1, 4, 6, 3], F32);
    let mean = x
        .mean_dim([1, 2].as_slice(), true, Kind::Float)
        .expand([1, 4, 6, 3], false);
    assert!(filter.forward(&x).allclose(&mean, 1e-4, 1e-5, false));
}
