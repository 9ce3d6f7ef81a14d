//! CSI-blind baselines: what scoring gives a model that cannot read the radio. Each goes
//! through exactly the evaluation of the model, so the model's figures mean something only by
//! how far they rise above these.
//!
//! - [`blind_inputs`]: the samples with their CSI windows replaced, for the model to run on:
//!   [`Blind::Shuffle`] gives each frame the window of another random frame of the same room
//!   (real CSI that says nothing about this moment), [`Blind::Zero`] all-zero windows.
//! - [`RoomPrior`]: no model at all: per room, the training set's most common people count `K`
//!   and `K` poses (k-means centres of the training people on their mid-hip pixel position),
//!   predicted with score 1 on every frame of that room.

use crate::data::Sample;
use crate::predict::Detection;
use eyre::{eyre, Result};
use std::collections::{BTreeMap, HashMap};
use wdp_csi::dsp::SplitMix64;

/// COCO-17 hips, whose midpoint places a person for the prior's clustering.
const HIPS: [usize; 2] = [11, 12];
/// k-means iterations (converges long before on a few hundred points).
const KMEANS_ITERATIONS: usize = 100;

/// How a blind baseline replaces the CSI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Blind {
    /// Each frame gets the window of another random frame of the same room.
    Shuffle,
    /// All-zero windows.
    Zero,
}

/// Uniform in `0..n` (`n > 0`) by remainder, as these baselines have always drawn.
fn below(rng: &mut SplitMix64, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// Model inputs of `samples` (same order) with their windows replaced as `blind` says. The
/// copies carry no labels: score against the originals.
pub fn blind_inputs(samples: &[&Sample], blind: Blind, seed: u64) -> Vec<Sample> {
    let mut by_room: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in samples.iter().enumerate() {
        by_room.entry(s.room.as_str()).or_default().push(i);
    }
    let mut rng = SplitMix64::new(seed);
    samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            // The radio's floor image is radio too: it goes with the window.
            let (window, radio_map) = match blind {
                Blind::Zero => (vec![0.0; s.window.len()], None),
                Blind::Shuffle => {
                    let room = &by_room[s.room.as_str()];
                    // Another frame of the room when there is one.
                    let j = if room.len() > 1 {
                        let mut j = room[below(&mut rng, room.len() - 1)];
                        if j == i {
                            j = room[room.len() - 1];
                        }
                        j
                    } else {
                        i
                    };
                    (samples[j].window.clone(), samples[j].radio_map.clone())
                }
            };
            Sample {
                room: s.room.clone(),
                t_ns: s.t_ns,
                seq: s.seq,
                window,
                window_shape: s.window_shape,
                people: Vec::new(),
                part_index: ndarray::Array3::zeros((0, 0, 0)),
                uv: None,
                image_wh: s.image_wh,
                teacher_features: None,
                camera: s.camera.clone(),
                radio_map,
            }
        })
        .collect()
}

/// One prior pose: mean keypoints and box of a cluster of training people.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorPose {
    /// `(x, y, fraction of the cluster labelling it)` per keypoint, image pixels.
    pub keypoints: [[f32; 3]; 17],
    /// `x0, y0, x1, y1`, image pixels.
    pub bbox: [f32; 4],
    /// Training people in the cluster.
    pub members: usize,
}

/// The prior of one room (or of all training rooms together).
#[derive(Debug, Clone, PartialEq)]
pub struct PosePrior {
    /// The most common labelled people count of its training frames (ties: the smaller).
    pub count: usize,
    /// `count` poses (fewer when the training set had fewer people to cluster).
    pub poses: Vec<PriorPose>,
    /// Image size `[W, H]` of the poses.
    pub image_wh: [usize; 2],
    /// Training frames it was built from.
    pub frames: usize,
}

