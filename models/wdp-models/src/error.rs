//! The crate's error type: every fallible call returns [`ModelError`].

/// Errors of wdp-models. Messages name the preset field, tensor or stage at fault.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A preset file could not be read.
    #[error("preset `{preset}`: cannot read {path}: {source}")]
    PresetIo {
        /// Preset name or path as given.
        preset: String,
        /// File that failed.
        path: String,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// A preset could not be parsed (serde names the field and line).
    #[error("preset `{preset}`: {message}")]
    PresetParse {
        /// Preset name or path as given.
        preset: String,
        /// Parser message, naming the field.
        message: String,
    },
    /// A preset field holds a value the model cannot be built with.
    #[error("preset `{preset}`: field `{field}`: {message}")]
    PresetField {
        /// Preset name.
        preset: String,
        /// Dotted field path, e.g. `upsampler.out_height`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// An input tensor does not have the shape a stage expects.
    #[error("{stage}: input shape {found:?} does not match expected {expected}")]
    InputShape {
        /// Stage that rejected the input.
        stage: String,
        /// Expected shape, in words (e.g. `[B, 2, 9, 30, 100]`).
        expected: String,
        /// Shape found.
        found: Vec<i64>,
    },
    /// A checkpoint lacks a tensor the VarStore needs.
    #[error("checkpoint {path}: missing tensor `{name}` (expected shape {expected:?})")]
    MissingTensor {
        /// Checkpoint path.
        path: String,
        /// Full (prefixed) tensor name.
        name: String,
        /// Shape the model expects.
        expected: Vec<i64>,
    },
    /// A checkpoint tensor has the wrong shape.
    #[error("checkpoint {path}: tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// Checkpoint path.
        path: String,
        /// Full (prefixed) tensor name.
        name: String,
        /// Shape the model expects.
        expected: Vec<i64>,
        /// Shape stored in the file.
        found: Vec<i64>,
    },
    /// A checkpoint path or format is not usable.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// Checkpoint path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A TorchScript module does not keep the stage contract.
    #[error("torchscript {stage} stage ({path}): {message}")]
    TorchScript {
        /// Stage name (`encoder`, `upsampler`, `temporal`).
        stage: String,
        /// Module path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Invalid argument to a loss or decoding function.
    #[error("{0}")]
    Invalid(String),
    /// An error raised by libtorch.
    #[error(transparent)]
    Tch(#[from] tch::TchError),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ModelError>;
