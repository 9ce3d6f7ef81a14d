//! CSI encoder (seed 000, sections 2.2 and 3.1-3.3): input normalization,
//! dual-branch amplitude/phase encoder with branch attention, and cross-attention
//! feature fusion.
//!
//! Input `window [B, 2, A, S, T]` (channel 0 amplitude, 1 phase; A = tx*rx
//! antenna pairs, S subcarriers, T packets). Each branch normalizes its channel
//! with `BatchNorm2d(A)` (seed `CSIInputProcessor`), flattens antenna x subcarrier
//! into `A*S` conv channels and runs three `Conv1d` blocks over time (seed
//! `DualBranchEncoder`), giving `T/4` tokens of `feature_dim` features.
//!
//! The seed's fusion attends between two single vectors, where attention over one
//! key is just a value projection; here amplitude tokens attend to phase tokens
//! (and back) over time, which is what cross-modal attention needs to mean. The
//! fused vector is refined by the seed's MLP and added to the branch-attention
//! weighted sum of the pooled branch features.
//!
//! Output `features [B, feature_dim]`.

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, nn::ModuleT, Kind, Tensor};

use crate::attention::MultiheadAttention;
use crate::error::{ModelError, Result};
use crate::layers::{Conv1d, Linear};
use crate::preset::InputDims;

/// Encoder hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    /// Channels of the first conv block (the second has 2x).
    pub hidden_channels: i64,
    /// Output feature size (the `features` contract: 256).
    pub feature_dim: i64,
    /// Heads of the cross-attention fusion.
    pub fusion_heads: i64,
    /// Dropout in fusion attention and refinement.
    pub dropout: f64,
    /// Newest time tokens of each branch read out by a linear layer and added to the features.
    /// The label is the pose at the window's end, and a time average cannot tell the end from
    /// the rest of the window; 0 leaves the readout out (the seed's encoder).
    #[serde(default)]
    pub newest_tokens: i64,
    /// Groups of neighbouring subcarriers over which a covariance branch measures how the
    /// links' changes co-vary (see [`covariance_features`]); 0 leaves the branch out. Convolutions
    /// over time mix links linearly and cannot form these products, yet their phases carry the
    /// moving body's angle of arrival whatever its speckle: on one-person frames of sequences
    /// with new people they locate the person (ridge, 28 px) where the windows do not (50 px,
    /// the room's mean 47). Meant for `channels: complex` windows (phase relative to a
    /// reference antenna); on polar windows the products mean little.
    #[serde(default)]
    pub covariance_groups: i64,
    /// Groups of subcarriers of a second covariance branch on the changes' dominant signature
    /// ([`signature_features`]); 0 leaves it out. Meant for windows whose packets keep the phases
    /// between all antennas (the `align` preprocessing step).
    #[serde(default)]
    pub signature_groups: i64,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            hidden_channels: 64,
            feature_dim: 256,
            fusion_heads: 8,
            dropout: 0.1,
            newest_tokens: 0,
            covariance_groups: 0,
            signature_groups: 0,
        }
    }
}

/// Second-order features of windows `[B, 2, A, S, T]` whose channels are the real and
/// imaginary parts of complex CSI: per group of `groups` neighbouring subcarriers, the
/// covariance across the A links of the window's changes (each value's mean over time removed),
/// `R[a, b] = mean (z_a - mean z_a)(z_b - mean z_b)*`; its off-diagonal entries divided by the
/// trace (real and imaginary parts: the phase is the angle of arrival of what moves, the
/// normalization removes the body's size and distance), and the log of each link's change power.
/// Output `[B, groups * (A * (A - 1) + A)]`.
pub fn covariance_features(window: &Tensor, groups: i64) -> Tensor {
    let s = window.size();
    let (b, a, sc, t) = (s[0], s[2], s[3], s[4]);
    let per_group = sc / groups;
    let dz = window - window.mean_dim(-1, true, Kind::Float);
    // [B, 2, A, G, K]: the K = per_group * T samples of one subcarrier group, then [B, G, A, K].
    let dz = dz
        .narrow(3, 0, per_group * groups)
        .reshape([b, 2, a, groups, per_group * t])
        .transpose(2, 3);
    group_covariance(&dz.select(1, 0), &dz.select(1, 1))
}

