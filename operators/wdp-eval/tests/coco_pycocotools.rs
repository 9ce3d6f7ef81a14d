//! COCO keypoint evaluation checked against pycocotools itself: random but realistic scenarios
//! are generated here, written as COCO JSON, evaluated by `scripts/coco_reference.py` with the
//! project venv's pycocotools, and all 10 stats must agree within 1e-6. Plus hand-computed cases.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use wdp_eval::coco::{oks, CocoKeypointEval, DetPerson, GtPerson, COCO_SIGMAS};

/// splitmix64: a tiny deterministic generator, so the scenarios are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// A standing person's keypoints in box-relative coordinates (COCO order).
const TEMPLATE: [[f64; 2]; 17] = [
    [0.50, 0.07],
    [0.46, 0.05],
    [0.54, 0.05],
    [0.41, 0.07],
    [0.59, 0.07],
    [0.30, 0.22],
    [0.70, 0.22],
    [0.22, 0.38],
    [0.78, 0.38],
    [0.18, 0.52],
    [0.82, 0.52],
    [0.38, 0.55],
    [0.62, 0.55],
    [0.39, 0.76],
    [0.61, 0.76],
    [0.40, 0.96],
    [0.60, 0.96],
];

/// Knobs of one scenario.
struct Setup {
    seed: u64,
    images: usize,
    /// Person heights are log-uniform in this range (pixels); area is about 0.25 h².
    height: (f64, f64),
    crowd: f64,
    unlabelled: f64,
    detect: f64,
    many_dets: f64,
    /// People of an image stand this close together (fraction of their height; 0: anywhere), so
    /// that detections have a high OKS with several gts and the matching order matters.
    cluster: f64,
}

struct Image {
    id: u64,
    gts: Vec<GtPerson>,
    dets: Vec<DetPerson>,
}

fn person_box(rng: &mut Rng, setup: &Setup) -> [f64; 4] {
    let h = (setup.height.0.ln() + rng.unit() * (setup.height.1 / setup.height.0).ln()).exp();
    let w = h * rng.range(0.35, 0.55);
    [rng.range(0.0, 640.0), rng.range(0.0, 400.0), w, h]
}

/// `anchor` moved and resized by up to `c` of its height.
fn near(rng: &mut Rng, anchor: [f64; 4], c: f64) -> [f64; 4] {
    let h = anchor[3];
    [
        anchor[0] + rng.range(-c, c) * h,
        anchor[1] + rng.range(-c, c) * h,
        anchor[2] + rng.range(-c, c) * h,
        anchor[3] * (1.0 + rng.range(-c, c)),
    ]
}

fn template_at(b: [f64; 4]) -> [[f64; 2]; 17] {
    TEMPLATE.map(|[x, y]| [b[0] + x * b[2], b[1] + y * b[3]])
}

fn gt_person(rng: &mut Rng, setup: &Setup, anchor: Option<[f64; 4]>) -> GtPerson {
    let b = match anchor {
        Some(a) => near(rng, a, setup.cluster),
        None => person_box(rng, setup),
    };
    let pts = template_at(b);
    let unlabelled = rng.chance(setup.unlabelled);
    let mut keypoints = [[0.0f32; 3]; 17];
    for (k, p) in keypoints.iter_mut().zip(pts) {
        let v = match rng.below(20) {
            _ if unlabelled => 0,
            0..=2 => 0,
            3..=7 => 1,
            _ => 2,
        };
        // COCO writes unlabelled keypoints as (0, 0, 0).
        *k = if v == 0 {
            [0.0, 0.0, 0.0]
        } else {
            [
                (p[0] + rng.normal() * 0.01 * b[3]) as f32,
                (p[1] + rng.normal() * 0.01 * b[3]) as f32,
                v as f32,
            ]
        };
    }
    let mut area = (b[2] * b[3] * rng.range(0.45, 0.7)) as f32;
    // Exactly on the range bounds now and then (bounds are inclusive on both sides).
    if rng.chance(0.04) {
        area = [1024.0, 9216.0][rng.below(2)];
    }
    GtPerson {
        keypoints,
        bbox_xywh: b.map(|v| v as f32),
        area,
        iscrowd: rng.chance(setup.crowd),
    }
}

