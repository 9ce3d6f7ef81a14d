//! The empty room's fingerprint: what the channel looks like with nobody in it, so that the
//! sensor can tell "everybody left" from "somebody sits still" without waiting out the whole
//! presence hold.
//!
//! Motion says when somebody moves; once nobody moves, an empty room and a still person give the
//! same quiet score, which is why presence is held for a minute after the last motion. The
//! static channel tells them apart: a body in the room scatters part of the signal, so the shape
//! of the amplitude profile over subcarriers differs from the empty room's, and it comes back
//! when the body leaves. The profile of each link is taken per packet divided by its mean (the
//! receiver's gain cancels, as for the turbulence), averaged over a second, and compared with
//! the profile measured during the quiet calibration (the room is empty then: the installer has
//! left). The distance is read as a ratio of how much the calibration's own seconds differ from
//! their mean, so no threshold is in raw units. It is used only to end a held presence early,
//! never to start one: a room whose static channel drifted (a door, furniture moved) only falls
//! back to the hold.

use crate::feature::LinkFeatures;
use std::collections::HashMap;
use wdp_csi::CsiFrame;

/// A link's profile is keyed by antenna pair and subcarrier count (a capture may mix packet
/// kinds whose profiles are not comparable).
type LinkKey = (usize, usize, usize);

/// One second's mean normalised amplitude profile per link.
pub type Profiles = HashMap<LinkKey, Vec<f64>>;

/// Accumulates the profiles of the running second and keeps the empty room's.
#[derive(Debug, Default)]
pub struct EmptyRoom {
    /// Sum of the normalised profiles of the running second and the packets in it, per link.
    current: HashMap<LinkKey, (Vec<f64>, u32)>,
    /// The calibration seconds' profiles.
    calibration: Vec<Profiles>,
    /// The empty room's profile per link.
    fingerprint: Profiles,
    /// Median distance of the calibration seconds to their mean: the unit of [`Self::ratio`].
    spread: Option<f64>,
}

/// Smallest spread: a noise-free simulation has none, and a ratio of zero means nothing.
const MIN_SPREAD: f64 = 1e-9;

impl EmptyRoom {
    /// Adds a packet to the running second: each link of `features` (the packet's
    /// [`link_features`](crate::feature::link_features), whose mean amplitude it divides by).
    pub fn push(&mut self, frame: &CsiFrame, features: &[LinkFeatures]) {
        for f in features {
            let start = (f.tx * frame.n_rx + f.rx) * f.n_subcarriers;
            let (sum, n) = self
                .current
                .entry((f.tx, f.rx, f.n_subcarriers))
                .or_insert_with(|| (vec![0.0; f.n_subcarriers], 0));
            for (s, c) in sum
                .iter_mut()
                .zip(&frame.csi[start..start + f.n_subcarriers])
            {
                let a = f64::from(c.norm());
                // Null tones and non-finite values count as zero, as the mean left them out.
                if a.is_finite() {
                    *s += a / f.mean_amplitude;
                }
            }
            *n += 1;
        }
    }

    /// Ends the running second: its mean profile per link.
    pub fn close_second(&mut self) -> Profiles {
        self.current
            .drain()
            .map(|(key, (sum, n))| (key, sum.into_iter().map(|s| s / f64::from(n)).collect()))
            .collect()
    }

    /// A second of the quiet calibration.
    pub fn calibrate(&mut self, profiles: Profiles) {
        if !profiles.is_empty() {
            self.calibration.push(profiles);
        }
    }

    /// Ends the calibration: the fingerprint is the mean of its seconds, the spread the median
    /// distance of a second to it. Nothing (no release) when it had no profile.
    pub fn finish_calibration(&mut self) {
        let seconds = std::mem::take(&mut self.calibration);
        let mut sums: HashMap<LinkKey, (Vec<f64>, u32)> = HashMap::new();
        for second in &seconds {
            for (key, p) in second {
                let (sum, n) = sums.entry(*key).or_insert_with(|| (vec![0.0; p.len()], 0));
                for (s, v) in sum.iter_mut().zip(p) {
                    *s += v;
                }
                *n += 1;
            }
        }
        self.fingerprint = sums
            .into_iter()
            .map(|(key, (sum, n))| (key, sum.into_iter().map(|s| s / f64::from(n)).collect()))
            .collect();
        let mut distances: Vec<f64> = seconds
            .iter()
            .filter_map(|s| self.distance(s).map(|(d, _)| d))
            .collect();
        distances.sort_by(f64::total_cmp);
        self.spread = distances
            .get(distances.len() / 2)
            .map(|d| d.max(MIN_SPREAD));
    }

