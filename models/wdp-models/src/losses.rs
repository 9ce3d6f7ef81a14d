//! Losses of seeds 000-003 and the domain-adaptation tools of seed 001.
//!
//! Shapes: `K` people (ROIs), `r` head output size, `B` images, `h x w` centre map.

use tch::{Kind, Reduction, Tensor};

use crate::error::{ModelError, Result};

fn check(cond: bool, msg: impl FnOnce() -> String) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(ModelError::Invalid(msg()))
    }
}

/// Part-mask cross-entropy: `logits [K, C, r, r]`, `target [K, r, r]` (i64 class, 0 background).
pub fn part_mask_ce(logits: &Tensor, target: &Tensor) -> Result<Tensor> {
    let ls = logits.size();
    check(
        ls.len() == 4 && target.size() == [ls[0], ls[2], ls[3]],
        || {
            format!(
                "part_mask_ce: logits {ls:?} and target {:?} disagree",
                target.size()
            )
        },
    )?;
    Ok(logits.f_cross_entropy_loss::<Tensor>(
        &target.to_kind(Kind::Int64),
        None,
        Reduction::Mean,
        -100,
        0.0,
    )?)
}

/// The person-mask term of pixels known to be on a person whose part is unknown (a camera
/// teacher's mask): `-log P(not background)` from the part logits `[K, C, r, r]` (class 0
/// background), averaged over the `unknown [K, r, r]` pixels; zero (with a graph) if none.
pub fn foreground_ce(logits: &Tensor, unknown: &Tensor) -> Result<Tensor> {
    let ls = logits.size();
    check(
        ls.len() == 4 && ls[1] >= 2 && unknown.size() == [ls[0], ls[2], ls[3]],
        || {
            format!(
                "foreground_ce: logits {ls:?} and mask {:?} disagree",
                unknown.size()
            )
        },
    )?;
    let logp = logits.log_softmax(1, Kind::Float);
    let log_fg = logp.narrow(1, 1, ls[1] - 1).logsumexp([1], false); // [K, r, r]
    let m = unknown.to_kind(Kind::Float);
    Ok(-(log_fg * &m).sum(Kind::Float) / m.sum(Kind::Float).clamp_min(1.0))
}

/// UV smooth-L1 on foreground pixels only: `uv [K, N, 2, r, r]` (per part),
/// `target_uv [K, 2, r, r]`, `parts [K, r, r]` (0 background, 1..=N). The prediction
/// of the pixel's true part is compared; zero (with a graph) if there is no foreground.
pub fn uv_smooth_l1(uv: &Tensor, target_uv: &Tensor, parts: &Tensor) -> Result<Tensor> {
    let us = uv.size();
    check(
        us.len() == 5
            && us[2] == 2
            && target_uv.size() == [us[0], 2, us[3], us[4]]
            && parts.size() == [us[0], us[3], us[4]],
        || {
            format!(
                "uv_smooth_l1: uv {us:?}, target {:?}, parts {:?} disagree",
                target_uv.size(),
                parts.size()
            )
        },
    )?;
    let (k, r1, r2) = (us[0], us[3], us[4]);
    let parts = parts.to_kind(Kind::Int64);
    let index = (&parts - 1)
        .clamp_min(0)
        .view([k, 1, 1, r1, r2])
        .expand([k, 1, 2, r1, r2], false);
    let pred = uv.gather(1, &index, false).squeeze_dim(1); // [K, 2, r, r]
    let fg = parts.gt(0).unsqueeze(1).to_kind(uv.kind()); // [K, 1, r, r]
    let per_pixel = pred.smooth_l1_loss(target_uv, Reduction::None, 1.0) * &fg;
    let count = fg.sum(Kind::Float) * 2.0;
    Ok(per_pixel.sum(Kind::Float) / count.clamp_min(1.0))
}

