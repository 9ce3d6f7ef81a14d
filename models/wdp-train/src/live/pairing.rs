//! [`Pairing`]: each labelled frame with the newest window at or before it, within a largest
//! lag, into a [`Sample`]; [`FeatureMatch`]: each sample with the teacher features nearest it.
//! Both are on `wdp_timepair`, the project's one pairing by capture time.

use super::{Labels, LiveWindow};
use crate::data::Sample;
use eyre::{bail, Result};
use wdp_timepair::{Config, Pairer, Policy};

/// How far apart in capture time messages may be before the older are given up: windows kept
/// for frames still to come, and frames waiting for a window when the windows stall.
const HOLD_NS: i64 = 10_000_000_000;

/// Most windows (or teacher feature vectors) held for frames still to come: [`HOLD_NS`] of them
/// at up to 100 a second, and a bound on memory at any rate.
const HOLD_ITEMS: usize = 1024;

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
        radio_map: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::testing::{labels, window};
    use wdp_pose::PoseFrame;

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
}
