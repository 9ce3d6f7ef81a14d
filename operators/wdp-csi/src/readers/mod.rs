//! One module per capture format. Each has `sniff` (format detection from the head of a file),
//! a record parser over a byte slice (also used for live UDP input) and a streaming reader.

pub mod atheros;
pub mod esp32;
pub mod intel;
pub mod nexmon;
pub mod pcap;
pub mod picoscenes;