/// A detection of `gt`: its keypoints (the template in its box when unlabelled) jittered.
fn detect(rng: &mut Rng, gt: &GtPerson) -> DetPerson {
    let b = gt.bbox_xywh.map(f64::from);
    let template = template_at(b);
    let level = [0.005, 0.02, 0.05, 0.1, 0.25][rng.below(5)];
    let scale = f64::from(gt.area).sqrt() * level;
    let mut keypoints = [[0.0f32; 3]; 17];
    for j in 0..17 {
        let g = gt.keypoints[j];
        let (x, y) = if g[2] > 0.0 {
            (f64::from(g[0]), f64::from(g[1]))
        } else {
            (template[j][0], template[j][1])
        };
        keypoints[j] = [
            (x + rng.normal() * scale) as f32,
            (y + rng.normal() * scale) as f32,
            rng.unit() as f32,
        ];
    }
    DetPerson {
        keypoints,
        score: random_score(rng),
    }
}

/// Scores on a 0.05 grid, so that ties within and across images are common.
fn random_score(rng: &mut Rng) -> f32 {
    (rng.below(19) + 1) as f32 * 0.05
}

fn false_positive(rng: &mut Rng, setup: &Setup) -> DetPerson {
    let b = person_box(rng, setup);
    let mut keypoints = [[0.0f32; 3]; 17];
    for (k, p) in keypoints.iter_mut().zip(template_at(b)) {
        *k = [p[0] as f32, p[1] as f32, rng.unit() as f32];
    }
    DetPerson {
        keypoints,
        score: random_score(rng),
    }
}

fn scenario(setup: &Setup) -> Vec<Image> {
    let mut rng = Rng(setup.seed);
    let mut images = Vec::new();
    for i in 0..setup.images {
        let n_people = rng.below(6);
        let anchor = (setup.cluster > 0.0).then(|| person_box(&mut rng, setup));
        let gts: Vec<GtPerson> = (0..n_people)
            .map(|_| gt_person(&mut rng, setup, anchor))
            .collect();
        let mut dets = Vec::new();
        for gt in &gts {
            if rng.chance(setup.detect) {
                dets.push(detect(&mut rng, gt));
                if rng.chance(0.15) {
                    dets.push(detect(&mut rng, gt)); // a duplicate
                }
            }
        }
        for _ in 0..rng.below(3) {
            dets.push(false_positive(&mut rng, setup));
        }
        if rng.chance(setup.many_dets) {
            // More than maxDets: near-duplicates of the people plus clutter.
            for _ in 0..(21 + rng.below(10)) {
                if !gts.is_empty() && rng.chance(0.6) {
                    let g = &gts[rng.below(gts.len())];
                    dets.push(detect(&mut rng, g));
                } else {
                    dets.push(false_positive(&mut rng, setup));
                }
            }
        }
        // Shuffle so that the order of equal scores is not the generation order.
        for k in (1..dets.len()).rev() {
            dets.swap(k, rng.below(k + 1));
        }
        images.push(Image {
            id: (i as u64) * 7 + 3 + rng.below(5) as u64 * 1000,
            gts,
            dets,
        });
    }
    images.sort_by_key(|im| im.id);
    images.dedup_by_key(|im| im.id);
    images
}

fn f(v: f32) -> Value {
    json!(f64::from(v))
}

fn coco_json(images: &[Image]) -> (Value, Value) {
    let mut anns = Vec::new();
    let mut dets = Vec::new();
    for im in images {
        for g in &im.gts {
            anns.push(json!({
                "id": anns.len() + 1,
                "image_id": im.id,
                "category_id": 1,
                "keypoints": g.keypoints.iter().flat_map(|k| k.map(f)).collect::<Vec<_>>(),
                "num_keypoints": g.keypoints.iter().filter(|k| k[2] > 0.0).count(),
                "bbox": g.bbox_xywh.map(f),
                "area": f(g.area),
                "iscrowd": u8::from(g.iscrowd),
            }));
        }
        for d in &im.dets {
            dets.push(json!({
                "image_id": im.id,
                "category_id": 1,
                "keypoints": d.keypoints.iter().flat_map(|k| k.map(f)).collect::<Vec<_>>(),
                "score": f(d.score),
            }));
        }
    }
    let gt = json!({
        "images": images.iter().map(|im| json!({"id": im.id, "width": 1280, "height": 960})).collect::<Vec<_>>(),
        "annotations": anns,
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
    });
    (gt, Value::Array(dets))
}

