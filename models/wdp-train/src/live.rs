//! Training data from a running dataflow: the windows of a csi-preprocess node paired with the
//! labelled frames of a labeller (the simulator's ground truth, a camera teacher) into
//! [`Sample`]s, as [`crate::data`] pairs the frames of a recording, and the replay buffers the
//! trainer node draws its minibatches from.
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
//! Every check names the field it found wrong, so a node can report a bad message and go on.

use crate::data::{PersonLabel, Sample, PART_UNKNOWN};
use crate::run::XorShift;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt8Type};
use arrow_array::Array;
use eyre::{bail, eyre, Result};
use ndarray::{Array3, Array4, ArrayViewD};
use wdp_pose::wdp_tensor::TensorMeta;
use wdp_pose::{KeypointKind, Person, PoseFrame, Region};
use wdp_timepair::{Config, Pairer, Policy};

/// Axis names of a model-input window (csi-preprocess's `window`).
pub const WINDOW_DIMS: [&str; 4] = ["feature", "antenna", "subcarrier", "time"];

/// How far apart in capture time messages may be before the older are given up: windows kept
/// for frames still to come, and frames waiting for a window when the windows stall.
const HOLD_NS: i64 = 10_000_000_000;

/// Most windows (or teacher feature vectors) held for frames still to come: [`HOLD_NS`] of them
/// at up to 100 a second, and a bound on memory at any rate.
const HOLD_ITEMS: usize = 1024;

/// A model-input window received from a running pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveWindow {
    /// Capture time of the newest packet in it, ns.
    pub t_ns: i64,
    /// Room it was captured in.
    pub room: String,
    /// `[2, antenna pairs, subcarriers, time]`.
    pub shape: [usize; 4],
    /// Row-major values.
    pub values: Vec<f32>,
}

impl LiveWindow {
    /// Checks and copies a received window tensor: rank 4 with axes `feature, antenna,
    /// subcarrier, time` (when named), 2 features (amplitude, phase), finite values, and the
    /// shape `expected` (the model's input) when given.
    pub fn new(
        data: ArrayViewD<'_, f32>,
        meta: &TensorMeta,
        expected: Option<[usize; 4]>,
    ) -> Result<Self> {
        let s = data.shape();
        let shape: [usize; 4] = s.try_into().map_err(|_| {
            eyre!(
                "window: shape {s:?} has {} axes, expected 4 ([2, antennas, subcarriers, time])",
                s.len()
            )
        })?;
        if !meta.dims.is_empty() && meta.dims != WINDOW_DIMS {
            bail!(
                "window: dims {:?}, expected {} (a model-input window, not e.g. a spectrogram)",
                meta.dims,
                WINDOW_DIMS.join(",")
            );
        }
        if shape[0] != 2 {
            bail!(
                "window: shape {shape:?}: axis 0 (feature) has {} entries, expected 2 (amplitude, phase)",
                shape[0]
            );
        }
        if shape.contains(&0) {
            bail!("window: shape {shape:?} has an empty axis");
        }
        if let Some(e) = expected.filter(|e| *e != shape) {
            bail!("window: shape {shape:?} differs from {e:?}, the model's input shape");
        }
        let bad = data.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            bail!("window: {bad} of {} values are not finite", data.len());
        }
        Ok(Self {
            t_ns: meta.t_ns,
            room: meta.room.clone(),
            shape,
            values: data.iter().copied().collect(),
        })
    }
}

impl From<Sample> for LiveWindow {
    /// The window of a dataset frame (unlabelled target frames loaded from shards).
    fn from(s: Sample) -> Self {
        Self {
            t_ns: s.t_ns,
            room: s.room,
            shape: s.window_shape,
            values: s.window,
        }
    }
}

/// One labelled frame, checked for training: people with COCO-visibility keypoints and boxes in
/// image pixels, and each person's part map (and UV, when given) over the whole image.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// Capture time of the frame, ns.
    pub t_ns: i64,
    /// Frame sequence number.
    pub seq: u64,
    /// Room the labeller names (the window's wins when both do).
    pub room: String,
    /// People in the frame.
    pub people: Vec<PersonLabel>,
    /// `[P, h, w]` part index over the image (0 background, 1-24, or [`PART_UNKNOWN`]).
    pub part_index: Array3<u8>,
    /// `[P, 2, h, w]` UV over the image.
    pub uv: Option<Array4<f32>>,
    /// `[W, H]` of the image keypoints and boxes refer to.
    pub image_wh: [usize; 2],
}

