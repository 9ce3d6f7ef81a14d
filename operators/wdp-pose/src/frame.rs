//! [`PoseFrame`]: the people of one moment, with their dense maps and metadata.
//!
//! How a frame travels (its four outputs, [`PoseMessage`] and the conversion both ways,
//! [`PoseFrame::to_messages`] and [`PoseFrame::from_messages`]) is in the private submodule
//! `frame/wire.rs`, split off so that this file holds only what a frame is; everything is
//! re-exported here, so `wdp_pose::frame::PoseMessage` and friends keep their paths.

use crate::PoseError;
use ndarray::{Array3, Array4};
use serde::{Deserialize, Serialize};
use wdp_tensor::{MetaValue, TensorMeta};

mod wire;

pub use wire::{PoseArray, PoseMessage, PoseOutput};

/// Keypoints per person (COCO-17).
pub const NUM_KEYPOINTS: usize = 17;

/// Metadata key: where dense maps lie (`box` or `image`).
pub const KEY_REGION: &str = "region";
/// Metadata key: one track id per person (-1 for none).
pub const KEY_TRACK_IDS: &str = "track_ids";
/// Metadata key: `[W, H]` of the image the coordinates refer to.
pub const KEY_IMAGE_WH: &str = "image_wh";
/// Metadata key: box coordinate format (always `xyxy`).
pub const KEY_FORMAT: &str = "format";
/// Metadata key: model name.
pub const KEY_MODEL: &str = "model";
/// Metadata key: whether the model ran with untrained weights.
pub const KEY_UNTRAINED: &str = "untrained";
/// Metadata key: camera frame number.
pub const KEY_FRAME_INDEX: &str = "frame_index";
/// Metadata key: each person's floor position `x, y` metres in the room frame, flattened
/// (`2P` values); present when every person has one.
pub const KEY_FLOOR_M: &str = "floor_m";

/// Keys this module writes per message; they are not part of a frame's base metadata.
const FRAME_KEYS: [&str; 5] = [
    KEY_REGION,
    KEY_TRACK_IDS,
    KEY_IMAGE_WH,
    KEY_FORMAT,
    KEY_FLOOR_M,
];

/// Which pixels the dense maps (`parts`, `uv`) cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// Each person's `h x w` maps cover that person's box (DensePose ROI outputs). The default
    /// when the metadata does not say.
    #[default]
    Box,
    /// The maps cover the whole image (simulator ground truth).
    Image,
}

impl Region {
    /// The metadata spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Box => "box",
            Region::Image => "image",
        }
    }

    /// Parses the metadata spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "box" => Some(Region::Box),
            "image" => Some(Region::Image),
            _ => None,
        }
    }
}

/// What the third keypoint value is; told by the last axis name of `keypoints`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeypointKind {
    /// A confidence score in [0, 1] (axis `xys`, model outputs; also assumed without `dims`).
    #[default]
    Score,
    /// COCO visibility: 0 absent, 1 hidden, 2 visible (axis `xyv`, ground truth).
    Visibility,
}

impl KeypointKind {
    /// The name of the last `keypoints` axis.
    pub fn dim_name(self) -> &'static str {
        match self {
            KeypointKind::Score => "xys",
            KeypointKind::Visibility => "xyv",
        }
    }

    /// Whether a keypoint with this third value is present (score above `min_score`, or
    /// visibility above 0).
    pub fn is_present(self, value: f32, min_score: f32) -> bool {
        match self {
            KeypointKind::Score => value > min_score,
            KeypointKind::Visibility => value > 0.0,
        }
    }
}

/// One person of a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Person {
    /// COCO-17 keypoints `[x, y, score or visibility]` in image pixels.
    pub keypoints: [[f32; 3]; NUM_KEYPOINTS],
    /// Box `[x1, y1, x2, y2, score]` in image pixels.
    pub bbox: [f32; 5],
    /// Track id, stable across frames, when known.
    pub track_id: Option<i64>,
    /// Where the person stands, `(x, y)` metres in the room frame, when known (a model's floor
    /// head, or the simulator's truth).
    pub floor_m: Option<[f32; 2]>,
}

