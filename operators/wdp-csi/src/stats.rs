//! Counts of good and skipped records, kept by every reader.

use serde::Serialize;
use std::collections::BTreeMap;

/// What a reader has seen so far: good frames and skipped records by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReadStats {
    /// Records decoded into frames.
    pub good: u64,
    /// Records skipped, counted by reason (e.g. `"truncated record"`, `"bad csi length"`).
    pub skipped: BTreeMap<String, u64>,
    /// Records of the container that carry no CSI (other netlink codes, non-CSI UDP packets);
    /// not errors, counted so that a summary can account for every byte.
    pub ignored: u64,
}

impl ReadStats {
    /// Total skipped records over all reasons.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// Counts one skipped record and logs where it was.
    pub fn skip(&mut self, reason: &str, record: u64, offset: u64) {
        tracing::warn!(record, offset, reason, "skipping corrupt CSI record");
        *self.skipped.entry(reason.to_owned()).or_default() += 1;
    }
}
