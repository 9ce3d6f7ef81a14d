//! ROIAlign (Mask R-CNN, `aligned=True` convention) by bilinear sampling with
//! `grid_sampler`: each output bin averages `sampling_ratio^2` bilinear samples.

use tch::{Kind, Tensor};

use crate::error::{ModelError, Result};

/// Pools `features [B, C, h, w]` inside `rois [K, 5]` (`batch_index, x1, y1, x2, y2`
/// in input-image pixels) into `[K, C, out, out]`.
///
/// `spatial_scale` maps image pixels to feature cells (1/stride). Pixel `i` of
/// the feature map has its centre at continuous coordinate `i + 0.5` in the
/// scaled frame, as in torchvision's `roi_align(aligned=True)`. Samples outside the
/// map take the border value (torchvision clamps samples within one cell of the
/// border and zeroes farther ones; boxes are clamped to the image here, so the
/// far case does not arise).
pub fn roi_align(
    features: &Tensor,
    rois: &Tensor,
    spatial_scale: f64,
    out: i64,
    sampling_ratio: i64,
) -> Result<Tensor> {
    let fs = features.size();
    let rs = rois.size();
    if fs.len() != 4 || rs.len() != 2 || rs[1] != 5 || out < 1 || sampling_ratio < 1 {
        return Err(ModelError::Invalid(format!(
            "roi_align: features {fs:?} must be [B, C, h, w], rois {rs:?} must be [K, 5], out {out} and sampling_ratio {sampling_ratio} >= 1"
        )));
    }
    let (c, h, w) = (fs[1], fs[2], fs[3]);
    let k = rs[0];
    if k == 0 {
        return Ok(Tensor::zeros(
            [0, c, out, out],
            (features.kind(), features.device()),
        ));
    }
    let rois = rois.to_kind(Kind::Float);
    let batch_index = rois.select(1, 0).to_kind(Kind::Int64);
    let feats = features.index_select(0, &batch_index); // [K, C, h, w]
    let n = out * sampling_ratio;
    // Sample positions inside each box, as fractions of the box: [n]
    let t = (Tensor::arange(n, (Kind::Float, features.device())) + 0.5) / n as f64;
    // Feature-map coordinates where pixel i spans [i, i+1): [K, n]
    let coord = |lo: i64, hi: i64| {
        let a = rois.select(1, lo) * spatial_scale;
        let b = rois.select(1, hi) * spatial_scale;
        a.unsqueeze(1) + (b - &a).unsqueeze(1) * t.unsqueeze(0)
    };
    // grid_sampler with align_corners=false: normalized = 2 * coord / size - 1.
    let xn = coord(1, 3) * (2.0 / w as f64) - 1.0; // [K, n]
    let yn = coord(2, 4) * (2.0 / h as f64) - 1.0;
    let gx = xn.unsqueeze(1).expand([k, n, n], false);
    let gy = yn.unsqueeze(2).expand([k, n, n], false);
    // [K, n, n, 2], last dim (x, y).
    let grid = Tensor::stack(&[gx, gy], -1).to_kind(features.kind());
    // interpolation 0 = bilinear, padding 1 = border.
    let sampled = feats.f_grid_sampler(&grid, 0, 1, false)?; // [K, C, n, n]
    Ok(sampled.f_avg_pool2d(
        [sampling_ratio, sampling_ratio],
        [sampling_ratio, sampling_ratio],
        [0, 0],
        false,
        true,
        None,
    )?)
}
