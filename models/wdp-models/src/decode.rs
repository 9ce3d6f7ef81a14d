//! From head outputs to the `pose` contract, and the matching training targets.
//!
//! Conventions (stride `s` of the centre map): a person box `(x1, y1, x2, y2)` in
//! image pixels has centre `c = ((x1+x2)/2, (y1+y2)/2) / s` in cells; its peak
//! sits in cell `floor(c)`, the offset map holds `c - floor(c)` there and the
//! size map `(x2-x1, y2-y1) / s`.

use tch::{Device, Kind, Tensor};

use crate::error::{ModelError, Result};

/// One frame's result, the `pose` output contract.
#[derive(Debug)]
pub struct PoseOutput {
    /// `[P, 17, 3]` f32: x, y (image pixels), score.
    pub keypoints: Tensor,
    /// `[P, 5]` f32: x1, y1, x2, y2 (image pixels), score.
    pub boxes: Tensor,
    /// `[P, h, w]` u8: 0 background, 1..=24 body part, over each box.
    pub part_index: Tensor,
    /// `[P, 2, h, w]` f32: U and V of the pixel's part (0 on background).
    pub uv: Tensor,
    /// `[P, 2]` f32: each person's floor position `(x, y)` metres in the room frame, when the
    /// model has a floor head.
    pub floor_m: Option<Tensor>,
}

/// Settings of [`decode_centers`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CenterDecode {
    /// Keep at most this many peaks.
    pub max_people: i64,
    /// Minimum peak score (after sigmoid).
    pub score_threshold: f64,
    /// Stride of the maps in image pixels.
    pub stride: i64,
    /// Image (translated frame) size `(H, W)`, for clamping.
    pub image_hw: (i64, i64),
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>> {
    let flat = t
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous()
        .view([-1]);
    Ok(Vec::<f32>::try_from(&flat)?)
}

/// Picks person peaks of one image: `center_logits [1, h, w]`, `size`/`offset [2, h, w]`
/// -> boxes `[P, 5]` (x1, y1, x2, y2, score), P <= max_people, best first.
///
/// A peak is a cell equal to the maximum of its 3x3 neighbourhood (no NMS).
///
/// With `count_probs [C]` (probabilities of 0..C-1 people) the count decides how many people
/// there are and the centre map where: the most likely count's best peaks, the `k`-th (from 1)
/// scored with the probability of at least `k` people (then `score_threshold` applies as
/// usual). The most likely count, not the median: counts are often bimodal (one person or
/// three), and their median is then a count that never happens.
pub fn decode_centers(
    center_logits: &Tensor,
    size: &Tensor,
    offset: &Tensor,
    count_probs: Option<&Tensor>,
    cfg: &CenterDecode,
) -> Result<Tensor> {
    let cs = center_logits.size();
    if cs.len() != 3
        || cs[0] != 1
        || size.size() != [2, cs[1], cs[2]]
        || offset.size() != [2, cs[1], cs[2]]
    {
        return Err(ModelError::Invalid(format!(
            "decode_centers: expected center [1, h, w] and size/offset [2, h, w], got {cs:?}, {:?}, {:?}",
            size.size(),
            offset.size()
        )));
    }
    let (h, w) = (cs[1], cs[2]);
    let heat = center_logits.sigmoid().unsqueeze(0); // [1, 1, h, w]
    let hmax = heat.max_pool2d([3, 3], [1, 1], [1, 1], [1, 1], false);
    let peaks = (&heat * heat.eq_tensor(&hmax).to_kind(Kind::Float)).view([-1]);
    let k = cfg.max_people.clamp(0, h * w);
    let (scores, idx) = peaks.topk(k, 0, true, true);
    let peak_scores = to_vec(&scores)?;
    // Fewer peaks than `k`: the rest of the top-k are cells that are not peaks (score 0).
    let n_peaks = peak_scores.iter().take_while(|&&s| s > 0.0).count();
    let scores = match count_probs {
        // P(N >= k) for k = 1.. : the tail sums of the count distribution.
        Some(p) => {
            let p = to_vec(p)?;
            let mode = (0..p.len())
                .max_by(|&a, &b| p[a].total_cmp(&p[b]))
                .unwrap_or(0);
            (1..=n_peaks.min(mode))
                .map(|k| p.iter().skip(k).sum())
                .collect()
        }
        None => peak_scores,
    };
    let idx = Vec::<i64>::try_from(&idx.to_device(Device::Cpu))?;
    let size = to_vec(&size.view([2, h * w]))?;
    let offset = to_vec(&offset.view([2, h * w]))?;
    let s = cfg.stride as f32;
    let (img_h, img_w) = (cfg.image_hw.0 as f32, cfg.image_hw.1 as f32);
    let n = (h * w) as usize;
    let mut rows = Vec::new();
    for (&score, &i) in scores.iter().zip(&idx).take(n_peaks) {
        if (score as f64) < cfg.score_threshold {
            break;
        }
        let i = i as usize;
        let (cy, cx) = ((i / w as usize) as f32, (i % w as usize) as f32);
        let cx = (cx + offset[i]) * s;
        let cy = (cy + offset[n + i]) * s;
        let (bw, bh) = (size[i].max(0.0) * s, size[n + i].max(0.0) * s);
        rows.extend_from_slice(&[
            (cx - bw / 2.0).clamp(0.0, img_w),
            (cy - bh / 2.0).clamp(0.0, img_h),
            (cx + bw / 2.0).clamp(0.0, img_w),
            (cy + bh / 2.0).clamp(0.0, img_h),
            score,
        ]);
    }
    let p = (rows.len() / 5) as i64;
    Ok(Tensor::from_slice(&rows).view([p, 5]))
}

