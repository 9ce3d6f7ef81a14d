//! Multi-head attention with `nn.MultiheadAttention` weight names
//! (`in_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`),
//! batch-first inputs.

use tch::{nn, nn::Module, Tensor};

use crate::error::{ModelError, Result};
use crate::flops;
use crate::layers::Linear;

/// Multi-head scaled dot-product attention.
#[derive(Debug)]
pub struct MultiheadAttention {
    in_proj_weight: Tensor,
    in_proj_bias: Tensor,
    out_proj: Linear,
    embed_dim: i64,
    num_heads: i64,
    dropout: f64,
}

impl MultiheadAttention {
    /// Builds attention over `embed_dim` features split into `num_heads` heads.
    pub fn new(p: nn::Path, embed_dim: i64, num_heads: i64, dropout: f64) -> Result<Self> {
        if num_heads <= 0 || embed_dim % num_heads != 0 {
            return Err(ModelError::Invalid(format!(
                "attention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}"
            )));
        }
        // Xavier-uniform on the packed [3E, E] matrix, as PyTorch does.
        let bound = (6.0 / (4 * embed_dim) as f64).sqrt();
        let in_proj_weight = p.var(
            "in_proj_weight",
            &[3 * embed_dim, embed_dim],
            nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
        );
        let in_proj_bias = p.zeros("in_proj_bias", &[3 * embed_dim]);
        let out_proj = Linear::new(&p / "out_proj", embed_dim, embed_dim);
        Ok(Self {
            in_proj_weight,
            in_proj_bias,
            out_proj,
            embed_dim,
            num_heads,
            dropout,
        })
    }

    fn project(&self, x: &Tensor, index: i64) -> Tensor {
        let e = self.embed_dim;
        let w = self.in_proj_weight.narrow(0, index * e, e);
        let b = self.in_proj_bias.narrow(0, index * e, e);
        flops::add_macs(e, x.numel() as i64);
        x.matmul(&w.tr()) + b
    }

    /// `query [B, Lq, E]`, `key`/`value [B, Lk, E]` -> `[B, Lq, E]`.
    pub fn forward_t(&self, query: &Tensor, key: &Tensor, value: &Tensor, train: bool) -> Tensor {
        let (b, lq, e) = (query.size()[0], query.size()[1], self.embed_dim);
        let lk = key.size()[1];
        let (h, d) = (self.num_heads, self.embed_dim / self.num_heads);
        // [B, L, E] -> [B, h, L, d]
        let split = |t: Tensor, l: i64| t.view([b, l, h, d]).transpose(1, 2);
        let q = split(self.project(query, 0), lq) * (1.0 / (d as f64).sqrt());
        let k = split(self.project(key, 1), lk);
        let v = split(self.project(value, 2), lk);
        let attn = q
            .matmul(&k.transpose(-2, -1))
            .softmax(-1, tch::Kind::Float)
            .dropout(self.dropout, train);
        // Scores and weighted sum: two [Lq x Lk x d] products per head.
        flops::add(4 * (b * h * lq * lk * d) as u64);
        // [B, h, Lq, d] -> [B, Lq, E]
        let out = attn
            .matmul(&v)
            .transpose(1, 2)
            .contiguous()
            .view([b, lq, e]);
        self.out_proj.forward(&out)
    }
}