/// The project venv's Python; the test fails (never skips) when it or pycocotools is missing.
fn venv_python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = std::env::var("WDP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join(".venv"));
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "{} missing: run scripts/setup.sh (the reference needs the project venv)",
        python.display()
    );
    let check = Command::new(&python)
        .args(["-c", "import pycocotools.cocoeval"])
        .output()
        .expect("venv python runs");
    assert!(
        check.status.success(),
        "pycocotools is not installed in {}: `{} -m pip install -r scripts/requirements.txt`\n{}",
        venv.display(),
        python.display(),
        String::from_utf8_lossy(&check.stderr)
    );
    python
}

fn pycocotools_stats(images: &[Image]) -> Vec<f64> {
    let dir = tempfile::tempdir().expect("tempdir");
    let (gt, dets) = coco_json(images);
    let gt_path = dir.path().join("gt.json");
    let dt_path = dir.path().join("dets.json");
    std::fs::write(&gt_path, gt.to_string()).expect("write gt");
    std::fs::write(&dt_path, dets.to_string()).expect("write dets");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/coco_reference.py");
    let out = Command::new(venv_python())
        .arg(&script)
        .arg(&gt_path)
        .arg(&dt_path)
        .output()
        .expect("reference script runs");
    assert!(
        out.status.success(),
        "coco_reference.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().expect("reference output");
    let v: Value = serde_json::from_str(last).expect("reference prints JSON");
    v["stats"]
        .as_array()
        .expect("stats")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn rust_stats(images: &[Image]) -> [f64; 10] {
    let mut eval = CocoKeypointEval::new();
    // Added in reverse: the evaluation must order images by id, as pycocotools does.
    for im in images.iter().rev() {
        eval.add_image(im.id, &im.gts, &im.dets);
    }
    eval.evaluate().stats.to_array()
}

#[test]
fn all_ten_stats_equal_pycocotools() {
    let setups = [
        Setup {
            seed: 1,
            images: 60,
            height: (60.0, 500.0),
            crowd: 0.05,
            unlabelled: 0.1,
            detect: 0.8,
            many_dets: 0.1,
            cluster: 0.0,
        },
        Setup {
            seed: 2,
            images: 80,
            height: (70.0, 180.0),
            crowd: 0.0,
            unlabelled: 0.05,
            detect: 0.9,
            many_dets: 0.05,
            cluster: 0.0,
        },
        Setup {
            seed: 3,
            images: 50,
            height: (200.0, 600.0),
            crowd: 0.1,
            unlabelled: 0.15,
            detect: 0.7,
            many_dets: 0.2,
            cluster: 0.0,
        },
        Setup {
            seed: 4,
            images: 40,
            height: (40.0, 400.0),
            crowd: 0.3,
            unlabelled: 0.3,
            detect: 0.6,
            many_dets: 0.3,
            cluster: 0.0,
        },
        Setup {
            seed: 5,
            images: 100,
            height: (60.0, 500.0),
            crowd: 0.02,
            unlabelled: 0.02,
            detect: 0.95,
            many_dets: 0.0,
            cluster: 0.0,
        },
        Setup {
            seed: 6,
            images: 30,
            height: (60.0, 500.0),
            crowd: 0.0,
            unlabelled: 0.0,
            detect: 0.3,
            many_dets: 0.5,
            cluster: 0.0,
        },
        Setup {
            seed: 7,
            images: 40,
            height: (40.0, 600.0),
            crowd: 0.05,
            unlabelled: 0.1,
            detect: 0.8,
            many_dets: 0.1,
            cluster: 0.0,
        },
        Setup {
            seed: 9,
            images: 80,
            height: (80.0, 140.0),
            crowd: 0.1,
            unlabelled: 0.1,
            detect: 0.9,
            many_dets: 0.1,
            cluster: 0.03,
        },
        Setup {
            seed: 10,
            images: 80,
            height: (150.0, 250.0),
            crowd: 0.05,
            unlabelled: 0.05,
            detect: 0.9,
            many_dets: 0.0,
            cluster: 0.02,
        },
        Setup {
            seed: 11,
            images: 80,
            height: (60.0, 300.0),
            crowd: 0.2,
            unlabelled: 0.1,
            detect: 0.9,
            many_dets: 0.0,
            cluster: 0.1,
        },
        // Only unlabelled gts: nothing counts, every stat is -1 on both sides.
        Setup {
            seed: 8,
            images: 20,
            height: (60.0, 500.0),
            crowd: 0.0,
            unlabelled: 1.0,
            detect: 0.8,
            many_dets: 0.1,
            cluster: 0.0,
        },
    ];
    let mut checked_minus_one = false;
    for setup in &setups {
        let images = scenario(setup);
        let n_dets: usize = images.iter().map(|im| im.dets.len()).sum();
        assert!(n_dets > 0, "pycocotools needs at least one detection");
        let reference = pycocotools_stats(&images);
        let ours = rust_stats(&images);
        assert_eq!(reference.len(), 10);
        for (k, (a, b)) in ours.iter().zip(&reference).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6,
                "seed {}: {} rust {a} vs pycocotools {b}\nrust {ours:?}\npycocotools {reference:?}",
                setup.seed,
                wdp_eval::CocoStats::NAMES[k],
            );
        }
        checked_minus_one |= ours.contains(&-1.0);
        // The scenarios must exercise real matching, not only empty ranges.
        if setup.seed != 8 {
            assert!(
                ours[0] > 0.01 && ours[0] < 0.99,
                "seed {}: AP {} is degenerate",
                setup.seed,
                ours[0]
            );
        }
    }
    assert!(checked_minus_one, "some scenario must give -1 somewhere");
}