/// Keypoint heatmap MSE: `pred`, `target [K, J, r, r]`; `visible [K, J]` (1/0) weights
/// joints if given.
pub fn keypoint_heatmap_mse(
    pred: &Tensor,
    target: &Tensor,
    visible: Option<&Tensor>,
) -> Result<Tensor> {
    check(pred.size() == target.size() && pred.dim() == 4, || {
        format!(
            "keypoint_heatmap_mse: pred {:?} and target {:?} disagree",
            pred.size(),
            target.size()
        )
    })?;
    let se = (pred - target).square();
    Ok(match visible {
        None => se.mean(Kind::Float),
        Some(v) => {
            let ps = pred.size();
            check(v.size() == [ps[0], ps[1]], || {
                format!("keypoint_heatmap_mse: visible {:?}", v.size())
            })?;
            let w = v.to_kind(pred.kind()).view([ps[0], ps[1], 1, 1]);
            (se * &w).sum(Kind::Float)
                / (w.sum(Kind::Float) * (ps[2] * ps[3]) as f64).clamp_min(1.0)
        }
    })
}

/// CenterNet penalty-reduced focal loss (alpha 2, beta 4): `logits`, `target [B, 1, h, w]`
/// (Gaussian heatmap, 1 at centres), normalised by the number of centres.
pub fn center_focal_loss(logits: &Tensor, target: &Tensor) -> Result<Tensor> {
    check(logits.size() == target.size(), || {
        format!(
            "center_focal_loss: logits {:?} and target {:?} disagree",
            logits.size(),
            target.size()
        )
    })?;
    // log p and log(1 - p) from log-sigmoid: exact and never flat. (Clamping the sigmoid, as
    // CenterNet does, zeroes the gradient of a saturated logit, and a head pushed there by the
    // first large steps then stays dead.)
    let p = logits.sigmoid();
    let log_p = logits.log_sigmoid();
    let log_one_minus_p = (-logits).log_sigmoid();
    let pos = target.ge(1.0 - 1e-4).to_kind(Kind::Float);
    let neg = pos.ones_like() - &pos;
    let one_minus_p = p.ones_like() - &p;
    let pos_loss = log_p * one_minus_p.square() * &pos;
    let neg_loss =
        log_one_minus_p * p.square() * (target.ones_like() - target).pow_tensor_scalar(4) * neg;
    let n = pos.sum(Kind::Float).clamp_min(1.0);
    Ok(-(pos_loss.sum(Kind::Float) + neg_loss.sum(Kind::Float)) / n)
}

/// L1 on size/offset maps at centre cells: `pred`, `target [B, 2, h, w]`, `mask [B, 1, h, w]`.
pub fn center_regression_l1(pred: &Tensor, target: &Tensor, mask: &Tensor) -> Result<Tensor> {
    check(pred.size() == target.size() && pred.dim() == 4, || {
        format!(
            "center_regression_l1: pred {:?} and target {:?} disagree",
            pred.size(),
            target.size()
        )
    })?;
    let m = mask.to_kind(pred.kind());
    let n = (m.sum(Kind::Float) * 2.0).clamp_min(1.0);
    Ok(((pred - target).abs() * m).sum(Kind::Float) / n)
}

/// Feature distillation: MSE between student and (detached) teacher features.
pub fn feature_distillation(student: &Tensor, teacher: &Tensor) -> Result<Tensor> {
    check(student.size() == teacher.size(), || {
        format!(
            "feature_distillation: student {:?} and teacher {:?} disagree",
            student.size(),
            teacher.size()
        )
    })?;
    Ok(student.mse_loss(&teacher.detach(), Reduction::Mean))
}

