//! [`PoseAssembler`]: the messages of one frame, collected by `seq`, released as [`PoseFrame`]s
//! in `seq` order.
//!
//! dora delivers each input in order, but the four inputs of a frame interleave with those of
//! the next, and a message may be lost (a full queue drops it). The assembler keeps at most
//! `max_pending` frames; a complete frame waits only for older incomplete ones, and when the
//! bound is exceeded the oldest incomplete frame is dropped (and counted), so one lost message
//! delays output by at most `max_pending` frames.

use crate::frame::{PoseFrame, PoseMessage, PoseOutput};
use crate::PoseError;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Which messages make a frame complete, and how many frames may wait.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AssemblerConfig {
    /// Frames held at most (complete ones waiting for older ones, and incomplete ones).
    pub max_pending: usize,
    /// Whether frames carry `parts` (when false, `parts` messages are ignored).
    pub expect_parts: bool,
    /// Whether frames carry `uv` (when false, `uv` messages are ignored).
    pub expect_uv: bool,
}

impl Default for AssemblerConfig {
    fn default() -> Self {
        AssemblerConfig {
            max_pending: 8,
            expect_parts: true,
            expect_uv: true,
        }
    }
}

/// Counters of what the assembler did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssemblerStats {
    /// Frames released.
    pub frames: u64,
    /// Frames dropped because messages were missing when they had to give way.
    pub incomplete_dropped: u64,
    /// Frames dropped because a message was malformed or disagreed with the others.
    pub invalid_dropped: u64,
    /// Messages ignored because their frame was already released or dropped.
    pub stale_messages: u64,
    /// Times the sender started its `seq` over (a restarted stage upstream).
    pub restarts: u64,
}

impl AssemblerStats {
    /// `, N stale messages, M seq restarts` for a stop line; empty when both are 0.
    pub fn stale_and_restarts(&self) -> String {
        let mut s = String::new();
        if self.stale_messages > 0 {
            s += &format!(", {} stale messages", self.stale_messages);
        }
        if self.restarts > 0 {
            s += &format!(", {} seq restarts", self.restarts);
        }
        s
    }
}

#[derive(Debug)]
enum Slot {
    Partial(Box<[Option<PoseMessage>; 4]>),
    Complete(Box<PoseFrame>),
}

/// Collects pose messages into frames; see the module documentation.
#[derive(Debug)]
pub struct PoseAssembler {
    config: AssemblerConfig,
    pending: BTreeMap<u64, Slot>,
    ready: VecDeque<PoseFrame>,
    /// Highest seq released or dropped; older messages are stale.
    done_up_to: Option<u64>,
    /// The newest capture time accepted: tells a restarted counter from a late message.
    newest_t_ns: i64,
    /// After a restart told by the clock: the old count's newest capture time; messages at or
    /// before it are the old count's, late. Forgotten once the new count has released
    /// `max_pending` frames (nothing of the old count can still be queued; a later step back of
    /// the clock must not make every frame stale).
    old_count_t_ns: i64,
    /// The new count's `seq` from which [`Self::old_count_t_ns`] is forgotten.
    old_count_until: u64,
    /// Frames dropped as invalid that are newer than `done_up_to`.
    rejected: BTreeSet<u64>,
    stats: AssemblerStats,
    warned_missing: bool,
}

impl Default for PoseAssembler {
    fn default() -> Self {
        Self::new(AssemblerConfig::default())
    }
}

impl PoseAssembler {
    /// An empty assembler (`max_pending` is at least 1).
    pub fn new(mut config: AssemblerConfig) -> Self {
        config.max_pending = config.max_pending.max(1);
        PoseAssembler {
            config,
            pending: BTreeMap::new(),
            ready: VecDeque::new(),
            done_up_to: None,
            newest_t_ns: i64::MIN,
            old_count_t_ns: i64::MIN,
            old_count_until: 0,
            rejected: BTreeSet::new(),
            stats: AssemblerStats::default(),
            warned_missing: false,
        }
    }

    /// Reads a received message ([`PoseMessage::new`]) and adds it.
    pub fn push_input(
        &mut self,
        input: &str,
        data: crate::PoseArray,
        meta: wdp_tensor::TensorMeta,
    ) -> Result<(), PoseError> {
        let seq = meta.seq;
        match PoseMessage::new(input, data, meta) {
            Ok(m) => self.push(m),
            Err(e @ PoseError::UnknownInput(_)) => Err(e),
            Err(e) => {
                self.reject(seq);
                Err(e)
            }
        }
    }

