//! Distillation: the frozen teacher (and the projection of the student's channels to its
//! own), and every distillation term against it.

use super::{load_trained, Trainer};
use crate::targets::Batch;
use eyre::{eyre, Context, Result};
use std::path::Path;
use tch::{nn, nn::Module, Tensor};
use wdp_models::{losses, InputDims, Preset, TrainOutputs, WifiDensePose};

/// A frozen model to distil from, and the student-to-teacher channel projection of the
/// token terms when their backbone widths differ (trained with the student, not saved).
pub(super) struct Teacher {
    _vs: nn::VarStore,
    model: WifiDensePose,
    projection: Option<(nn::VarStore, nn::Linear)>,
}

/// Optimiser group of the distillation projection.
const PROJECTION_GROUP: usize = 5;

impl Trainer {
    /// Distil from a trained model (any preset with the same input dims and translated size).
    pub fn set_teacher(&mut self, preset: &str, path: &Path, dims: InputDims) -> Result<()> {
        let preset = Preset::load(preset)?;
        let (mut vs, model) = load_trained(&preset, dims, path, self.vs.device())
            .wrap_err_with(|| format!("teacher {}", path.display()))?;
        vs.freeze();
        let (student_c, teacher_c) = (self.model.stage.out_channels(), model.stage.out_channels());
        let projection = if student_c == teacher_c {
            None
        } else {
            let pvs = nn::VarStore::new(self.vs.device());
            let linear = nn::linear(
                pvs.root() / "distill_projection",
                student_c,
                teacher_c,
                Default::default(),
            );
            let mut names: Vec<(String, Tensor)> = pvs.variables().into_iter().collect();
            names.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, t) in names {
                self.opt.add(name, &t, PROJECTION_GROUP)?;
            }
            if !self.groups.iter().any(|(g, _)| *g == PROJECTION_GROUP) {
                self.groups.push((PROJECTION_GROUP, 1.0));
            }
            Some((pvs, linear))
        };
        self.teacher = Some(Teacher {
            _vs: vs,
            model,
            projection,
        });
        Ok(())
    }

    /// Every distillation term against `teacher` on the same (augmented) input and ROIs:
    /// seed 000's feature MSE and soft targets (part logits at temperature, heatmap MSE) and
    /// seed 003's keypoint tokens, visual tokens and coordinate classification.
    pub(super) fn distillation(
        &self,
        teacher: &Teacher,
        window: &Tensor,
        batch: &Batch,
        out: &TrainOutputs,
    ) -> Result<Tensor> {
        let w = &self.config.weights;
        let tout = tch::no_grad(|| teacher.model.forward_t(window, Some(&batch.rois), false))?;
        let mut distill =
            losses::feature_distillation(&out.features, &tout.features)? * w.feature_distill;
        let project = |t: &Tensor| match &teacher.projection {
            Some((_, linear)) => linear.forward(t),
            None => t.shallow_clone(),
        };
        if w.visual_token > 0.0 {
            let (s, t) = (&out.stage.backbone_features, &tout.stage.backbone_features);
            if s.size()[2..] != t.size()[2..] {
                return Err(eyre!(
                    "visual tokens: student map {:?} and teacher map {:?} differ in size",
                    s.size(),
                    t.size()
                ));
            }
            // [B, C, h, w] -> tokens [B, h*w, C].
            let tokens = |m: &Tensor| m.flatten(2, 3).transpose(1, 2);
            distill += losses::token_mse(&project(&tokens(s)), &tokens(t))? * w.visual_token;
        }
        if batch.rois.size()[0] > 0 {
            let (sd, td) = (&out.stage.densepose, &tout.stage.densepose);
            distill +=
                (losses::soft_target_kl(&sd.mask_logits, &td.mask_logits, w.temperature, 1)?
                    + sd.keypoint_heatmaps
                        .mse_loss(&td.keypoint_heatmaps, tch::Reduction::Mean)
                        * w.keypoint)
                    * w.soft_distill;
            if w.keypoint_token > 0.0 {
                let sampling = self.model.preset().head.sampling_ratio;
                let tokens = |features: &Tensor, heat: &Tensor, stride: i64| {
                    losses::keypoint_tokens(features, &batch.rois, heat, stride, sampling)
                };
                let s = tokens(
                    &out.stage.backbone_features,
                    &sd.keypoint_heatmaps,
                    self.model.stage.stride(),
                )?;
                let t = tokens(
                    &tout.stage.backbone_features,
                    &td.keypoint_heatmaps,
                    teacher.model.stage.stride(),
                )?;
                distill += losses::token_mse(&project(&s), &t)? * w.keypoint_token;
            }
            if w.coordinate > 0.0 {
                distill += losses::coordinate_kl(
                    &sd.keypoint_heatmaps,
                    &td.keypoint_heatmaps,
                    w.temperature,
                )? * w.coordinate;
            }
        }
        Ok(distill)
    }
}