impl Labels {
    /// From an assembled pose-contract frame (operators/wdp-pose): keypoints must carry COCO
    /// visibility (`xyv`), `image_wh` must be set, and `parts` (with `uv` optional) must cover
    /// the image (`region: image`), as the simulator's ground truth does.
    pub fn from_frame(frame: &PoseFrame) -> Result<Self> {
        frame.validate()?;
        if frame.keypoint_kind != KeypointKind::Visibility {
            bail!(
                "keypoints: dims say confidence scores (xys); training labels need COCO visibility (xyv)"
            );
        }
        let [w, h] = frame.image_wh.ok_or_else(|| {
            eyre!("image_wh: missing; labels need the [W, H] their pixels refer to")
        })?;
        if w == 0 || h == 0 {
            bail!("image_wh: [{w}, {h}] is empty");
        }
        let parts = frame.parts.as_ref().ok_or_else(|| {
            eyre!("parts: missing; training needs each person's part map over the image")
        })?;
        if frame.region != Region::Image {
            bail!(
                "parts: region {}: the maps cover each person's box; training needs maps over the whole image (region image)",
                frame.region.as_str()
            );
        }
        for (i, p) in frame.people.iter().enumerate() {
            if p.keypoints.iter().flatten().any(|v| !v.is_finite()) {
                bail!("keypoints: person {i} has values that are not finite");
            }
            if p.bbox.iter().any(|v| !v.is_finite()) {
                bail!("boxes: person {i} has values that are not finite");
            }
        }
        if let Some(uv) = &frame.uv {
            if uv.iter().any(|v| !v.is_finite()) {
                bail!("uv: values that are not finite");
            }
        }
        Ok(Self {
            t_ns: frame.t_ns(),
            seq: frame.seq(),
            room: frame.meta.room.clone(),
            people: frame
                .people
                .iter()
                .map(|p| PersonLabel {
                    keypoints: p.keypoints,
                    bbox: [p.bbox[0], p.bbox[1], p.bbox[2], p.bbox[3]],
                    position_m: None,
                })
                .collect(),
            part_index: parts.clone(),
            uv: frame.uv.clone(),
            image_wh: [w, h],
        })
    }

