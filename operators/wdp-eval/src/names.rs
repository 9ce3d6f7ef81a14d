//! Class and keypoint names, in the same order as the simulator (`wdp_sim::body`) and the model.

/// Number of COCO keypoints.
pub const N_KEYPOINTS: usize = 17;

/// COCO-17 keypoint names in COCO order.
pub const COCO_KEYPOINTS: [&str; N_KEYPOINTS] = [
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

/// Index of the left shoulder in [`COCO_KEYPOINTS`].
pub const LEFT_SHOULDER: usize = 5;
/// Index of the right hip in [`COCO_KEYPOINTS`].
pub const RIGHT_HIP: usize = 12;

/// Number of part classes of a DensePose label map: 0 is background, 1..=24 the body parts.
pub const N_PART_CLASSES: usize = 25;

/// DensePose part-class names: index 0 is background, index `i` is part id `i`.
pub const PART_CLASSES: [&str; N_PART_CLASSES] = [
    "background",
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
