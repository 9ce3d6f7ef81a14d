//! Training data from a running dataflow: the windows of a csi-preprocess node paired with the
//! labelled frames of a labeller (the simulator's ground truth, a camera teacher) into
//! [`Sample`](crate::data::Sample)s, as [`crate::data`] pairs the frames of a recording, and the
//! replay buffers the trainer node draws its minibatches from.
//!
//! - [`LiveWindow`]: a received window tensor, checked against the model's input shape.
//! - [`Labels`]: a labelled frame, from the pose contract ([`Labels::from_frame`]) or a camera
//!   teacher's one-row struct ([`Labels::from_teacher`]), checked for what training needs.
//! - [`Pairing`]: each frame with the newest window at or before it, within a largest lag, and
//!   [`FeatureMatch`]: each sample with the teacher features nearest it (both on
//!   `wdp_timepair`, the project's one pairing by capture time).
//! - [`ReplayBuffer`]: a fixed number of items, the newest replacing the oldest, and random
//!   minibatches from it.
//!
//! Each has its module (`window`, `labels`, `pairing`, `replay`), re-exported here.
//!
//! Every check names the field it found wrong, so a node can report a bad message and go on.

mod labels;
mod pairing;
mod replay;
#[cfg(test)]
mod testing;
mod window;

pub use labels::Labels;
pub use pairing::{sample, FeatureMatch, FeatureMatchStats, Pairing, PairingStats};
pub use replay::ReplayBuffer;
pub use window::{LiveWindow, WINDOW_DIMS};