    /// From a camera teacher's `labels` message (nodes/teacher-mediapipe's contract): a one-row
    /// struct of flat `keypoints` `[P, 17, 3]` (COCO visibility), `boxes` `[P, 5]` and `masks`
    /// `[P, h, w]` (nonzero: the person), shaped by the `*_shape` metadata, with `image_wh`.
    /// A mask pixel becomes [`PART_UNKNOWN`], as teacher-capture recordings store it.
    pub fn from_teacher(array: &dyn Array, meta: &TensorMeta) -> Result<Self> {
        let row = array.as_struct_opt().ok_or_else(|| {
            eyre!(
                "labels: a {} array, expected the teacher's one-row struct (keypoints, boxes, masks)",
                array.data_type()
            )
        })?;
        if row.len() != 1 {
            bail!("labels: {} rows, expected 1", row.len());
        }
        let shape = |field: &str, rank: usize| -> Result<Vec<usize>> {
            let key = format!("{field}_shape");
            let s = meta
                .ints(&key)
                .ok_or_else(|| eyre!("{key}: missing from the metadata"))?;
            if s.len() != rank || s.iter().any(|&d| d < 0) {
                bail!("{key}: {s:?}, expected {rank} extents");
            }
            Ok(s.iter().map(|&d| d as usize).collect())
        };
        let column = |field: &str| {
            row.column_by_name(field)
                .and_then(|c| c.as_list_opt::<i32>())
                .map(|l| l.value(0))
                .ok_or_else(|| eyre!("{field}: no list column of that name"))
        };
        let floats = |field: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let values = column(field)?;
            let values = values
                .as_primitive_opt::<Float32Type>()
                .ok_or_else(|| eyre!("{field}: {} values, expected float32", values.data_type()))?;
            let n: usize = shape.iter().product();
            if values.len() != n {
                bail!("{field}: {} values for shape {shape:?}", values.len());
            }
            Ok(values.values().to_vec())
        };
        let ks = shape("keypoints", 3)?;
        let bs = shape("boxes", 2)?;
        let ms = shape("masks", 3)?;
        if ks[1..] != [17, 3] {
            bail!("keypoints_shape: {ks:?}, expected [P, 17, 3]");
        }
        if bs[1] != 5 {
            bail!("boxes_shape: {bs:?}, expected [P, 5]");
        }
        let p = ks[0];
        if bs[0] != p || ms[0] != p {
            bail!("boxes_shape {bs:?} and masks_shape {ms:?} disagree with {p} people in keypoints_shape");
        }
        let kp = floats("keypoints", &ks)?;
        let bx = floats("boxes", &bs)?;
        let masks = column("masks")?;
        let masks = masks
            .as_primitive_opt::<UInt8Type>()
            .ok_or_else(|| eyre!("masks: {} values, expected uint8", masks.data_type()))?;
        let parts = Array3::from_shape_vec(
            (ms[0], ms[1], ms[2]),
            masks
                .values()
                .iter()
                .map(|&m| if m > 0 { PART_UNKNOWN } else { 0 })
                .collect(),
        )
        .map_err(|e| eyre!("masks: {} values for shape {ms:?}: {e}", masks.len()))?;
        let image_wh = match meta.ints("image_wh") {
            Some(&[w, h]) if w > 0 && h > 0 => Some([w as usize, h as usize]),
            Some(other) => bail!("image_wh: {other:?}, expected [W, H]"),
            None => None,
        };
        let frame = PoseFrame {
            meta: meta.clone(),
            people: (0..p)
                .map(|i| Person {
                    keypoints: std::array::from_fn(|k| {
                        std::array::from_fn(|c| kp[(i * 17 + k) * 3 + c])
                    }),
                    bbox: std::array::from_fn(|c| bx[i * 5 + c]),
                    track_id: None,
                })
                .collect(),
            keypoint_kind: KeypointKind::Visibility,
            image_wh,
            region: Region::Image,
            parts: Some(parts),
            uv: None,
        };
        Self::from_frame(&frame)
    }
}

/// A training sample of `labels` with `window` as its model input.
pub fn sample(window: &LiveWindow, labels: Labels) -> Sample {
    Sample {
        room: if window.room.is_empty() {
            labels.room
        } else {
            window.room.clone()
        },
        t_ns: labels.t_ns,
        seq: labels.seq,
        window: window.values.clone(),
        window_shape: window.shape,
        people: labels.people,
        part_index: labels.part_index,
        uv: labels.uv,
        image_wh: labels.image_wh,
        teacher_features: None,
        camera: None,
    }
}

/// What a [`FeatureMatch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FeatureMatchStats {
    /// Feature vectors received.
    pub features: u64,
    /// Samples given their teacher's features.
    pub matched: u64,
    /// Samples without teacher features within the largest lag (not trained on).
    pub unmatched: u64,
}

/// Gives each paired sample the teacher features (a teacher node's `teacher_features`, one
/// vector per moment it saw) nearest to the sample's capture time, within `max_lag_ns`
/// ([`Policy::Nearest`]). Features arrive in time order, so a sample is decided once a feature
/// later than its time plus the lag has come (nothing nearer can follow) or the features have
/// ended.
#[derive(Debug)]
pub struct FeatureMatch {
    dim: usize,
    pairer: Pairer<Sample, Vec<f32>>,
}

impl FeatureMatch {
    /// Matches vectors of `dim` features (the student's encoder width) within `max_lag_ns`.
    pub fn new(dim: usize, max_lag_ns: i64) -> Self {
        let config = Config::new(Policy::Nearest { max_lag_ns })
            .capacity(HOLD_ITEMS)
            .max_age_ns(Some(HOLD_NS));
        Self {
            dim,
            pairer: Pairer::new(config, HOLD_NS),
        }
    }

