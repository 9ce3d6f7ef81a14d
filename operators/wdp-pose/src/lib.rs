//! Everything about poses that is not the neural network.
//!
//! A pose frame travels as four tensor messages with the same `seq`, `t_ns`, `room` and `link`:
//!
//! | output | type | shape | dims |
//! | --- | --- | --- | --- |
//! | `keypoints` | f32 | `[P, 17, 3]` | `person,keypoint,xys` (or `xyv` for visibility) |
//! | `boxes` | f32 | `[P, 5]` | `person,box` (x1, y1, x2, y2, score), `format: xyxy` |
//! | `parts` | u8 | `[P, h, w]` | `person,height,width` (0 background, 1-24 parts) |
//! | `uv` | f32 | `[P, 2, h, w]` | `person,uv,height,width` |
//!
//! `parts` and `uv` carry `region: box` (each map covers its person's box, the DensePose ROI
//! convention of model outputs) or `region: image` (the maps cover the whole image, as the
//! simulator's ground truth does). Optional metadata: `track_ids` (one per person, -1 for none),
//! `image_wh` (`[W, H]` of the pixel frame of keypoints and boxes), `model`, `untrained`,
//! `frame_index`.
//!
//! | module | job |
//! | --- | --- |
//! | [`frame`] | [`PoseFrame`], to and from the four messages |
//! | [`assemble`] | [`PoseAssembler`]: the four messages of a frame, by `seq` |
//! | [`filter`] | One-Euro and constant-velocity Kalman filters for 2-D points |
//! | [`track`] | [`Tracker`] (OKS/IoU + Hungarian) and [`PoseSmoother`] |
//! | [`image`] | [`RgbImage`], drawing primitives, part colours, PNG |
//! | [`render`] | overlay of a frame on a picture |
//! | [`anim`] | animated GIF |
//! | [`jsonl`] | one JSON object per frame |
//!
//! ```
//! use wdp_pose::{Person, PoseFrame};
//!
//! let mut frame = PoseFrame::default();
//! frame.meta.seq = 7;
//! frame.people.push(Person::from_box([10.0, 20.0, 50.0, 90.0, 0.9]));
//! let messages = frame.to_messages()?;
//! assert_eq!(messages.len(), 2); // keypoints and boxes; no dense maps
//! let back = PoseFrame::from_messages(&messages)?;
//! assert_eq!(back.people, frame.people);
//! # Ok::<(), wdp_pose::PoseError>(())
//! ```

pub mod anim;
pub mod assemble;
#[cfg(feature = "dora")]
pub mod dora;
mod error;
pub mod filter;
pub mod floor_map;
pub mod frame;
pub mod image;
pub mod jsonl;
pub mod render;
pub mod track;

pub use anim::GifWriter;
pub use assemble::{AssemblerConfig, AssemblerStats, PoseAssembler};
pub use error::PoseError;
pub use filter::{FilterConfig, FilterKind, Kalman2d, KalmanConfig, OneEuro, OneEuroConfig};
pub use floor_map::FloorMap;
pub use frame::{
    KeypointKind, Person, PoseArray, PoseFrame, PoseMessage, PoseOutput, Region, NUM_KEYPOINTS,
};
pub use image::{part_color, RgbImage};
pub use render::{render_overlay, DenseStyle, RenderOptions};
pub use track::{PoseSmoother, SmootherConfig, Tracker, TrackerConfig};
pub use wdp_tensor;

/// COCO-17 keypoint names in COCO order.
pub const COCO_KEYPOINTS: [&str; 17] = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
];

/// COCO skeleton edges (0-based keypoint indices), for drawing.
pub const COCO_SKELETON: [(usize, usize); 19] = [
    (15, 13),
    (13, 11),
    (16, 14),
    (14, 12),
    (11, 12),
    (5, 11),
    (6, 12),
    (5, 6),
    (5, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (1, 2),
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
];

/// DensePose body-part names: index `i` is part id `i + 1` (0 is background in the maps).
pub const PART_NAMES: [&str; 24] = [
    "torso_back",
    "torso_front",
    "right_hand",
    "left_hand",
    "left_foot",
    "right_foot",
    "upper_leg_right_back",
    "upper_leg_left_back",
    "upper_leg_right_front",
    "upper_leg_left_front",
    "lower_leg_right_back",
    "lower_leg_left_back",
    "lower_leg_right_front",
    "lower_leg_left_front",
    "upper_arm_left_inside",
    "upper_arm_right_inside",
    "upper_arm_left_outside",
    "upper_arm_right_outside",
    "lower_arm_left_inside",
    "lower_arm_right_inside",
    "lower_arm_left_outside",
    "lower_arm_right_outside",
    "head_right",
    "head_left",
];

/// COCO per-keypoint OKS constants (sigmas), in COCO order.
pub const COCO_SIGMAS: [f32; 17] = [
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
    0.087, 0.087, 0.089, 0.089,
];
