//! Model presets (YAML in `models/presets/`) and the input dimensions given at build time.
//!
//! The built-in presets (`paper`, `lite`, `gfl`) are compiled in, so binaries
//! need no file at run time; any other argument to [`Preset::load`] is a path.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::backbone::{BackboneConfig, BackboneKind};
use crate::encoder::EncoderConfig;
use crate::error::{ModelError, Result};
use crate::head::{DensePoseHeadConfig, PersonHeadConfig};
use crate::temporal::TemporalConfig;
use crate::upsampler::UpsamplerConfig;

/// CSI input dimensions (from the capture set-up, not from the preset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDims {
    /// Antenna pairs, tx * rx.
    pub antennas: i64,
    /// Subcarriers.
    pub subcarriers: i64,
    /// Packets per window.
    pub window: i64,
}

impl InputDims {
    /// Dimensions `antennas x subcarriers x window`.
    pub fn new(antennas: i64, subcarriers: i64, window: i64) -> Self {
        Self {
            antennas,
            subcarriers,
            window,
        }
    }

    /// Reads the dims from a `window` shape `[2, A, S, T]` or `[B, 2, A, S, T]`.
    pub fn from_window_shape(shape: &[i64]) -> Result<Self> {
        let s = match shape.len() {
            4 => shape,
            5 => &shape[1..],
            _ => &[],
        };
        if s.len() != 4 || s[0] != 2 {
            return Err(ModelError::InputShape {
                stage: "input".into(),
                expected: "[2, A, S, T] or [B, 2, A, S, T]".into(),
                found: shape.to_vec(),
            });
        }
        let dims = Self::new(s[1], s[2], s[3]);
        dims.validate()?;
        Ok(dims)
    }

    /// Antennas and subcarriers >= 1; the window >= 4 (the encoder pools time by 4).
    pub fn validate(&self) -> Result<()> {
        if self.antennas < 1 || self.subcarriers < 1 || self.window < 4 {
            return Err(ModelError::Invalid(format!(
                "input dims {self:?}: antennas and subcarriers must be >= 1 and window >= 4"
            )));
        }
        Ok(())
    }
}

/// A whole-model preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Preset name.
    pub name: String,
    /// One line on what it is for.
    pub description: String,
    /// Encoder settings.
    pub encoder: EncoderConfig,
    /// Modality translation settings.
    pub upsampler: UpsamplerConfig,
    /// Backbone settings.
    pub backbone: BackboneConfig,
    /// Person (centre) head settings.
    pub person: PersonHeadConfig,
    /// DensePose head settings.
    pub head: DensePoseHeadConfig,
    /// Temporal module settings.
    pub temporal: TemporalConfig,
}

const BUILTIN: [(&str, &str); 3] = [
    ("paper", include_str!("../../presets/paper.yaml")),
    ("lite", include_str!("../../presets/lite.yaml")),
    ("gfl", include_str!("../../presets/gfl.yaml")),
];