    /// Adds a teacher's feature vector of capture time `t_ns`; a wrong length or a non-finite
    /// value is refused by name. One older than the last (its sender restarted) drops those
    /// held.
    pub fn push_features(&mut self, t_ns: i64, values: Vec<f32>) -> Result<()> {
        if values.len() != self.dim {
            bail!(
                "teacher_features: {} values, the student's encoder has {} features",
                values.len(),
                self.dim
            );
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            bail!("teacher_features: value {i} is {}", values[i]);
        }
        self.pairer.push_item(t_ns, values);
        Ok(())
    }

    /// Adds a paired sample to be given its features.
    pub fn push_sample(&mut self, sample: Sample) {
        self.pairer.push_query(sample.t_ns, sample);
    }

    /// No more features will come: every waiting sample is decided with what is there.
    pub fn end(&mut self) {
        self.pairer.end_items();
    }

    /// What was matched so far.
    pub fn stats(&self) -> FeatureMatchStats {
        let s = self.pairer.items().stats();
        FeatureMatchStats {
            features: s.pushed,
            matched: s.paired,
            unmatched: s.unpaired,
        }
    }

    /// The next sample whose features are decided, with them; samples without any within the
    /// lag are counted and passed over.
    pub fn pop(&mut self) -> Option<Sample> {
        loop {
            let answer = self.pairer.pop()?;
            if let Some((_, values)) = answer.item {
                let mut sample = answer.query;
                sample.teacher_features = Some(values.clone());
                return Some(sample);
            }
        }
    }
}

/// What a [`Pairing`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PairingStats {
    /// Windows received.
    pub windows: u64,
    /// Labelled frames received.
    pub frames: u64,
    /// Frames paired with a window.
    pub paired: u64,
    /// Paired frames passed over by `every`.
    pub skipped: u64,
    /// Frames without a window at or before them within the largest lag.
    pub unpaired: u64,
}

/// Pairs each labelled frame with the newest window whose capture time is at or before the
/// frame's, within `max_lag_ns` ([`Policy::NewestAtOrBefore`]), as [`crate::data`] pairs a
/// recording's frames. Windows and frames each arrive in time order but interleave arbitrarily
/// (they come through different nodes), so a frame waits until a window at or after its time
/// shows the newest one before it is known. Keeps every `every`-th paired frame.
#[derive(Debug)]
pub struct Pairing {
    every: u64,
    pairer: Pairer<Labels, LiveWindow>,
    frames: u64,
    paired: u64,
    skipped: u64,
}

impl Pairing {
    /// Pairs within `max_lag_ns`, keeping every `every`-th paired frame (0 counts as 1).
    pub fn new(max_lag_ns: i64, every: usize) -> Self {
        let config = Config::new(Policy::NewestAtOrBefore { max_lag_ns })
            .capacity(HOLD_ITEMS)
            .max_age_ns(Some(HOLD_NS));
        Self {
            every: every.max(1) as u64,
            pairer: Pairer::new(config, HOLD_NS),
            frames: 0,
            paired: 0,
            skipped: 0,
        }
    }

    /// Adds a window. One older than the last (its sender restarted) drops those held.
    pub fn push_window(&mut self, window: LiveWindow) {
        self.pairer.push_item(window.t_ns, window);
    }

    /// Adds a labelled frame.
    pub fn push_frame(&mut self, labels: Labels) {
        self.frames += 1;
        self.pairer.push_query(labels.t_ns, labels);
    }

    /// The windows' input ended: frames still waiting are paired with the windows held.
    pub fn end_windows(&mut self) {
        self.pairer.end_items();
    }

    /// What happened so far.
    pub fn stats(&self) -> PairingStats {
        let s = self.pairer.items().stats();
        PairingStats {
            windows: s.pushed,
            frames: self.frames,
            paired: s.paired,
            skipped: self.skipped,
            unpaired: s.unpaired,
        }
    }

    /// The next sample whose pairing is decided, in frame order.
    pub fn pop(&mut self) -> Option<Sample> {
        loop {
            let answer = self.pairer.pop()?;
            let Some((_, window)) = answer.item else {
                continue;
            };
            self.paired += 1;
            if !(self.paired - 1).is_multiple_of(self.every) {
                self.skipped += 1;
                continue;
            }
            return Some(sample(window, answer.query));
        }
    }
}