/// Keypoints from heatmaps: `heatmaps [P, K, r, r]` over `boxes [P, 5]` -> `[P, K, 3]`
/// (x, y in image pixels, score = peak value clamped to [0, 1]).
///
/// The arg-max cell is refined to sub-cell precision by fitting a parabola
/// through it and its two neighbours in x and in y (exact for a quadratic peak).
pub fn decode_keypoints(heatmaps: &Tensor, boxes: &Tensor) -> Result<Tensor> {
    let hs = heatmaps.size();
    if hs.len() != 4 || boxes.size() != [hs[0], 5] {
        return Err(ModelError::Invalid(format!(
            "decode_keypoints: expected heatmaps [P, K, h, w] and boxes [P, 5], got {hs:?}, {:?}",
            boxes.size()
        )));
    }
    let (p, k, h, w) = (
        hs[0] as usize,
        hs[1] as usize,
        hs[2] as usize,
        hs[3] as usize,
    );
    let hm = to_vec(heatmaps)?;
    let bx = to_vec(boxes)?;
    let mut out = Vec::with_capacity(p * k * 3);
    for pi in 0..p {
        let b = &bx[pi * 5..pi * 5 + 5];
        for ki in 0..k {
            let map = &hm[(pi * k + ki) * h * w..(pi * k + ki + 1) * h * w];
            let (mut best, mut best_i) = (f32::NEG_INFINITY, 0usize);
            for (i, &v) in map.iter().enumerate() {
                if v > best {
                    best = v;
                    best_i = i;
                }
            }
            let (y, x) = (best_i / w, best_i % w);
            let at = |yy: usize, xx: usize| map[yy * w + xx];
            let refine = |lo: Option<f32>, c: f32, hi: Option<f32>| match (lo, hi) {
                (Some(l), Some(r)) => {
                    let curvature = l - 2.0 * c + r;
                    if curvature < 0.0 {
                        (0.5 * (l - r) / curvature).clamp(-0.5, 0.5)
                    } else {
                        0.0
                    }
                }
                _ => 0.0,
            };
            let dx = refine(
                (x > 0).then(|| at(y, x - 1)),
                best,
                (x + 1 < w).then(|| at(y, x + 1)),
            );
            let dy = refine(
                (y > 0).then(|| at(y - 1, x)),
                best,
                (y + 1 < h).then(|| at(y + 1, x)),
            );
            // Cell x spans [x, x+1) of the map, which spans the box.
            let px = b[0] + (x as f32 + 0.5 + dx) / w as f32 * (b[2] - b[0]);
            let py = b[1] + (y as f32 + 0.5 + dy) / h as f32 * (b[3] - b[1]);
            out.extend_from_slice(&[px, py, best.clamp(0.0, 1.0)]);
        }
    }
    Ok(Tensor::from_slice(&out).view([p as i64, k as i64, 3]))
}