impl Person {
    /// A person with a box and no keypoints (all zero).
    pub fn from_box(bbox: [f32; 5]) -> Self {
        Person {
            keypoints: [[0.0; 3]; NUM_KEYPOINTS],
            bbox,
            track_id: None,
            floor_m: None,
        }
    }

    /// Area of the box in square pixels (0 for an empty or inverted box).
    pub fn box_area(&self) -> f32 {
        let [x1, y1, x2, y2, _] = self.bbox;
        (x2 - x1).max(0.0) * (y2 - y1).max(0.0)
    }
}

/// The people seen at one moment, with optional dense maps and the metadata they came with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoseFrame {
    /// Base metadata: `t_ns`, `seq`, `room`, `link` and extras such as `model`, `untrained`,
    /// `frame_index` (`shape` and `dims` are empty; the per-message keys `region`,
    /// `track_ids`, `image_wh`, `format` live in the fields below instead).
    pub meta: TensorMeta,
    /// The people, in the order of the model's (or simulator's) output.
    pub people: Vec<Person>,
    /// What the third keypoint value is.
    pub keypoint_kind: KeypointKind,
    /// `[W, H]` of the image that keypoint and box coordinates refer to, when known.
    pub image_wh: Option<[usize; 2]>,
    /// What the dense maps cover.
    pub region: Region,
    /// Part index per person `[P, h, w]` (0 background, 1-24 parts).
    pub parts: Option<Array3<u8>>,
    /// UV per person `[P, 2, h, w]`.
    pub uv: Option<Array4<f32>>,
}

impl PoseFrame {
    /// A frame of `people` carrying time, sequence, room, link and extras of `base` (e.g. the
    /// window it was computed from).
    pub fn new(base: &TensorMeta, people: Vec<Person>) -> Self {
        let mut frame = PoseFrame {
            people,
            ..PoseFrame::default()
        };
        frame.set_base(base);
        frame
    }

    /// Replaces the base metadata by `base` without its shape, dims and per-message keys.
    pub fn set_base(&mut self, base: &TensorMeta) {
        let mut meta = TensorMeta::new::<&str>(&[], []).carry_from(base);
        for key in FRAME_KEYS {
            meta.extra.remove(key);
        }
        self.meta = meta;
    }

    /// Capture time in ns.
    pub fn t_ns(&self) -> i64 {
        self.meta.t_ns
    }

    /// Sequence number.
    pub fn seq(&self) -> u64 {
        self.meta.seq
    }

    /// The `model` metadata.
    pub fn model(&self) -> Option<&str> {
        self.meta.text(KEY_MODEL)
    }

    /// The `untrained` metadata.
    pub fn untrained(&self) -> Option<bool> {
        match self.meta.extra.get(KEY_UNTRAINED)? {
            MetaValue::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// The `frame_index` metadata.
    pub fn frame_index(&self) -> Option<u64> {
        self.meta
            .int(KEY_FRAME_INDEX)
            .and_then(|v| u64::try_from(v).ok())
    }

    /// Checks that dense maps have one entry per person and that `uv` matches `parts` in size.
    pub fn validate(&self) -> Result<(), PoseError> {
        let n = self.people.len();
        if let Some(parts) = &self.parts {
            if parts.dim().0 != n {
                return Err(PoseError::invalid(
                    "parts",
                    "shape",
                    format!("{:?} for {n} people", parts.shape()),
                ));
            }
        }
        if let Some(uv) = &self.uv {
            let (p, two, h, w) = uv.dim();
            if p != n || two != 2 {
                return Err(PoseError::invalid(
                    "uv",
                    "shape",
                    format!("{:?} for {n} people, expected [{n}, 2, h, w]", uv.shape()),
                ));
            }
            if let Some(parts) = &self.parts {
                if (parts.dim().1, parts.dim().2) != (h, w) {
                    return Err(PoseError::invalid(
                        "uv",
                        "shape",
                        format!("maps {h}x{w} differ from parts {:?}", &parts.shape()[1..]),
                    ));
                }
            }
        }
        Ok(())
    }
}
