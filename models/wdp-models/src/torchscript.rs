//! Running a researcher's TorchScript export (`torch.jit.save`) in place of a
//! stage, as long as it keeps the stage's contract.
//!
//! Tensor-in / tensor-out stages: `encoder` (`[B, 2, A, S, T] -> [B, F]`),
//! `upsampler` (`[B, F] -> [B, 3, H, W]`) and `temporal` (`[B, T, F] -> [B, T, F]`),
//! run with [`TorchScriptStage::forward`]. The `densepose` stage takes one frame
//! `spatial [1, 3, H, W]` and returns the tuple `(keypoints [P, K, 3] f32, boxes
//! [P, 5] f32, part_index [P, h, w] u8, uv [P, 2, h, w] f32)`, run with
//! [`TorchScriptStage::forward_pose`]. The module is probed with zeros at load
//! time and every output is checked.

use std::path::{Path, PathBuf};

use tch::{CModule, IValue, Kind, Tensor};

use crate::decode::PoseOutput;
use crate::error::{ModelError, Result};
use crate::preset::InputDims;

/// A stage contract: what goes in and what must come out (`B`, `T` and `P` free).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageContract {
    /// `[B, 2, A, S, T] -> [B, feature_dim]`.
    Encoder {
        /// Input dims.
        dims: InputDims,
        /// Output features.
        feature_dim: i64,
    },
    /// `[B, feature_dim] -> [B, 3, height, width]`.
    Upsampler {
        /// Input features.
        feature_dim: i64,
        /// Output height.
        height: i64,
        /// Output width.
        width: i64,
    },
    /// `[B, T, feature_dim] -> [B, T, feature_dim]`.
    Temporal {
        /// Features per frame.
        feature_dim: i64,
    },
    /// `[1, 3, height, width]` -> the `pose` tuple (see the module doc).
    DensePose {
        /// Input height.
        height: i64,
        /// Input width.
        width: i64,
        /// Keypoints per person (17).
        num_keypoints: i64,
    },
}

impl StageContract {
    /// Stage name.
    pub fn name(&self) -> &'static str {
        match self {
            StageContract::Encoder { .. } => "encoder",
            StageContract::Upsampler { .. } => "upsampler",
            StageContract::Temporal { .. } => "temporal",
            StageContract::DensePose { .. } => "densepose",
        }
    }

    /// Input shape for batch `b` (and `t` frames for temporal; densepose takes one frame).
    pub fn input_shape(&self, b: i64, t: i64) -> Vec<i64> {
        match *self {
            StageContract::Encoder { dims, .. } => {
                vec![b, 2, dims.antennas, dims.subcarriers, dims.window]
            }
            StageContract::Upsampler { feature_dim, .. } => vec![b, feature_dim],
            StageContract::Temporal { feature_dim } => vec![b, t, feature_dim],
            StageContract::DensePose { height, width, .. } => vec![1, 3, height, width],
        }
    }

    /// Output shape a tensor stage must give for `input`'s shape (`None` for densepose).
    pub fn expected_output(&self, input: &[i64]) -> Option<Vec<i64>> {
        let b = input.first().copied().unwrap_or(0);
        match *self {
            StageContract::Encoder { feature_dim, .. } => Some(vec![b, feature_dim]),
            StageContract::Upsampler { height, width, .. } => Some(vec![b, 3, height, width]),
            StageContract::Temporal { .. } => Some(input.to_vec()),
            StageContract::DensePose { .. } => None,
        }
    }
}

/// A TorchScript module standing in for a stage.
#[derive(Debug)]
pub struct TorchScriptStage {
    module: CModule,
    contract: StageContract,
    path: PathBuf,
}

