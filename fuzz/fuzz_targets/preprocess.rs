//! Fuzzes the preprocessing pipeline's configuration and its packets: a configuration the
//! checks accept must build a pipeline that takes any packets (any layout, NaN, infinities,
//! time going back) without a panic, refusing what it cannot use.
//!
//! Input: the configuration's YAML, then after a 0 byte the packets: per packet one byte of
//! layout (tx, rx, subcarriers), two of time step, then the values as f32.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wdp_csi::dsp::{CsiValues, Packet, Pipeline, PipelineConfig};

fuzz_target!(|data: &[u8]| {
    let (text, mut rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(config) = serde_yaml::from_str::<PipelineConfig>(text) else {
        return;
    };
    let Ok(mut pipeline) = Pipeline::new(config) else {
        return;
    };
    let mut t_ns = 0i64;
    let mut packets = 0;
    while rest.len() >= 3 && packets < 400 {
        let layout = rest[0];
        let step = i16::from_le_bytes([rest[1], rest[2]]);
        rest = &rest[3..];
        let (n_tx, n_rx) = (1 + (layout & 1) as usize, 1 + ((layout >> 1) & 3) as usize);
        let n_sub = [1, 2, 30, 56][(layout >> 3 & 3) as usize];
        let subcarriers: Vec<i32> = (0..n_sub as i32).map(|k| k * 2 - n_sub as i32).collect();
        let n = 2 * n_tx * n_rx * n_sub;
        let mut values: Vec<f32> = rest
            .chunks_exact(4)
            .take(n)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        rest = &rest[(values.len() * 4).min(rest.len())..];
        // Short of bytes: the packet is repeated values, as a steady radio sends.
        let have = values.len();
        for i in have..n {
            let v = if have == 0 { 1.0 } else { values[i % have] };
            values.push(v);
        }
        // Steps of 1 ms x the byte, backwards included.
        t_ns = t_ns.saturating_add(step as i64 * 1_000_000 / 64);
        let packet = Packet {
            n_tx,
            n_rx,
            subcarriers: &subcarriers,
            csi: CsiValues::Interleaved(&values),
            t_ns,
            agc_db: (layout & 0x80 != 0).then_some(f32::from(layout & 0x3f)),
            rssi_dbm: None,
        };
        let _ = pipeline.push(&packet);
        while pipeline.pop().is_some() {}
        packets += 1;
    }
});
