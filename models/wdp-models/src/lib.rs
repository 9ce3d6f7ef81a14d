//! wifi-densepose models in tch (libtorch).
//!
//! Seed 000's network (CSI encoder, modality translation, ResNet-FPN, DensePose
//! head, temporal module), seed 003's Global Filter Layer backbone, a dense
//! CenterNet-style person head for multi-person output, the losses of seeds
//! 000-003, YAML presets, safetensors checkpoints with per-stage prefixes and
//! TorchScript stand-ins. Each component is a config struct with `Default`, a
//! constructor taking an `nn::Path`, and a `Module`/`ModuleT` impl; variable
//! names match PyTorch modules with the same attribute names.
//!
//! ```no_run
//! use tch::{nn, Device, Kind, Tensor};
//! use wdp_models::{InputDims, Preset, WifiDensePose};
//!
//! let preset = Preset::load("lite")?;
//! let vs = nn::VarStore::new(Device::Cpu);
//! let model = WifiDensePose::new(&vs.root(), &preset, InputDims::new(9, 30, 100))?;
//! let window = Tensor::randn([2, 9, 30, 100], (Kind::Float, Device::Cpu));
//! let poses = model.infer(&window)?;
//! println!("{} people", poses[0].boxes.size()[0]);
//! # Ok::<(), wdp_models::ModelError>(())
//! ```

pub mod attention;
pub mod backbone;
pub mod checkpoint;
pub mod decode;
pub mod domain;
pub mod encoder;
pub mod error;
pub mod floor;
pub mod flops;
pub mod gfl;
pub mod head;
pub mod layers;
pub mod losses;
pub mod model;
pub mod preset;
pub mod roi;
pub mod temporal;
pub mod torchscript;
pub mod upsampler;

pub use backbone::{Backbone, BackboneConfig, BackboneKind, ResNetFpn, ResNetFpnConfig};
pub use decode::PoseOutput;
pub use domain::DomainDiscriminator;
pub use encoder::{CsiEncoder, EncoderConfig};
pub use error::{ModelError, Result};
pub use gfl::{GflBackbone, GflBackboneConfig, GflBlock, GlobalFilter};
pub use head::{
    CentreSource, CountSource, DensePoseHead, DensePoseHeadConfig, PersonHead, PersonHeadConfig,
};
pub use model::{count_parameters, DensePoseStage, Located, TrainOutputs, WifiDensePose};
pub use preset::{InputDims, Preset};
pub use temporal::{TemporalConfig, TemporalModule};
pub use torchscript::{StageContract, TorchScriptStage};
pub use upsampler::{SpatialUpsampler, Translated, UpsamplerConfig};
