//! Does the model place people in its translated image? For frames of a dataset, the translated
//! image's foreground (channel 0 above 0.5) against the dense-pose picture it is trained to draw:
//! IoU and the distance between the two foregrounds' centroids, with the model in inference mode
//! (BatchNorm running statistics) and in training mode (batch statistics), beside the same
//! figures for the dataset's mean picture (a room prior).
//!
//! Then where the information is lost: one-person frames of the first dataset are located from
//! those of the second by their 5 nearest neighbours, once on the encoder's features and once on
//! the windows themselves; the model cannot draw a position its features do not hold.
//!
//! `[PRESET=models/presets/lite-now.yaml] cargo run --release -p wdp-train --example fit_check --
//! CHECKPOINT DATASET...` (PRESET: the checkpoint's preset, `lite` by default)
use eyre::{eyre, Result};
use tch::{Kind, Tensor};
use wdp_train::{load_dataset, make_batch, LoadOptions, Sample};

/// Mean foreground IoU and mean centroid distance (translated-image pixels) of `pred` vs `truth`
/// `[B, H, W]` in [0, 1].
fn compare(pred: &Tensor, truth: &Tensor) -> (f64, f64) {
    let p = pred.gt(0.5).to_kind(Kind::Float);
    let t = truth.gt(0.5).to_kind(Kind::Float);
    let inter = (&p * &t).sum_dim_intlist(&[1, 2][..], false, Kind::Float);
    let union = (&p + &t)
        .clamp_max(1.0)
        .sum_dim_intlist(&[1, 2][..], false, Kind::Float);
    let iou = (inter / union.clamp_min(1.0))
        .mean(Kind::Float)
        .double_value(&[]);
    let (h, w) = (truth.size()[1], truth.size()[2]);
    let ys = Tensor::arange(h, (Kind::Float, tch::Device::Cpu)).reshape([1, h, 1]);
    let xs = Tensor::arange(w, (Kind::Float, tch::Device::Cpu)).reshape([1, 1, w]);
    let centroid = |m: &Tensor| {
        let n = m
            .sum_dim_intlist(&[1, 2][..], false, Kind::Float)
            .clamp_min(1.0);
        let cy = (m * &ys).sum_dim_intlist(&[1, 2][..], false, Kind::Float) / &n;
        let cx = (m * &xs).sum_dim_intlist(&[1, 2][..], false, Kind::Float) / &n;
        (cx, cy)
    };
    let (px, py) = centroid(&pred.clamp(0.0, 1.0));
    let (tx, ty) = centroid(truth);
    let d = ((px - tx).square() + (py - ty).square()).sqrt();
    (iou, d.mean(Kind::Float).double_value(&[]))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (ckpt, dirs) = args
        .split_first()
        .ok_or_else(|| eyre!("usage: fit_check CHECKPOINT DATASET..."))?;
    let options = LoadOptions::with(
        wdp_train::preprocess::for_checkpoint(std::path::Path::new(ckpt))?,
        4,
    );
    let mut samples: Vec<Sample> = Vec::new();
    for d in dirs {
        samples.extend(load_dataset(std::path::Path::new(d), &options)?.0);
    }
    let w = samples
        .first()
        .ok_or_else(|| eyre!("no frames"))?
        .window_shape
        .map(|d| d as i64);
    let preset =
        wdp_models::Preset::load(&std::env::var("PRESET").unwrap_or_else(|_| "lite".into()))?;
    let (_vs, model) = wdp_train::trainer::load_trained(
        &preset,
        wdp_models::InputDims::from_window_shape(&w)?,
        std::path::Path::new(ckpt),
        tch::Device::Cpu,
    )?;
    let geo = wdp_train::TargetGeometry {
        translated_wh: [preset.upsampler.out_width, preset.upsampler.out_height],
        stride: 4,
        roi_out: 28,
        heatmap_sigma: 1.5,
    };
    let refs: Vec<&Sample> = samples.iter().collect();
    let mut sums = [0.0f64; 6];
    let mut n = 0.0;
    for chunk in refs.chunks(16) {
        let batch = make_batch(chunk, &geo, tch::Device::Cpu)?;
        let truth = batch.spatial.select(1, 0);
        let prior = truth.mean_dim(0, true, Kind::Float).expand_as(&truth);
        let mut row = Vec::new();
        for train in [false, true] {
            let out = tch::no_grad(|| model.forward_t(&batch.window, Some(&batch.rois), train))?;
            let (iou, d) = compare(&out.spatial.select(1, 0), &truth);
            row.extend([iou, d]);
        }
        let (iou, d) = compare(&prior, &truth);
        row.extend([iou, d]);
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
        n += 1.0;
    }
    let [ei, ed, ti, td, pi, pd] = sums.map(|v| v / n);
    if dirs.len() >= 2 {
        let a = load_dataset(std::path::Path::new(&dirs[0]), &options)?.0;
        let b = load_dataset(std::path::Path::new(&dirs[1]), &options)?.0;
        let one = |s: &[Sample]| -> (Vec<Sample>, Tensor) {
            let kept: Vec<Sample> = s.iter().filter(|s| s.people.len() == 1).cloned().collect();
            let hips: Vec<f32> = kept
                .iter()
                .flat_map(|s| {
                    let k = s.people[0].keypoints;
                    [(k[11][0] + k[12][0]) / 2.0, (k[11][1] + k[12][1]) / 2.0]
                })
                .collect();
            let n = kept.len() as i64;
            (kept, Tensor::from_slice(&hips).reshape([n, 2]))
        };
        let ((sa, ya), (sb, yb)) = (one(&a), one(&b));
        let windows = |s: &[Sample]| {
            let flat: Vec<f32> = s.iter().flat_map(|s| s.window.iter().copied()).collect();
            Tensor::from_slice(&flat).reshape([s.len() as i64, -1])
        };
        let features = |s: &[Sample]| -> Result<Tensor> {
            let shape = s[0].window_shape.map(|d| d as i64);
            let x = windows(s).reshape([-1, shape[0], shape[1], shape[2], shape[3]]);
            Ok(tch::no_grad(|| model.forward_t(&x, None, false))?.features)
        };
        let knn = |fa: &Tensor, fb: &Tensor| {
            let mean = fb.mean_dim(0, true, Kind::Float);
            let std = fb.std_dim(0, true, true).clamp_min(1e-6);
            let d = Tensor::cdist(
                &((fa - &mean) / &std),
                &((fb - &mean) / &std),
                2.0,
                None::<i64>,
            );
            let (_, idx) = d.topk(5, 1, false, true);
            let pred = yb
                .index_select(0, &idx.reshape([-1]))
                .reshape([-1, 5, 2])
                .mean_dim(1, false, Kind::Float);
            (pred - &ya)
                .square()
                .sum_dim_intlist(1, false, Kind::Float)
                .sqrt()
                .median()
                .double_value(&[])
        };
        if sa.len() > 10 && sb.len() > 10 {
            let mean = (yb.mean_dim(0, true, Kind::Float) - &ya)
                .square()
                .sum_dim_intlist(1, false, Kind::Float)
                .sqrt()
                .median()
                .double_value(&[]);
            println!(
                "one-person frames {} located from {}: mid-hip median error, camera px",
                sa.len(),
                sb.len()
            );
            println!(
                "  5-NN on the windows           {:.1}",
                knn(&windows(&sa), &windows(&sb))
            );
            println!(
                "  5-NN on the encoder features  {:.1}",
                knn(&features(&sa)?, &features(&sb)?)
            );
            println!("  the other sequence's mean     {mean:.1}");
        }
    }
    println!(
        "frames {}: foreground IoU / centroid distance (px of the translated image)",
        refs.len()
    );
    println!("  inference mode  {ei:.3} / {ed:.1}");
    println!("  training mode   {ti:.3} / {td:.1}");
    println!("  mean picture    {pi:.3} / {pd:.1}");
    Ok(())
}