impl PosePrior {
    /// The prior of `samples` (all of one image size); k-means seeded by `seed`.
    pub fn fit(samples: &[&Sample], seed: u64) -> Result<Self> {
        let first = samples
            .first()
            .ok_or_else(|| eyre!("a prior needs training frames"))?;
        let image_wh = first.image_wh;
        if let Some(s) = samples.iter().find(|s| s.image_wh != image_wh) {
            return Err(eyre!(
                "prior: frames of {:?} and {:?} pixels mixed",
                image_wh,
                s.image_wh
            ));
        }
        let mut histogram: BTreeMap<usize, usize> = BTreeMap::new();
        let mut people = Vec::new();
        for s in samples {
            let labelled: Vec<_> = s
                .people
                .iter()
                .filter(|p| p.keypoints.iter().any(|k| k[2] > 0.0))
                .collect();
            *histogram.entry(labelled.len()).or_default() += 1;
            for p in labelled {
                if let Some(c) = anchor(&p.keypoints, &p.bbox) {
                    people.push((c, p.keypoints, p.bbox));
                }
            }
        }
        // BTreeMap iterates counts upwards and max_by_key keeps the last maximum: reverse so
        // ties go to the smaller count.
        let count = histogram
            .iter()
            .rev()
            .max_by_key(|(_, frames)| **frames)
            .map_or(0, |(k, _)| *k);
        let points: Vec<[f64; 2]> = people.iter().map(|p| p.0).collect();
        let assignment = kmeans(&points, count.min(points.len()), seed);
        let poses = (0..count.min(points.len()))
            .map(|c| {
                let members: Vec<_> = people
                    .iter()
                    .zip(&assignment)
                    .filter(|(_, a)| **a == c)
                    .map(|(p, _)| p)
                    .collect();
                mean_pose(&members)
            })
            .filter(|p| p.members > 0)
            .collect();
        Ok(Self {
            count,
            poses,
            image_wh,
            frames: samples.len(),
        })
    }

    /// The prior's detections for a frame of `image_wh` pixels (poses scaled), score 1.
    pub fn detections(&self, image_wh: [usize; 2]) -> Vec<Detection> {
        let sx = image_wh[0] as f32 / self.image_wh[0].max(1) as f32;
        let sy = image_wh[1] as f32 / self.image_wh[1].max(1) as f32;
        self.poses
            .iter()
            .map(|p| Detection {
                keypoints: p.keypoints.map(|k| [k[0] * sx, k[1] * sy, k[2]]),
                bbox: [
                    p.bbox[0] * sx,
                    p.bbox[1] * sy,
                    p.bbox[2] * sx,
                    p.bbox[3] * sy,
                ],
                score: 1.0,
                parts: Vec::new(),
                uv: Vec::new(),
                grid: 0,
                floor_m: None,
            })
            .collect()
    }
}

/// Where a person is in the image: mid-hip, else its box centre.
fn anchor(kp: &[[f32; 3]; 17], bbox: &[f32; 4]) -> Option<[f64; 2]> {
    let [l, r] = HIPS.map(|j| kp[j]);
    if l[2] > 0.0 && r[2] > 0.0 {
        return Some([f64::from(l[0] + r[0]) / 2.0, f64::from(l[1] + r[1]) / 2.0]);
    }
    (bbox[2] > bbox[0] && bbox[3] > bbox[1]).then(|| {
        [
            f64::from(bbox[0] + bbox[2]) / 2.0,
            f64::from(bbox[1] + bbox[3]) / 2.0,
        ]
    })
}

/// A training person: anchor, keypoints, box.
type Member = ([f64; 2], [[f32; 3]; 17], [f32; 4]);

/// Mean of a cluster: each keypoint over the members labelling it, the box over all.
fn mean_pose(members: &[&Member]) -> PriorPose {
    let n = members.len().max(1) as f32;
    let keypoints = std::array::from_fn(|j| {
        let labelled: Vec<_> = members
            .iter()
            .map(|m| m.1[j])
            .filter(|k| k[2] > 0.0)
            .collect();
        let l = labelled.len() as f32;
        if l == 0.0 {
            return [0.0, 0.0, 0.0];
        }
        [
            labelled.iter().map(|k| k[0]).sum::<f32>() / l,
            labelled.iter().map(|k| k[1]).sum::<f32>() / l,
            l / n,
        ]
    });
    let bbox = std::array::from_fn(|c| members.iter().map(|m| m.2[c]).sum::<f32>() / n);
    PriorPose {
        keypoints,
        bbox,
        members: members.len(),
    }
}