    /// Root-mean-square difference between `profiles` and the fingerprint, averaged over the
    /// links both have, and how many those are; `None` when they share none.
    fn distance(&self, profiles: &Profiles) -> Option<(f64, usize)> {
        let (mut sum, mut n) = (0.0, 0usize);
        for (key, p) in profiles {
            if let Some(f) = self.fingerprint.get(key) {
                let sq: f64 = p.iter().zip(f).map(|(a, b)| (a - b) * (a - b)).sum();
                sum += (sq / p.len().max(1) as f64).sqrt();
                n += 1;
            }
        }
        (n > 0).then(|| (sum / n as f64, n))
    }

    /// How far this second's profiles are from the empty room, in units of the calibration's
    /// spread (about 1 for an empty room like the one calibrated); `None` before calibration
    /// or with fewer than `min_links` links in common.
    pub fn ratio(&self, profiles: &Profiles, min_links: usize) -> Option<f64> {
        let (d, n) = self.distance(profiles)?;
        (n >= min_links.max(1)).then_some(d / self.spread?)
    }

    /// Moves the fingerprint toward an empty second's profiles by `rate` (slow changes of the
    /// empty room are followed); a link first seen now is taken as it is.
    pub fn follow(&mut self, profiles: &Profiles, rate: f64) {
        if self.spread.is_none() {
            return;
        }
        for (key, p) in profiles {
            match self.fingerprint.get_mut(key) {
                Some(f) if f.len() == p.len() => {
                    for (a, b) in f.iter_mut().zip(p) {
                        *a += rate * (b - *a);
                    }
                }
                _ => {
                    self.fingerprint.insert(*key, p.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use wdp_csi::{CaptureFormat, Complex32};

    fn frame(profile: impl Fn(usize) -> f32, gain: f32) -> CsiFrame {
        CsiFrame {
            format: CaptureFormat::Simulated,
            n_tx: 1,
            n_rx: 2,
            subcarriers: (0..30).collect(),
            csi: (0..60)
                .map(|i| Complex32::new(gain * profile(i % 30) * (1.0 + (i / 30) as f32), 0.0))
                .collect(),
            timestamp_ns: 0,
            rssi_dbm: None,
            noise_dbm: None,
            meta: Default::default(),
        }
    }

    /// Twenty packets of `profile(packet, subcarrier)`, the packets numbered on from `from`.
    fn second(
        room: &mut EmptyRoom,
        from: usize,
        profile: impl Fn(usize, usize) -> f32,
    ) -> Profiles {
        for packet in from..from + 20 {
            // The gain changes from packet to packet: the profile must not see it.
            let gain = if packet % 3 == 0 { 1.0 } else { 4.0 };
            let f = frame(|k| profile(packet, k), gain);
            room.push(&f, &crate::feature::link_features(&f));
        }
        room.close_second()
    }

    #[test]
    fn an_empty_room_reads_near_one_and_a_body_far_above() {
        let mut room = EmptyRoom::default();
        // Empty: a fixed multipath shape plus a little noise.
        let empty = |p: usize, k: usize| {
            // A pseudo-random 1% of noise per packet and subcarrier.
            let noise = ((p * 7919 + k * 104_729) % 1009) as f32 / 1009.0 - 0.5;
            1.0 + 0.4 * (0.5 * k as f32).sin() + 0.02 * noise
        };
        for k in 0..5 {
            let s = second(&mut room, 20 * k, empty);
            assert_eq!(room.ratio(&s, 2), None, "no ratio before calibration");
            room.calibrate(s);
        }
        room.finish_calibration();
        let again = second(&mut room, 1000, empty);
        assert_eq!(room.ratio(&again, 3), None, "two links, three asked for");
        let r = room.ratio(&again, 2).unwrap();
        assert!(r < 3.0, "the same empty room: {r}");
        // A still body adds a path: the profile's shape changes.
        let body = |p: usize, k: usize| empty(p, k) + 0.2 * (1.3 * k as f32 + 0.5).cos();
        let s = second(&mut room, 2000, body);
        let r = room.ratio(&s, 2).unwrap();
        assert!(r > 20.0, "a body in the room: {r}");
        // The fingerprint follows an empty room that changed, at the rate asked.
        let moved = |p: usize, k: usize| empty(p, k) + 0.05 * (0.9 * k as f32).cos();
        let s = second(&mut room, 3000, moved);
        let before = room.ratio(&s, 2).unwrap();
        for k in 0..200 {
            let s = second(&mut room, 4000 + 20 * k, moved);
            room.follow(&s, 0.05);
        }
        let s = second(&mut room, 9000, moved);
        let after = room.ratio(&s, 2).unwrap();
        assert!(after < 3.0 && before > 3.0 * after, "{before} -> {after}");
    }
}
