//! Fuzzes nexmon_csi decoding: format sniffing, chip inference, the UDP payload parser under
//! every chip and bandwidth, and the streaming pcap reader over arbitrary bytes (both as given
//! and behind a valid pcap global header, so that the record parser is reached).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use wdp_csi::readers::nexmon;
use wdp_csi::{FrameReader, NexmonChip, ReadOptions};

const CHIPS: [NexmonChip; 4] = [
    NexmonChip::Bcm4339,
    NexmonChip::Bcm43455c0,
    NexmonChip::Bcm4358,
    NexmonChip::Bcm4366c0,
];

fn read_all(bytes: Vec<u8>, options: &ReadOptions) {
    let len = bytes.len() as u64;
    let Ok(mut reader) = nexmon::NexmonReader::new(Cursor::new(bytes), options, "fuzz".into())
    else {
        return;
    };
    let mut frames = 0u64;
    while let Some(frame) = reader.next_frame() {
        let frame = frame.expect("an in-memory stream has no I/O errors");
        assert!(frame.is_consistent());
        frames += 1;
        // Every frame needs a 16-byte record header and an 18-byte nexmon header at least.
        assert!(frames <= len / 34);
    }
    assert_eq!(reader.stats().good, frames);
}

fuzz_target!(|data: &[u8]| {
    let _ = nexmon::sniff(data);
    let _ = nexmon::infer_chip(data);
    for chip in CHIPS {
        for bandwidth in [None, Some(20), Some(40), Some(80)] {
            if let Ok(frame) = nexmon::parse_payload(data, chip, bandwidth) {
                assert!(frame.is_consistent());
            }
        }
    }
    read_all(data.to_vec(), &ReadOptions::default());
    // Behind a little-endian Ethernet pcap header, with and without a chip.
    let mut pcap = vec![
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0,
    ];
    pcap.extend_from_slice(data);
    read_all(pcap.clone(), &ReadOptions::default());
    let chip = CHIPS[data.first().map_or(0, |b| usize::from(b % 4))];
    let options = ReadOptions {
        nexmon_chip: Some(chip),
        ..Default::default()
    };
    read_all(pcap, &options);
});
