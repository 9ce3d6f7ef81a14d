//! What a handler's failure means to the runtime.

use std::fmt;
use wdp_pose::PoseError;
use wdp_tensor::TensorError;

/// Why a handler did not handle a message.
#[derive(Debug)]
pub enum HandlerError {
    /// The message breaks its contract (wrong type, shape, dims, NaN, missing metadata, ...):
    /// the runtime drops it, counts it under `field` and goes on.
    BadInput {
        /// What is wrong: `shape`, `dims`, `data type`, `values`, a metadata key, ...
        field: String,
        /// How.
        reason: String,
    },
    /// The message was fine but handling it failed (a model error, a full disk, ...): the
    /// runtime drops it, counts it and goes on.
    Failed(eyre::Report),
    /// The node cannot go on: the runtime stops and returns the error.
    Fatal(eyre::Report),
}

impl HandlerError {
    /// A bad message, `field` at fault.
    pub fn bad(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self::BadInput {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// A fatal error.
    pub fn fatal(e: impl Into<eyre::Report>) -> Self {
        Self::Fatal(e.into())
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadInput { field, reason } => write!(f, "{field}: {reason}"),
            Self::Failed(e) | Self::Fatal(e) => write!(f, "{e:#}"),
        }
    }
}

/// `?` on an `eyre` result: the message is dropped as failed.
impl From<eyre::Report> for HandlerError {
    fn from(e: eyre::Report) -> Self {
        Self::Failed(e)
    }
}

/// A message the tensor contract rejects is a bad message; the field is named after the check
/// that failed.
impl From<TensorError> for HandlerError {
    fn from(e: TensorError) -> Self {
        let field = match &e {
            TensorError::DataType { .. } => "data type".to_owned(),
            TensorError::Length { .. } | TensorError::Rank { .. } => "shape".to_owned(),
            TensorError::Nulls(_) => "values".to_owned(),
            TensorError::DimsRank { .. } | TensorError::Dims { .. } => "dims".to_owned(),
            TensorError::Metadata { key, .. } => key.clone(),
        };
        Self::bad(field, e)
    }
}

/// A pose message breaking the pose contract is a bad message; encoder and file errors fail
/// the frame.
impl From<PoseError> for HandlerError {
    fn from(e: PoseError) -> Self {
        match e {
            PoseError::Invalid {
                input,
                field,
                problem,
            } => Self::bad(field, format!("{problem} (pose `{input}`)")),
            PoseError::Tensor { source, .. } => source.into(),
            PoseError::UnknownInput(id) => Self::bad("id", format!("unknown pose input `{id}`")),
            other => Self::Failed(other.into()),
        }
    }
}

impl From<wdp_pose::dora::SendError> for HandlerError {
    fn from(e: wdp_pose::dora::SendError) -> Self {
        match e {
            wdp_pose::dora::SendError::Pose(p) => p.into(),
            other => Self::Failed(other.into()),
        }
    }
}

impl From<dora_node_api::NodeError> for HandlerError {
    fn from(e: dora_node_api::NodeError) -> Self {
        Self::Failed(eyre::eyre!("dora: {e}"))
    }
}

/// Checks that every value is finite; the first that is not makes the message bad, `field`
/// named.
pub fn finite<'a>(
    field: &str,
    values: impl IntoIterator<Item = &'a f32>,
) -> Result<(), HandlerError> {
    match values.into_iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(HandlerError::bad(
            field,
            format!("value {i} is not finite (NaN or infinite)"),
        )),
    }
}
