//! Domain-adversarial head (seed 000, section 5.3; seed 001): a gradient-reversal
//! layer followed by a small MLP that tells rooms (domains) apart. Trained with
//! [`DomainDiscriminator::loss`], it pushes the encoder towards room-invariant
//! features: the discriminator minimizes the loss, the reversed gradient makes the
//! features maximize it.
//!
//! Weight names follow the seed's `nn.Sequential` (`domain_discriminator.0`, `.3`,
//! `.6`); the final `Sigmoid` is folded into a logits loss for numerical stability.

use tch::{nn, nn::Module, Kind, Reduction, Tensor};

use crate::error::{ModelError, Result};
use crate::layers::Linear;
use crate::losses::gradient_reversal;

/// MLP `F -> 128 -> 64 -> 1` on reversed features (seed sizes, hidden sizes configurable).
#[derive(Debug)]
pub struct DomainDiscriminator {
    layers: (Linear, Linear, Linear),
    dropout: f64,
}

impl DomainDiscriminator {
    /// Builds the discriminator on `feature_dim` features; `hidden` = (128, 64) in the seed.
    pub fn new(p: nn::Path, feature_dim: i64, hidden: (i64, i64), dropout: f64) -> Self {
        let q = &p / "domain_discriminator";
        Self {
            layers: (
                Linear::new(&q / 0, feature_dim, hidden.0),
                Linear::new(&q / 3, hidden.0, hidden.1),
                Linear::new(&q / 6, hidden.1, 1),
            ),
            dropout,
        }
    }

    /// Domain logits `[B]` for `features [B, F]`; gradients reaching `features` are
    /// multiplied by `-lambda`.
    pub fn forward_t(&self, features: &Tensor, lambda: f64, train: bool) -> Tensor {
        let x = gradient_reversal(features, lambda);
        let (l0, l3, l6) = &self.layers;
        let x = l0.forward(&x).relu().dropout(self.dropout, train);
        let x = l3.forward(&x).relu().dropout(self.dropout, train);
        l6.forward(&x).squeeze_dim(-1)
    }

    /// Binary cross-entropy of `logits [B]` against `domain [B]` (0 source, 1 target).
    pub fn loss(logits: &Tensor, domain: &Tensor) -> Result<Tensor> {
        if logits.size() != domain.size() {
            return Err(ModelError::Invalid(format!(
                "domain loss: logits {:?} and labels {:?} disagree",
                logits.size(),
                domain.size()
            )));
        }
        Ok(logits.binary_cross_entropy_with_logits::<Tensor>(
            &domain.to_kind(Kind::Float),
            None,
            None,
            Reduction::Mean,
        ))
    }
}
