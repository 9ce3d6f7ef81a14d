//! Isolation forest (Liu, Ting, Zhou 2008) over whole packets, as seed 001 uses it to drop
//! outlier packets.
//!
//! Each tree is grown on a random subsample of `sample_size` feature vectors by splitting on a
//! random feature at a random value between its minimum and maximum, down to a height limit of
//! `ceil(log2(sample_size))`. Anomalies are isolated in few splits: the score
//! `s(x) = 2^(-E[h(x)] / c(sample_size))` is near 1 for them and at or below 0.5 for normal
//! points, with `c(n)` the average path length of an unsuccessful binary-search-tree search.
//! Deterministic from a seed.

use super::SplitMix64;
use serde::{Deserialize, Serialize};

/// Euler-Mascheroni constant, for the harmonic-number approximation.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// `c(n)`: average path length of an unsuccessful search in a binary search tree of `n` points,
/// the normaliser of path lengths.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        n => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// Settings of the isolation-forest packet filter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IforestConfig {
    /// Trees in the forest.
    pub n_trees: usize,
    /// Subsample size per tree (ψ).
    pub sample_size: usize,
    /// Packets collected to fit the forest at the start of a stream (they pass unfiltered).
    pub calibration_packets: usize,
    /// Score above which a packet is dropped; `None` takes the `1 - contamination` quantile of
    /// the calibration scores (but never below 0.5).
    pub threshold: Option<f32>,
    /// Expected fraction of outliers, when `threshold` is not given.
    pub contamination: f32,
    /// Random seed.
    pub seed: u64,
}

