//! Evaluation metrics of wifi-densepose, free of dora and torch:
//!
//! | module | metric |
//! | --- | --- |
//! | [`coco`] | COCO keypoint AP/AR with exactly pycocotools' `COCOeval` semantics, PR curves |
//! | [`pck`] | PCK@alpha per keypoint, normalised by the torso diameter |
//! | [`dense`] | body-part mask IoU (25 classes) and UV error on the gt foreground |
//! | [`confusion`] | confusion matrix, accuracy, precision/recall/F1 of any classification head |
//! | [`floor`] | people's floor position error in metres (poses cast onto the floor), count accuracy |
//! | [`rooms`] | all of the above per room plus an `all` total |
//! | [`frame`] | one dense-pose frame, truth against prediction, into the evaluator |
//! | [`report`] | Markdown report, JSON results and PNG plots (built-in font, no system font) |
//!
//! ```
//! use wdp_eval::{EvalConfig, RoomEvaluator};
//! use wdp_eval::coco::{DetPerson, GtPerson};
//! let mut keypoints = [[0.0f32; 3]; 17];
//! for (j, k) in keypoints.iter_mut().enumerate() {
//!     *k = [40.0 + 3.0 * j as f32, 20.0 + 6.0 * j as f32, 2.0];
//! }
//! let gt = GtPerson { keypoints, bbox_xywh: [40.0, 20.0, 50.0, 100.0], area: 3000.0, iscrowd: false };
//! let det = DetPerson { keypoints, score: 0.8 };
//! let mut eval = RoomEvaluator::new(EvalConfig::default())?;
//! eval.add_keypoints("office", 0, &[gt], &[det])?;
//! let report = eval.finish();
//! let kp = report.all.keypoints.as_ref().expect("keypoints were added");
//! assert!((kp.stats.ap - 1.0).abs() < 1e-12);
//! assert_eq!(report.all.pck.as_ref().and_then(|p| p.mean), Some(1.0));
//! # Ok::<(), wdp_eval::EvalError>(())
//! ```

pub mod coco;
pub mod confusion;
pub mod dense;
mod error;
pub mod floor;
mod font;
pub mod frame;
pub mod names;
pub mod pck;
mod plot;
pub mod report;
pub mod rooms;

pub use coco::{CocoKeypointEval, CocoKeypointResult, CocoStats, DetPerson, GtPerson};
pub use confusion::{ConfusionMatrix, ConfusionResult};
pub use dense::{PartIouAccumulator, PartIouResult, UvErrorAccumulator, UvErrorResult};
pub use error::EvalError;
pub use floor::{CountResult, FloorCamera, FloorResult};
pub use pck::{PckAccumulator, PckResult};
pub use report::{write_report, ReportFiles};
pub use rooms::{EvalConfig, EvalReport, EvalResults, Evaluator, RoomEvaluator};
