//! Heads on the stride-4 backbone map.
//!
//! [`PersonHead`]: the multi-person stage, a dense CenterNet-style head (person
//! centre heatmap, box size, centre offset). [`DensePoseHead`] (seed 000,
//! section 4.3): shared convs, then a mask branch (24 parts + background), a UV
//! branch (24 x 2) and a keypoint heatmap branch (17) on ROIAligned features of
//! each person.

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, Tensor};

use crate::layers::{Conv2d, Conv2dSpec};

/// Person (centre) head hyper-parameters and decoding settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonHeadConfig {
    /// Hidden channels of each branch.
    pub head_channels: i64,
    /// At most this many people per frame (top-k peaks).
    pub max_people: i64,
    /// Minimum centre score of a detection.
    pub score_threshold: f64,
    /// Which person-centre logits find the people (see [`CentreSource`]).
    #[serde(default)]
    pub centre: CentreSource,
    /// How many people a frame has (see [`CountSource`]).
    #[serde(default)]
    pub count: CountSource,
    /// Location first: with a floor head and a known camera, each person's box is placed
    /// where the floor head says they stand, as this body seen by the camera, and the
    /// DensePose head draws the person there ([`crate::DensePoseStage::infer_placed`]).
    /// Absent: the boxes are the person maps' own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<crate::floor::BodyBox>,
}

impl Default for PersonHeadConfig {
    fn default() -> Self {
        Self {
            head_channels: 256,
            max_people: 10,
            score_threshold: 0.3,
            centre: CentreSource::default(),
            count: CountSource::default(),
            place: None,
        }
    }
}

/// Where the person-centre logits that place the people come from. The backbone's centre
/// branch reads the translated picture; the upsampler's locator (`upsampler.locator_hidden`)
/// reads the encoder's features directly, before the picture loses what they know.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CentreSource {
    /// The backbone's centre branch alone.
    #[default]
    Backbone,
    /// The locator's logits alone (sizes and offsets stay the backbone's).
    Locator,
    /// Their sum: the backbone refines where the locator points.
    Sum,
}

impl CentreSource {
    /// The centre logits of `backbone`'s maps and the `locator`'s (same grid), as this source
    /// says; without locator logits, the backbone's.
    pub fn combine(self, backbone: &Tensor, locator: Option<&Tensor>) -> Tensor {
        match (self, locator) {
            (Self::Locator, Some(l)) => l.shallow_clone(),
            (Self::Sum, Some(l)) => backbone + l,
            _ => backbone.shallow_clone(),
        }
    }
}

/// How many people a frame has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountSource {
    /// As many as the centre map has peaks at or above `score_threshold`.
    #[default]
    Peaks,
    /// The upsampler's count head (`upsampler.count_classes`): its most likely count of the
    /// centre map's best peaks, the `k`-th scored with the head's probability of at least `k`
    /// people (`score_threshold` 0 keeps them all: the head has decided).
    Head,
}

/// A conv3x3 -> ReLU -> conv1x1 branch (`nn.Sequential` indices 0 and 2).
#[derive(Debug)]
struct SmallBranch(Conv2d, Conv2d);

impl SmallBranch {
    fn new(p: nn::Path, cin: i64, hidden: i64, cout: i64, bias_init: Option<f64>) -> Self {
        let last = match bias_init {
            Some(b) => Conv2d::with_bias_init(&p / 2, hidden, cout, 1, b),
            None => Conv2d::output_layer(&p / 2, hidden, cout, 1),
        };
        Self(Conv2d::new(&p / 0, cin, hidden, Conv2dSpec::same(3)), last)
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        self.1.forward(&self.0.forward(x).relu())
    }
}

/// Dense outputs of the [`PersonHead`], all at the backbone's stride.
#[derive(Debug)]
pub struct PersonMaps {
    /// Centre heatmap logits `[B, 1, h, w]`.
    pub center_logits: Tensor,
    /// Box width and height in feature cells `[B, 2, h, w]`.
    pub size: Tensor,
    /// Sub-cell centre offset `[B, 2, h, w]` (x, y).
    pub offset: Tensor,
    /// The count head's logits `[B, C]`, when the people are counted by it
    /// ([`CountSource::Head`]).
    pub count_logits: Option<Tensor>,
}

/// CenterNet-style person head.
#[derive(Debug)]
pub struct PersonHead {
    center: SmallBranch,
    size: SmallBranch,
    offset: SmallBranch,
}

impl PersonHead {
    /// Builds the head on `in_channels` features.
    pub fn new(p: nn::Path, cfg: &PersonHeadConfig, in_channels: i64) -> Self {
        let hc = cfg.head_channels;
        // Bias -2.19: initial centre probability 0.1, CenterNet's focal-loss prior.
        Self {
            center: SmallBranch::new(&p / "center", in_channels, hc, 1, Some(-2.19)),
            size: SmallBranch::new(&p / "size", in_channels, hc, 2, None),
            offset: SmallBranch::new(&p / "offset", in_channels, hc, 2, None),
        }
    }

