//! Fuzzes the Atheros CSI Tool decoding: format sniffing, the record parser in both byte
//! orders and the streaming reader (given and detected byte order) over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use wdp_csi::readers::atheros;
use wdp_csi::{Endian, FrameReader};

fuzz_target!(|data: &[u8]| {
    let _ = atheros::sniff(data);
    for endian in [Endian::Little, Endian::Big] {
        if let Ok(frame) = atheros::parse_record(data, endian) {
            assert!(frame.is_consistent());
        }
    }
    for endian in [None, Some(Endian::Little), Some(Endian::Big)] {
        let Ok(mut reader) =
            atheros::AtherosReader::new(Cursor::new(data.to_vec()), endian, "fuzz".into())
        else {
            continue;
        };
        let mut frames = 0u64;
        while let Some(frame) = reader.next_frame() {
            let frame = frame.expect("an in-memory stream has no I/O errors");
            assert!(frame.is_consistent());
            frames += 1;
            // Every frame needs at least a 27-byte prefix + header.
            assert!(frames <= data.len() as u64 / 27);
        }
        assert_eq!(reader.stats().good, frames);
    }
});
