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

/// Extras key of the stage names in a message's latency trace.
pub const TRACE_STAGES: &str = "trace_stages";
/// Extras key of the trace's wall-clock times, two per stage (received, sent).
pub const TRACE_NS: &str = "trace_ns";

/// Wall-clock time now, ns since the UNIX epoch (the clock of latency traces).
pub fn wall_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Keys of the contract itself; everything else goes to [`TensorMeta::extra`].
pub const CONTRACT_KEYS: [&str; 6] = ["shape", "dims", "t_ns", "seq", "room", "link"];

/// A `seq` this far behind the newest one of its stream cannot be a late message (no queue of
/// the project holds that many): its sender started counting again.
pub const SEQ_RESTART_GAP: u64 = 1024;

/// Whether a message at (`seq`, `t_ns`) comes from a sender that started its counter again
/// after the message at (`newest_seq`, `newest_t_ns`), rather than arriving late: its counter
/// went back while its capture clock moved on (a restarted stage keeps the radio's clock), or
/// went back by more than [`SEQ_RESTART_GAP`].
pub fn seq_restarted(newest_seq: u64, newest_t_ns: i64, seq: u64, t_ns: i64) -> bool {
    seq < newest_seq && (t_ns > newest_t_ns || newest_seq - seq > SEQ_RESTART_GAP)
}

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

    /// Appends one stage's timing to the message's trace: wall-clock ns (UNIX epoch) when the
    /// stage received its input and when it sent this output. The trace travels in the extras
    /// (`trace_stages`, `trace_ns`) and is carried by [`TensorMeta::carry_from`], so a sink can
    /// report per-stage and end-to-end latency across processes and machines.
    pub fn push_trace(&mut self, stage: &str, received_ns: i64, sent_ns: i64) {
        let mut stages = match self.extra.remove(TRACE_STAGES) {
            Some(MetaValue::Texts(v)) => v,
            _ => Vec::new(),
        };
        let mut times = match self.extra.remove(TRACE_NS) {
            Some(MetaValue::Ints(v)) if v.len() == 2 * stages.len() => v,
            _ => {
                stages.clear();
                Vec::new()
            }
        };
        stages.push(stage.to_owned());
        times.extend([received_ns, sent_ns]);
        self.extra
            .insert(TRACE_STAGES.into(), MetaValue::Texts(stages));
        self.extra.insert(TRACE_NS.into(), MetaValue::Ints(times));
    }

    /// The trace as `(stage, received_ns, sent_ns)`, oldest stage first (empty when absent or
    /// malformed).
    pub fn trace(&self) -> Vec<(String, i64, i64)> {
        match (self.extra.get(TRACE_STAGES), self.extra.get(TRACE_NS)) {
            (Some(MetaValue::Texts(s)), Some(MetaValue::Ints(t))) if t.len() == 2 * s.len() => s
                .iter()
                .zip(t.chunks(2))
                .map(|(name, ns)| (name.clone(), ns[0], ns[1]))
                .collect(),
            _ => Vec::new(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_going_back_is_a_restart_when_the_clock_moved_on_or_the_gap_is_large() {
        // Late: an older frame, older capture time.
        assert!(!seq_restarted(100, 5_000, 98, 4_900));
        // Restarted: the counter starts over, the radio's clock goes on.
        assert!(seq_restarted(100, 5_000, 0, 5_050));
        // Restarted with its clock too (a simulated room starting over): only a large gap says so.
        assert!(!seq_restarted(100, 5_000, 0, 0));
        assert!(seq_restarted(5_000, 5_000, 0, 0));
        // Not behind at all.
        assert!(!seq_restarted(100, 5_000, 100, 6_000));
        assert!(!seq_restarted(100, 5_000, 101, 6_000));
    }

    #[test]
    fn trace_accumulates_and_travels_with_carry_from() {
        let mut a = TensorMeta::new(&[3], ["x"]);
        a.push_trace("preprocess", 10, 20);
        let mut b = TensorMeta::new(&[4], ["y"]).carry_from(&a);
        b.push_trace("encoder", 25, 40);
        assert_eq!(
            b.trace(),
            vec![
                ("preprocess".to_owned(), 10, 20),
                ("encoder".to_owned(), 25, 40)
            ]
        );
        // A malformed trace (times not two per stage) restarts instead of misattributing.
        b.extra.insert(TRACE_NS.into(), MetaValue::Ints(vec![1]));
        assert!(b.trace().is_empty());
        b.push_trace("densepose", 50, 60);
        assert_eq!(b.trace(), vec![("densepose".to_owned(), 50, 60)]);
    }
}
