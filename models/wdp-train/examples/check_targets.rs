//! Prints, for the first person of a dataset frame, each keypoint and where its target heatmap
//! peaks (mapped back to camera pixels), to check the target geometry by eye.
//! `cargo run --release -p wdp-train --example check_targets -- DATASET`
use eyre::{eyre, Result};
use wdp_train::{load_dataset, make_batch, LoadOptions, TargetGeometry};

fn main() -> Result<()> {
    let data = std::env::args()
        .nth(1)
        .ok_or_else(|| eyre!("usage: check_targets DATASET"))?;
    let (samples, _) = load_dataset(std::path::Path::new(&data), &LoadOptions::default())?;
    let s = samples
        .iter()
        .find(|s| !s.people.is_empty())
        .ok_or_else(|| eyre!("nobody in the dataset"))?;
    let geo = TargetGeometry {
        translated_wh: [128, 96],
        stride: 4,
        roi_out: 28,
        heatmap_sigma: 1.5,
    };
    let b = make_batch(&[s], &geo, tch::Device::Cpu)?;
    let roi = Vec::<f32>::try_from(b.rois.get(0))?;
    let (sx, sy) = (s.image_wh[0] as f32 / 128.0, s.image_wh[1] as f32 / 96.0);
    println!("box (camera px) {:?}", s.people[0].bbox);
    for k in 0..17 {
        let h = b.targets.keypoint_heatmaps.get(0).get(k);
        let idx = h.flatten(0, -1).argmax(0, false).int64_value(&[]);
        let (gy, gx) = (idx / 28, idx % 28);
        let x = (roi[1] + (gx as f32 + 0.5) / 28.0 * (roi[3] - roi[1])) * sx;
        let y = (roi[2] + (gy as f32 + 0.5) / 28.0 * (roi[4] - roi[2])) * sy;
        let vis = b
            .targets
            .keypoint_visible
            .as_ref()
            .map_or(0.0, |v| v.get(0).double_value(&[k]));
        println!(
            "kp {k:2} gt {:?} target peak ({x:.0}, {y:.0}) visible {vis}",
            s.people[0].keypoints[k as usize]
        );
    }
    Ok(())
}