impl TorchScriptStage {
    /// Loads `path` and checks the contract on a probe input (zeros; B = 2, T = 3).
    pub fn load(path: impl AsRef<Path>, contract: StageContract) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut module = CModule::load(&path).map_err(|e| ModelError::TorchScript {
            stage: contract.name().into(),
            path: path.display().to_string(),
            message: format!("cannot load: {e}"),
        })?;
        module.set_eval();
        let stage = Self {
            module,
            contract,
            path,
        };
        let probe = Tensor::zeros(contract.input_shape(2, 3), (Kind::Float, tch::Device::Cpu));
        match contract {
            StageContract::DensePose { .. } => drop(stage.forward_pose(&probe)?),
            _ => drop(stage.forward(&probe)?),
        }
        Ok(stage)
    }

    /// The contract this module keeps.
    pub fn contract(&self) -> StageContract {
        self.contract
    }

    fn error(&self, message: String) -> ModelError {
        ModelError::TorchScript {
            stage: self.contract.name().into(),
            path: self.path.display().to_string(),
            message,
        }
    }

    fn check_input(&self, input: &Tensor) -> Result<()> {
        let in_shape = input.size();
        let b = in_shape.first().copied().unwrap_or(0);
        let t = in_shape.get(1).copied().unwrap_or(0);
        let want_in = self.contract.input_shape(b, t);
        if in_shape != want_in {
            return Err(self.error(format!(
                "input shape {in_shape:?} does not match contract {want_in:?}"
            )));
        }
        Ok(())
    }

    /// Runs a tensor stage (no grad) and checks input and output shapes and kind.
    pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let Some(want) = self.contract.expected_output(&input.size()) else {
            return Err(self.error("the densepose stage returns a tuple: use forward_pose".into()));
        };
        self.check_input(input)?;
        let out = tch::no_grad(|| self.module.forward_ts(&[input]))
            .map_err(|e| self.error(format!("forward failed: {e}")))?;
        if out.size() != want {
            return Err(self.error(format!(
                "output shape {:?} does not match contract {want:?}",
                out.size()
            )));
        }
        if out.kind() != Kind::Float {
            return Err(self.error(format!("output kind {:?} is not f32", out.kind())));
        }
        Ok(out)
    }

    /// Runs a densepose stage on `spatial [1, 3, H, W]` and checks the `pose` tuple.
    pub fn forward_pose(&self, spatial: &Tensor) -> Result<PoseOutput> {
        let StageContract::DensePose { num_keypoints, .. } = self.contract else {
            return Err(self.error("not a densepose stage: use forward".into()));
        };
        self.check_input(spatial)?;
        let out = tch::no_grad(|| {
            self.module
                .forward_is(&[IValue::Tensor(spatial.shallow_clone())])
        })
        .map_err(|e| self.error(format!("forward failed: {e}")))?;
        let items = match out {
            IValue::Tuple(items) | IValue::GenericList(items) if items.len() == 4 => items,
            IValue::TensorList(ts) if ts.len() == 4 => ts.into_iter().map(IValue::Tensor).collect(),
            _ => {
                return Err(self.error(
                    "output is not a tuple of 4 tensors (keypoints, boxes, part_index, uv)".into(),
                ))
            }
        };
        let mut tensors = Vec::with_capacity(4);
        for (name, item) in ["keypoints", "boxes", "part_index", "uv"].iter().zip(items) {
            match item {
                IValue::Tensor(t) => tensors.push(t),
                _ => return Err(self.error(format!("output `{name}` is not a tensor"))),
            }
        }
        let (k, b, part, uv) = (&tensors[0], &tensors[1], &tensors[2], &tensors[3]);
        let p = b.size().first().copied().unwrap_or(-1);
        let (h, w) = match part.size().as_slice() {
            [_, h, w] => (*h, *w),
            s => return Err(self.error(format!("part_index shape {s:?} is not [P, h, w]"))),
        };
        let checks = [
            ("keypoints", k, vec![p, num_keypoints, 3], Kind::Float),
            ("boxes", b, vec![p, 5], Kind::Float),
            ("part_index", part, vec![p, h, w], Kind::Uint8),
            ("uv", uv, vec![p, 2, h, w], Kind::Float),
        ];
        for (name, t, want, kind) in checks {
            if t.size() != want || t.kind() != kind {
                return Err(self.error(format!(
                    "output `{name}` is {:?} {:?}, contract {want:?} {kind:?}",
                    t.size(),
                    t.kind()
                )));
            }
        }
        let mut it = tensors.into_iter();
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some(keypoints), Some(boxes), Some(part_index), Some(uv)) => Ok(PoseOutput {
                keypoints,
                boxes,
                part_index,
                uv,
                floor_m: None,
            }),
            _ => Err(self.error("output is not a tuple of 4 tensors".into())),
        }
    }
}
