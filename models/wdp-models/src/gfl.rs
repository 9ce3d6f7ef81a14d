//! Global Filter Layer (seed 003; GFNet, Rao et al. 2021; dynamic filter after
//! DFFormer, Tatsunami & Taki 2024): a 2-D FFT token mixer.
//!
//! [`GlobalFilter`]: `x [B, h, w, C]` -> `rfft2` over (h, w) -> multiply by a
//! learnable complex filter `K [h, w/2+1, C]` (static) and, when dynamic, by
//! per-frequency real weights `sum_k a_k(x) * B_k`, where the MLP-predicted
//! coefficients `a(x) = softmax_k(MLP(mean_hw x))` mix `K` learnable bases ->
//! `irfft2`. [`GflBlock`] is the GFNet block
//! `x + MLP(LN(filter(LN(x))))`; [`GflBackbone`] is a patch embedding (stride =
//! patch size) followed by blocks and a final LayerNorm, giving a single
//! `[B, C, H/p, W/p]` map, used in place of the ResNet-FPN.
//!
//! The filter has the size of the token map, so the backbone is built for one
//! input size (the translated image size of the preset).

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, nn::ModuleT, Kind, Tensor};

use crate::error::{ModelError, Result};
use crate::flops;
use crate::layers::{Conv2d, Conv2dSpec, Linear};

/// GFL backbone hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GflBackboneConfig {
    /// Patch size (= output stride).
    pub patch_size: i64,
    /// Token channels C.
    pub embed_dim: i64,
    /// Number of GFL blocks.
    pub depth: i64,
    /// MLP hidden size as a multiple of C.
    pub mlp_ratio: f64,
    /// Use the dynamic (input-dependent) filter on top of the static one.
    pub dynamic: bool,
    /// Number of filter bases of the dynamic filter.
    pub num_bases: i64,
    /// Reduction of the dynamic filter's MLP (hidden = C / reduction).
    pub reweight_reduction: i64,
}

impl Default for GflBackboneConfig {
    fn default() -> Self {
        Self {
            patch_size: 4,
            embed_dim: 64,
            depth: 4,
            mlp_ratio: 4.0,
            dynamic: true,
            num_bases: 4,
            reweight_reduction: 4,
        }
    }
}

/// Filter settings of one [`GlobalFilter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilterSpec {
    /// Token map height.
    pub h: i64,
    /// Token map width.
    pub w: i64,
    /// Channels.
    pub dim: i64,
    /// `Some((num_bases, reduction))` for a dynamic filter.
    pub dynamic: Option<(i64, i64)>,
}

#[derive(Debug)]
struct DynamicFilter {
    fc1: Linear,
    fc2: Linear,
    bases: Tensor,
    num_bases: i64,
}

/// The FFT token mixer.
#[derive(Debug)]
pub struct GlobalFilter {
    complex_weight: Tensor,
    dynamic: Option<DynamicFilter>,
    spec: FilterSpec,
}

impl GlobalFilter {
    /// Builds a filter for `[B, h, w, dim]` tokens.
    pub fn new(p: nn::Path, spec: FilterSpec) -> Result<Self> {
        if spec.h < 1 || spec.w < 1 || spec.dim < 1 {
            return Err(ModelError::Invalid(format!(
                "gfl: empty token map {spec:?}"
            )));
        }
        let wf = spec.w / 2 + 1;
        // Near-identity start (real 1, imaginary 0, plus noise) so deep stacks pass signal;
        // the layout [h, w/2+1, C, 2] (re, im) is GFNet's `complex_weight`.
        let init = Tensor::stack(
            &[
                Tensor::ones([spec.h, wf, spec.dim], (Kind::Float, p.device()))
                    + Tensor::randn([spec.h, wf, spec.dim], (Kind::Float, p.device())) * 0.02,
                Tensor::randn([spec.h, wf, spec.dim], (Kind::Float, p.device())) * 0.02,
            ],
            -1,
        );
        let complex_weight = p.var_copy("complex_weight", &init);
        let dynamic = match spec.dynamic {
            None => None,
            Some((k, r)) => {
                if k < 1 || r < 1 {
                    return Err(ModelError::Invalid(
                        "gfl: num_bases and reweight_reduction must be >= 1".into(),
                    ));
                }
                let hidden = (spec.dim / r).max(1);
                let rp = &p / "reweight";
                let bases = Tensor::ones([k, spec.h, wf, spec.dim], (Kind::Float, p.device()))
                    + Tensor::randn([k, spec.h, wf, spec.dim], (Kind::Float, p.device())) * 0.02;
                Some(DynamicFilter {
                    fc1: Linear::new(&rp / "fc1", spec.dim, hidden),
                    fc2: Linear::new(&rp / "fc2", hidden, k * spec.dim),
                    bases: p.var_copy("bases", &bases),
                    num_bases: k,
                })
            }
        };
        Ok(Self {
            complex_weight,
            dynamic,
            spec,
        })
    }

    /// Sets the static filter to `1 + 0i` everywhere (used by tests and for a neutral start).
    pub fn set_identity(&mut self) {
        tch::no_grad(|| {
            let _ = self.complex_weight.select(-1, 0).fill_(1.0);
            let _ = self.complex_weight.select(-1, 1).fill_(0.0);
            if let Some(d) = &mut self.dynamic {
                let _ = d.bases.fill_(1.0);
            }
        });
    }

    /// Checked forward of `[B, h, w, C]` tokens.
    pub fn forward_checked(&self, x: &Tensor) -> Result<Tensor> {
        let size = x.size();
        let s = self.spec;
        if size.len() != 4 || size[1] != s.h || size[2] != s.w || size[3] != s.dim {
            return Err(ModelError::InputShape {
                stage: "gfl filter".into(),
                expected: format!("[B, {}, {}, {}]", s.h, s.w, s.dim),
                found: size,
            });
        }
        Ok(self.forward(x))
    }
}

