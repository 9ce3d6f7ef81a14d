//! Shard mode (no live inputs): the `DATASET` folders in shuffled epochs until `STEPS`.

use crate::config::Settings;
use crate::model::{build_trainer, metrics_path, report, run_options, send_loss};
use dora_node_api::DoraNode;
use eyre::{eyre, Result};
use wdp_node::announce;

/// Trains on the datasets, sending every step's losses on `loss`.
pub fn train(node: &mut DoraNode, settings: &Settings) -> Result<()> {
    if settings.datasets.is_empty() {
        return Err(eyre!(
            "DATASET is required (dataset folders, comma-separated) when no live inputs are wired"
        ));
    }
    let samples = wdp_train::data::load_datasets(&settings.datasets, &settings.load_options())?;
    let target = wdp_train::data::load_datasets(&settings.target, &settings.load_options())?;
    if settings.config.domain.is_some() && target.is_empty() {
        return Err(eyre!("DOMAIN needs TARGET datasets"));
    }
    let first = samples
        .first()
        .ok_or_else(|| eyre!("no frames in DATASET"))?;
    let mut trainer = build_trainer(settings, first.window_shape)?;
    let metrics = metrics_path(settings);
    let mut send_error = None;
    let summary = wdp_train::train(
        &mut trainer,
        &samples,
        &target,
        &run_options(settings, &metrics),
        |l| {
            if let Err(e) = send_loss(node, l) {
                send_error.get_or_insert(e);
            }
        },
    )?;
    if let Some(e) = send_error {
        tracing::warn!("sending `loss`: {e}");
    }
    announce(&format!("trainer: {}", report(&summary, settings)));
    Ok(())
}