/// Soft-target distillation: `T^2 * KL(softmax(teacher/T) || softmax(student/T))` over
/// `class_dim`, summed over classes and averaged over every other position.
pub fn soft_target_kl(
    student_logits: &Tensor,
    teacher_logits: &Tensor,
    temperature: f64,
    class_dim: i64,
) -> Result<Tensor> {
    check(
        student_logits.size() == teacher_logits.size() && temperature > 0.0,
        || {
            format!(
            "soft_target_kl: student {:?} and teacher {:?} disagree or temperature {temperature} <= 0",
            student_logits.size(),
            teacher_logits.size()
        )
        },
    )?;
    let log_s = (student_logits / temperature).log_softmax(class_dim, Kind::Float);
    let log_t = (teacher_logits.detach() / temperature).log_softmax(class_dim, Kind::Float);
    let kl = (log_t.exp() * (&log_t - log_s)).sum_dim_intlist(class_dim, false, Kind::Float);
    Ok(kl.mean(Kind::Float) * (temperature * temperature))
}

/// Temporal smoothness (seed 000, section 6.2) over `seq [B, T, ...]`:
/// `smooth * mean|x_t - x_{t-1}|^2 + motion * mean|x_{t+1} - (2 x_t - x_{t-1})|^2`.
pub fn temporal_smoothness(
    seq: &Tensor,
    smoothness_weight: f64,
    motion_weight: f64,
) -> Result<Tensor> {
    check(seq.dim() >= 2, || {
        format!(
            "temporal_smoothness: seq {:?} needs [B, T, ...]",
            seq.size()
        )
    })?;
    let t = seq.size()[1];
    if t < 2 {
        return Ok(seq.sum(Kind::Float) * 0.0);
    }
    let prev = seq.narrow(1, 0, t - 1);
    let next = seq.narrow(1, 1, t - 1);
    let smooth = (&next - &prev).square().mean(Kind::Float) * smoothness_weight;
    if t < 3 {
        return Ok(smooth);
    }
    // Constant-velocity prediction of x_{t+1} from x_t and x_{t-1}.
    let expected = seq.narrow(1, 1, t - 2) * 2.0 - seq.narrow(1, 0, t - 2);
    let motion = (seq.narrow(1, 2, t - 2) - expected)
        .square()
        .mean(Kind::Float);
    Ok(smooth + motion * motion_weight)
}

/// Gradient reversal: identity forward, gradient multiplied by `-lambda` backward.
///
/// tch has no custom autograd functions; `x.detach() * (1 + l) - x * l` has value
/// `x` and derivative `-l` with respect to `x`.
pub fn gradient_reversal(x: &Tensor, lambda: f64) -> Tensor {
    x.detach() * (1.0 + lambda) - x * lambda
}

/// Gaussian kernel matrix summed over bandwidths: `x [n, d]`, `y [m, d]` -> `[n, m]`.
fn multi_gaussian(x: &Tensor, y: &Tensor, bandwidths: &[f64]) -> Tensor {
    // Squared distances ||x||^2 + ||y||^2 - 2 x.y, clamped at 0 against rounding.
    let xx = x.square().sum_dim_intlist(1, true, Kind::Float);
    let yy = y.square().sum_dim_intlist(1, true, Kind::Float).tr();
    let d2 = (xx + yy - x.matmul(&y.tr()) * 2.0).clamp_min(0.0);
    bandwidths.iter().fold(d2.zeros_like(), |k, &bw| {
        k + (&d2 * (-1.0 / (2.0 * bw * bw))).exp()
    })
}

/// Default bandwidths: the root mean pairwise squared distance of the pooled samples
/// times 1/4, 1/2, 1, 2, 4 (as in DAN's multi-kernel MMD).
pub fn default_bandwidths(x: &Tensor, y: &Tensor) -> Result<Vec<f64>> {
    let z = Tensor::cat(&[x, y], 0).detach();
    let n = z.size()[0];
    let zz = z.square().sum_dim_intlist(1, true, Kind::Float);
    let d2 = (&zz + zz.tr() - z.matmul(&z.tr()) * 2.0).clamp_min(0.0);
    let mean = d2.sum(Kind::Float).double_value(&[]) / ((n * n - n).max(1)) as f64;
    let base = mean.sqrt().max(1e-6);
    Ok([0.25, 0.5, 1.0, 2.0, 4.0]
        .iter()
        .map(|m| base * m)
        .collect())
}