/// The same features of the changes' dominant signature: the first left singular vector of
/// the window's changes as a complex matrix (links x subcarriers by time), what moves most,
/// with the noise and the weaker movers left out. Its phases across links are the angles of
/// arrival and departure of the strongest mover; a probe on one-person frames of new sequences
/// finds the person 0.50 m off from these (10 nearest training windows) against 0.64 m from the
/// whole covariance (`scripts/probe_motion.py --variants`). No gradient: it reads the input.
pub fn signature_features(window: &Tensor, groups: i64) -> Tensor {
    let s = window.size();
    let (b, a, sc, t) = (s[0], s[2], s[3], s[4]);
    let per_group = sc / groups;
    let v = tch::no_grad(|| {
        let dz = (window - window.mean_dim(-1, true, Kind::Float)).narrow(3, 0, per_group * groups);
        let m = Tensor::complex(
            &dz.select(1, 0).reshape([b, a * per_group * groups, t]),
            &dz.select(1, 1).reshape([b, a * per_group * groups, t]),
        );
        let (u, _, _) = m.svd(true, true);
        // [B, A*S] complex -> [B, 2, A, G, per_group] -> [B, 2, G, A, per_group]
        u.select(2, 0)
            .view_as_real()
            .permute([0, 2, 1])
            .reshape([b, 2, a, groups, per_group])
            .transpose(2, 3)
            .contiguous()
    });
    group_covariance(&v.select(1, 0), &v.select(1, 1))
}

/// Per group, the links' covariance of `K` complex samples `re + i im` (`[B, G, A, K]`): the
/// upper off-diagonal entries divided by the trace (real, then imaginary parts) and the log of
/// the diagonal.
fn group_covariance(re: &Tensor, im: &Tensor) -> Tensor {
    let s = re.size();
    let (b, groups, a, k) = (s[0], s[1], s[2], s[3] as f64);
    let outer = |x: &Tensor, y: &Tensor| x.matmul(&y.transpose(2, 3)) / k; // [B, G, A, A]
    let r_re = outer(re, re) + outer(im, im);
    let r_im = outer(im, re) - outer(re, im);
    let power = r_re.diagonal(0, 2, 3); // [B, G, A]
    let trace = power
        .sum_dim_intlist(-1, true, Kind::Float)
        .clamp_min(1e-9)
        .unsqueeze(-1);
    let upper = Tensor::ones([a, a], (Kind::Bool, re.device()))
        .triu(1)
        .expand([b, groups, a, a], false);
    let pick = |r: &Tensor| (r / &trace).masked_select(&upper).reshape([b, -1]);
    Tensor::cat(
        &[
            pick(&r_re),
            pick(&r_im),
            (power + 1e-9).log().reshape([b, -1]),
        ],
        1,
    )
}

/// Width of [`covariance_features`] for `antennas` links and `groups` groups.
pub fn covariance_width(antennas: i64, groups: i64) -> i64 {
    groups * (antennas * (antennas - 1) + antennas)
}

/// The covariance branch: batch-normalized [`covariance_features`] through a two-layer MLP.
#[derive(Debug)]
struct CovarianceBranch {
    groups: i64,
    /// Reads the dominant signature ([`signature_features`]) rather than all the changes.
    signature: bool,
    norm: nn::BatchNorm,
    hidden: Linear,
    out: Linear,
}

impl CovarianceBranch {
    fn new(p: nn::Path, groups: i64, signature: bool, antennas: i64, feature_dim: i64) -> Self {
        let w = covariance_width(antennas, groups);
        Self {
            groups,
            signature,
            norm: nn::batch_norm1d(&p / "norm", w, Default::default()),
            hidden: Linear::new(&p / "hidden", w, feature_dim),
            out: Linear::new(&p / "out", feature_dim, feature_dim),
        }
    }