impl Default for IforestConfig {
    fn default() -> Self {
        Self {
            n_trees: 100,
            sample_size: 256,
            calibration_packets: 500,
            threshold: None,
            contamination: 0.01,
            seed: 1,
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    Split {
        feature: usize,
        threshold: f32,
        left: usize,
        right: usize,
    },
    Leaf {
        size: usize,
    },
}

#[derive(Debug, Clone)]
struct Tree {
    nodes: Vec<Node>,
}

/// A fitted isolation forest.
#[derive(Debug, Clone)]
pub struct IsolationForest {
    trees: Vec<Tree>,
    n_features: usize,
    c_psi: f64,
}

impl IsolationForest {
    /// Fits a forest on `data`, row-major `[n_points, n_features]`. Returns `None` when there
    /// are fewer than 2 points or no features.
    pub fn fit(
        data: &[f32],
        n_features: usize,
        n_trees: usize,
        sample_size: usize,
        seed: u64,
    ) -> Option<Self> {
        if n_features == 0 || data.len() / n_features < 2 {
            return None;
        }
        let n_points = data.len() / n_features;
        let psi = sample_size.clamp(2, n_points);
        let height_limit = (psi as f64).log2().ceil() as usize;
        let mut rng = SplitMix64::new(seed);
        let mut perm: Vec<usize> = (0..n_points).collect();
        let mut trees = Vec::with_capacity(n_trees.max(1));
        for _ in 0..n_trees.max(1) {
            // Partial Fisher-Yates: the first psi entries are a sample without replacement.
            for i in 0..psi {
                let j = i + rng.below(n_points - i);
                perm.swap(i, j);
            }
            let mut rows = perm[..psi].to_vec();
            let mut nodes = Vec::new();
            grow(
                data,
                n_features,
                &mut rows,
                0,
                height_limit,
                &mut rng,
                &mut nodes,
            );
            trees.push(Tree { nodes });
        }
        Some(Self {
            trees,
            n_features,
            c_psi: average_path_length(psi),
        })
    }

    /// Features per point.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Anomaly score of one point in `(0, 1]`: near 1 for anomalies, 0.5 or below for normal
    /// points.
    pub fn score(&self, x: &[f32]) -> f32 {
        let mut total = 0.0f64;
        for tree in &self.trees {
            total += path_length(&tree.nodes, x);
        }
        let mean = total / self.trees.len() as f64;
        if self.c_psi <= 0.0 {
            return 0.5;
        }
        2f64.powf(-mean / self.c_psi) as f32
    }
}

/// Grows a subtree over `rows` and returns its node index.
fn grow(
    data: &[f32],
    n_features: usize,
    rows: &mut [usize],
    depth: usize,
    height_limit: usize,
    rng: &mut SplitMix64,
    nodes: &mut Vec<Node>,
) -> usize {
    let id = nodes.len();
    nodes.push(Node::Leaf { size: rows.len() });
    if depth >= height_limit || rows.len() <= 1 {
        return id;
    }
    // Pick a random feature that is not constant over these rows (a few tries, then give up:
    // the rows are then identical as far as the forest can tell).
    let mut chosen = None;
    for _ in 0..n_features.min(32) {
        let f = rng.below(n_features);
        let (lo, hi) = rows
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &r| {
                let v = data[r * n_features + f];
                (lo.min(v), hi.max(v))
            });
        if hi > lo {
            chosen = Some((f, lo, hi));
            break;
        }
    }
    let Some((feature, lo, hi)) = chosen else {
        return id;
    };
    let threshold = lo + (hi - lo) * rng.next_f64() as f32;
    // Partition rows: values below the threshold first.
    let mut split = 0;
    for i in 0..rows.len() {
        if data[rows[i] * n_features + feature] < threshold {
            rows.swap(i, split);
            split += 1;
        }
    }
    // The minimum is always below a threshold drawn in (lo, hi], so both sides are non-empty
    // except when rounding puts the threshold on lo; then keep this node a leaf.
    if split == 0 || split == rows.len() {
        return id;
    }
    let (left_rows, right_rows) = rows.split_at_mut(split);
    let left = grow(
        data,
        n_features,
        left_rows,
        depth + 1,
        height_limit,
        rng,
        nodes,
    );
    let right = grow(
        data,
        n_features,
        right_rows,
        depth + 1,
        height_limit,
        rng,
        nodes,
    );
    nodes[id] = Node::Split {
        feature,
        threshold,
        left,
        right,
    };
    id
}

fn path_length(nodes: &[Node], x: &[f32]) -> f64 {
    let mut id = 0;
    let mut depth = 0.0;
    loop {
        match nodes.get(id) {
            Some(Node::Split {
                feature,
                threshold,
                left,
                right,
            }) => {
                let v = x.get(*feature).copied().unwrap_or(0.0);
                id = if v < *threshold { *left } else { *right };
                depth += 1.0;
            }
            Some(Node::Leaf { size }) => return depth + average_path_length(*size),
            None => return depth,
        }
    }
}

/// The packet feature vector the forest sees: per subcarrier, the mean over antenna pairs of
/// `ln(amplitude)`; written into `out` (resized to `n_sub`). Log amplitude makes gain glitches
/// and deep fades comparable across subcarriers.
pub fn packet_features(amplitude: &[f32], n_links: usize, n_sub: usize, out: &mut Vec<f32>) {
    out.clear();
    out.resize(n_sub, 0.0);
    if n_links == 0 {
        return;
    }
    for l in 0..n_links {
        for (s, o) in out.iter_mut().enumerate() {
            let a = amplitude.get(l * n_sub + s).copied().unwrap_or(0.0);
            *o += (a.max(1e-6)).ln();
        }
    }
    for o in out.iter_mut() {
        *o /= n_links as f32;
    }
}

/// The streaming packet filter: collects calibration packets, fits, then scores each packet.
#[derive(Debug, Clone)]
pub struct IforestFilter {
    config: IforestConfig,
    n_features: usize,
    calibration: Vec<f32>,
    forest: Option<IsolationForest>,
    threshold: f32,
    features: Vec<f32>,
}

/// What the filter decided about one packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Still collecting calibration packets; the packet passes.
    Calibrating,
    /// Scored below the threshold.
    Keep(f32),
    /// Scored above the threshold: drop it.
    Outlier(f32),
}

impl IforestFilter {
    /// A filter over feature vectors of `n_features` values.
    pub fn new(n_features: usize, config: IforestConfig) -> Self {
        Self {
            calibration: Vec::with_capacity(config.calibration_packets * n_features),
            config,
            n_features,
            forest: None,
            threshold: 1.0,
            features: Vec::with_capacity(n_features),
        }
    }

    /// The threshold in use (1 until fitted).
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Judges one packet from its amplitudes `[link, subcarrier]`.
    pub fn judge(&mut self, amplitude: &[f32], n_links: usize, n_sub: usize) -> Verdict {
        let mut features = std::mem::take(&mut self.features);
        packet_features(amplitude, n_links, n_sub, &mut features);
        let verdict = self.judge_features(&features);
        self.features = features;
        verdict
    }

