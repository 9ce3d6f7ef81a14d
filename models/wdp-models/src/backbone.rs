//! ResNet (BasicBlock, BatchNorm; configurable depth and width) + FPN
//! (seed 000, section 4.2), with torchvision's weight names (`conv1`, `bn1`,
//! `layer1.0.conv1`, `layer2.0.downsample.0`, `fpn.inner_blocks.0`,
//! `fpn.layer_blocks.0`).
//!
//! `spatial [B, C_in, H, W]` -> FPN levels P2..P5 `[B, fpn_channels, H/4..H/32, W/4..W/32]`
//! (coarser levels round up when H, W are not multiples of 32, e.g. 720 -> 23 rows at
//! stride 32; the top-down path resizes to each lateral's size).

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, nn::ModuleT, Tensor};

use crate::error::{ModelError, Result};
use crate::gfl::{GflBackbone, GflBackboneConfig};
use crate::layers::{Conv2d, Conv2dSpec};

/// ResNet-FPN hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResNetFpnConfig {
    /// Channels of the 7x7 stem.
    pub stem_channels: i64,
    /// Output channels of the four stages.
    pub stage_channels: Vec<i64>,
    /// BasicBlocks per stage (`[2,2,2,2]` ResNet-18, `[3,4,6,3]` ResNet-34).
    pub stage_blocks: Vec<i64>,
    /// FPN output channels.
    pub fpn_channels: i64,
}

impl Default for ResNetFpnConfig {
    fn default() -> Self {
        Self {
            stem_channels: 64,
            stage_channels: vec![64, 128, 256, 512],
            stage_blocks: vec![3, 4, 6, 3],
            fpn_channels: 256,
        }
    }
}

/// Which backbone a preset uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackboneKind {
    /// [`ResNetFpn`].
    ResnetFpn,
    /// [`GflBackbone`].
    Gfl,
}

/// Backbone section of a preset: the kind and the settings of each kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackboneConfig {
    /// Backbone to build.
    pub kind: BackboneKind,
    /// ResNet-FPN settings (used when `kind: resnet_fpn`).
    #[serde(default)]
    pub resnet_fpn: ResNetFpnConfig,
    /// GFL settings (used when `kind: gfl`).
    #[serde(default)]
    pub gfl: GflBackboneConfig,
}

impl Default for BackboneConfig {
    fn default() -> Self {
        Self {
            kind: BackboneKind::ResnetFpn,
            resnet_fpn: Default::default(),
            gfl: Default::default(),
        }
    }
}

#[derive(Debug)]
struct BasicBlock {
    conv1: Conv2d,
    bn1: nn::BatchNorm,
    conv2: Conv2d,
    bn2: nn::BatchNorm,
    downsample: Option<(Conv2d, nn::BatchNorm)>,
}

impl BasicBlock {
    fn new(p: nn::Path, cin: i64, cout: i64, stride: i64) -> Self {
        let c3 = |s| Conv2dSpec {
            k: 3,
            stride: s,
            padding: 1,
            bias: false,
        };
        let downsample = (stride != 1 || cin != cout).then(|| {
            let spec = Conv2dSpec {
                k: 1,
                stride,
                padding: 0,
                bias: false,
            };
            (
                Conv2d::new(&p / "downsample" / 0, cin, cout, spec),
                nn::batch_norm2d(&p / "downsample" / 1, cout, Default::default()),
            )
        });
        Self {
            conv1: Conv2d::new(&p / "conv1", cin, cout, c3(stride)),
            bn1: nn::batch_norm2d(&p / "bn1", cout, Default::default()),
            conv2: Conv2d::new(&p / "conv2", cout, cout, c3(1)),
            bn2: nn::batch_norm2d(&p / "bn2", cout, Default::default()),
            downsample,
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = self.bn1.forward_t(&self.conv1.forward(x), train).relu();
        let y = self.bn2.forward_t(&self.conv2.forward(&y), train);
        let skip = match &self.downsample {
            Some((conv, bn)) => bn.forward_t(&conv.forward(x), train),
            None => x.shallow_clone(),
        };
        (y + skip).relu()
    }
}

/// ResNet with a Feature Pyramid Network on top.
#[derive(Debug)]
pub struct ResNetFpn {
    conv1: Conv2d,
    bn1: nn::BatchNorm,
    layers: Vec<Vec<BasicBlock>>,
    inner_blocks: Vec<Conv2d>,
    layer_blocks: Vec<Conv2d>,
    cfg: ResNetFpnConfig,
}

impl ResNetFpn {
    /// Builds the network for `in_channels` input channels (3 for the translated image).
    pub fn new(p: nn::Path, cfg: &ResNetFpnConfig, in_channels: i64) -> Result<Self> {
        if cfg.stage_channels.len() != 4 || cfg.stage_blocks.len() != 4 {
            return Err(ModelError::Invalid(
                "resnet_fpn: stage_channels and stage_blocks need 4 entries".into(),
            ));
        }
        if cfg.stage_blocks.iter().any(|&b| b < 1) {
            return Err(ModelError::Invalid(
                "resnet_fpn: every stage needs at least one block".into(),
            ));
        }
        let stem = Conv2dSpec {
            k: 7,
            stride: 2,
            padding: 3,
            bias: false,
        };
        let conv1 = Conv2d::new(&p / "conv1", in_channels, cfg.stem_channels, stem);
        let bn1 = nn::batch_norm2d(&p / "bn1", cfg.stem_channels, Default::default());
        let mut layers = Vec::new();
        let mut cin = cfg.stem_channels;
        for (i, (&cout, &n)) in cfg.stage_channels.iter().zip(&cfg.stage_blocks).enumerate() {
            let lp = &p / format!("layer{}", i + 1);
            let stride = if i == 0 { 1 } else { 2 };
            let mut blocks = Vec::new();
            for j in 0..n {
                blocks.push(BasicBlock::new(
                    &lp / j,
                    cin,
                    cout,
                    if j == 0 { stride } else { 1 },
                ));
                cin = cout;
            }
            layers.push(blocks);
        }
        let fp = &p / "fpn";
        let f = cfg.fpn_channels;
        let inner_blocks = cfg
            .stage_channels
            .iter()
            .enumerate()
            .map(|(i, &c)| Conv2d::new(&fp / "inner_blocks" / i, c, f, Conv2dSpec::same(1)))
            .collect();
        let layer_blocks = (0..4)
            .map(|i| Conv2d::new(&fp / "layer_blocks" / i, f, f, Conv2dSpec::same(3)))
            .collect();
        Ok(Self {
            conv1,
            bn1,
            layers,
            inner_blocks,
            layer_blocks,
            cfg: cfg.clone(),
        })
    }