fn check_pair(name: &str, x: &Tensor, y: &Tensor) -> Result<()> {
    check(
        x.dim() == 2
            && y.dim() == 2
            && x.size()[1] == y.size()[1]
            && x.size()[0] > 0
            && y.size()[0] > 0,
        || {
            format!(
                "{name}: source {:?} and target {:?} must be [n, d] and [m, d]",
                x.size(),
                y.size()
            )
        },
    )
}

/// Maximum mean discrepancy (biased estimate, multi-bandwidth Gaussian kernel)
/// between `source [n, d]` and `target [m, d]`; `bandwidths` empty = [`default_bandwidths`].
/// Zero for identical sample sets.
pub fn mmd(source: &Tensor, target: &Tensor, bandwidths: &[f64]) -> Result<Tensor> {
    check_pair("mmd", source, target)?;
    let bw = if bandwidths.is_empty() {
        default_bandwidths(source, target)?
    } else {
        bandwidths.to_vec()
    };
    let kss = multi_gaussian(source, source, &bw).mean(Kind::Float);
    let ktt = multi_gaussian(target, target, &bw).mean(Kind::Float);
    let kst = multi_gaussian(source, target, &bw).mean(Kind::Float);
    Ok(kss + ktt - kst * 2.0)
}

/// Local (class-weighted) MMD, as in DSAN: `source [n, d]` with labels `[n]` (i64),
/// `target [m, d]` with predicted class probabilities `[m, C]`. Each class compares
/// source and target weighted by normalised label / probability mass; classes
/// absent from the source batch are skipped; the mean over used classes is returned.
pub fn lmmd(
    source: &Tensor,
    target: &Tensor,
    source_labels: &Tensor,
    target_probs: &Tensor,
    bandwidths: &[f64],
) -> Result<Tensor> {
    let n = source.size().first().copied().unwrap_or(0);
    let c = target_probs.size().get(1).copied().unwrap_or(0);
    check(source_labels.size() == [n] && c > 0, || {
        format!(
            "lmmd: labels {:?} / probs {:?} do not match n={n}",
            source_labels.size(),
            target_probs.size()
        )
    })?;
    let one_hot = source_labels
        .to_kind(Kind::Int64)
        .one_hot(c)
        .to_kind(Kind::Float);
    lmmd_weighted(source, target, &one_hot, target_probs, bandwidths)
}

/// [`lmmd`] with soft source labels: `source_weights [n, C]` (one-hot rows for hard labels,
/// or a frame's share of each class when it belongs to several).
pub fn lmmd_weighted(
    source: &Tensor,
    target: &Tensor,
    source_weights: &Tensor,
    target_probs: &Tensor,
    bandwidths: &[f64],
) -> Result<Tensor> {
    check_pair("lmmd", source, target)?;
    let (n, m) = (source.size()[0], target.size()[0]);
    check(
        source_weights.dim() == 2
            && source_weights.size()[0] == n
            && target_probs.dim() == 2
            && target_probs.size()[0] == m
            && target_probs.size()[1] == source_weights.size()[1],
        || {
            format!(
                "lmmd: source weights {:?} / target probs {:?} do not match n={n}, m={m}",
                source_weights.size(),
                target_probs.size()
            )
        },
    )?;
    let c = target_probs.size()[1];
    let bw = if bandwidths.is_empty() {
        default_bandwidths(source, target)?
    } else {
        bandwidths.to_vec()
    };
    let ws = source_weights.detach().to_kind(Kind::Float); // [n, C]
    let wt = target_probs.detach().to_kind(Kind::Float); // [m, C]
    let s_mass = ws.sum_dim_intlist(0, true, Kind::Float); // [1, C]
    let t_mass = wt.sum_dim_intlist(0, true, Kind::Float);
    let used = s_mass
        .gt(1e-6)
        .logical_and(&t_mass.gt(1e-6))
        .to_kind(Kind::Float); // [1, C]
    let ws = ws / s_mass.clamp_min(1e-6);
    let wt = wt / t_mass.clamp_min(1e-6);
    let kss = multi_gaussian(source, source, &bw);
    let ktt = multi_gaussian(target, target, &bw);
    let kst = multi_gaussian(source, target, &bw);
    // Per class c: ws_c' Kss ws_c + wt_c' Ktt wt_c - 2 ws_c' Kst wt_c -> [C]
    let per_class = (ws.tr().matmul(&kss) * ws.tr()).sum_dim_intlist(1, false, Kind::Float)
        + (wt.tr().matmul(&ktt) * wt.tr()).sum_dim_intlist(1, false, Kind::Float)
        - (ws.tr().matmul(&kst) * wt.tr()).sum_dim_intlist(1, false, Kind::Float) * 2.0;
    let used = used.view([c]);
    Ok((per_class * &used).sum(Kind::Float) / used.sum(Kind::Float).clamp_min(1.0))
}

