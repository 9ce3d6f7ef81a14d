//! Tensor metadata: the `shape`, `dims`, `t_ns`, `seq`, `room`, `link` parameters of the contract.

use crate::TensorError;
use std::collections::BTreeMap;

/// A metadata value beyond the contract's own keys (e.g. `subcarriers`, `encoding`, `primitive`).
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// A flag.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A real number.
    Float(f64),
    /// A string.
    Text(String),
    /// A list of integers.
    Ints(Vec<i64>),
    /// A list of reals.
    Floats(Vec<f64>),
    /// A list of strings.
    Texts(Vec<String>),
}

/// Metadata that travels with every tensor message.
///
/// `shape` and `dims` describe the row-major layout of the flat Arrow array; `t_ns` is the capture
/// time (ns) of the newest packet the tensor holds, carried unchanged from the radio to the sink;
/// `seq` counts messages of one stream; `room` and `link` name where the data comes from in a
/// multi-room deployment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TensorMeta {
    /// Extent of each axis, outermost first.
    pub shape: Vec<usize>,
    /// Name of each axis, e.g. `["tx", "rx", "subcarrier", "complex"]`.
    pub dims: Vec<String>,
    /// Capture time of the newest packet in the tensor, in nanoseconds.
    pub t_ns: i64,
    /// Sequence number of the message in its stream.
    pub seq: u64,
    /// The room the data comes from.
    pub room: String,
    /// The radio link (tx/rx pair) the data comes from.
    pub link: String,
    /// Every other parameter, by name.
    pub extra: BTreeMap<String, MetaValue>,
}

/// Keys of the contract itself; everything else goes to [`TensorMeta::extra`].
pub const CONTRACT_KEYS: [&str; 6] = ["shape", "dims", "t_ns", "seq", "room", "link"];

impl TensorMeta {
    /// Metadata for a tensor of this shape with these axis names.
    pub fn new<S: Into<String>>(shape: &[usize], dims: impl IntoIterator<Item = S>) -> Self {
        Self {
            shape: shape.to_vec(),
            dims: dims.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Sets the capture time.
    pub fn with_time_ns(mut self, t_ns: i64) -> Self {
        self.t_ns = t_ns;
        self
    }

    /// Sets the sequence number.
    pub fn with_seq(mut self, seq: u64) -> Self {
        self.seq = seq;
        self
    }

    /// Sets the room.
    pub fn with_room(mut self, room: impl Into<String>) -> Self {
        self.room = room.into();
        self
    }

    /// Sets the link.
    pub fn with_link(mut self, link: impl Into<String>) -> Self {
        self.link = link.into();
        self
    }

    /// Adds an extra parameter.
    pub fn with(mut self, key: impl Into<String>, value: MetaValue) -> Self {
        self.extra.insert(key.into(), value);
        self
    }

    /// Number of elements the shape describes.
    pub fn element_count(&self) -> usize {
        self.shape.iter().product()
    }

    /// Copies time, sequence, room, link and extras from `other`: what a stage does when its
    /// output describes the same moment as its input.
    pub fn carry_from(mut self, other: &TensorMeta) -> Self {
        self.t_ns = other.t_ns;
        self.seq = other.seq;
        self.room = other.room.clone();
        self.link = other.link.clone();
        for (k, v) in &other.extra {
            self.extra.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self
    }

    /// Checks the layout: `dims` names every axis (when given) and matches `expected` where that
    /// names an axis (`"*"` accepts any name), and the rank equals `expected.len()`.
    pub fn expect_dims(&self, expected: &[&str]) -> Result<(), TensorError> {
        if self.shape.len() != expected.len() {
            return Err(TensorError::Rank {
                expected: expected.len(),
                found: self.shape.clone(),
            });
        }
        if self.dims.is_empty() {
            return Ok(());
        }
        let matches = self.dims.len() == expected.len()
            && self
                .dims
                .iter()
                .zip(expected)
                .all(|(d, e)| *e == "*" || d == e);
        if matches {
            Ok(())
        } else {
            Err(TensorError::Dims {
                expected: expected.iter().map(|s| (*s).to_owned()).collect(),
                found: self.dims.clone(),
            })
        }
    }

    /// An integer list from the extras (e.g. `subcarriers`).
    pub fn ints(&self, key: &str) -> Option<&[i64]> {
        match self.extra.get(key)? {
            MetaValue::Ints(v) => Some(v),
            _ => None,
        }
    }

    /// A string from the extras.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.extra.get(key)? {
            MetaValue::Text(v) => Some(v),
            _ => None,
        }
    }

    /// An integer from the extras.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.extra.get(key)? {
            MetaValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// A real number from the extras (integers are widened).
    pub fn float(&self, key: &str) -> Option<f64> {
        match self.extra.get(key)? {
            MetaValue::Float(v) => Some(*v),
            MetaValue::Int(v) => Some(*v as f64),
            _ => None,
        }
    }
}