    fn features(&self, window: &Tensor) -> Tensor {
        if self.signature {
            signature_features(window, self.groups)
        } else {
            covariance_features(window, self.groups)
        }
    }

    fn forward_t(&self, window: &Tensor, dropout: f64, train: bool) -> Tensor {
        self.read_t(&self.features(window), dropout, train)
    }

    /// The branch's MLP on its input features (what [`Self::features`] gives).
    fn read_t(&self, features: &Tensor, dropout: f64, train: bool) -> Tensor {
        let x = self.norm.forward_t(features, train);
        let x = self.hidden.forward(&x).relu().dropout(dropout, train);
        self.out.forward(&x)
    }
}

/// One branch: three conv blocks, PyTorch `nn.Sequential` indices 0/1, 4/5, 8/9.
#[derive(Debug)]
struct Branch {
    convs: Vec<Conv1d>,
    norms: Vec<nn::BatchNorm>,
}

impl Branch {
    fn new(p: nn::Path, in_channels: i64, cfg: &EncoderConfig) -> Self {
        let h = cfg.hidden_channels;
        let specs = [
            (in_channels, h, 7),
            (h, 2 * h, 5),
            (2 * h, cfg.feature_dim, 3),
        ];
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        for (i, (cin, cout, k)) in specs.into_iter().enumerate() {
            let idx = 4 * i as i64;
            convs.push(Conv1d::new(&p / idx, cin, cout, k));
            norms.push(nn::batch_norm1d(&p / (idx + 1), cout, Default::default()));
        }
        Self { convs, norms }
    }

    /// `[B, A*S, T] -> [B, F, T/4]`
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = x.shallow_clone();
        for (i, (conv, bn)) in self.convs.iter().zip(&self.norms).enumerate() {
            x = bn.forward_t(&conv.forward(&x), train).relu();
            if i < 2 {
                x = x.max_pool1d([2], [2], [0], [1], false);
            }
        }
        x
    }
}

/// Outputs of [`CsiEncoder::encode_t`].
#[derive(Debug)]
pub struct EncoderOutput {
    /// Fused features `[B, F]`.
    pub features: Tensor,
    /// Branch attention weights `[B, 2]` (amplitude, phase).
    pub branch_weights: Tensor,
}

/// Dual-branch CSI encoder with branch attention and cross-attention fusion.
#[derive(Debug)]
pub struct CsiEncoder {
    amplitude_norm: nn::BatchNorm,
    phase_norm: nn::BatchNorm,
    amplitude_encoder: Branch,
    phase_encoder: Branch,
    branch_attention: (Linear, Linear),
    cross_attention: MultiheadAttention,
    refinement: (Linear, nn::LayerNorm, Linear, nn::LayerNorm),
    newest: Option<Linear>,
    covariance: Option<CovarianceBranch>,
    signature: Option<CovarianceBranch>,
    dims: InputDims,
    cfg: EncoderConfig,
}