    /// FPN output channels.
    pub fn out_channels(&self) -> i64 {
        self.cfg.fpn_channels
    }

    /// `[B, C, H, W]` -> `[P2, P3, P4, P5]`, each `[B, fpn_channels, H/s, W/s]`, s = 4, 8, 16, 32.
    pub fn forward_levels(&self, x: &Tensor, train: bool) -> Vec<Tensor> {
        let mut x = self.bn1.forward_t(&self.conv1.forward(x), train).relu();
        x = x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        let mut stages = Vec::new();
        for layer in &self.layers {
            for blk in layer {
                x = blk.forward_t(&x, train);
            }
            stages.push(x.shallow_clone());
        }
        // Top-down pathway with lateral connections.
        let mut last_inner = self.inner_blocks[3].forward(&stages[3]);
        let mut results = vec![self.layer_blocks[3].forward(&last_inner)];
        for i in (0..3).rev() {
            let lateral = self.inner_blocks[i].forward(&stages[i]);
            let size = lateral.size();
            let top_down = last_inner.upsample_nearest2d([size[2], size[3]], None, None);
            last_inner = lateral + top_down;
            results.insert(0, self.layer_blocks[i].forward(&last_inner));
        }
        results
    }
}

/// The backbone of the DensePose stage: ResNet-FPN or GFL.
#[derive(Debug)]
pub enum Backbone {
    /// ResNet + FPN.
    ResNetFpn(ResNetFpn),
    /// Global Filter Layer network (seed 003).
    Gfl(GflBackbone),
}

impl Backbone {
    /// Builds the backbone a preset asks for; `input_hw` is the translated image size.
    pub fn new(
        p: nn::Path,
        cfg: &BackboneConfig,
        in_channels: i64,
        input_hw: (i64, i64),
    ) -> Result<Self> {
        Ok(match cfg.kind {
            BackboneKind::ResnetFpn => {
                Backbone::ResNetFpn(ResNetFpn::new(p, &cfg.resnet_fpn, in_channels)?)
            }
            BackboneKind::Gfl => {
                Backbone::Gfl(GflBackbone::new(p, &cfg.gfl, in_channels, input_hw)?)
            }
        })
    }

    /// Channels of the stride-4 feature map.
    pub fn out_channels(&self) -> i64 {
        match self {
            Backbone::ResNetFpn(b) => b.out_channels(),
            Backbone::Gfl(b) => b.out_channels(),
        }
    }

    /// Stride of [`Backbone::features_t`] relative to the input image.
    pub fn stride(&self) -> i64 {
        match self {
            Backbone::ResNetFpn(_) => 4,
            Backbone::Gfl(b) => b.stride(),
        }
    }

    /// All output levels, finest first.
    pub fn levels_t(&self, x: &Tensor, train: bool) -> Vec<Tensor> {
        match self {
            Backbone::ResNetFpn(b) => b.forward_levels(x, train),
            Backbone::Gfl(b) => vec![b.forward_t(x, train)],
        }
    }

    /// The stride-4 map the person head and ROIAlign read: `[B, C, H/stride, W/stride]`.
    /// For ResNet-FPN it is P2 plus P3..P5 upsampled (bilinear) to P2's size, as in
    /// Panoptic FPN's merge, so one map carries every level (and every FPN output
    /// conv is trained); for GFL it is the network's single output.
    pub fn features_t(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            Backbone::ResNetFpn(b) => {
                let levels = b.forward_levels(x, train);
                let size = levels[0].size();
                let up = |l: &Tensor| l.upsample_bilinear2d([size[2], size[3]], false, None, None);
                levels[1..]
                    .iter()
                    .fold(levels[0].shallow_clone(), |acc, l| acc + up(l))
            }
            Backbone::Gfl(b) => b.forward_t(x, train),
        }
    }
}