    /// Adds a message. A malformed message, or one that disagrees with the rest of its frame
    /// (person count, region, ...), drops that frame and returns the error; the assembler stays
    /// usable.
    pub fn push(&mut self, message: PoseMessage) -> Result<(), PoseError> {
        let seq = message.meta.seq;
        let wanted = match message.output {
            PoseOutput::Parts => self.config.expect_parts,
            PoseOutput::Uv => self.config.expect_uv,
            PoseOutput::Keypoints | PoseOutput::Boxes => true,
        };
        if !wanted {
            return Ok(());
        }
        let t_ns = message.meta.t_ns;
        if t_ns <= self.old_count_t_ns {
            self.stats.stale_messages += 1;
            return Ok(());
        }
        if let Some(done) = self.done_up_to.filter(|&done| seq <= done) {
            // `done + 1`: a counter that starts over at the frame just released is a restart too.
            if wdp_tensor::seq_restarted(done + 1, self.newest_t_ns, seq, t_ns) {
                tracing::info!("pose seq went back from {done} to {seq}: sender restarted");
                self.restart(seq, t_ns);
            } else {
                self.stats.stale_messages += 1;
                return Ok(());
            }
        }
        if self.rejected.contains(&seq) {
            self.stats.stale_messages += 1;
            return Ok(());
        }
        if let Err(e) = message.check() {
            self.reject(seq);
            return Err(e);
        }
        let slot = self
            .pending
            .entry(seq)
            .or_insert_with(|| Slot::Partial(Box::new([None, None, None, None])));
        let messages = match slot {
            Slot::Partial(messages) => messages,
            Slot::Complete(_) => {
                return Err(PoseError::invalid(
                    message.output.id(),
                    "seq",
                    format!("frame {seq} is already complete"),
                ))
            }
        };
        let index = message.output as usize;
        if messages[index].is_some() {
            return Err(PoseError::invalid(
                message.output.id(),
                "seq",
                format!("a second message for seq {seq} (the first is kept)"),
            ));
        }
        self.newest_t_ns = self.newest_t_ns.max(t_ns);
        messages[index] = Some(message);
        let complete = messages[0].is_some()
            && messages[1].is_some()
            && (!self.config.expect_parts || messages[2].is_some())
            && (!self.config.expect_uv || messages[3].is_some());
        let mut result = Ok(());
        if complete {
            let list: Vec<PoseMessage> = messages.iter_mut().filter_map(Option::take).collect();
            match PoseFrame::from_messages(&list) {
                Ok(frame) => *slot = Slot::Complete(Box::new(frame)),
                Err(e) => {
                    self.reject(seq);
                    result = Err(e);
                }
            }
        }
        self.release();
        result
    }

    /// The next complete frame, in `seq` order.
    pub fn pop(&mut self) -> Option<PoseFrame> {
        self.ready.pop_front()
    }

    /// At the end of the stream: every complete frame still held, in order; incomplete ones are
    /// dropped and counted.
    pub fn flush(&mut self) -> Vec<PoseFrame> {
        if let Some(last) = self.release_all() {
            self.done_up_to = Some(last);
        }
        self.ready.drain(..).collect()
    }

    /// Releases every complete frame held and drops (counted) every incomplete one; the
    /// largest `seq` held, if any.
    fn release_all(&mut self) -> Option<u64> {
        let last = self.pending.last_key_value().map(|(&seq, _)| seq);
        for (seq, slot) in std::mem::take(&mut self.pending) {
            match slot {
                Slot::Complete(frame) => {
                    self.stats.frames += 1;
                    self.ready.push_back(*frame);
                }
                Slot::Partial(messages) => self.drop_incomplete(seq, &messages),
            }
        }
        self.rejected.clear();
        last
    }

    /// What happened so far.
    pub fn stats(&self) -> AssemblerStats {
        self.stats
    }

    /// Frames held (complete or not), not counting those ready to pop.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The sender counts from the start again (`seq`, `t_ns`: the new count's first message): what
    /// the old count left is released (complete frames) or dropped (counted), and the new count
    /// is not stale.
    fn restart(&mut self, seq: u64, t_ns: i64) {
        self.release_all();
        self.done_up_to = None;
        // Told by the clock: the old count's late messages are known by their time.
        self.old_count_t_ns = if t_ns > self.newest_t_ns {
            self.newest_t_ns
        } else {
            i64::MIN
        };
        self.old_count_until = seq.saturating_add(self.config.max_pending as u64);
        self.newest_t_ns = i64::MIN;
        self.stats.restarts += 1;
    }

    fn reject(&mut self, seq: u64) {
        if self.done_up_to.is_some_and(|done| seq <= done) || !self.rejected.insert(seq) {
            return;
        }
        self.pending.remove(&seq);
        self.stats.invalid_dropped += 1;
        self.release();
    }

    fn release(&mut self) {
        while let Some(mut entry) = self.pending.first_entry() {
            let seq = *entry.key();
            if matches!(entry.get_mut(), Slot::Complete(_)) {
                if let Slot::Complete(frame) = entry.remove() {
                    self.stats.frames += 1;
                    self.ready.push_back(*frame);
                }
                self.mark_done(seq);
            } else if self.pending.len() > self.config.max_pending {
                if let Some((seq, Slot::Partial(messages))) = self.pending.pop_first() {
                    self.drop_incomplete(seq, &messages);
                    self.mark_done(seq);
                }
            } else {
                break;
            }
        }
    }

    fn mark_done(&mut self, seq: u64) {
        self.done_up_to = Some(self.done_up_to.map_or(seq, |d| d.max(seq)));
        if seq >= self.old_count_until {
            self.old_count_t_ns = i64::MIN;
        }
        self.rejected = self.rejected.split_off(&(seq + 1));
    }

    fn drop_incomplete(&mut self, seq: u64, messages: &[Option<PoseMessage>; 4]) {
        self.stats.incomplete_dropped += 1;
        let missing: Vec<&str> = PoseOutput::ALL
            .iter()
            .zip(messages)
            .filter(|(o, m)| {
                m.is_none()
                    && match o {
                        PoseOutput::Keypoints | PoseOutput::Boxes => true,
                        PoseOutput::Parts => self.config.expect_parts,
                        PoseOutput::Uv => self.config.expect_uv,
                    }
            })
            .map(|(o, _)| o.id())
            .collect();
        if !self.warned_missing {
            self.warned_missing = true;
            tracing::warn!(
                "dropping incomplete pose frame {seq}: no {} (further drops are only counted)",
                missing.join(", ")
            );
        } else {
            tracing::debug!(
                "dropping incomplete pose frame {seq}: no {}",
                missing.join(", ")
            );
        }
    }
}
