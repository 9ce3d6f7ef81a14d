//! Which live inputs the dataflow wires to the node, checked for making sense together.

use dora_node_api::DoraNode;
use eyre::{eyre, Result};
use std::collections::BTreeSet;

/// Prefix of the pose-contract label inputs (`labels_keypoints`, ...).
pub const POSE_PREFIX: &str = "labels_";

/// The pose outputs a labeller sends, without the prefix.
const POSE_OUTPUTS: [&str; 4] = ["keypoints", "boxes", "parts", "uv"];

/// Where live labels come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labeller {
    /// No live labels.
    None,
    /// The pose contract on `labels_*`; whether `labels_uv` is wired.
    Pose { uv: bool },
    /// A camera teacher's struct on `labels`.
    Teacher,
}

/// The live inputs wired to the node.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Every input id wired.
    pub declared: BTreeSet<String>,
    /// `window`: labelled windows.
    pub window: bool,
    /// Who labels them.
    pub labeller: Labeller,
    /// `target_window`: unlabelled windows of another room.
    pub target_window: bool,
    /// `teacher_features`: a teacher's features of the labelled frames.
    pub teacher_features: bool,
}

impl Inputs {
    /// The node's declared inputs (the dataflow's `inputs:`).
    pub fn of(node: &DoraNode) -> Result<Self> {
        Self::from_ids(node.node_config().inputs.keys().map(|k| k.as_str()))
    }

    /// The inputs of these ids, checked: every id is an input of the trainer, one labeller,
    /// `window` and labels together, `teacher_features` only with them.
    pub fn from_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let declared: BTreeSet<String> = ids.into_iter().map(str::to_owned).collect();
        let has = |id: &str| declared.contains(id);
        let pose: Vec<&str> = POSE_OUTPUTS
            .into_iter()
            .filter(|o| has(&format!("{POSE_PREFIX}{o}")))
            .collect();
        let labeller = match (has("labels"), pose.is_empty()) {
            (true, false) => {
                return Err(eyre!(
                    "inputs: `labels` and `labels_*` both wired; one labeller feeds the trainer"
                ))
            }
            (true, true) => Labeller::Teacher,
            (false, false) => {
                for needed in ["keypoints", "boxes", "parts"] {
                    if !pose.contains(&needed) {
                        return Err(eyre!(
                            "inputs: `{POSE_PREFIX}{needed}` is not wired; pose labels need keypoints, boxes and parts"
                        ));
                    }
                }
                Labeller::Pose {
                    uv: pose.contains(&"uv"),
                }
            }
            (false, true) => Labeller::None,
        };
        let window = has("window");
        if window != (labeller != Labeller::None) {
            return Err(eyre!(
                "inputs: `window` and labels (`labels` or `labels_*`) go together: a labelled frame needs its window"
            ));
        }
        for id in &declared {
            let known = matches!(
                id.as_str(),
                "window" | "labels" | "target_window" | "teacher_features"
            ) || id
                .strip_prefix(POSE_PREFIX)
                .is_some_and(|o| POSE_OUTPUTS.contains(&o));
            if !known {
                return Err(eyre!(
                    "inputs: `{id}` is not an input of the trainer (window, labels or labels_keypoints/boxes/parts/uv, target_window, teacher_features)"
                ));
            }
        }
        let teacher_features = has("teacher_features");
        if teacher_features && !window {
            return Err(eyre!(
                "inputs: `teacher_features` describe live labelled frames: wire `window` and labels too"
            ));
        }
        Ok(Self {
            window,
            labeller,
            target_window: has("target_window"),
            teacher_features,
            declared,
        })
    }

    /// Whether any live input is wired.
    pub fn any(&self) -> bool {
        self.window || self.target_window
    }
}