impl Preset {
    /// Names of the compiled-in presets.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// Loads a built-in preset by name, or a YAML file by path, and validates it.
    pub fn load(name_or_path: &str) -> Result<Self> {
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::from_yaml(name_or_path, text);
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::PresetIo {
            preset: name_or_path.to_string(),
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(name_or_path, &text)
    }

    /// Parses and validates YAML; `origin` names the preset in errors.
    pub fn from_yaml(origin: &str, text: &str) -> Result<Self> {
        let preset: Preset = serde_yaml::from_str(text).map_err(|e| ModelError::PresetParse {
            preset: origin.to_string(),
            message: e.to_string(),
        })?;
        preset.validate()?;
        Ok(preset)
    }

    /// Checks every value the model builder relies on; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let fail = |field: &str, message: String| {
            Err(ModelError::PresetField {
                preset: self.name.clone(),
                field: field.to_string(),
                message,
            })
        };
        let e = &self.encoder;
        if e.hidden_channels < 1 {
            return fail(
                "encoder.hidden_channels",
                format!("{} must be >= 1", e.hidden_channels),
            );
        }
        if e.feature_dim < 1 {
            return fail(
                "encoder.feature_dim",
                format!("{} must be >= 1", e.feature_dim),
            );
        }
        if e.fusion_heads < 1 || e.feature_dim % e.fusion_heads != 0 {
            return fail(
                "encoder.fusion_heads",
                format!(
                    "{} must divide feature_dim {}",
                    e.fusion_heads, e.feature_dim
                ),
            );
        }
        if !(0.0..1.0).contains(&e.dropout) {
            return fail(
                "encoder.dropout",
                format!("{} must be in [0, 1)", e.dropout),
            );
        }
        let u = &self.upsampler;
        if u.block_channels.is_empty() || u.block_channels.iter().any(|&c| c < 1) {
            return fail(
                "upsampler.block_channels",
                format!("{:?} needs >= 1 positive entries", u.block_channels),
            );
        }
        if u.base_channels < 1 {
            return fail(
                "upsampler.base_channels",
                format!("{} must be >= 1", u.base_channels),
            );
        }
        // The stride-4 map must tile the image exactly; coarser FPN levels round up
        // (720 -> 23 rows at stride 32) and the top-down path resizes to each lateral.
        let backbone_div = match self.backbone.kind {
            BackboneKind::ResnetFpn => 4,
            BackboneKind::Gfl => self.backbone.gfl.patch_size.max(1),
        };
        let div = (1i64 << u.block_channels.len()).max(backbone_div);
        for (field, v) in [
            ("upsampler.out_height", u.out_height),
            ("upsampler.out_width", u.out_width),
        ] {
            if v < 1 || v % div != 0 {
                return fail(field, format!("{v} must be a positive multiple of {div}"));
            }
        }
        match self.backbone.kind {
            BackboneKind::ResnetFpn => {
                let r = &self.backbone.resnet_fpn;
                if r.stem_channels < 1 {
                    return fail(
                        "backbone.resnet_fpn.stem_channels",
                        format!("{} must be >= 1", r.stem_channels),
                    );
                }
                if r.stage_channels.len() != 4 || r.stage_channels.iter().any(|&c| c < 1) {
                    return fail(
                        "backbone.resnet_fpn.stage_channels",
                        format!("{:?} needs 4 positive entries", r.stage_channels),
                    );
                }
                if r.stage_blocks.len() != 4 || r.stage_blocks.iter().any(|&c| c < 1) {
                    return fail(
                        "backbone.resnet_fpn.stage_blocks",
                        format!("{:?} needs 4 entries >= 1", r.stage_blocks),
                    );
                }
                if r.fpn_channels < 1 {
                    return fail(
                        "backbone.resnet_fpn.fpn_channels",
                        format!("{} must be >= 1", r.fpn_channels),
                    );
                }
            }
            BackboneKind::Gfl => {
                let g = &self.backbone.gfl;
                for (field, v) in [
                    ("backbone.gfl.patch_size", g.patch_size),
                    ("backbone.gfl.embed_dim", g.embed_dim),
                    ("backbone.gfl.depth", g.depth),
                    ("backbone.gfl.num_bases", g.num_bases),
                    ("backbone.gfl.reweight_reduction", g.reweight_reduction),
                ] {
                    if v < 1 {
                        return fail(field, format!("{v} must be >= 1"));
                    }
                }
                if g.mlp_ratio <= 0.0 {
                    return fail(
                        "backbone.gfl.mlp_ratio",
                        format!("{} must be > 0", g.mlp_ratio),
                    );
                }
            }
        }
        let p = &self.person;
        if p.head_channels < 1 {
            return fail(
                "person.head_channels",
                format!("{} must be >= 1", p.head_channels),
            );
        }
        if p.max_people < 1 {
            return fail(
                "person.max_people",
                format!("{} must be >= 1", p.max_people),
            );
        }
        if !(0.0..=1.0).contains(&p.score_threshold) {
            return fail(
                "person.score_threshold",
                format!("{} must be in [0, 1]", p.score_threshold),
            );
        }
        if p.count == crate::head::CountSource::Head && self.upsampler.count_classes < 2 {
            return fail(
                "person.count",
                format!(
                    "`head` needs the upsampler's count head (upsampler.count_classes >= 2, is {})",
                    self.upsampler.count_classes
                ),
            );
        }
        if let Some(body) = &p.place {
            if self.upsampler.floor.is_none() {
                return fail(
                    "person.place",
                    "places people by the floor head: needs `upsampler.floor`".into(),
                );
            }
            for (field, v) in [
                ("person.place.height_m", body.height_m),
                ("person.place.width_m", body.width_m),
            ] {
                if !(v.is_finite() && v > 0.0) {
                    return fail(field, format!("{v} must be > 0 metres"));
                }
            }
        }
        let h = &self.head;
        for (field, v) in [
            ("head.roi_size", h.roi_size),
            ("head.sampling_ratio", h.sampling_ratio),
            ("head.shared_channels", h.shared_channels),
            ("head.branch_channels", h.branch_channels),
            ("head.output_upsample", h.output_upsample),
        ] {
            if v < 1 {
                return fail(field, format!("{v} must be >= 1"));
            }
        }
        // Found by the `preset` fuzz target: any other count built a model whose every pose
        // the nodes after it drop as misshapen.
        if h.num_keypoints != 17 {
            return fail(
                "head.num_keypoints",
                format!(
                    "{} must be 17: poses are COCO-17 on the wire (`keypoints` [P, 17, 3])",
                    h.num_keypoints
                ),
            );
        }
        if !(1..=254).contains(&h.num_parts) {
            return fail(
                "head.num_parts",
                format!("{} must be in 1..=254 (part index is u8)", h.num_parts),
            );
        }
        let t = &self.temporal;
        if t.hidden_dim < 1 || t.num_layers < 1 {
            return fail(
                "temporal.hidden_dim",
                format!(
                    "hidden_dim {} and num_layers {} must be >= 1",
                    t.hidden_dim, t.num_layers
                ),
            );
        }
        if t.num_heads < 1 || (2 * t.hidden_dim) % t.num_heads != 0 {
            return fail(
                "temporal.num_heads",
                format!(
                    "{} must divide 2 * hidden_dim = {}",
                    t.num_heads,
                    2 * t.hidden_dim
                ),
            );
        }
        if !(0.0..1.0).contains(&t.dropout) {
            return fail(
                "temporal.dropout",
                format!("{} must be in [0, 1)", t.dropout),
            );
        }
        Ok(())
    }
}
