//! Spatial upsampling / modality translation (seed 000, section 3.4):
//! `features [B, F] -> spatial [B, 3, H, W]`.
//!
//! A linear projection to a `base_channels x H/2^n x W/2^n` map, `n` blocks of
//! (ConvTranspose2d x2, BN, ReLU, Conv3x3, BN, ReLU), a final 3x3 conv to 3
//! channels and a sigmoid. `H`, `W`, channels and `n` come from the preset.

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, nn::ModuleT, Tensor};

use crate::error::{ModelError, Result};
use crate::layers::{Conv2d, Conv2dSpec, ConvTranspose2dUp2, Linear};

/// Upsampler hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpsamplerConfig {
    /// Output height H (divisible by `2^len(block_channels)` and by the backbone's stride 4 / patch size).
    pub out_height: i64,
    /// Output width W.
    pub out_width: i64,
    /// Channels of the projected low-resolution map.
    pub base_channels: i64,
    /// Output channels of each x2 upsampling block.
    pub block_channels: Vec<i64>,
}

impl Default for UpsamplerConfig {
    fn default() -> Self {
        Self {
            out_height: 720,
            out_width: 1280,
            base_channels: 64,
            block_channels: vec![128, 256, 128, 64],
        }
    }
}

impl UpsamplerConfig {
    /// Size of the projected map `(h0, w0)`.
    pub fn initial_size(&self) -> (i64, i64) {
        let n = self.block_channels.len() as u32;
        (self.out_height >> n, self.out_width >> n)
    }
}

#[derive(Debug)]
struct UpBlock {
    up: ConvTranspose2dUp2,
    bn1: nn::BatchNorm,
    conv: Conv2d,
    bn2: nn::BatchNorm,
}

/// Modality translation network.
#[derive(Debug)]
pub struct SpatialUpsampler {
    projection: Linear,
    blocks: Vec<UpBlock>,
    final_conv: Conv2d,
    cfg: UpsamplerConfig,
    feature_dim: i64,
}

impl SpatialUpsampler {
    /// Builds the upsampler for `feature_dim` input features.
    pub fn new(p: nn::Path, cfg: &UpsamplerConfig, feature_dim: i64) -> Result<Self> {
        let n = cfg.block_channels.len() as u32;
        if cfg.out_height <= 0
            || cfg.out_width <= 0
            || cfg.out_height % (1 << n) != 0
            || cfg.out_width % (1 << n) != 0
        {
            return Err(ModelError::Invalid(format!(
                "upsampler: output {}x{} is not divisible by 2^{n}",
                cfg.out_height, cfg.out_width
            )));
        }
        let (h0, w0) = cfg.initial_size();
        let projection = Linear::new(
            &p / "projection" / 0,
            feature_dim,
            cfg.base_channels * h0 * w0,
        );
        let mut blocks = Vec::new();
        let mut cin = cfg.base_channels;
        let bp = &p / "upsampling_blocks";
        for (i, &cout) in cfg.block_channels.iter().enumerate() {
            let q = &bp / i;
            blocks.push(UpBlock {
                up: ConvTranspose2dUp2::new(&q / 0, cin, cout),
                bn1: nn::batch_norm2d(&q / 1, cout, Default::default()),
                conv: Conv2d::new(&q / 3, cout, cout, Conv2dSpec::same(3)),
                bn2: nn::batch_norm2d(&q / 4, cout, Default::default()),
            });
            cin = cout;
        }
        let final_conv = Conv2d::new(&p / "final_conv", cin, 3, Conv2dSpec::same(3));
        Ok(Self {
            projection,
            blocks,
            final_conv,
            cfg: cfg.clone(),
            feature_dim,
        })
    }

    /// Output size `(H, W)`.
    pub fn out_size(&self) -> (i64, i64) {
        (self.cfg.out_height, self.cfg.out_width)
    }

    /// Checked forward: `[B, F] -> [B, 3, H, W]`.
    pub fn forward_checked(&self, features: &Tensor, train: bool) -> Result<Tensor> {
        let size = features.size();
        if size.len() != 2 || size[1] != self.feature_dim {
            return Err(ModelError::InputShape {
                stage: "upsampler".into(),
                expected: format!("[B, {}]", self.feature_dim),
                found: size,
            });
        }
        Ok(self.forward_t(features, train))
    }
}

impl ModuleT for SpatialUpsampler {
    fn forward_t(&self, features: &Tensor, train: bool) -> Tensor {
        let b = features.size()[0];
        let (h0, w0) = self.cfg.initial_size();
        // [B, F] -> [B, C0*h0*w0] -> [B, C0, h0, w0]
        let mut x =
            self.projection
                .forward(features)
                .relu()
                .view([b, self.cfg.base_channels, h0, w0]);
        for blk in &self.blocks {
            x = blk.bn1.forward_t(&blk.up.forward(&x), train).relu();
            x = blk.bn2.forward_t(&blk.conv.forward(&x), train).relu();
        }
        self.final_conv.forward(&x).sigmoid()
    }
}