/// Keypoint tokens (seed 003, after DistillPose): one feature vector per person and joint,
/// the person's feature map pooled under the joint's heatmap softmax. `features [B, C, h, w]`
/// (stride `stride`), `rois [K, 5]`, `heatmaps [K, J, r, r]` -> `[K, J, C]`.
pub fn keypoint_tokens(
    features: &Tensor,
    rois: &Tensor,
    heatmaps: &Tensor,
    stride: i64,
    sampling_ratio: i64,
) -> Result<Tensor> {
    let hs = heatmaps.size();
    check(hs.len() == 4 && hs[2] == hs[3] && stride > 0, || {
        format!("keypoint_tokens: heatmaps {hs:?} must be [K, J, r, r]")
    })?;
    let (k, j, r) = (hs[0], hs[1], hs[2]);
    let pooled = crate::roi::roi_align(features, rois, 1.0 / stride as f64, r, sampling_ratio)?;
    let c = pooled.size()[1];
    let attention = heatmaps.reshape([k, j, r * r]).softmax(-1, Kind::Float);
    Ok(attention.bmm(&pooled.reshape([k, c, r * r]).transpose(1, 2)))
}

/// Token MSE of seed 003's `L_kt` and `L_vt`: student and (detached) teacher tokens
/// `[..., C]`, each normalised over its channels first (a teacher of another width or scale
/// is compared by pattern, not by magnitude).
pub fn token_mse(student: &Tensor, teacher: &Tensor) -> Result<Tensor> {
    check(
        student.size() == teacher.size() && student.dim() >= 1,
        || {
            format!(
                "token_mse: student {:?} and teacher {:?} disagree",
                student.size(),
                teacher.size()
            )
        },
    )?;
    let norm = |t: &Tensor| {
        let mean = t.mean_dim(-1, true, Kind::Float);
        let centred = t - mean;
        let std = (centred.square().mean_dim(-1, true, Kind::Float) + 1e-5).sqrt();
        centred / std
    };
    Ok(norm(student).mse_loss(&norm(&teacher.detach()), Reduction::Mean))
}

/// Coordinate classification (seed 003's `L_cs`, SimCC's 1-D form): each joint's heatmap
/// read as a distribution over x and over y (the marginals of its spatial softmax at
/// `temperature`), and the student's marginals pulled to the teacher's by
/// `T^2 * KL(teacher || student)`, averaged over people, joints and both axes.
/// `student`, `teacher`: `[K, J, r, r]` heatmap logits.
pub fn coordinate_kl(student: &Tensor, teacher: &Tensor, temperature: f64) -> Result<Tensor> {
    let s = student.size();
    check(
        s == teacher.size() && s.len() == 4 && temperature > 0.0,
        || {
            format!(
                "coordinate_kl: student {s:?} and teacher {:?} must be equal [K, J, h, w], T > 0",
                teacher.size()
            )
        },
    )?;
    let (k, j, h, w) = (s[0], s[1], s[2], s[3]);
    let log_joint = |t: &Tensor| {
        (t / temperature)
            .reshape([k, j, h * w])
            .log_softmax(-1, Kind::Float)
            .reshape([k, j, h, w])
    };
    let ls = log_joint(student);
    let lt = log_joint(&teacher.detach());
    let mut kl = student.sum(Kind::Float) * 0.0;
    // dim 2 summed out: distribution over x; dim 3: over y.
    for dim in [2i64, 3] {
        let ms = ls.logsumexp([dim], false);
        let mt = lt.logsumexp([dim], false);
        kl += (mt.exp() * (&mt - ms))
            .sum_dim_intlist(-1, false, Kind::Float)
            .mean(Kind::Float);
    }
    Ok(kl * (0.5 * temperature * temperature))
}

