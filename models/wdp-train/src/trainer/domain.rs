//! Domain alignment to another room: the term between the labelled batch's features and the
//! target room's (gradient reversal, MMD or LMMD with zone classes).

use super::{zone_labels, zone_probabilities, DomainMethod, Trainer};
use crate::targets::Batch;
use eyre::{eyre, Result};
use tch::{Kind, Tensor};
use wdp_models::{losses, DomainDiscriminator, TrainOutputs};

impl Trainer {
    /// The domain term between the labelled batch's features and the target room's.
    pub(super) fn domain_alignment(
        &self,
        method: DomainMethod,
        out: &TrainOutputs,
        batch: &Batch,
        target_window: &Tensor,
    ) -> Result<Tensor> {
        let target_features = self
            .model
            .encoder
            .encode_t(&self.augment(target_window), self.trains("encoder"))?
            .features;
        Ok(match method {
            DomainMethod::Mmd => {
                let bw = losses::default_bandwidths(&out.features, &target_features)?;
                losses::mmd(&out.features, &target_features, &bw)?
            }
            DomainMethod::Lmmd => {
                let source = zone_labels(
                    &batch.rois,
                    batch.window.size()[0],
                    self.geometry.translated_wh,
                    self.config.lmmd_grid,
                )?;
                let target = tch::no_grad(|| -> Result<Tensor> {
                    let spatial = self
                        .model
                        .upsampler
                        .forward_checked(&target_features.detach(), false)?;
                    let person = self.model.stage.person_maps(&spatial, false)?;
                    Ok(zone_probabilities(
                        &person.center_logits,
                        self.config.lmmd_grid,
                    ))
                })?;
                let bw = losses::default_bandwidths(&out.features, &target_features)?;
                losses::lmmd_weighted(&out.features, &target_features, &source, &target, &bw)?
            }
            DomainMethod::Adversarial => {
                let (_, d) = self
                    .discriminator
                    .as_ref()
                    .ok_or_else(|| eyre!("no domain discriminator"))?;
                // DANN's schedule for the reversal strength: 0 -> 1 over the run.
                let p = self.step as f64 / self.config.steps.max(1) as f64;
                let lambda = 2.0 / (1.0 + (-10.0 * p).exp()) - 1.0;
                let feats = Tensor::cat(&[&out.features, &target_features], 0);
                let opts = (Kind::Float, feats.device());
                let labels = Tensor::cat(
                    &[
                        Tensor::zeros([out.features.size()[0]], opts),
                        Tensor::ones([target_features.size()[0]], opts),
                    ],
                    0,
                );
                DomainDiscriminator::loss(&d.forward_t(&feats, lambda, true), &labels)?
            }
        })
    }
}
