//! Class and keypoint names, in the same order as the simulator (`wdp_sim::body`) and the model.

/// Number of COCO keypoints.
pub const N_KEYPOINTS: usize = 17;

/// COCO-17 keypoint names in COCO order (the pose contract's).
pub use wdp_pose::COCO_KEYPOINTS;

/// Index of the left shoulder in [`COCO_KEYPOINTS`].
pub const LEFT_SHOULDER: usize = 5;
/// Index of the right hip in [`COCO_KEYPOINTS`].
pub const RIGHT_HIP: usize = 12;

/// Number of part classes of a DensePose label map: 0 is background, 1..=24 the body parts.
pub const N_PART_CLASSES: usize = 25;

/// DensePose part-class names: index 0 is background, index `i` is part id `i` (the pose
/// contract's part names after `background`).
pub const PART_CLASSES: [&str; N_PART_CLASSES] = {
    let mut out = ["background"; N_PART_CLASSES];
    let mut i = 1;
    while i < N_PART_CLASSES {
        out[i] = wdp_pose::PART_NAMES[i - 1];
        i += 1;
    }
    out
};
