//! Fuzzes the Intel 5300 CSI Tool decoding: format sniffing, the bfee record parser, the
//! scaling helpers and the streaming reader (with an stp companion) over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use wdp_csi::readers::intel;
use wdp_csi::FrameReader;

fuzz_target!(|data: &[u8]| {
    let _ = intel::sniff(data);
    if let Ok(frame) = intel::parse_bfee(data) {
        assert!(frame.is_consistent());
        let _ = intel::total_rss_dbm(&frame);
        assert_eq!(intel::scaled_csi(&frame).len(), frame.csi.len());
    }
    // Reuse the input as its own stp companion: any byte soup must be handled.
    let mut reader = intel::IntelReader::new(Cursor::new(data.to_vec()), "fuzz".into())
        .with_stp(Cursor::new(data.to_vec()));
    let mut frames = 0u64;
    while let Some(frame) = reader.next_frame() {
        let frame = frame.expect("an in-memory stream has no I/O errors");
        assert!(frame.is_consistent());
        frames += 1;
        // Every frame needs at least a 23-byte record prefix + header.
        assert!(frames <= data.len() as u64 / 23);
    }
    assert_eq!(reader.stats().good, frames);
});
