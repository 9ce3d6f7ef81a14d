//! The loss of one forward pass: the supervised terms (centres, boxes, translation, locator,
//! parts, UV, keypoints), then distillation and domain alignment when they are on.

use super::{keypoint_ce, StepLosses, Trainer};
use crate::targets::Batch;
use eyre::Result;
use tch::{Kind, Tensor};
use wdp_models::{losses, model::densepose_loss, TrainOutputs};

impl Trainer {
    /// The loss of one forward pass `out` of the (augmented) `window` against `batch`: the
    /// supervised terms, distillation when a teacher is set, domain alignment with a target.
    pub(super) fn objective(
        &self,
        out: &TrainOutputs,
        window: &Tensor,
        batch: &Batch,
        target_window: Option<&Tensor>,
        report: &mut StepLosses,
    ) -> Result<Tensor> {
        let w = &self.config.weights;
        let k = batch.rois.size()[0];
        let center = losses::center_focal_loss(
            &out.stage.person.center_logits,
            &batch.targets.center.heatmap,
        )?;
        let t = &batch.targets;
        let regression =
            losses::center_regression_l1(&out.stage.person.size, &t.center.size, &t.center.mask)?
                + losses::center_regression_l1(
                    &out.stage.person.offset,
                    &t.center.offset,
                    &t.center.mask,
                )?;
        // Person pixels count more: people cover a small part of the picture.
        let fg_weight = batch.spatial.select(1, 0).unsqueeze(1) * w.translation_foreground + 1.0;
        let translation = ((&out.spatial - &batch.spatial).square() * fg_weight).mean(Kind::Float);
        report.translation = translation.double_value(&[]);
        let mut total =
            &center * w.center + &regression * w.center_regression + &translation * w.translation;
        if let Some(logits) = &out.locator_logits {
            // Where people are, straight from the features (the upsampler's location-first head).
            let locator = losses::center_focal_loss(logits, &batch.targets.center.heatmap)?;
            report.locator = locator.double_value(&[]);
            total += locator * w.locator;
        }
        if let Some(logits) = &out.count_logits {
            // How many people, decided once per frame from the features.
            let last = logits.size()[1] - 1;
            let people: Vec<i64> = batch.people.iter().map(|&n| (n as i64).min(last)).collect();
            let target = Tensor::from_slice(&people).to_device(logits.device());
            let count = logits.cross_entropy_for_logits(&target);
            report.count = count.double_value(&[]);
            total += count * w.count;
        }
        if let (Some(logits), Some(grid)) =
            (&out.floor_logits, &self.model.preset().upsampler.floor)
        {
            // Where people stand, in metres, from the same features.
            let targets: Vec<_> = batch.floor_xy.iter().map(|xy| grid.target(xy)).collect();
            let floor = wdp_models::floor::floor_loss(logits, &targets)?;
            report.floor = floor.double_value(&[]);
            total += floor * w.floor;
        }
        report.center = center.double_value(&[]);
        report.center_regression = regression.double_value(&[]);
        if k > 0 {
            let dp = densepose_loss(
                &out.stage,
                t,
                &losses::LossWeights {
                    mask: w.mask,
                    uv: w.uv,
                    keypoint: w.keypoint,
                    center: 0.0,
                    center_regression: 0.0,
                },
            )?;
            // Camera-teacher labels know where the person is, not which part: their person
            // pixels (target -100, left out of the part cross-entropy) are pulled to "some
            // part", the box's other pixels to background by the cross-entropy.
            let has_known = t.part_index.ge(0).any().int64_value(&[]) == 1;
            let known = if has_known {
                dp.mask.shallow_clone()
            } else {
                dp.mask.zeros_like()
            };
            let mask = known
                + losses::foreground_ce(&out.stage.densepose.mask_logits, &t.part_index.eq(-100))?;
            let ce = keypoint_ce(
                &out.stage.densepose.keypoint_heatmaps,
                &t.keypoint_heatmaps,
                t.keypoint_visible.as_ref(),
            );
            total = total
                + &mask * w.mask
                + &dp.uv * w.uv
                + &dp.keypoint * w.keypoint
                + &ce * w.keypoint_ce;
            report.mask = mask.double_value(&[]);
            report.uv = dp.uv.double_value(&[]);
            report.keypoint = dp.keypoint.double_value(&[]);
        }
        if let Some(teacher) = &self.teacher {
            let distill = self.distillation(teacher, window, batch, out)?;
            report.distill += distill.double_value(&[]);
            total += distill;
        }
        // A teacher node's features of the same moments (live training): seed 000's transfer
        // term against them.
        if let Some(tf) = &batch.teacher_features {
            let transfer = losses::feature_distillation(&out.features, tf)? * w.feature_distill;
            report.distill += transfer.double_value(&[]);
            total += transfer;
        }
        if let (Some(method), Some(tw)) = (self.config.domain, target_window) {
            let domain = self.domain_alignment(method, out, batch, tw)?;
            report.domain = domain.double_value(&[]);
            total += domain * w.domain;
        }
        Ok(total)
    }
}