    /// `[B, C, h, w]` -> centre logits, size and offset maps.
    pub fn forward(&self, features: &Tensor) -> PersonMaps {
        PersonMaps {
            center_logits: self.center.forward(features),
            size: self.size.forward(features),
            offset: self.offset.forward(features),
            count_logits: None,
        }
    }
}

/// DensePose head hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DensePoseHeadConfig {
    /// ROIAlign output size R.
    pub roi_size: i64,
    /// Bilinear samples per bin side in ROIAlign.
    pub sampling_ratio: i64,
    /// Channels of the shared convs.
    pub shared_channels: i64,
    /// Channels of each branch.
    pub branch_channels: i64,
    /// Bilinear upsampling of the outputs (output size = R x this).
    pub output_upsample: i64,
    /// Body parts (24 for DensePose; the mask has one more class for background).
    pub num_parts: i64,
    /// Keypoints (17 for COCO).
    pub num_keypoints: i64,
}

impl Default for DensePoseHeadConfig {
    fn default() -> Self {
        Self {
            roi_size: 14,
            sampling_ratio: 2,
            shared_channels: 512,
            branch_channels: 256,
            output_upsample: 4,
            num_parts: 24,
            num_keypoints: 17,
        }
    }
}

impl DensePoseHeadConfig {
    /// Side of the output maps (`roi_size * output_upsample`).
    pub fn output_size(&self) -> i64 {
        self.roi_size * self.output_upsample
    }
}

/// Per-ROI outputs of the [`DensePoseHead`], `r = roi_size * output_upsample`.
#[derive(Debug)]
pub struct DensePoseMaps {
    /// Part logits `[K, num_parts + 1, r, r]` (class 0 background).
    pub mask_logits: Tensor,
    /// UV per part in `[0, 1]`: `[K, num_parts, 2, r, r]`.
    pub uv: Tensor,
    /// Keypoint heatmaps `[K, num_keypoints, r, r]`.
    pub keypoint_heatmaps: Tensor,
}

/// conv3 -> ReLU -> conv3 -> ReLU -> conv1 (`nn.Sequential` indices 0, 2, 4).
#[derive(Debug)]
struct Branch3(Conv2d, Conv2d, Conv2d);

impl Branch3 {
    fn new(p: nn::Path, cin: i64, hidden: i64, cout: i64) -> Self {
        Self(
            Conv2d::new(&p / 0, cin, hidden, Conv2dSpec::same(3)),
            Conv2d::new(&p / 2, hidden, hidden, Conv2dSpec::same(3)),
            Conv2d::output_layer(&p / 4, hidden, cout, 1),
        )
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        self.2
            .forward(&self.1.forward(&self.0.forward(x).relu()).relu())
    }
}

/// DensePose head: shared convs and mask / UV / keypoint branches.
#[derive(Debug)]
pub struct DensePoseHead {
    shared_conv: (Conv2d, Conv2d),
    mask_branch: Branch3,
    uv_branch: Branch3,
    keypoint_branch: Branch3,
    cfg: DensePoseHeadConfig,
}

impl DensePoseHead {
    /// Builds the head on `in_channels` ROI features.
    pub fn new(p: nn::Path, cfg: &DensePoseHeadConfig, in_channels: i64) -> Self {
        let (s, b) = (cfg.shared_channels, cfg.branch_channels);
        Self {
            shared_conv: (
                Conv2d::new(&p / "shared_conv" / 0, in_channels, s, Conv2dSpec::same(3)),
                Conv2d::new(&p / "shared_conv" / 2, s, s, Conv2dSpec::same(3)),
            ),
            mask_branch: Branch3::new(&p / "mask_branch", s, b, cfg.num_parts + 1),
            uv_branch: Branch3::new(&p / "uv_branch", s, b, 2 * cfg.num_parts),
            keypoint_branch: Branch3::new(&p / "keypoint_branch", s, b, cfg.num_keypoints),
            cfg: cfg.clone(),
        }
    }

    /// The head's settings.
    pub fn config(&self) -> &DensePoseHeadConfig {
        &self.cfg
    }

    /// `roi_features [K, C, R, R]` -> mask logits, UV, keypoint heatmaps at `R * output_upsample`.
    pub fn forward(&self, roi_features: &Tensor) -> DensePoseMaps {
        let x = self
            .shared_conv
            .1
            .forward(&self.shared_conv.0.forward(roi_features).relu())
            .relu();
        let r = self.cfg.output_size();
        let up = |t: Tensor| {
            if self.cfg.output_upsample == 1 {
                t
            } else {
                t.upsample_bilinear2d([r, r], false, None, None)
            }
        };
        let k = roi_features.size()[0];
        let mask_logits = up(self.mask_branch.forward(&x));
        // [K, 2P, r, r] -> [K, P, 2, r, r]
        let uv = up(self.uv_branch.forward(&x))
            .sigmoid()
            .view([k, self.cfg.num_parts, 2, r, r]);
        let keypoint_heatmaps = up(self.keypoint_branch.forward(&x));
        DensePoseMaps {
            mask_logits,
            uv,
            keypoint_heatmaps,
        }
    }
}
