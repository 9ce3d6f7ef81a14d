//! Decoding of live radio input: ESP32-CSI-Tool text lines (serial, UDP, stdin), Intel CSI Tool
//! netlink records and nexmon_csi payloads sent over UDP, one datagram at a time.

use crate::readers::{esp32, intel, nexmon};
use crate::{CaptureFormat, CsiFrame, ReadOptions, ReadStats, RecordError};

/// Intel netlink code of a beamforming-feedback (CSI) record.
const INTEL_BFEE_CODE: u8 = 0xbb;

/// Turns live input of one format into frames, skipping and counting what cannot be decoded.
#[derive(Debug)]
pub struct LiveDecoder {
    format: CaptureFormat,
    options: ReadOptions,
    stats: ReadStats,
    records: u64,
}

impl LiveDecoder {
    /// A decoder for `format` (ESP32 lines, Intel records or nexmon payloads).
    pub fn new(format: CaptureFormat, options: ReadOptions) -> Result<Self, String> {
        match format {
            CaptureFormat::Esp32 | CaptureFormat::Intel5300 | CaptureFormat::Nexmon => Ok(Self {
                format,
                options,
                stats: ReadStats::default(),
                records: 0,
            }),
            other => Err(format!(
                "live input of format '{other}' is not supported (esp32, intel5300, nexmon are)"
            )),
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Decodes one text line (ESP32-CSI-Tool). Log lines the tool interleaves are ignored.
    pub fn push_line(&mut self, line: &str) -> Option<CsiFrame> {
        let line = line.trim();
        if line.is_empty() {
            return None;
        }
        if !line.starts_with("CSI_DATA") {
            self.stats.ignored += 1;
            return None;
        }
        let result = esp32::parse_line(line);
        self.account(result)
    }

    /// Decodes one datagram: ESP32 text (one or more lines), an Intel netlink record
    /// (`u16` BE length, code, body) or a nexmon_csi UDP payload.
    pub fn push_datagram(&mut self, datagram: &[u8]) -> Vec<CsiFrame> {
        match self.format {
            CaptureFormat::Esp32 => String::from_utf8_lossy(datagram)
                .lines()
                .filter_map(|line| self.push_line(line))
                .collect(),
            CaptureFormat::Intel5300 => {
                let result = match datagram {
                    [_, _, INTEL_BFEE_CODE, body @ ..] => intel::parse_bfee(body),
                    [_, _, _, ..] => {
                        self.stats.ignored += 1;
                        return Vec::new();
                    }
                    _ => Err(RecordError::new(
                        "truncated record",
                        "datagram under 3 bytes",
                    )),
                };
                self.account(result).into_iter().collect()
            }
            CaptureFormat::Nexmon => {
                // Without a configured chip, each payload's header field or bit pattern decides.
                let chip = match self.options.nexmon_chip {
                    Some(chip) => Ok(chip),
                    None => match nexmon::infer_chip(datagram) {
                        nexmon::ChipGuess::Chip(chip) => Ok(chip),
                        // Every packing decodes zeros alike.
                        nexmon::ChipGuess::AllZero => Ok(crate::NexmonChip::Bcm43455c0),
                        nexmon::ChipGuess::Ambiguous => Err(RecordError::new(
                            "nexmon chip ambiguous (set the nexmon chip option)",
                            "cannot tell the CSI packing from this payload",
                        )),
                    },
                };
                let result = chip.and_then(|chip| {
                    nexmon::parse_payload(datagram, chip, self.options.nexmon_bandwidth_mhz)
                });
                self.account(result).into_iter().collect()
            }
            _ => Vec::new(),
        }
    }

    fn account(&mut self, result: Result<CsiFrame, RecordError>) -> Option<CsiFrame> {
        self.records += 1;
        match result {
            Ok(frame) => {
                self.stats.good += 1;
                Some(frame)
            }
            Err(e) => {
                tracing::warn!(record = self.records, detail = %e.detail, "skipping live record: {}", e.reason);
                *self.stats.skipped.entry(e.reason).or_default() += 1;
                None
            }
        }
    }
}