/// Part index and UV: `mask_logits [P, parts+1, r, r]`, `uv [P, parts, 2, r, r]`
/// -> (`part_index [P, r, r]` u8, `uv [P, 2, r, r]` of the chosen part, 0 on background).
pub fn decode_parts(mask_logits: &Tensor, uv: &Tensor) -> Result<(Tensor, Tensor)> {
    let ms = mask_logits.size();
    let us = uv.size();
    if ms.len() != 4
        || us.len() != 5
        || us[0] != ms[0]
        || us[1] + 1 != ms[1]
        || us[2] != 2
        || us[3..] != ms[2..]
    {
        return Err(ModelError::Invalid(format!(
            "decode_parts: expected mask [P, N+1, r, r] and uv [P, N, 2, r, r], got {ms:?}, {us:?}"
        )));
    }
    let (p, r1, r2) = (ms[0], ms[2], ms[3]);
    let part = mask_logits.argmax(1, false); // [P, r, r]
    let foreground = part.gt(0);
    // Index of the part's UV channels: [P, 1, 2, r, r]
    let index = (&part - 1)
        .clamp_min(0)
        .view([p, 1, 1, r1, r2])
        .expand([p, 1, 2, r1, r2], false);
    let chosen = uv.gather(1, &index, false).squeeze_dim(1); // [P, 2, r, r]
    let chosen = chosen * foreground.unsqueeze(1).to_kind(uv.kind());
    Ok((part.to_kind(Kind::Uint8), chosen))
}

/// Training targets of the person head, at the head's stride.
#[derive(Debug)]
pub struct CenterTargets {
    /// Gaussian centre heatmap `[B, 1, h, w]`, 1 at each centre cell.
    pub heatmap: Tensor,
    /// Box size in cells `[B, 2, h, w]` (at centre cells).
    pub size: Tensor,
    /// Sub-cell offset `[B, 2, h, w]` (at centre cells).
    pub offset: Tensor,
    /// 1 at centre cells `[B, 1, h, w]`.
    pub mask: Tensor,
}

/// Builds [`CenterTargets`] from boxes per image (`[N_b, 4]` x1, y1, x2, y2 in
/// image pixels). The Gaussian's sigma is a sixth of the box's smaller side in
/// cells (at least 0.5 cell).
pub fn center_targets(
    boxes_per_image: &[Tensor],
    map_hw: (i64, i64),
    stride: i64,
) -> Result<CenterTargets> {
    let (h, w) = map_hw;
    let b = boxes_per_image.len();
    let (hu, wu) = (h as usize, w as usize);
    let mut heat = vec![0f32; b * hu * wu];
    let mut size = vec![0f32; b * 2 * hu * wu];
    let mut offset = vec![0f32; b * 2 * hu * wu];
    let mut mask = vec![0f32; b * hu * wu];
    let s = stride as f32;
    for (bi, boxes) in boxes_per_image.iter().enumerate() {
        if boxes.numel() == 0 {
            continue;
        }
        if boxes.dim() != 2 || boxes.size()[1] != 4 {
            return Err(ModelError::Invalid(format!(
                "center_targets: boxes must be [N, 4], got {:?}",
                boxes.size()
            )));
        }
        for bx in to_vec(boxes)?.chunks(4) {
            let (cx, cy) = ((bx[0] + bx[2]) / 2.0 / s, (bx[1] + bx[3]) / 2.0 / s);
            let (bw, bh) = ((bx[2] - bx[0]) / s, (bx[3] - bx[1]) / s);
            let (ix, iy) = (cx.floor() as i64, cy.floor() as i64);
            if ix < 0 || iy < 0 || ix >= w || iy >= h {
                continue;
            }
            let sigma = (bw.min(bh) / 6.0).max(0.5);
            for y in 0..hu {
                for x in 0..wu {
                    let d2 = (x as f32 - ix as f32).powi(2) + (y as f32 - iy as f32).powi(2);
                    let g = (-d2 / (2.0 * sigma * sigma)).exp();
                    let cell = &mut heat[(bi * hu + y) * wu + x];
                    *cell = cell.max(g);
                }
            }
            let c = iy as usize * wu + ix as usize;
            let plane = hu * wu;
            size[bi * 2 * plane + c] = bw;
            size[bi * 2 * plane + plane + c] = bh;
            offset[bi * 2 * plane + c] = cx - ix as f32;
            offset[bi * 2 * plane + plane + c] = cy - iy as f32;
            mask[bi * plane + c] = 1.0;
        }
    }
    let b = b as i64;
    Ok(CenterTargets {
        heatmap: Tensor::from_slice(&heat).view([b, 1, h, w]),
        size: Tensor::from_slice(&size).view([b, 2, h, w]),
        offset: Tensor::from_slice(&offset).view([b, 2, h, w]),
        mask: Tensor::from_slice(&mask).view([b, 1, h, w]),
    })
}