/// Lloyd's k-means with k-means++ seeding: the cluster of each point.
pub fn kmeans(points: &[[f64; 2]], k: usize, seed: u64) -> Vec<usize> {
    if k == 0 || points.is_empty() {
        return vec![0; points.len()];
    }
    let d2 = |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);
    let mut rng = SplitMix64::new(seed);
    let mut centres = vec![points[below(&mut rng, points.len())]];
    while centres.len() < k {
        let weights: Vec<f64> = points
            .iter()
            .map(|&p| {
                centres
                    .iter()
                    .map(|&c| d2(p, c))
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            // Fewer distinct points than clusters: repeat one.
            centres.push(points[below(&mut rng, points.len())]);
            continue;
        }
        let mut target = rng.next_f64() * total;
        let mut pick = points.len() - 1;
        for (i, w) in weights.iter().enumerate() {
            if target < *w {
                pick = i;
                break;
            }
            target -= w;
        }
        centres.push(points[pick]);
    }
    let nearest = |p: [f64; 2], centres: &[[f64; 2]]| {
        (0..centres.len())
            .min_by(|&a, &b| d2(p, centres[a]).total_cmp(&d2(p, centres[b])))
            .unwrap_or(0)
    };
    let mut assignment: Vec<usize> = points.iter().map(|&p| nearest(p, &centres)).collect();
    for _ in 0..KMEANS_ITERATIONS {
        for (c, centre) in centres.iter_mut().enumerate() {
            let members: Vec<[f64; 2]> = points
                .iter()
                .zip(&assignment)
                .filter(|(_, a)| **a == c)
                .map(|(p, _)| *p)
                .collect();
            if !members.is_empty() {
                let n = members.len() as f64;
                *centre = [
                    members.iter().map(|p| p[0]).sum::<f64>() / n,
                    members.iter().map(|p| p[1]).sum::<f64>() / n,
                ];
            }
        }
        let next: Vec<usize> = points.iter().map(|&p| nearest(p, &centres)).collect();
        if next == assignment {
            break;
        }
        assignment = next;
    }
    assignment
}

/// The training set's prior per room, with the prior of all rooms together for a room the
/// training set does not have.
#[derive(Debug, Clone)]
pub struct RoomPrior {
    /// Per room name.
    pub rooms: BTreeMap<String, PosePrior>,
    /// Of every training frame.
    pub pooled: PosePrior,
}

impl RoomPrior {
    /// The priors of `samples` (training frames).
    pub fn fit(samples: &[&Sample], seed: u64) -> Result<Self> {
        let mut by_room: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
        for s in samples {
            by_room.entry(s.room.as_str()).or_default().push(s);
        }
        let rooms = by_room
            .into_iter()
            .map(|(room, frames)| Ok((room.to_owned(), PosePrior::fit(&frames, seed)?)))
            .collect::<Result<_>>()?;
        Ok(Self {
            rooms,
            pooled: PosePrior::fit(samples, seed)?,
        })
    }

    /// The prior a frame of `room` gets: its room's, else the pooled one.
    pub fn for_room(&self, room: &str) -> &PosePrior {
        self.rooms.get(room).unwrap_or(&self.pooled)
    }