fn labelled(points: &[(usize, f32, f32)]) -> [[f32; 3]; 17] {
    let mut k = [[0.0f32; 3]; 17];
    for &(j, x, y) in points {
        k[j] = [x, y, 2.0];
    }
    k
}

#[test]
fn oks_hand_computed() {
    // Two labelled keypoints: the nose off by d with d² = 2 * area * (2σ)², so e = 1; the left
    // shoulder exact. OKS = (e^-1 + 1) / 2; unlabelled keypoints do not count.
    let area = 100.0f32;
    let var = (2.0 * COCO_SIGMAS[0]).powi(2);
    let d = (2.0 * f64::from(area) * var).sqrt() as f32;
    let gt = GtPerson {
        keypoints: labelled(&[(0, 50.0, 40.0), (5, 45.0, 60.0)]),
        bbox_xywh: [40.0, 30.0, 20.0, 50.0],
        area,
        iscrowd: false,
    };
    let mut det = gt.keypoints;
    det[0][0] += d;
    det[3] = [500.0, 500.0, 1.0]; // not labelled in the gt: ignored
    let expected = ((-1.0f64).exp() + 1.0) / 2.0;
    assert!(
        (oks(&gt, &det) - expected).abs() < 1e-6,
        "{} vs {expected}",
        oks(&gt, &det)
    );
    assert!((COCO_SIGMAS[0] - 0.026).abs() < 1e-15 && (COCO_SIGMAS[11] - 0.107).abs() < 1e-15);

    // No labelled keypoint: distance to the box extended by its size on each side, over all 17.
    let gt = GtPerson {
        keypoints: [[0.0; 3]; 17],
        bbox_xywh: [10.0, 10.0, 20.0, 20.0],
        area: 400.0,
        iscrowd: false,
    };
    let mut det = [[20.0f32, 20.0, 1.0]; 17];
    det[1] = [-10.0, 50.0, 1.0]; // on the corner of the extended box: distance 0
    assert!((oks(&gt, &det) - 1.0).abs() < 1e-12);
    det[16] = [20.0, 52.0, 1.0]; // 2 px below the extended box
    let e = 4.0 / (2.0 * COCO_SIGMAS[16]).powi(2) / 400.0 / 2.0;
    let expected = (16.0 + (-e).exp()) / 17.0;
    assert!((oks(&gt, &det) - expected).abs() < 1e-12);
}