impl CsiEncoder {
    /// Builds the encoder for inputs of `dims`.
    pub fn new(p: nn::Path, cfg: &EncoderConfig, dims: InputDims) -> Result<Self> {
        dims.validate()?;
        let f = cfg.feature_dim;
        let in_channels = dims.antennas * dims.subcarriers;
        // Two max-pools of 2 over time: T/4 tokens.
        let tokens = dims.window / 4;
        if cfg.newest_tokens < 0 || cfg.newest_tokens > tokens {
            return Err(ModelError::Invalid(format!(
                "encoder.newest_tokens {} is outside 0..={tokens} (window {} / 4)",
                cfg.newest_tokens, dims.window
            )));
        }
        for (name, groups) in [
            ("covariance_groups", cfg.covariance_groups),
            ("signature_groups", cfg.signature_groups),
        ] {
            if groups < 0 || groups > dims.subcarriers {
                return Err(ModelError::Invalid(format!(
                    "encoder.{name} {groups} is outside 0..={} (the subcarriers)",
                    dims.subcarriers
                )));
            }
        }
        let ln = |path: nn::Path, d: i64| nn::layer_norm(path, vec![d], Default::default());
        Ok(Self {
            amplitude_norm: nn::batch_norm2d(
                &p / "amplitude_norm",
                dims.antennas,
                Default::default(),
            ),
            phase_norm: nn::batch_norm2d(&p / "phase_norm", dims.antennas, Default::default()),
            amplitude_encoder: Branch::new(&p / "amplitude_encoder", in_channels, cfg),
            phase_encoder: Branch::new(&p / "phase_encoder", in_channels, cfg),
            branch_attention: (
                Linear::new(&p / "branch_attention" / 0, 2 * f, f),
                Linear::new(&p / "branch_attention" / 2, f, 2),
            ),
            cross_attention: MultiheadAttention::new(
                &p / "cross_attention",
                f,
                cfg.fusion_heads,
                cfg.dropout,
            )?,
            refinement: (
                Linear::new(&p / "refinement" / 0, 2 * f, 2 * f),
                ln(&p / "refinement" / 1, 2 * f),
                Linear::new(&p / "refinement" / 4, 2 * f, f),
                ln(&p / "refinement" / 5, f),
            ),
            newest: (cfg.newest_tokens > 0)
                .then(|| Linear::new(&p / "newest", 2 * f * cfg.newest_tokens, f)),
            covariance: (cfg.covariance_groups > 0).then(|| {
                CovarianceBranch::new(
                    &p / "covariance",
                    cfg.covariance_groups,
                    false,
                    dims.antennas,
                    f,
                )
            }),
            signature: (cfg.signature_groups > 0).then(|| {
                CovarianceBranch::new(
                    &p / "signature",
                    cfg.signature_groups,
                    true,
                    dims.antennas,
                    f,
                )
            }),
            dims,
            cfg: cfg.clone(),
        })
    }

    /// Input dimensions this encoder was built for.
    pub fn dims(&self) -> InputDims {
        self.dims
    }

    /// Output feature size.
    pub fn feature_dim(&self) -> i64 {
        self.cfg.feature_dim
    }

    /// Checks that `window` is `[B, 2, A, S, T]` with this encoder's A, S, T.
    pub fn check_input(&self, window: &Tensor) -> Result<()> {
        let size = window.size();
        let d = self.dims;
        if size.len() != 5
            || size[1] != 2
            || size[2] != d.antennas
            || size[3] != d.subcarriers
            || size[4] != d.window
        {
            return Err(ModelError::InputShape {
                stage: "encoder".into(),
                expected: format!("[B, 2, {}, {}, {}]", d.antennas, d.subcarriers, d.window),
                found: size,
            });
        }
        Ok(())
    }

    /// Encodes `window [B, 2, A, S, T]` into features and branch weights.
    pub fn encode_t(&self, window: &Tensor, train: bool) -> Result<EncoderOutput> {
        self.check_input(window)?;
        Ok(self.encode_unchecked(window, train))
    }

    /// The encoder in two parts, for fitting what reads the signature branch on features
    /// computed once: the features without the signature branch (inference mode) and the
    /// branch's input ([`signature_features`]); `None` for the latter without the branch.
    /// [`Self::with_signature_t`] of the two is what [`Self::encode_t`] gives.
    pub fn split_signature(&self, window: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        self.check_input(window)?;
        let base = self.encode_base(window, false).features;
        let input = self
            .signature
            .as_ref()
            .map(|branch| branch.features(window));
        Ok((base, input))
    }

    /// Adds the signature branch's output on its input `signature [B, W]` to `base [B, F]`
    /// (both from [`Self::split_signature`]); `base` unchanged without the branch.
    pub fn with_signature_t(
        &self,
        base: &Tensor,
        signature: Option<&Tensor>,
        train: bool,
    ) -> Tensor {
        match (&self.signature, signature) {
            (Some(branch), Some(input)) => base + branch.read_t(input, self.cfg.dropout, train),
            _ => base.shallow_clone(),
        }
    }