impl Module for GlobalFilter {
    fn forward(&self, x: &Tensor) -> Tensor {
        let s = self.spec;
        let b = x.size()[0];
        let wf = s.w / 2 + 1;
        flops::add_fft(s.h * s.w, 2 * b * s.dim);
        let freq = x
            .to_kind(Kind::Float)
            .fft_rfft2(Some([s.h, s.w].as_slice()), [1, 2], "ortho"); // [B, h, wf, C] complex
        let freq = freq * self.complex_weight.view_as_complex();
        let freq = match &self.dynamic {
            None => freq,
            Some(d) => {
                // [B, C] pooled tokens -> [B, K*C] -> [B, K, C], softmax over the K bases.
                let pooled = x.mean_dim([1, 2].as_slice(), false, Kind::Float);
                let coeff = d
                    .fc2
                    .forward(&d.fc1.forward(&pooled).gelu("none"))
                    .view([b, d.num_bases, s.dim])
                    .softmax(1, Kind::Float);
                // [B, K, 1, C] * [1, K, h*wf, C] summed over K -> [B, h, wf, C]
                let bases = d.bases.view([1, d.num_bases, s.h * wf, s.dim]);
                let weights = (coeff.unsqueeze(2) * bases)
                    .sum_dim_intlist(1, false, Kind::Float)
                    .view([b, s.h, wf, s.dim]);
                freq * weights
            }
        };
        freq.fft_irfft2(Some([s.h, s.w].as_slice()), [1, 2], "ortho")
    }
}

/// A GFNet block: `x + MLP(LN(filter(LN(x))))` on `[B, h, w, C]` tokens.
#[derive(Debug)]
pub struct GflBlock {
    norm1: nn::LayerNorm,
    /// The token mixer.
    pub filter: GlobalFilter,
    norm2: nn::LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

impl GflBlock {
    /// Builds a block; `mlp_ratio` sets the MLP hidden size.
    pub fn new(p: nn::Path, spec: FilterSpec, mlp_ratio: f64) -> Result<Self> {
        let hidden = ((spec.dim as f64 * mlp_ratio).round() as i64).max(1);
        Ok(Self {
            norm1: nn::layer_norm(&p / "norm1", vec![spec.dim], Default::default()),
            filter: GlobalFilter::new(&p / "filter", spec)?,
            norm2: nn::layer_norm(&p / "norm2", vec![spec.dim], Default::default()),
            fc1: Linear::new(&p / "mlp" / "fc1", spec.dim, hidden),
            fc2: Linear::new(&p / "mlp" / "fc2", hidden, spec.dim),
        })
    }
}

impl Module for GflBlock {
    fn forward(&self, x: &Tensor) -> Tensor {
        let y = self
            .norm2
            .forward(&self.filter.forward(&self.norm1.forward(x)));
        x + self.fc2.forward(&self.fc1.forward(&y).gelu("none"))
    }
}

/// GFL backbone: patch embedding + GFL blocks + LayerNorm.
#[derive(Debug)]
pub struct GflBackbone {
    patch_embed: Conv2d,
    blocks: Vec<GflBlock>,
    norm: nn::LayerNorm,
    cfg: GflBackboneConfig,
}

impl GflBackbone {
    /// Builds the backbone for `[B, in_channels, H, W]` inputs, `input_hw = (H, W)`.
    pub fn new(
        p: nn::Path,
        cfg: &GflBackboneConfig,
        in_channels: i64,
        input_hw: (i64, i64),
    ) -> Result<Self> {
        let ps = cfg.patch_size;
        if ps < 1 || input_hw.0 % ps != 0 || input_hw.1 % ps != 0 {
            return Err(ModelError::Invalid(format!(
                "gfl: input {}x{} is not divisible by patch_size {ps}",
                input_hw.0, input_hw.1
            )));
        }
        let spec = FilterSpec {
            h: input_hw.0 / ps,
            w: input_hw.1 / ps,
            dim: cfg.embed_dim,
            dynamic: cfg
                .dynamic
                .then_some((cfg.num_bases, cfg.reweight_reduction)),
        };
        let patch = Conv2dSpec {
            k: ps,
            stride: ps,
            padding: 0,
            bias: true,
        };
        let patch_embed = Conv2d::new(
            &p / "patch_embed" / "proj",
            in_channels,
            cfg.embed_dim,
            patch,
        );
        let blocks = (0..cfg.depth)
            .map(|i| GflBlock::new(&p / "blocks" / i, spec, cfg.mlp_ratio))
            .collect::<Result<Vec<_>>>()?;
        let norm = nn::layer_norm(&p / "norm", vec![cfg.embed_dim], Default::default());
        Ok(Self {
            patch_embed,
            blocks,
            norm,
            cfg: cfg.clone(),
        })
    }

    /// Output channels (C).
    pub fn out_channels(&self) -> i64 {
        self.cfg.embed_dim
    }

    /// Output stride (the patch size).
    pub fn stride(&self) -> i64 {
        self.cfg.patch_size
    }
}

impl ModuleT for GflBackbone {
    /// `[B, C_in, H, W] -> [B, C, H/p, W/p]`.
    fn forward_t(&self, x: &Tensor, _train: bool) -> Tensor {
        // [B, C, h, w] -> [B, h, w, C]: LayerNorm and the FFT mix over the last/middle dims.
        let mut t = self.patch_embed.forward(x).permute([0, 2, 3, 1]);
        for blk in &self.blocks {
            t = blk.forward(&t);
        }
        self.norm.forward(&t).permute([0, 3, 1, 2]).contiguous()
    }
}
