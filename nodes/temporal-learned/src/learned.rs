//! The learned module and the recent features of each stream.

use eyre::{eyre, Result};
use std::collections::{HashMap, VecDeque};
use tch::{nn, Tensor};
use wdp_models::TemporalModule;
use wdp_stage::{Frame, StageConfig};

/// The module (checkpoint prefix `temporal.`) over the last `sequence` feature vectors of each
/// room/link stream.
pub struct Learned {
    vs: nn::VarStore,
    net: TemporalModule,
    history: HashMap<(String, String), VecDeque<Vec<f32>>>,
    sequence: usize,
    feature_dim: usize,
}

impl Learned {
    /// Builds the module of the preset and loads its weights.
    pub fn build(config: &StageConfig, sequence: usize) -> Result<Self> {
        config.seed();
        let mut vs = nn::VarStore::new(config.device);
        let f = config.preset.encoder.feature_dim;
        let net = TemporalModule::new(vs.root() / "temporal", &config.preset.temporal, f)?;
        config.init_weights(&mut vs, &["temporal"])?;
        Ok(Self {
            vs,
            net,
            history: HashMap::new(),
            sequence,
            feature_dim: f as usize,
        })
    }

    /// Features the module takes.
    pub fn feature_dim(&self) -> usize {
        self.feature_dim
    }

    /// The refined newest vector of the frame's stream, `frame` included in its history.
    pub fn refine(&mut self, frame: &Frame) -> Result<Vec<f32>> {
        if frame.values.len() != self.feature_dim {
            return Err(eyre!(
                "features of shape {:?}; the preset has {} features",
                frame.meta.shape,
                self.feature_dim
            ));
        }
        let key = (frame.meta.room.clone(), frame.meta.link.clone());
        let h = self.history.entry(key).or_default();
        h.push_back(frame.values.clone());
        while h.len() > self.sequence {
            h.pop_front();
        }
        let t = h.len() as i64;
        let flat: Vec<f32> = h.iter().flatten().copied().collect();
        let seq = Tensor::from_slice(&flat)
            .view([1, t, self.feature_dim as i64])
            .to_device(self.vs.device());
        let out = tch::no_grad(|| self.net.forward_checked(&seq, false))?;
        let last = out.get(0).get(t - 1);
        Ok(Vec::<f32>::try_from(last.to_device(tch::Device::Cpu))?)
    }
}
