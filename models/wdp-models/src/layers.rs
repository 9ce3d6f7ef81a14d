//! Thin wrappers around tch layers that keep PyTorch weight names
//! (`weight`, `bias`) and report FLOPs to [`crate::flops`].

use tch::{nn, nn::Module, Tensor};

use crate::flops;

/// 1-D convolution (`nn.Conv1d`).
#[derive(Debug)]
pub struct Conv1d {
    inner: nn::Conv1D,
    macs_per_output: i64,
}

impl Conv1d {
    /// `in_channels -> out_channels`, kernel `k`, stride 1, padding `k/2`, with bias.
    pub fn new(p: nn::Path, in_channels: i64, out_channels: i64, k: i64) -> Self {
        let cfg = nn::ConvConfig {
            padding: k / 2,
            ..Default::default()
        };
        Self {
            inner: nn::conv1d(p, in_channels, out_channels, k, cfg),
            macs_per_output: in_channels * k,
        }
    }
}

impl Module for Conv1d {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let y = self.inner.forward(xs);
        flops::add_macs(self.macs_per_output, y.numel() as i64);
        y
    }
}

/// Settings of a [`Conv2d`].
#[derive(Debug, Clone, Copy)]
pub struct Conv2dSpec {
    /// Kernel size.
    pub k: i64,
    /// Stride.
    pub stride: i64,
    /// Zero padding.
    pub padding: i64,
    /// Whether the layer has a bias (false before BatchNorm).
    pub bias: bool,
}

impl Conv2dSpec {
    /// A stride-1 `k x k` convolution with `k/2` padding and a bias.
    pub fn same(k: i64) -> Self {
        Self {
            k,
            stride: 1,
            padding: k / 2,
            bias: true,
        }
    }
}

/// 2-D convolution (`nn.Conv2d`).
#[derive(Debug)]
pub struct Conv2d {
    inner: nn::Conv2D,
    macs_per_output: i64,
}

impl Conv2d {
    /// Builds a convolution `in_channels -> out_channels`.
    pub fn new(p: nn::Path, in_channels: i64, out_channels: i64, s: Conv2dSpec) -> Self {
        let cfg = nn::ConvConfig {
            stride: s.stride,
            padding: s.padding,
            bias: s.bias,
            ..Default::default()
        };
        Self {
            inner: nn::conv2d(p, in_channels, out_channels, s.k, cfg),
            macs_per_output: in_channels * s.k * s.k,
        }
    }

    /// A prediction layer initialised as Detectron's heads are (weights N(0, 0.001), bias 0):
    /// outputs start near zero, so the first large gradients cannot drive the ReLUs before it
    /// into dead (constant-output) units.
    pub fn output_layer(p: nn::Path, in_channels: i64, out_channels: i64, k: i64) -> Self {
        let cfg = nn::ConvConfig {
            padding: k / 2,
            ws_init: nn::Init::Randn {
                mean: 0.0,
                stdev: 0.001,
            },
            bs_init: nn::Init::Const(0.0),
            ..Default::default()
        };
        Self {
            inner: nn::conv2d(p, in_channels, out_channels, k, cfg),
            macs_per_output: in_channels * k * k,
        }
    }

    /// An [`Conv2d::output_layer`] whose bias starts at `bias_init` (focal-loss prior).
    pub fn with_bias_init(
        p: nn::Path,
        in_channels: i64,
        out_channels: i64,
        k: i64,
        bias_init: f64,
    ) -> Self {
        let cfg = nn::ConvConfig {
            padding: k / 2,
            ws_init: nn::Init::Randn {
                mean: 0.0,
                stdev: 0.001,
            },
            bs_init: nn::Init::Const(bias_init),
            ..Default::default()
        };
        Self {
            inner: nn::conv2d(p, in_channels, out_channels, k, cfg),
            macs_per_output: in_channels * k * k,
        }
    }
}

impl Module for Conv2d {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let y = self.inner.forward(xs);
        flops::add_macs(self.macs_per_output, y.numel() as i64);
        y
    }
}

/// Transposed 2-D convolution (`nn.ConvTranspose2d`), kernel 4, stride 2, padding 1: doubles H and W.
#[derive(Debug)]
pub struct ConvTranspose2dUp2 {
    inner: nn::ConvTranspose2D,
    out_channels: i64,
}

impl ConvTranspose2dUp2 {
    /// Builds the layer `in_channels -> out_channels`.
    pub fn new(p: nn::Path, in_channels: i64, out_channels: i64) -> Self {
        let cfg = nn::ConvTransposeConfig {
            stride: 2,
            padding: 1,
            ..Default::default()
        };
        Self {
            inner: nn::conv_transpose2d(p, in_channels, out_channels, 4, cfg),
            out_channels,
        }
    }
}

impl Module for ConvTranspose2dUp2 {
    fn forward(&self, xs: &Tensor) -> Tensor {
        // Each input element scatters into out_channels x 4 x 4 outputs.
        flops::add_macs(self.out_channels * 16, xs.numel() as i64);
        self.inner.forward(xs)
    }
}

/// Fully connected layer (`nn.Linear`).
#[derive(Debug)]
pub struct Linear {
    inner: nn::Linear,
    in_dim: i64,
}

impl Linear {
    /// Builds `in_dim -> out_dim` with a bias.
    pub fn new(p: nn::Path, in_dim: i64, out_dim: i64) -> Self {
        Self {
            inner: nn::linear(p, in_dim, out_dim, Default::default()),
            in_dim,
        }
    }

    /// Builds `in_dim -> out_dim` with every bias `bias_init`: a focal-loss logit head starting
    /// at a prior probability (CenterNet), not at 0.5 on every cell.
    pub fn with_bias_init(p: nn::Path, in_dim: i64, out_dim: i64, bias_init: f64) -> Self {
        let cfg = nn::LinearConfig {
            bs_init: Some(nn::Init::Const(bias_init)),
            ..Default::default()
        };
        Self {
            inner: nn::linear(p, in_dim, out_dim, cfg),
            in_dim,
        }
    }
}

impl Module for Linear {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let y = self.inner.forward(xs);
        flops::add_macs(self.in_dim, y.numel() as i64);
        y
    }
}