    fn encode_unchecked(&self, window: &Tensor, train: bool) -> EncoderOutput {
        let out = self.encode_base(window, train);
        match &self.signature {
            Some(branch) => EncoderOutput {
                features: out.features + branch.forward_t(window, self.cfg.dropout, train),
                branch_weights: out.branch_weights,
            },
            None => out,
        }
    }

    /// Everything but the signature branch.
    fn encode_base(&self, window: &Tensor, train: bool) -> EncoderOutput {
        let d = self.dims;
        let b = window.size()[0];
        let branch = |channel: i64, norm: &nn::BatchNorm, enc: &Branch| {
            let x = norm.forward_t(&window.select(1, channel), train);
            // [B, A, S, T] -> [B, A*S, T]: every antenna-subcarrier link is a channel.
            let x = x.reshape([b, d.antennas * d.subcarriers, d.window]);
            enc.forward_t(&x, train)
        };
        let amp_tokens = branch(0, &self.amplitude_norm, &self.amplitude_encoder); // [B, F, T']
        let phase_tokens = branch(1, &self.phase_norm, &self.phase_encoder);
        let amp = amp_tokens.mean_dim(-1, false, Kind::Float); // [B, F]
        let phase = phase_tokens.mean_dim(-1, false, Kind::Float);

        let combined = Tensor::cat(&[&amp, &phase], 1);
        let (l1, l2) = &self.branch_attention;
        let branch_weights = l2
            .forward(&l1.forward(&combined).relu())
            .softmax(1, Kind::Float); // [B, 2]
        let weighted =
            &amp * branch_weights.narrow(1, 0, 1) + &phase * branch_weights.narrow(1, 1, 1);

        // [B, F, T'] -> [B, T', F] token sequences for attention.
        let ta = amp_tokens.transpose(1, 2);
        let tp = phase_tokens.transpose(1, 2);
        let attended_amp = self
            .cross_attention
            .forward_t(&ta, &tp, &tp, train)
            .mean_dim(1, false, Kind::Float);
        let attended_phase = self
            .cross_attention
            .forward_t(&tp, &ta, &ta, train)
            .mean_dim(1, false, Kind::Float);
        let fused = Tensor::cat(&[attended_amp, attended_phase], 1);
        let (r0, r1, r4, r5) = &self.refinement;
        let refined = r1
            .forward(&r0.forward(&fused))
            .relu()
            .dropout(self.cfg.dropout, train);
        let refined = r5.forward(&r4.forward(&refined));
        let features = refined + weighted;
        let features = match &self.newest {
            Some(newest) => {
                let k = self.cfg.newest_tokens;
                let t = amp_tokens.size()[2];
                let last = |x: &Tensor| x.narrow(2, t - k, k).reshape([b, -1]);
                let now = Tensor::cat(&[last(&amp_tokens), last(&phase_tokens)], 1);
                features + newest.forward(&now.dropout(self.cfg.dropout, train))
            }
            None => features,
        };
        let features = match &self.covariance {
            Some(branch) => features + branch.forward_t(window, self.cfg.dropout, train),
            None => features,
        };
        EncoderOutput {
            features,
            branch_weights,
        }
    }
}