/// A fixed number of items; once full, each new one replaces the oldest.
#[derive(Debug, Clone)]
pub struct ReplayBuffer<T> {
    items: Vec<T>,
    capacity: usize,
    next: usize,
    replaced: u64,
}

impl<T> ReplayBuffer<T> {
    /// An empty buffer of `capacity` items (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            items: Vec::new(),
            capacity: capacity.max(1),
            next: 0,
            replaced: 0,
        }
    }

    /// Adds an item; true when it replaced the oldest.
    pub fn push(&mut self, item: T) -> bool {
        if self.items.len() < self.capacity {
            self.items.push(item);
            return false;
        }
        self.items[self.next] = item;
        self.next = (self.next + 1) % self.capacity;
        self.replaced += 1;
        true
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Most items held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Items replaced so far.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// `n` items drawn at random: distinct while the buffer holds `n` or more, with repeats
    /// otherwise; none from an empty buffer.
    pub fn pick(&self, n: usize, rng: &mut XorShift) -> Vec<&T> {
        let len = self.items.len();
        if len == 0 {
            return Vec::new();
        }
        if len < n {
            return (0..n).map(|_| &self.items[rng.below(len)]).collect();
        }
        // The first n steps of a Fisher-Yates shuffle.
        let mut idx: Vec<usize> = (0..len).collect();
        for i in 0..n {
            let j = i + rng.below(len - i);
            idx.swap(i, j);
        }
        idx[..n].iter().map(|&i| &self.items[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, ListArray, StructArray};
    use ndarray::{Array, IxDyn};
    use std::sync::Arc;
    use wdp_pose::wdp_tensor::MetaValue;

    fn window_meta(t_ns: i64) -> TensorMeta {
        TensorMeta::new(&[2, 3, 4, 8], WINDOW_DIMS)
            .with_time_ns(t_ns)
            .with_room("lab")
    }

    fn window(t_ns: i64) -> LiveWindow {
        let data = Array::from_elem(IxDyn(&[2, 3, 4, 8]), t_ns as f32);
        LiveWindow::new(data.view(), &window_meta(t_ns), None).expect("a good window")
    }

    fn frame(t_ns: i64, people: usize) -> PoseFrame {
        let mut f = PoseFrame::new(
            &TensorMeta::default()
                .with_time_ns(t_ns)
                .with_seq(t_ns as u64),
            (0..people)
                .map(|i| Person {
                    keypoints: [[10.0 + i as f32, 20.0, 2.0]; 17],
                    bbox: [5.0, 6.0, 40.0, 60.0, 1.0],
                    track_id: None,
                })
                .collect(),
        );
        f.keypoint_kind = KeypointKind::Visibility;
        f.image_wh = Some([64, 48]);
        f.region = Region::Image;
        f.parts = Some(Array3::from_elem((people, 12, 16), 3));
        f.uv = Some(Array4::from_elem((people, 2, 12, 16), 0.5));
        f
    }

    fn labels(t_ns: i64) -> Labels {
        Labels::from_frame(&frame(t_ns, 1)).expect("good labels")
    }

    #[test]
    fn teacher_features_go_to_the_nearest_sample_within_the_lag() {
        const MS: i64 = 1_000_000;
        let mut m = FeatureMatch::new(3, 20 * MS);
        let at = |t: i64| sample(&window(t), labels(t));
        m.push_sample(at(100 * MS));
        m.push_sample(at(150 * MS));
        m.push_sample(at(400 * MS));
        assert!(m.pop().is_none(), "undecided before any feature");
        m.push_features(95 * MS, vec![1.0; 3]).expect("features");
        m.push_features(104 * MS, vec![2.0; 3]).expect("features");
        assert!(m.pop().is_none(), "a nearer one may still come");
        m.push_features(130 * MS, vec![3.0; 3]).expect("features");
        let first = m.pop().expect("decided");
        assert_eq!(first.t_ns, 100 * MS);
        assert_eq!(
            first.teacher_features,
            Some(vec![2.0; 3]),
            "the nearest, 4 ms after"
        );
        m.push_features(500 * MS, vec![4.0; 3]).expect("features");
        let second = m.pop().expect("decided");
        assert_eq!(second.t_ns, 150 * MS);
        assert_eq!(
            second.teacher_features,
            Some(vec![3.0; 3]),
            "20 ms before: within"
        );
        assert!(
            m.pop().is_none(),
            "nothing within 20 ms of 400 ms: passed over"
        );
        assert_eq!(
            m.stats(),
            FeatureMatchStats {
                features: 4,
                matched: 2,
                unmatched: 1
            }
        );
        let err = m
            .push_features(600 * MS, vec![1.0; 4])
            .expect_err("wrong length");
        assert!(err.to_string().contains("3 features"), "{err}");
        let err = m
            .push_features(600 * MS, vec![1.0, f32::NAN, 0.0])
            .expect_err("NaN");
        assert!(err.to_string().contains("value 1"), "{err}");
        m.push_sample(at(700 * MS));
        m.end();
        assert!(m.pop().is_none(), "ended: decided, no features near it");
        assert_eq!(m.stats().unmatched, 2);
    }

    #[test]
    fn a_window_of_the_wrong_shape_is_refused_naming_what_is_wrong() {
        let meta = |shape: &[usize], dims: &[&str]| {
            TensorMeta::new(shape, dims.iter().copied()).with_time_ns(1)
        };
        let ok = Array::<f32, _>::zeros(IxDyn(&[2, 3, 4, 8]));
        let w = LiveWindow::new(ok.view(), &meta(&[2, 3, 4, 8], &WINDOW_DIMS), None).expect("good");
        assert_eq!((w.shape, w.values.len(), w.t_ns), ([2, 3, 4, 8], 192, 1));

        let rank3 = Array::<f32, _>::zeros(IxDyn(&[2, 12, 8]));
        let e = LiveWindow::new(rank3.view(), &meta(&[2, 12, 8], &[]), None).expect_err("refused");
        assert!(
            e.to_string()
                .contains("window: shape [2, 12, 8] has 3 axes"),
            "{e}"
        );

        let three = Array::<f32, _>::zeros(IxDyn(&[3, 3, 4, 8]));
        let e =
            LiveWindow::new(three.view(), &meta(&[3, 3, 4, 8], &[]), None).expect_err("refused");
        assert!(
            e.to_string().contains("axis 0 (feature) has 3 entries"),
            "{e}"
        );

        let spectrogram = ["antenna", "subcarrier", "freq", "frame"];
        let e = LiveWindow::new(ok.view(), &meta(&[2, 3, 4, 8], &spectrogram), None)
            .expect_err("refused");
        assert!(e.to_string().contains("window: dims"), "{e}");

        let e = LiveWindow::new(
            ok.view(),
            &meta(&[2, 3, 4, 8], &WINDOW_DIMS),
            Some([2, 3, 4, 16]),
        )
        .expect_err("refused");
        assert!(
            e.to_string()
                .contains("shape [2, 3, 4, 8] differs from [2, 3, 4, 16]"),
            "{e}"
        );

        let mut nan = ok.clone();
        nan[[1, 2, 3, 7]] = f32::NAN;
        let e = LiveWindow::new(nan.view(), &meta(&[2, 3, 4, 8], &WINDOW_DIMS), None)
            .expect_err("refused");
        assert!(
            e.to_string().contains("1 of 192 values are not finite"),
            "{e}"
        );
    }

    #[test]
    fn labels_that_cannot_train_are_refused_naming_the_field() {
        let mut f = frame(0, 2);
        f.keypoint_kind = KeypointKind::Score;
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(e.to_string().starts_with("keypoints:"), "{e}");

        let mut f = frame(0, 2);
        f.image_wh = None;
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(e.to_string().starts_with("image_wh:"), "{e}");

        let mut f = frame(0, 2);
        f.parts = None;
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(e.to_string().starts_with("parts: missing"), "{e}");

        let mut f = frame(0, 2);
        f.region = Region::Box;
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(e.to_string().starts_with("parts: region box"), "{e}");

        let mut f = frame(0, 2);
        f.parts = Some(Array3::zeros((1, 12, 16)));
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(
            e.to_string().contains("parts") && e.to_string().contains("shape"),
            "{e}"
        );

        let mut f = frame(0, 2);
        f.uv = Some(Array4::zeros((2, 2, 6, 8)));
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(e.to_string().contains("uv"), "{e}");

        let mut f = frame(0, 2);
        f.people[1].bbox[2] = f32::INFINITY;
        let e = Labels::from_frame(&f).expect_err("refused");
        assert!(e.to_string().starts_with("boxes: person 1"), "{e}");

        let l = Labels::from_frame(&frame(7, 2)).expect("good");
        assert_eq!(l.people.len(), 2);
        assert_eq!(l.people[1].keypoints[0], [11.0, 20.0, 2.0]);
        assert_eq!(l.people[0].bbox, [5.0, 6.0, 40.0, 60.0]);
        assert_eq!((l.image_wh, l.part_index.dim()), ([64, 48], (2, 12, 16)));
    }

    #[test]
    fn the_simulators_truth_becomes_a_sample_with_its_window() {
        let scene = wdp_sim::Scene::preset("lab").expect("preset");
        let mut sim = wdp_sim::Simulator::new(scene).expect("simulator");
        let gt = loop {
            match sim.next_event().expect("the simulation runs") {
                wdp_sim::SimEvent::Frame(gt) if !gt.people.is_empty() => break gt,
                _ => {}
            }
        };
        // Through the wire messages and back, as the trainer node receives them.
        let messages = wdp_sim::truth_frame(&gt).to_messages().expect("messages");
        let frame = PoseFrame::from_messages(&messages).expect("frame");
        let labels = Labels::from_frame(&frame).expect("truth is trainable");
        let w = window(gt.t_ns - 1_000_000);
        let s = sample(&w, labels);
        assert_eq!(s.t_ns, gt.t_ns);
        assert_eq!(s.room, "lab");
        assert_eq!(s.window_shape, [2, 3, 4, 8]);
        assert_eq!(s.image_wh, gt.image_wh);
        assert_eq!(s.part_index, gt.part_index);
        assert_eq!(s.uv.as_ref(), Some(&gt.uv));
        assert_eq!(s.people.len(), gt.people.len());
        assert_eq!(s.people[0].keypoints, gt.people[0].keypoints);
        assert_eq!(s.people[0].bbox, gt.people[0].box_xyxy);
    }

    fn list<T: arrow_array::ArrowPrimitiveType>(values: Vec<T::Native>) -> ArrayRef {
        Arc::new(ListArray::from_iter_primitive::<T, _, _>([Some(
            values.into_iter().map(Some),
        )]))
    }

    #[test]
    fn a_teachers_labels_become_labels_with_unknown_parts_under_the_mask() {
        let mut kp = vec![0f32; 51];
        kp[0..3].copy_from_slice(&[30.0, 20.0, 2.0]);
        let masks = vec![0u8, 1, 1, 0, 0, 1];
        let row = StructArray::from(vec![
            (
                Arc::new(arrow_schema::Field::new(
                    "keypoints",
                    arrow_schema::DataType::new_list(arrow_schema::DataType::Float32, true),
                    true,
                )),
                list::<Float32Type>(kp),
            ),
            (
                Arc::new(arrow_schema::Field::new(
                    "boxes",
                    arrow_schema::DataType::new_list(arrow_schema::DataType::Float32, true),
                    true,
                )),
                list::<Float32Type>(vec![10.0, 5.0, 50.0, 45.0, 0.9]),
            ),
            (
                Arc::new(arrow_schema::Field::new(
                    "masks",
                    arrow_schema::DataType::new_list(arrow_schema::DataType::UInt8, true),
                    true,
                )),
                list::<UInt8Type>(masks),
            ),
        ]);
        let meta = TensorMeta::default()
            .with_time_ns(5)
            .with_seq(2)
            .with("keypoints_shape", MetaValue::Ints(vec![1, 17, 3]))
            .with("boxes_shape", MetaValue::Ints(vec![1, 5]))
            .with("masks_shape", MetaValue::Ints(vec![1, 2, 3]))
            .with("image_wh", MetaValue::Ints(vec![64, 48]));
        let l = Labels::from_teacher(&row, &meta).expect("teacher labels");
        assert_eq!((l.t_ns, l.seq, l.image_wh), (5, 2, [64, 48]));
        assert_eq!(l.people[0].keypoints[0], [30.0, 20.0, 2.0]);
        assert_eq!(l.people[0].bbox, [10.0, 5.0, 50.0, 45.0]);
        let p = PART_UNKNOWN;
        assert_eq!(
            l.part_index.iter().copied().collect::<Vec<_>>(),
            [0, p, p, 0, 0, p]
        );

        let bad = meta
            .clone()
            .with("masks_shape", MetaValue::Ints(vec![1, 3, 3]));
        let e = Labels::from_teacher(&row, &bad).expect_err("refused");
        assert!(e.to_string().starts_with("masks:"), "{e}");
        let mut missing = meta.clone();
        missing.extra.remove("boxes_shape");
        let e = Labels::from_teacher(&row, &missing).expect_err("refused");
        assert!(e.to_string().starts_with("boxes_shape: missing"), "{e}");
        let e = Labels::from_teacher(row.column(0).as_ref(), &meta).expect_err("refused");
        assert!(e.to_string().starts_with("labels:"), "{e}");
    }

    #[test]
    fn frames_pair_with_the_newest_window_at_or_before_them() {
        let ms = 1_000_000;
        let mut p = Pairing::new(100 * ms, 1);
        // A frame before any window waits; one after the first window waits for a later one.
        p.push_frame(labels(5 * ms));
        p.push_window(window(10 * ms));
        assert!(p.pop().is_none(), "no window at or before 5 ms");
        assert_eq!(p.stats().unpaired, 1);
        p.push_frame(labels(20 * ms));
        assert!(
            p.pop().is_none(),
            "a window between 10 and 20 ms may still come"
        );
        p.push_window(window(15 * ms));
        p.push_window(window(25 * ms));
        let s = p.pop().expect("paired");
        assert_eq!((s.t_ns, s.window[0]), (20 * ms, (15 * ms) as f32));
        // Exactly at the frame's time counts; too old a window does not.
        p.push_frame(labels(25 * ms));
        assert_eq!(p.pop().expect("paired").window[0], (25 * ms) as f32);
        p.push_frame(labels(200 * ms));
        p.push_window(window(300 * ms));
        assert!(p.pop().is_none(), "175 ms is beyond the largest lag");
        assert_eq!(p.stats().unpaired, 2);
        // When the windows end, waiting frames use what is held.
        p.push_frame(labels(320 * ms));
        assert!(p.pop().is_none());
        p.end_windows();
        assert_eq!(p.pop().expect("paired").window[0], (300 * ms) as f32);
        let st = p.stats();
        assert_eq!(
            (st.windows, st.frames, st.paired, st.unpaired),
            (4, 5, 3, 2)
        );
    }

    #[test]
    fn every_nth_paired_frame_is_kept() {
        let ms = 1_000_000;
        let mut p = Pairing::new(100 * ms, 3);
        let mut kept = Vec::new();
        for i in 0..9 {
            p.push_window(window(i * 10 * ms));
            p.push_frame(labels(i * 10 * ms + ms));
            p.push_window(window(i * 10 * ms + 5 * ms));
            kept.extend(p.pop().map(|s| s.t_ns / ms));
        }
        assert_eq!(kept, [1, 31, 61]);
        assert_eq!((p.stats().paired, p.stats().skipped), (9, 6));
    }

    #[test]
    fn the_replay_buffer_replaces_the_oldest_and_picks_distinct_items() {
        let mut b = ReplayBuffer::new(4);
        for i in 0..4 {
            assert!(!b.push(i));
        }
        assert!(b.push(4));
        assert!(b.push(5));
        assert_eq!((b.len(), b.replaced(), b.capacity()), (4, 2, 4));
        let mut held: Vec<i32> = b
            .pick(4, &mut XorShift::new(1))
            .into_iter()
            .copied()
            .collect();
        held.sort_unstable();
        assert_eq!(held, [2, 3, 4, 5], "the two oldest were replaced");
        let mut rng = XorShift::new(9);
        for _ in 0..50 {
            let mut two: Vec<i32> = b.pick(2, &mut rng).into_iter().copied().collect();
            two.dedup();
            assert_eq!(two.len(), 2, "distinct while the buffer holds enough");
        }
        assert_eq!(b.pick(6, &mut rng).len(), 6, "with repeats beyond its size");
        assert!(ReplayBuffer::<u8>::new(3).pick(2, &mut rng).is_empty());
    }
}
