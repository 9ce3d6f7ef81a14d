//! Fuzzes the ESP32-CSI-Tool decoding: format sniffing, the `CSI_DATA` line parser and the
//! streaming line reader over arbitrary bytes (serial noise, broken UTF-8, endless lines).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use wdp_csi::readers::esp32;
use wdp_csi::FrameReader;

fuzz_target!(|data: &[u8]| {
    let _ = esp32::sniff(data);
    if let Ok(text) = std::str::from_utf8(data) {
        for line in text.lines() {
            if let Ok(frame) = esp32::parse_line(line) {
                assert!(frame.is_consistent());
            }
        }
    }
    let mut reader = esp32::Esp32Reader::new(Cursor::new(data.to_vec()), "fuzz".into());
    let mut frames = 0u64;
    while let Some(frame) = reader.next_frame() {
        let frame = frame.expect("an in-memory stream has no I/O errors");
        assert!(frame.is_consistent());
        frames += 1;
        // Every frame needs at least `CSI_DATA` and a bracketed pair of values.
        assert!(frames <= data.len() as u64 / 12);
    }
    assert_eq!(reader.stats().good, frames);
});