impl ModuleT for CsiEncoder {
    /// `[B, 2, A, S, T] -> [B, F]`; panics inside libtorch on a wrong shape
    /// (use [`CsiEncoder::encode_t`] for a checked call).
    fn forward_t(&self, window: &Tensor, train: bool) -> Tensor {
        self.encode_unchecked(window, train).features
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tch::Device;

    fn encoder(newest_tokens: i64) -> Result<(nn::VarStore, CsiEncoder)> {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = EncoderConfig {
            hidden_channels: 8,
            feature_dim: 32,
            fusion_heads: 4,
            dropout: 0.0,
            newest_tokens,
            covariance_groups: 0,
            signature_groups: 0,
        };
        let enc = CsiEncoder::new(vs.root(), &cfg, InputDims::new(2, 6, 40))?;
        Ok((vs, enc))
    }

    /// One moving source seen by 3 links with phase steps `phi` between neighbouring links, on
    /// top of a static channel, with a body "speckle" (random complex gain per subcarrier and
    /// window): the covariance features give the steering phase whatever the speckle and scale.
    #[test]
    fn covariance_phases_are_the_steering_phases_whatever_the_speckle() {
        let opts = (Kind::Float, Device::Cpu);
        let (b, a, s, t) = (4, 3, 8, 50);
        let phi = 0.7f64;
        tch::manual_seed(3);
        // Source over time and subcarrier: speckle[s] * motion[t] (complex), per window.
        let speckle_re = Tensor::randn([b, 1, s, 1], opts) * 3.0;
        let speckle_im = Tensor::randn([b, 1, s, 1], opts) * 3.0;
        let motion = Tensor::randn([b, 1, 1, t], opts).cumsum(3, Kind::Float) * 0.3;
        let (m_re, m_im) = (motion.cos(), motion.sin());
        let src_re = &speckle_re * &m_re - &speckle_im * &m_im; // [B, 1, S, T]
        let src_im = &speckle_re * &m_im + &speckle_im * &m_re;
        let links = Tensor::arange(a, opts).reshape([1, a, 1, 1]) * phi;
        let (c, sn) = (links.cos(), links.sin());
        let static_re = Tensor::randn([1, a, s, 1], opts) * 10.0;
        let re = &src_re * &c - &src_im * &sn + &static_re;
        let im = &src_re * &sn + &src_im * &c + 2.0;
        let window = Tensor::stack(&[re, im], 1); // [B, 2, A, S, T]
        let f = covariance_features(&window, 2);
        assert_eq!(f.size(), [b, covariance_width(a, 2)]);
        // Layout per window: the 2 groups' 3 upper entries (re), then (im), then 6 log powers.
        let pairs = 3;
        for w in 0..b {
            for g in 0..2 {
                // Entries (0,1), (0,2), (1,2): the phase of R[a, b] = src_a src_b* is -(b - a) phi.
                for (i, steps) in [1.0, 2.0, 1.0].into_iter().enumerate() {
                    let re = f.double_value(&[w, g * pairs + i as i64]);
                    let im = f.double_value(&[w, 2 * pairs + g * pairs + i as i64]);
                    let want = -steps * phi;
                    let err = (im.atan2(re) - want).sin().abs();
                    assert!(
                        err < 1e-3,
                        "window {w} group {g} pair {i}: phase {} want {want}",
                        im.atan2(re)
                    );
                    // The trace normalization: three equal-power links give |R| / trace = 1/3.
                    assert!(
                        ((re.hypot(im)) - 1.0 / 3.0).abs() < 1e-3,
                        "{}",
                        re.hypot(im)
                    );
                }
            }
        }
        // The dominant signature of the same windows: one mover, so the same phases.
        let f = signature_features(&window, 2);
        assert_eq!(f.size(), [b, covariance_width(a, 2)]);
        for w in 0..b {
            for g in 0..2 {
                for (i, steps) in [1.0, 2.0, 1.0].into_iter().enumerate() {
                    let re = f.double_value(&[w, g * pairs + i as i64]);
                    let im = f.double_value(&[w, 2 * pairs + g * pairs + i as i64]);
                    let err = (im.atan2(re) + steps * phi).sin().abs();
                    assert!(err < 1e-3, "signature: window {w} group {g} pair {i}");
                }
            }
        }
        // A bad group count is a configuration error naming the field.
        let cfg = EncoderConfig {
            covariance_groups: 9,
            ..EncoderConfig::default()
        };
        let vs = nn::VarStore::new(Device::Cpu);
        let err = CsiEncoder::new(vs.root(), &cfg, InputDims::new(3, 8, 40)).unwrap_err();
        assert!(err.to_string().contains("covariance_groups"), "{err}");
        let cfg = EncoderConfig {
            signature_groups: -1,
            ..EncoderConfig::default()
        };
        let err = CsiEncoder::new(vs.root(), &cfg, InputDims::new(3, 8, 40)).unwrap_err();
        assert!(err.to_string().contains("signature_groups"), "{err}");
    }

    /// The encoder split at its signature branch gives what it gives whole (inference mode),
    /// and without the branch the split has no signature input.
    #[test]
    fn the_split_at_the_signature_branch_is_the_whole_encoder() {
        tch::manual_seed(0);
        let dims = InputDims::new(4, 8, 40);
        for groups in [2, 0] {
            let vs = nn::VarStore::new(Device::Cpu);
            let cfg = EncoderConfig {
                feature_dim: 32,
                signature_groups: groups,
                ..EncoderConfig::default()
            };
            let enc = CsiEncoder::new(vs.root(), &cfg, dims).unwrap();
            let x = Tensor::randn([3, 2, 4, 8, 40], (Kind::Float, Device::Cpu));
            let whole = enc.encode_t(&x, false).unwrap().features;
            let (base, sig) = enc.split_signature(&x).unwrap();
            assert_eq!(sig.is_some(), groups > 0);
            let joined = enc.with_signature_t(&base, sig.as_ref(), false);
            let diff = (whole - joined).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "groups {groups}: {diff}");
        }
        let vs = nn::VarStore::new(Device::Cpu);
        let enc = CsiEncoder::new(vs.root(), &EncoderConfig::default(), dims).unwrap();
        let wrong = Tensor::zeros([1, 2, 4, 7, 40], (Kind::Float, Device::Cpu));
        assert!(enc.split_signature(&wrong).is_err());
    }

