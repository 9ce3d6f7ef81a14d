//! Fuzzes the PicoScenes decoding: format sniffing and the streaming RXS frame reader over
//! arbitrary bytes, both as given and behind a valid frame header so that segment parsing is
//! reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use wdp_csi::readers::picoscenes;
use wdp_csi::FrameReader;

fn read_all(bytes: Vec<u8>) {
    let len = bytes.len() as u64;
    let mut reader = picoscenes::PicoScenesReader::new(Cursor::new(bytes), "fuzz".into());
    let mut frames = 0u64;
    while let Some(frame) = reader.next_frame() {
        let frame = frame.expect("an in-memory stream has no I/O errors");
        assert!(frame.is_consistent());
        frames += 1;
        // Every frame needs its 11-byte header and a CSI segment.
        assert!(frames <= len / 11);
    }
    assert_eq!(reader.stats().good, frames);
}

fuzz_target!(|data: &[u8]| {
    let _ = picoscenes::sniff(data);
    read_all(data.to_vec());
    // The input as the body of one frame: length prefix, magic, version 1, segment count.
    let mut framed = Vec::with_capacity(data.len() + 11);
    framed.extend_from_slice(&((data.len() + 7) as u32).to_le_bytes());
    framed.extend_from_slice(&picoscenes::RXS_MAGIC.to_le_bytes());
    framed.extend_from_slice(&1u16.to_le_bytes());
    framed.push(data.first().map_or(1, |b| b % 8));
    framed.extend_from_slice(data);
    read_all(framed);
});
