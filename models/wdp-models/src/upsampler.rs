//! Spatial upsampling / modality translation (seed 000, section 3.4):
//! `features [B, F] -> spatial [B, 3, H, W]`.
//!
//! A linear projection to a `base_channels x H/2^n x W/2^n` map, `n` blocks of
//! (ConvTranspose2d x2, BN, ReLU, Conv3x3, BN, ReLU), a final 3x3 conv to 3
//! channels and a sigmoid. `H`, `W`, channels and `n` come from the preset.
//!
//! With `locator_hidden > 0` a location-first head (an MLP from the features to person-centre
//! logits on the stride-4 grid of the person maps) is trained directly on the centre heatmap,
//! and its logits, upsampled, are added to the foreground channel before the sigmoid: the
//! picture is drawn where the features say people are. Without it the only path from the
//! features to a position is the picture's MSE, which a blurred room prior nearly minimises.
//!
//! With `count_classes > 0` a count head (layer norm -> linear) reads the same features and
//! gives the logits of 0..count_classes-1 people: a frame's count decided once, from the whole
//! window, rather than by how many peaks of a centre map clear a threshold.

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, nn::ModuleT, Tensor};

use crate::error::{ModelError, Result};
use crate::floor::{FloorConfig, FloorHead};
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
    /// Hidden width of the location-first head (person-centre logits on the `H/4 x W/4` grid,
    /// added to the foreground channel); 0 leaves it out (the seed's upsampler).
    #[serde(default)]
    pub locator_hidden: i64,
    /// Layer-normalise the features at the locator's input: its hidden ReLUs then see inputs of
    /// unit scale whatever the encoder's, and cannot all fall silent (measured: without it, a
    /// run's locator collapsed to a constant map by step 5 700).
    #[serde(default)]
    pub locator_norm: bool,
    /// Classes of the count head (0..count_classes-1 people, the last also "that many or
    /// more"); 0 leaves it out. Measured: a linear softmax on a trained model's frozen features
    /// names the count of new sequences of its rooms in 83% of frames where its centre map's
    /// peaks do in 17% (MODEL_CARD.md).
    #[serde(default)]
    pub count_classes: i64,
    /// The floor-position head (logits over a grid of the room's floor, [`crate::floor`]);
    /// absent leaves it out.
    #[serde(default)]
    pub floor: Option<FloorConfig>,
}

impl Default for UpsamplerConfig {
    fn default() -> Self {
        Self {
            out_height: 720,
            out_width: 1280,
            base_channels: 64,
            block_channels: vec![128, 256, 128, 64],
            locator_hidden: 0,
            locator_norm: false,
            count_classes: 0,
            floor: None,
        }
    }
}

impl UpsamplerConfig {
    /// Size of the projected map `(h0, w0)`.
    pub fn initial_size(&self) -> (i64, i64) {
        let n = self.block_channels.len() as u32;
        (self.out_height >> n, self.out_width >> n)
    }

    /// Size of the locator's grid `(H/4, W/4)`: the person maps' (stride 4).
    pub fn locator_size(&self) -> (i64, i64) {
        (
            self.out_height / LOCATOR_STRIDE,
            self.out_width / LOCATOR_STRIDE,
        )
    }
}

/// The location-first head: [norm ->] linear -> ReLU -> linear to the centre logits.
#[derive(Debug)]
struct Locator {
    norm: Option<nn::LayerNorm>,
    hidden: Linear,
    out: Linear,
}

/// The upsampler's outputs: the translated image `[B, 3, H, W]` and, when it has those heads,
/// the locator's centre logits `[B, 1, H/4, W/4]` and the count logits `[B, C]`.
#[derive(Debug)]
pub struct Translated {
    /// The translated image.
    pub spatial: Tensor,
    /// The locator's person-centre logits.
    pub locator: Option<Tensor>,
    /// The count head's logits.
    pub count: Option<Tensor>,
    /// The floor head's logits `[B, ny, nx]`.
    pub floor: Option<Tensor>,
}