/// Cross-entropy between each joint's spatial softmax and its normalised target heatmap, over
/// the visible joints: `pred`, `target [K, J, r, r]`, `visible [K, J]`.
pub fn keypoint_ce(pred: &Tensor, target: &Tensor, visible: Option<&Tensor>) -> Tensor {
    let s = pred.size();
    let (n, cells) = (s[0] * s[1], s[2] * s[3]);
    let logp = pred.reshape([n, cells]).log_softmax(1, Kind::Float);
    let t = target.reshape([n, cells]);
    let t = &t / t.sum_dim_intlist(1, true, Kind::Float).clamp_min(1e-6);
    let per_joint = -(t * logp).sum_dim_intlist(1, false, Kind::Float);
    let w = match visible {
        Some(v) => v.reshape([n]).to_kind(Kind::Float),
        None => per_joint.ones_like(),
    };
    (per_joint * &w).sum(Kind::Float) / w.sum(Kind::Float).clamp_min(1.0)
}

/// LMMD's classes of labelled frames: for each of `frames`, the share of its people whose box
/// centre falls in each zone of a `grid x grid` split of the translated image (`wh`), and a
/// last class for a frame with nobody. `rois [K, 5]` (frame, x1, y1, x2, y2) -> `[B, grid^2 + 1]`.
pub fn zone_labels(rois: &Tensor, frames: i64, wh: [i64; 2], grid: i64) -> Result<Tensor> {
    if grid < 1 {
        return Err(ModelError::Invalid(format!(
            "lmmd_grid {grid}: must be at least 1"
        )));
    }
    let zones = (grid * grid) as usize;
    let mut weights = vec![0f32; frames as usize * (zones + 1)];
    let rows = Vec::<f32>::try_from(rois.to_kind(Kind::Float).contiguous().view([-1]))?;
    for roi in rows.chunks_exact(5) {
        let b = roi[0] as usize;
        if b >= frames as usize {
            return Err(ModelError::Invalid(format!(
                "ROI of frame {b} in a batch of {frames}"
            )));
        }
        let zone = |centre: f32, size: i64| {
            ((centre / size as f32 * grid as f32).floor() as i64).clamp(0, grid - 1) as usize
        };
        let (zx, zy) = (
            zone((roi[1] + roi[3]) / 2.0, wh[0]),
            zone((roi[2] + roi[4]) / 2.0, wh[1]),
        );
        weights[b * (zones + 1) + zy * grid as usize + zx] += 1.0;
    }
    for frame in weights.chunks_exact_mut(zones + 1) {
        let people: f32 = frame.iter().sum();
        if people == 0.0 {
            frame[zones] = 1.0;
        } else {
            frame.iter_mut().for_each(|v| *v /= people);
        }
    }
    Ok(Tensor::from_slice(&weights)
        .view([frames, zones as i64 + 1])
        .to_device(rois.device()))
}