fn person(x: f32, score: f32) -> (GtPerson, DetPerson) {
    let k = labelled(
        &(0..17)
            .map(|j| (j, x + j as f32, 10.0 * j as f32))
            .collect::<Vec<_>>(),
    );
    (
        GtPerson {
            keypoints: k,
            bbox_xywh: [x, 0.0, 17.0, 160.0],
            area: 20000.0,
            iscrowd: false,
        },
        DetPerson {
            keypoints: k,
            score,
        },
    )
}

#[test]
fn ap_hand_computed() {
    // Scores .9 (exact on gt A), .8 (far from everyone), .7 (exact on gt B): TP FP TP.
    // Recall .5 .5 1, precision 1 .5 2/3, made monotone 1 2/3 2/3; 51 recall points at
    // precision 1 and 50 at 2/3: AP = (51 + 50 * 2/3) / 101 at every threshold; AR = 1.
    let (ga, da) = person(0.0, 0.9);
    let (gb, db) = person(300.0, 0.7);
    let (_, far) = person(2000.0, 0.8);
    let mut eval = CocoKeypointEval::new();
    eval.add_image(5, &[ga.clone(), gb.clone()], &[db.clone(), far, da.clone()]);
    let r = eval.evaluate();
    let ap = (51.0 + 50.0 * (2.0 / 3.0)) / 101.0;
    assert!((r.stats.ap - ap).abs() < 1e-9, "{}", r.stats.ap);
    assert!((r.stats.ap50 - ap).abs() < 1e-9);
    // The false positive's keypoint box is 17 x 160 (medium): outside the large range an
    // unmatched detection is ignored, so the large range sees TP TP.
    assert!((r.stats.ap_large - 1.0).abs() < 1e-9);
    assert_eq!(r.stats.ap_medium, -1.0);
    assert!((r.stats.ar - 1.0).abs() < 1e-12);
    assert_eq!(r.stats.ar_medium, -1.0);
    // Precision is tp / (tp + fp + eps), as in pycocotools.
    assert!((r.precision[0][0][50] - 1.0).abs() < 1e-9);
    assert!((r.precision[0][0][51] - 2.0 / 3.0).abs() < 1e-9);

    // A crowd gt under the false positive: the detection it absorbs is neither TP nor FP.
    let (mut crowd, _) = person(2000.0, 0.0);
    crowd.iscrowd = true;
    let (_, far) = person(2000.0, 0.8);
    let mut eval = CocoKeypointEval::new();
    eval.add_image(5, &[ga, gb, crowd], &[da, far, db]);
    assert!((eval.evaluate().stats.ap - 1.0).abs() < 1e-9);
}

#[test]
fn oks_exactly_at_a_threshold_matches() {
    // One keypoint exact, the other so far off that exp(-e) underflows to 0: OKS is exactly 0.5,
    // which matches at threshold .50 (OKS >= threshold) and at no other.
    let (mut gt, mut det) = person(0.0, 0.9);
    for j in 2..17 {
        gt.keypoints[j][2] = 0.0;
    }
    det.keypoints[1] = [1.0e6, 1.0e6, 1.0];
    assert_eq!(oks(&gt, &det.keypoints), 0.5);
    let mut eval = CocoKeypointEval::new();
    eval.add_image(1, &[gt], &[det]);
    let s = eval.evaluate().stats;
    assert!((s.ap50 - 1.0).abs() < 1e-9 && s.ap75 == 0.0, "{s:?}");
    assert!((s.ar - 0.1).abs() < 1e-12 && s.ar50 == 1.0, "{s:?}");
}

#[test]
fn only_twenty_best_detections_count() {
    // 25 false positives scored above the one true detection: it is cut, AR = 0.
    let (g, d) = person(0.0, 0.1);
    let mut dets: Vec<DetPerson> = (0..25)
        .map(|i| person(1000.0 + 40.0 * i as f32, 0.5).1)
        .collect();
    dets.push(d);
    let mut eval = CocoKeypointEval::new();
    eval.add_image(1, &[g], &dets);
    let r = eval.evaluate();
    assert_eq!(r.stats.ar, 0.0);
    assert_eq!(r.n_dets, 20);
}