impl Translated {
    /// Weighs each frame's radio floor image (values in `[0, 1]`, `None`: it has none) into the
    /// floor logits as the floor head's `radio_map_weight` and `radio_map_floor` say
    /// ([`crate::floor::fuse_radio_map`]); nothing without a floor head, logits or weight.
    pub fn weigh_radio_map(
        &mut self,
        floor: Option<&FloorConfig>,
        maps: &[Option<&[f32]>],
    ) -> crate::error::Result<()> {
        let Some(floor) = floor.filter(|f| f.radio_map_weight > 0.0) else {
            return Ok(());
        };
        if let Some(logits) = &self.floor {
            self.floor = Some(crate::floor::fuse_radio_map(
                logits,
                maps,
                floor.radio_map_weight,
                floor.radio_map_floor,
            )?);
        }
        Ok(())
    }

    /// The location-first heads' outputs, for [`crate::DensePoseStage::forward_located_t`].
    pub fn located(&self) -> crate::Located<'_> {
        crate::Located {
            locator: self.locator.as_ref(),
            count: self.count.as_ref(),
            floor: self.floor.as_ref(),
        }
    }
}

/// The count head: norm -> linear to the logits of 0..C-1 people.
#[derive(Debug)]
struct CountHead {
    norm: nn::LayerNorm,
    out: Linear,
}

/// Stride of the locator's grid in translated-image pixels (the backbones' person-map stride).
pub const LOCATOR_STRIDE: i64 = 4;

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
    locator: Option<Locator>,
    count: Option<CountHead>,
    floor: Option<FloorHead>,
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
        if cfg.locator_hidden < 0
            || (cfg.locator_hidden > 0
                && (cfg.out_height % LOCATOR_STRIDE != 0 || cfg.out_width % LOCATOR_STRIDE != 0))
        {
            return Err(ModelError::Invalid(format!(
                "upsampler.locator_hidden {} needs a width >= 0 and an output divisible by {LOCATOR_STRIDE}",
                cfg.locator_hidden
            )));
        }
        let locator = (cfg.locator_hidden > 0).then(|| {
            let (h, w) = cfg.locator_size();
            Locator {
                norm: cfg.locator_norm.then(|| {
                    nn::layer_norm(
                        &p / "locator" / "norm",
                        vec![feature_dim],
                        Default::default(),
                    )
                }),
                hidden: Linear::new(&p / "locator" / 0, feature_dim, cfg.locator_hidden),
                // Bias -2.19: a centre probability of 0.1 on every cell at the start, the person
                // head's (CenterNet's) focal-loss prior; at 0 the first steps' loss is 56.
                out: Linear::with_bias_init(&p / "locator" / 2, cfg.locator_hidden, h * w, -2.19),
            }
        });
        if cfg.count_classes < 0 || cfg.count_classes == 1 {
            return Err(ModelError::Invalid(format!(
                "upsampler.count_classes {} must be 0 (no count head) or >= 2",
                cfg.count_classes
            )));
        }
        let count = (cfg.count_classes > 0).then(|| CountHead {
            norm: nn::layer_norm(&p / "count" / "norm", vec![feature_dim], Default::default()),
            out: Linear::new(&p / "count" / "out", feature_dim, cfg.count_classes),
        });
        let floor = cfg
            .floor
            .as_ref()
            .map(|f| FloorHead::new(&p / "floor", f, feature_dim))
            .transpose()?;
        Ok(Self {
            projection,
            blocks,
            final_conv,
            locator,
            count,
            floor,
            cfg: cfg.clone(),
            feature_dim,
        })
    }

    /// Output size `(H, W)`.
    pub fn out_size(&self) -> (i64, i64) {
        (self.cfg.out_height, self.cfg.out_width)
    }

    /// Checks that `features` are `[B, F]` with this upsampler's F.
    pub fn check_input(&self, features: &Tensor) -> Result<()> {
        let size = features.size();
        if size.len() != 2 || size[1] != self.feature_dim {
            return Err(ModelError::InputShape {
                stage: "upsampler".into(),
                expected: format!("[B, {}]", self.feature_dim),
                found: size,
            });
        }
        Ok(())
    }

    /// Checked forward: `[B, F] -> [B, 3, H, W]`.
    pub fn forward_checked(&self, features: &Tensor, train: bool) -> Result<Tensor> {
        self.check_input(features)?;
        Ok(self.forward_located(features, train).0)
    }

    /// Checked: the translated image and what the location-first heads say.
    pub fn forward_located_checked(&self, features: &Tensor, train: bool) -> Result<Translated> {
        self.check_input(features)?;
        let (spatial, locator) = self.forward_located(features, train);
        Ok(Translated {
            spatial,
            locator,
            count: self.count_logits(features),
            floor: self.floor_logits(features),
        })
    }

    /// The translated image and, with a locator, its person-centre logits `[B, 1, H/4, W/4]`
    /// (what the trainer supervises with the centre heatmap).
    pub fn forward_located(&self, features: &Tensor, train: bool) -> (Tensor, Option<Tensor>) {
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
        let x = self.final_conv.forward(&x);
        match &self.locator {
            None => (x.sigmoid(), None),
            Some(l) => {
                let (h, w) = self.cfg.locator_size();
                let input = match &l.norm {
                    Some(norm) => norm.forward(features),
                    None => features.shallow_clone(),
                };
                let logits = l
                    .out
                    .forward(&l.hidden.forward(&input).relu())
                    .view([b, 1, h, w]);
                let (oh, ow) = self.out_size();
                let up = logits.upsample_bilinear2d([oh, ow], false, None, None);
                let foreground = (x.narrow(1, 0, 1) + up).sigmoid();
                let rest = x.narrow(1, 1, 2).sigmoid();
                (Tensor::cat(&[foreground, rest], 1), Some(logits))
            }
        }
    }

    /// The floor head's logits `[B, ny, nx]` of `features [B, F]`, when it has one.
    pub fn floor_logits(&self, features: &Tensor) -> Option<Tensor> {
        self.floor.as_ref().map(|f| f.logits(features))
    }

    /// The count head's logits `[B, count_classes]` of `features [B, F]`, when it has one.
    pub fn count_logits(&self, features: &Tensor) -> Option<Tensor> {
        self.count
            .as_ref()
            .map(|c| c.out.forward(&c.norm.forward(features)))
    }
}