/// LMMD's pseudo-labels of unlabelled frames from the model's centre map
/// `[B, 1, h, w]` logits: each zone's peak person probability, and "empty" as the chance that
/// no zone holds anyone; normalised per frame -> `[B, grid^2 + 1]`.
pub fn zone_probabilities(center_logits: &Tensor, grid: i64) -> Tensor {
    let b = center_logits.size()[0];
    let peaks = center_logits
        .sigmoid()
        .adaptive_max_pool2d([grid, grid])
        .0
        .view([b, grid * grid]);
    let empty = peaks
        .ones_like()
        .g_sub(&peaks)
        .prod_dim_int(1, true, Kind::Float);
    let all = Tensor::cat(&[peaks, empty], 1);
    &all / all.sum_dim_intlist(1, true, Kind::Float).clamp_min(1e-6)
}

/// Weights of the total DensePose loss (seed 000, section 7.2 defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossWeights {
    /// Part mask cross-entropy.
    pub mask: f64,
    /// UV smooth-L1.
    pub uv: f64,
    /// Keypoint heatmap MSE.
    pub keypoint: f64,
    /// Centre focal loss.
    pub center: f64,
    /// Size and offset L1.
    pub center_regression: f64,
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            mask: 1.0,
            uv: 0.5,
            keypoint: 1.0,
            center: 1.0,
            center_regression: 0.1,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn values(t: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(t.to_kind(Kind::Float).contiguous().view([-1])).unwrap()
    }

    #[test]
    fn keypoint_ce_of_a_flat_prediction_is_the_log_of_the_cells() {
        let opts = (Kind::Float, tch::Device::Cpu);
        let target = Tensor::zeros([1, 2, 4, 4], opts);
        let _ = target.get(0).get(0).get(1).get(2).fill_(1.0);
        // The second joint is invisible: its wild prediction must not count.
        let pred = Tensor::cat(
            &[
                Tensor::zeros([1, 1, 4, 4], opts),
                Tensor::randn([1, 1, 4, 4], opts) * 10.0,
            ],
            1,
        );
        let visible = Tensor::from_slice(&[1i64, 0]).view([1, 2]);
        let ce = keypoint_ce(&pred, &target, Some(&visible)).double_value(&[]);
        assert!((ce - 16f64.ln()).abs() < 1e-5, "{ce}");
        // A prediction peaked on the target costs less than a flat one.
        let peaked = &target * 10.0;
        let sharp = keypoint_ce(&peaked, &target, Some(&visible)).double_value(&[]);
        assert!(sharp < ce, "{sharp} >= {ce}");
    }

    #[test]
    fn zone_labels_share_frames_between_zones_and_empty() {
        // Frame 0: one person top-left, one bottom-right; frame 1: one top-right; frame 2: nobody.
        let rois = Tensor::from_slice(&[
            0f32, 0.0, 0.0, 2.0, 2.0, //
            0.0, 8.0, 8.0, 10.0, 10.0, //
            1.0, 8.0, 0.0, 10.0, 2.0,
        ])
        .view([3, 5]);
        let z = zone_labels(&rois, 3, [12, 12], 2).unwrap();
        assert_eq!(z.size(), [3, 5]);
        assert_eq!(
            values(&z),
            [
                0.5, 0.0, 0.0, 0.5, 0.0, //
                0.0, 1.0, 0.0, 0.0, 0.0, //
                0.0, 0.0, 0.0, 0.0, 1.0,
            ]
        );
        assert!(zone_labels(&rois, 3, [12, 12], 0).is_err());
        assert!(zone_labels(&rois, 1, [12, 12], 2).is_err());
    }

    #[test]
    fn zone_probabilities_are_distributions() {
        let opts = (Kind::Float, tch::Device::Cpu);
        // Frame 0: a confident person in the top-left zone; frame 1: nobody anywhere.
        let logits = Tensor::full([2, 1, 4, 4], -20.0, opts);
        let _ = logits.get(0).get(0).get(0).get(1).fill_(20.0);
        let p = values(&zone_probabilities(&logits, 2));
        assert_eq!(p.len(), 10);
        for frame in p.chunks_exact(5) {
            assert!((frame.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{frame:?}");
        }
        assert!(p[0] > 0.99, "{p:?}");
        assert!(p[9] > 0.99, "{p:?}");
    }
}