    /// The prior's detections for each sample.
    pub fn predict(&self, samples: &[&Sample]) -> Vec<Vec<Detection>> {
        samples
            .iter()
            .map(|s| self.for_room(&s.room).detections(s.image_wh))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::PersonLabel;

    fn person(x: f32, y: f32) -> PersonLabel {
        let mut keypoints = [[x, y, 2.0]; 17];
        keypoints[HIPS[0]] = [x - 5.0, y, 2.0];
        keypoints[HIPS[1]] = [x + 5.0, y, 2.0];
        keypoints[0] = [x, y - 40.0, 0.0];
        PersonLabel {
            keypoints,
            bbox: [x - 20.0, y - 50.0, x + 20.0, y + 50.0],
            position_m: None,
        }
    }

    fn frame(room: &str, seq: u64, people: Vec<PersonLabel>) -> Sample {
        Sample {
            room: room.into(),
            t_ns: seq as i64,
            seq,
            window: vec![seq as f32 + 1.0; 4],
            window_shape: [1, 1, 1, 4],
            people,
            part_index: ndarray::Array3::zeros((0, 0, 0)),
            uv: None,
            image_wh: [320, 240],
            teacher_features: None,
            camera: None,
            radio_map: None,
        }
    }

    #[test]
    fn prior_takes_the_common_count_and_cluster_means() {
        // Two people, one near (50, 100) and one near (250, 100), in 3 of 4 frames.
        let samples = [
            frame("a", 0, vec![person(48.0, 100.0), person(250.0, 98.0)]),
            frame("a", 1, vec![person(52.0, 100.0), person(250.0, 102.0)]),
            frame("a", 2, vec![person(250.0, 100.0), person(50.0, 100.0)]),
            frame("a", 3, vec![person(150.0, 100.0)]),
            frame("b", 0, vec![]),
        ];
        let refs: Vec<&Sample> = samples.iter().collect();
        let prior = RoomPrior::fit(&refs, 7).expect("prior");
        let a = &prior.rooms["a"];
        assert_eq!(a.count, 2);
        let mut hips: Vec<[f32; 2]> = a
            .poses
            .iter()
            .map(|p| {
                [
                    (p.keypoints[11][0] + p.keypoints[12][0]) / 2.0,
                    p.keypoints[11][1],
                ]
            })
            .collect();
        hips.sort_by(|x, y| x[0].total_cmp(&y[0]));
        // The lone middle person joins one side; the far side's mean is exact.
        assert!(
            (hips[1][0] - 250.0).abs() < 1e-4 || (hips[0][0] - 50.0).abs() < 1e-4,
            "{hips:?}"
        );
        assert!(hips[0][0] < 110.0 && hips[1][0] > 190.0, "{hips:?}");
        // Keypoint 0 is never labelled: score 0.
        assert!(a.poses.iter().all(|p| p.keypoints[0][2] == 0.0));
        assert_eq!(prior.rooms["b"].count, 0);
        // Unknown room: the pooled prior (2 people in 3 of 5 frames).
        assert_eq!(prior.for_room("c").count, 2);
        let dets = prior.predict(&[&frame("a", 9, vec![])]);
        assert_eq!(dets[0].len(), 2);
        assert!(dets[0].iter().all(|d| d.score == 1.0));
        let scaled = prior.rooms["a"].detections([640, 480]);
        assert!((scaled[0].bbox[2] - 2.0 * a.poses[0].bbox[2]).abs() < 1e-3);
    }

    #[test]
    fn kmeans_separates_two_blobs() {
        let points: Vec<[f64; 2]> = (0..10)
            .map(|i| [f64::from(i % 2) * 100.0 + f64::from(i) * 0.1, 5.0])
            .collect();
        let a = kmeans(&points, 2, 1);
        for (i, c) in a.iter().enumerate() {
            assert_eq!(*c == a[0], i % 2 == 0, "{a:?}");
        }
        assert_eq!(kmeans(&points, 0, 1), vec![0; 10]);
    }

    #[test]
    fn blind_inputs_shuffle_within_rooms_and_zero() {
        let samples: Vec<Sample> = (0..6)
            .map(|i| frame(if i < 3 { "a" } else { "b" }, i, vec![person(50.0, 50.0)]))
            .collect();
        let refs: Vec<&Sample> = samples.iter().collect();
        let shuffled = blind_inputs(&refs, Blind::Shuffle, 3);
        for (i, s) in shuffled.iter().enumerate() {
            let source = samples
                .iter()
                .position(|o| o.window == s.window)
                .expect("a real window");
            assert_ne!(source, i, "frame {i} kept its own window");
            assert_eq!(samples[source].room, s.room);
            assert!(s.people.is_empty());
        }
        assert_eq!(
            blind_inputs(&refs, Blind::Shuffle, 3)[0].window,
            shuffled[0].window
        );
        let zero = blind_inputs(&refs, Blind::Zero, 3);
        assert!(zero.iter().all(|s| s.window.iter().all(|&v| v == 0.0)));
    }
}