    /// Judges one feature vector.
    pub fn judge_features(&mut self, features: &[f32]) -> Verdict {
        if let Some(forest) = &self.forest {
            let s = forest.score(features);
            return if s > self.threshold {
                Verdict::Outlier(s)
            } else {
                Verdict::Keep(s)
            };
        }
        self.calibration.extend(
            features
                .iter()
                .copied()
                .chain(std::iter::repeat(0.0))
                .take(self.n_features),
        );
        if self.calibration.len() / self.n_features.max(1) >= self.config.calibration_packets {
            self.fit();
        }
        Verdict::Calibrating
    }

    fn fit(&mut self) {
        let c = &self.config;
        let Some(forest) = IsolationForest::fit(
            &self.calibration,
            self.n_features,
            c.n_trees,
            c.sample_size,
            c.seed,
        ) else {
            return;
        };
        self.threshold = match c.threshold {
            Some(t) => t,
            None => {
                let mut scores: Vec<f32> = self
                    .calibration
                    .chunks_exact(self.n_features)
                    .map(|x| forest.score(x))
                    .collect();
                scores.sort_by(f32::total_cmp);
                let q = (1.0 - c.contamination.clamp(0.0, 1.0)) * (scores.len() - 1) as f32;
                scores
                    .get(q.round() as usize)
                    .copied()
                    .unwrap_or(1.0)
                    .max(0.5)
            }
        };
        self.forest = Some(forest);
        self.calibration = Vec::new();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn c_of_n_matches_the_paper() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // c(256) = 2 H(255) - 2*255/256 ≈ 10.24
        assert!((average_path_length(256) - 10.2448).abs() < 1e-3);
    }

    fn normal_packets(n: usize, d: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        (0..n * d)
            .map(|i| (i % d) as f32 * 0.1 + 0.2 * rng.normal() as f32)
            .collect()
    }

    #[test]
    fn anomalies_score_higher() {
        let d = 30;
        let data = normal_packets(500, d, 3);
        let forest = IsolationForest::fit(&data, d, 100, 256, 7).unwrap();
        let test = normal_packets(50, d, 4);
        let normal_scores: Vec<f32> = test.chunks(d).map(|x| forest.score(x)).collect();
        let mut anomalies = Vec::new();
        for (k, x) in test.chunks(d).take(10).enumerate() {
            let mut a = x.to_vec();
            // A gain glitch on a few subcarriers, or the whole packet.
            if k % 2 == 0 {
                a.iter_mut().for_each(|v| *v += 3.0);
            } else {
                a[5..10].iter_mut().for_each(|v| *v -= 4.0);
            }
            anomalies.push(forest.score(&a));
        }
        let max_normal = normal_scores.iter().copied().fold(0.0, f32::max);
        let min_anomaly = anomalies.iter().copied().fold(1.0, f32::min);
        let mean_normal = normal_scores.iter().sum::<f32>() / normal_scores.len() as f32;
        assert!(mean_normal < 0.5, "{mean_normal}");
        assert!(min_anomaly > max_normal, "{min_anomaly} <= {max_normal}");
        let mean_anomaly = anomalies.iter().sum::<f32>() / anomalies.len() as f32;
        assert!(min_anomaly > 0.5 && mean_anomaly > 0.55, "{anomalies:?}");
    }

    #[test]
    fn deterministic_from_seed() {
        let d = 8;
        let data = normal_packets(300, d, 5);
        let a = IsolationForest::fit(&data, d, 50, 128, 42).unwrap();
        let b = IsolationForest::fit(&data, d, 50, 128, 42).unwrap();
        let c = IsolationForest::fit(&data, d, 50, 128, 43).unwrap();
        let x = &data[..d];
        assert_eq!(a.score(x), b.score(x));
        assert_ne!(a.score(x), c.score(x));
    }

    #[test]
    fn filter_calibrates_then_drops_outliers() {
        let d = 30;
        let mut f = IforestFilter::new(
            d,
            IforestConfig {
                calibration_packets: 300,
                ..Default::default()
            },
        );
        let data = normal_packets(300, d, 9);
        for x in data.chunks(d) {
            assert_eq!(f.judge_features(x), Verdict::Calibrating);
        }
        let good = normal_packets(1, d, 10);
        assert!(matches!(f.judge_features(&good), Verdict::Keep(_)));
        let bad: Vec<f32> = good.iter().map(|v| v + 5.0).collect();
        assert!(matches!(f.judge_features(&bad), Verdict::Outlier(_)));
    }
}
