//! The wire contract of wifi-densepose: every tensor message is one Arrow primitive array in
//! row-major order plus metadata (`shape`, `dims`, `t_ns`, `seq`, `room`, `link`).
//!
//! A Python node rebuilds a tensor with `np.asarray(value).reshape(metadata["shape"])`; a Rust
//! stage gets an [`ndarray`] view straight over the received buffer, without a copy.
//!
//! ```
//! use ndarray::{Array, IxDyn};
//! use wdp_tensor::{Tensor, TensorMeta};
//!
//! let data = Array::from_shape_fn(IxDyn(&[2, 3]), |i| (i[0] * 3 + i[1]) as f32);
//! let meta = TensorMeta::new(&[2, 3], ["row", "col"]).with_time_ns(42);
//! let tensor = Tensor::new(data, meta)?;
//! let arrow = tensor.to_arrow();
//! let back = wdp_tensor::view::<f32>(arrow.as_ref(), &tensor.meta)?;
//! assert_eq!(back[[1, 2]], 5.0);
//! # Ok::<(), wdp_tensor::TensorError>(())
//! ```

#[cfg(feature = "dora")]
pub mod dora;
mod element;
mod meta;
pub mod streams;

pub use element::Element;
pub use meta::{
    seq_restarted, wall_ns, MetaValue, TensorMeta, CONTRACT_KEYS, SEQ_RESTART_GAP, TRACE_NS,
    TRACE_STAGES,
};
pub use ndarray;

use arrow_array::{Array, ArrayRef, PrimitiveArray};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use std::sync::Arc;

/// What can be wrong with a tensor message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorError {
    /// The Arrow array has another element type than expected.
    #[error("element type is {found}, expected {expected}")]
    DataType {
        /// Expected Arrow type.
        expected: String,
        /// Received Arrow type.
        found: String,
    },
    /// The number of elements does not match the `shape` metadata.
    #[error("{len} elements do not fill shape {shape:?} ({expected} elements)")]
    Length {
        /// Elements received.
        len: usize,
        /// The declared shape.
        shape: Vec<usize>,
        /// Elements the shape needs.
        expected: usize,
    },
    /// The array has null values; tensors are dense.
    #[error("{0} null values; tensors must be dense")]
    Nulls(usize),
    /// `dims` names a different number of axes than `shape` has.
    #[error("dims {dims:?} do not name the {rank} axes of the shape")]
    DimsRank {
        /// Axis names.
        dims: Vec<String>,
        /// Rank of the shape.
        rank: usize,
    },
    /// The rank is not what the stage expects.
    #[error("shape {found:?} has the wrong rank, expected {expected} axes")]
    Rank {
        /// Expected rank.
        expected: usize,
        /// The shape received.
        found: Vec<usize>,
    },
    /// The axis names are not what the stage expects.
    #[error("dims {found:?}, expected {expected:?}")]
    Dims {
        /// Expected axis names.
        expected: Vec<String>,
        /// Received axis names.
        found: Vec<String>,
    },
    /// A metadata parameter is missing or of the wrong type.
    #[error("metadata parameter `{key}`: {problem}")]
    Metadata {
        /// The parameter.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// An owned tensor: an n-dimensional array and its metadata, kept consistent.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor<T: Element> {
    /// The values, in standard (row-major) layout.
    pub data: ArrayD<T>,
    /// Shape, axis names, time and origin.
    pub meta: TensorMeta,
}

impl<T: Element> Tensor<T> {
    /// Pairs data with metadata; the metadata's shape is set from the data, and `dims`, when
    /// given, must name every axis.
    pub fn new(data: ArrayD<T>, mut meta: TensorMeta) -> Result<Self, TensorError> {
        meta.shape = data.shape().to_vec();
        check_dims(&meta)?;
        Ok(Self { data, meta })
    }

    /// The flat Arrow array of the contract (row-major). Moves the buffer without copying when
    /// the data is already in standard layout.
    pub fn to_arrow(&self) -> ArrayRef {
        to_arrow(self.data.view())
    }

    /// Consumes the tensor into its Arrow array, without a copy for standard-layout data.
    pub fn into_arrow(self) -> ArrayRef {
        let data = self.data.as_standard_layout().into_owned();
        let (values, offset) = data.into_raw_vec_and_offset();
        // A standard-layout owned array starts at element 0 of its buffer.
        let values = match offset {
            Some(0) | None => values,
            Some(start) => values[start..].to_vec(),
        };
        Arc::new(PrimitiveArray::<T::Arrow>::from_iter_values(values))
    }

    /// Reads an owned tensor (a copy) from a received Arrow array and its metadata.
    pub fn from_arrow(array: &dyn Array, meta: TensorMeta) -> Result<Self, TensorError> {
        let data = view::<T>(array, &meta)?.to_owned();
        Ok(Self { data, meta })
    }
}

/// A flat, row-major Arrow array from any ndarray view.
pub fn to_arrow<T: Element>(data: ArrayViewD<'_, T>) -> ArrayRef {
    let values = match data.as_slice() {
        Some(slice) => slice.to_vec(),
        None => data.iter().copied().collect(),
    };
    Arc::new(PrimitiveArray::<T::Arrow>::from_iter_values(values))
}

/// A zero-copy ndarray view over a received Arrow array, shaped by its metadata.
pub fn view<'a, T: Element>(
    array: &'a dyn Array,
    meta: &TensorMeta,
) -> Result<ArrayViewD<'a, T>, TensorError> {
    check_dims(meta)?;
    let values = T::values(array)?;
    if array.null_count() > 0 {
        return Err(TensorError::Nulls(array.null_count()));
    }
    let expected = meta.element_count();
    if values.len() != expected {
        return Err(TensorError::Length {
            len: values.len(),
            shape: meta.shape.clone(),
            expected,
        });
    }
    ArrayViewD::from_shape(IxDyn(&meta.shape), values).map_err(|_| TensorError::Length {
        len: values.len(),
        shape: meta.shape.clone(),
        expected,
    })
}

fn check_dims(meta: &TensorMeta) -> Result<(), TensorError> {
    if !meta.dims.is_empty() && meta.dims.len() != meta.shape.len() {
        return Err(TensorError::DimsRank {
            dims: meta.dims.clone(),
            rank: meta.shape.len(),
        });
    }
    Ok(())
}
