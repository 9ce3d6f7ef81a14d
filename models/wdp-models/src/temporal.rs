//! Temporal consistency module (seed 000, section 6.1): a 2-layer bidirectional
//! LSTM, multi-head self-attention over time, a projection back to the feature
//! size and a residual connection. `[B, T, F] -> [B, T, F]`.
//!
//! Weight names follow the seed's PyTorch module (`temporal_encoder.weight_ih_l0`,
//! `temporal_attention.in_proj_weight`, `output_projection.weight`).

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, nn::ModuleT, nn::RNN, Tensor};

use crate::attention::MultiheadAttention;
use crate::error::{ModelError, Result};
use crate::flops;
use crate::layers::Linear;

/// Temporal module hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemporalConfig {
    /// LSTM hidden size per direction.
    pub hidden_dim: i64,
    /// LSTM layers (2 in the seed).
    pub num_layers: i64,
    /// Attention heads (divide `2 * hidden_dim`).
    pub num_heads: i64,
    /// Attention dropout.
    pub dropout: f64,
}

impl Default for TemporalConfig {
    fn default() -> Self {
        Self {
            hidden_dim: 512,
            num_layers: 2,
            num_heads: 8,
            dropout: 0.1,
        }
    }
}

/// LSTM + attention + residual over a sequence of frame features.
#[derive(Debug)]
pub struct TemporalModule {
    temporal_encoder: nn::LSTM,
    temporal_attention: MultiheadAttention,
    output_projection: Linear,
    feature_dim: i64,
    cfg: TemporalConfig,
}

impl TemporalModule {
    /// Builds the module for `feature_dim` features per frame.
    pub fn new(p: nn::Path, cfg: &TemporalConfig, feature_dim: i64) -> Result<Self> {
        if cfg.num_layers < 1 || cfg.hidden_dim < 1 {
            return Err(ModelError::Invalid(
                "temporal: num_layers and hidden_dim must be >= 1".into(),
            ));
        }
        let rnn_cfg = nn::RNNConfig {
            num_layers: cfg.num_layers,
            bidirectional: true,
            batch_first: true,
            ..Default::default()
        };
        let h2 = 2 * cfg.hidden_dim;
        Ok(Self {
            temporal_encoder: nn::lstm(
                &p / "temporal_encoder",
                feature_dim,
                cfg.hidden_dim,
                rnn_cfg,
            ),
            temporal_attention: MultiheadAttention::new(
                &p / "temporal_attention",
                h2,
                cfg.num_heads,
                cfg.dropout,
            )?,
            output_projection: Linear::new(&p / "output_projection", h2, feature_dim),
            feature_dim,
            cfg: cfg.clone(),
        })
    }

    /// Checked forward: `[B, T, F] -> [B, T, F]`.
    pub fn forward_checked(&self, seq: &Tensor, train: bool) -> Result<Tensor> {
        let size = seq.size();
        if size.len() != 3 || size[1] < 1 || size[2] != self.feature_dim {
            return Err(ModelError::InputShape {
                stage: "temporal".into(),
                expected: format!("[B, T >= 1, {}]", self.feature_dim),
                found: size,
            });
        }
        Ok(self.forward_t(seq, train))
    }
}

impl ModuleT for TemporalModule {
    fn forward_t(&self, seq: &Tensor, train: bool) -> Tensor {
        let size = seq.size();
        let (b, t) = (size[0], size[1]);
        // Gate matmuls: 4 gates x (input + hidden) per step, direction and layer.
        let hd = self.cfg.hidden_dim;
        let per_step =
            4 * hd * (self.feature_dim + hd) + (self.cfg.num_layers - 1) * 4 * hd * (2 * hd + hd);
        flops::add(2 * (2 * per_step * b * t) as u64);
        let (out, _) = self.temporal_encoder.seq(seq); // [B, T, 2H]
        let attended = self.temporal_attention.forward_t(&out, &out, &out, train);
        self.output_projection.forward(&attended) + seq
    }
}