impl ModuleT for SpatialUpsampler {
    fn forward_t(&self, features: &Tensor, train: bool) -> Tensor {
        self.forward_located(features, train).0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// The locator's logits are on the person maps' grid, and the picture's foreground is
    /// drawn where they point: a large bias on one cell lights that place and no other.
    #[test]
    fn the_foreground_is_drawn_where_the_locator_points() {
        tch::manual_seed(0);
        let cfg = UpsamplerConfig {
            out_height: 32,
            out_width: 48,
            base_channels: 4,
            block_channels: vec![4, 4],
            locator_hidden: 8,
            locator_norm: true,
            count_classes: 0,
            floor: None,
        };
        let mut vs = nn::VarStore::new(Device::Cpu);
        let up = SpatialUpsampler::new(vs.root(), &cfg, 16).unwrap();
        let (h, w) = cfg.locator_size();
        assert_eq!((h, w), (8, 12));
        // Cell (row 2, column 9): centre pixel (2.5 * 4, 9.5 * 4) = (10, 38).
        let bias = Tensor::full([h * w], -20.0, (Kind::Float, Device::Cpu));
        let _ = bias.get(2 * w + 9).fill_(40.0);
        tch::no_grad(|| {
            let mut vars = vs.variables();
            vars.get_mut("locator.2.bias").unwrap().copy_(&bias);
            let _ = vars.get_mut("locator.2.weight").unwrap().zero_();
        });
        vs.freeze();
        let features = Tensor::randn([3, 16], (Kind::Float, Device::Cpu));
        let (spatial, logits) = up.forward_located(&features, false);
        assert_eq!(logits.unwrap().size(), [3, 1, h, w]);
        assert_eq!(spatial.size(), [3, 3, 32, 48]);
        let fg = spatial.select(1, 0);
        for b in 0..3 {
            assert!(
                fg.double_value(&[b, 10, 38]) > 0.99,
                "{}",
                fg.double_value(&[b, 10, 38])
            );
            assert!(
                fg.double_value(&[b, 26, 6]) < 0.01,
                "{}",
                fg.double_value(&[b, 26, 6])
            );
        }
        // Without a locator there are no logits and the picture is the seed's.
        let plain = SpatialUpsampler::new(
            nn::VarStore::new(Device::Cpu).root(),
            &UpsamplerConfig {
                locator_hidden: 0,
                ..cfg
            },
            16,
        )
        .unwrap();
        assert!(plain.forward_located(&features, false).1.is_none());
    }
}