    /// A random walk per window, the same on every stream, and its last value: what the window
    /// ends with, which its average over the window does not give.
    fn walks(n: i64) -> (Tensor, Tensor) {
        let opts = (Kind::Float, Device::Cpu);
        let walk = Tensor::randn([n, 1, 1, 1, 40], opts).cumsum(4, Kind::Float) * 0.3;
        let x = walk.expand([n, 2, 2, 6, 40], false).contiguous()
            + Tensor::randn([n, 2, 2, 6, 40], opts) * 0.1;
        (x, walk.select(4, 39).reshape([n, 1]))
    }

    /// Fits `encoder + linear` to the end of the window; the final squared error relative to
    /// the target's variance.
    fn fit_the_end(newest_tokens: i64) -> f64 {
        let (vs, enc) = encoder(newest_tokens).unwrap();
        let head = nn::linear(vs.root() / "probe", 32, 1, Default::default());
        let mut opt = nn::OptimizerConfig::build(nn::Adam::default(), &vs, 3e-3).unwrap();
        for _ in 0..150 {
            let (x, y) = walks(32);
            let loss = (head.forward(&enc.forward_t(&x, true)) - y)
                .square()
                .mean(Kind::Float);
            opt.backward_step(&loss);
        }
        let (x, y) = walks(256);
        let pred = tch::no_grad(|| head.forward(&enc.forward_t(&x, false)));
        let mse = (pred - &y).square().mean(Kind::Float).double_value(&[]);
        mse / y.var(true).double_value(&[])
    }

    #[test]
    fn the_encoder_reads_what_the_window_ends_with() {
        // The best a time average can do: the window mean's share of the last value's variance.
        let (x, y) = walks(4096);
        let mean = x.mean_dim(&[1, 2, 3, 4][..], false, Kind::Float);
        let corr = Tensor::stack(&[mean, y.reshape([-1])], 0)
            .corrcoef()
            .double_value(&[0, 1]);
        let pooled_best = 1.0 - corr * corr;
        // Both encoders beat it: the time tokens' edges (zero padding) already tell the end of
        // the window from the rest, and the newest-token readout reads it directly.
        for k in [0, 2] {
            tch::manual_seed(1);
            let err = fit_the_end(k);
            assert!(
                err < 0.5 * pooled_best,
                "newest_tokens {k}: relative error {err:.3}, a window average gives {pooled_best:.3}"
            );
        }
        // More newest tokens than the window has is a configuration error naming the field.
        let err = encoder(11).unwrap_err().to_string();
        assert!(err.contains("newest_tokens"), "{err}");
    }
}
