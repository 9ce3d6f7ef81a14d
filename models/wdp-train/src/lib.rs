//! # wdp-train
//!
//! Training, distillation, domain adaptation and evaluation of the WiFi-DensePose model
//! (`models/wdp-models`) on datasets in the `wdp simulate` schema (simulated rooms or
//! teacher-labelled recordings).
//!
//! - [`data`]: shards -> model-input windows (the inference preprocessing, replayed) + labels
//! - [`targets`]: labels -> the heads' training targets
//! - [`optim`]: AdamW whose moments are saved with the checkpoint, so a run resumes exactly
//! - [`sequence`]: consecutive frames for training the temporal module
//! - [`trainer`]: the optimisation loop of seed 000 (per-module learning rates, SGDR,
//!   augmentations, clipping, distillation, domain alignment), atomic checkpoints
//! - [`heads`]: the floor and count heads (and the signature branch) fitted on features
//!   computed once
//! - [`predict`]: inference back to camera pixels
//! - [`evaluate`]: COCO keypoint AP, PCK, part mIoU, UV error, people count, floor position
//!   error in metres, per room
//! - [`baseline`]: CSI-blind baselines (shuffled or zeroed CSI, the training set's room prior)

pub mod baseline;
pub mod data;
pub mod evaluate;
pub mod heads;
pub mod live;
pub mod optim;
pub mod predict;
pub mod preprocess;
pub mod run;
pub mod sequence;
pub mod targets;
pub mod trainer;

pub use baseline::{blind_inputs, Blind, RoomPrior};
pub use data::{load_dataset, load_datasets, LoadOptions, LoadReport, PersonLabel, Sample};
pub use evaluate::{evaluate, evaluate_with, EvalOptions};
pub use predict::{predict, predict_sequence, Detection};
pub use run::{train, RunOptions, RunSummary};
pub use sequence::{make_sequence_batch, sequence_starts, SequenceBatch};
pub use targets::{make_batch, Batch, TargetGeometry};
pub use trainer::{lr_at, DomainMethod, StepLosses, TrainConfig, Trainer};
