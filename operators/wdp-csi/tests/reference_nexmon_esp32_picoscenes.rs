//! The Nexmon, ESP32 and PicoScenes readers against `reference.json` (csiread 1.4.1, cross-checked
//! with the tools' MATLAB readers and CSIKit). Every key of each entry's `result` is checked; an
//! unknown key fails the test so that nothing in the reference goes unchecked by accident.

// In tests a panic is the failure report.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use wdp_csi::{CaptureFormat, CsiFrame, MetaValue, ReadOptions};

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/captures");

fn reference_entry(file: &str) -> Value {
    let text = std::fs::read_to_string(format!("{CAPTURES}/reference.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"] == file)
        .unwrap_or_else(|| panic!("{file} not in reference.json"))
        .clone()
}

fn read_all(file: &str, format: CaptureFormat) -> (Vec<CsiFrame>, wdp_csi::ReadStats) {
    let path = format!("{CAPTURES}/{file}");
    let head = std::fs::read(&path).unwrap();
    let head = &head[..head.len().min(wdp_csi::SNIFF_BYTES)];
    assert_eq!(
        wdp_csi::detect_format(head),
        Some(format),
        "{file}: detected format"
    );
    let mut reader = wdp_csi::open(&path, &ReadOptions::default()).unwrap();
    assert_eq!(reader.format(), format);
    let mut frames = Vec::new();
    while let Some(frame) = reader.next_frame() {
        let frame = frame.unwrap();
        assert!(frame.is_consistent());
        frames.push(frame);
    }
    (frames, reader.stats().clone())
}

fn meta_json(frame: &CsiFrame, key: &str) -> Value {
    match frame.meta.get(key) {
        Some(MetaValue::Int(v)) => Value::from(*v),
        Some(MetaValue::Float(v)) => Value::from(*v),
        Some(MetaValue::Text(v)) => Value::from(v.clone()),
        Some(MetaValue::Ints(v)) => Value::from(v.clone()),
        None => panic!("frame has no meta field {key}: {:?}", frame.meta.keys()),
    }
}

/// Per-frame values of a named field.
fn field(frames: &[CsiFrame], name: &str) -> Vec<Value> {
    frames
        .iter()
        .map(|f| match name {
            "CSI.SubcarrierIndex" => Value::from(f.subcarriers.clone()),
            _ => meta_json(f, name),
        })
        .collect()
}

fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| close(p, q))
        }
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(1.0)
        }
        _ => a == b,
    }
}

fn assert_close(what: &str, got: &Value, want: &Value) {
    assert!(close(got, want), "{what}: got {got}, want {want}");
}

fn pair(c: wdp_csi::Complex32) -> Value {
    Value::from(vec![f64::from(c.re), f64::from(c.im)])
}

/// Resolves a possibly negative Python index.
fn py_index(i: i64, len: usize) -> usize {
    if i < 0 {
        (len as i64 + i) as usize
    } else {
        i as usize
    }
}

/// A Python slice `a:b` / `:b` / `a:` over `len` items.
fn py_slice(spec: &str, len: usize) -> std::ops::Range<usize> {
    let (a, b) = spec.split_once(':').unwrap();
    let a = if a.is_empty() {
        0
    } else {
        py_index(a.parse().unwrap(), len)
    };
    let b = if b.is_empty() {
        len
    } else {
        py_index(b.parse().unwrap(), len).min(len)
    };
    a..b
}

/// `csi[row, a:b]` of csiread's `(packet, subcarrier)` array for `[1, 1, n]` frames.
fn csi_row_slice(frames: &[CsiFrame], key: &str) -> Value {
    let inner = key.strip_prefix("csi[").unwrap().strip_suffix(']').unwrap();
    let (row, cols) = inner.split_once(',').unwrap();
    let frame = &frames[py_index(row.parse().unwrap(), frames.len())];
    assert_eq!((frame.n_tx, frame.n_rx), (1, 1));
    Value::from(
        frame.csi[py_slice(cols, frame.csi.len())]
            .iter()
            .map(|&c| pair(c))
            .collect::<Vec<_>>(),
    )
}

fn sum_abs(frames: &[CsiFrame]) -> f64 {
    frames
        .iter()
        .flat_map(|f| &f.csi)
        .map(|c| f64::from(c.re).hypot(f64::from(c.im)))
        .sum()
}

fn unique_sorted(values: Vec<Value>) -> Vec<Value> {
    let mut ints: Vec<i64> = values.iter().map(|v| v.as_i64().unwrap()).collect();
    ints.sort_unstable();
    ints.dedup();
    ints.into_iter().map(Value::from).collect()
}

/// Checks one `result` key shared by every format; returns false if the key is not generic.
fn check_generic(frames: &[CsiFrame], key: &str, want: &Value) -> bool {
    if key == "count" {
        assert_eq!(frames.len() as u64, want.as_u64().unwrap(), "count");
    } else if key == "csi_dtype" {
        // Our values are Complex32 holding integers exactly; csiread widens to complex128.
        assert_eq!(want, "complex128");
    } else if key == "sum_abs_csi" {
        let (got, want) = (sum_abs(frames), want.as_f64().unwrap());
        assert!(
            (got - want).abs() <= 1e-6 * want,
            "sum_abs_csi: got {got}, want {want}"
        );
    } else if key == "csi_shape" {
        let shape: Vec<u64> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(frames.len() as u64, shape[0]);
        for f in frames {
            assert_eq!((f.n_tx, f.n_rx, f.n_subcarriers() as u64), (1, 1, shape[1]));
        }
    } else if let Some(name) = key.strip_suffix("_values") {
        let got = unique_sorted(field(frames, name));
        assert_close(
            key,
            &Value::from(got),
            &Value::from(unique_sorted(want.as_array().unwrap().clone())),
        );
    } else if key.starts_with("csi[") {
        assert_close(key, &csi_row_slice(frames, key), want);
    } else if let Some((name, rest)) = key.split_once('[') {
        let index = rest.strip_suffix(']').unwrap();
        let values = field(frames, name);
        if let Some((row, cols)) = index.split_once(',') {
            let v = &values[py_index(row.parse().unwrap(), values.len())];
            let items = v.as_array().unwrap();
            let got = Value::from(items[py_slice(cols, items.len())].to_vec());
            assert_close(key, &got, want);
        } else if index.contains(':') {
            let got = Value::from(values[py_slice(index, values.len())].to_vec());
            assert_close(key, &got, want);
        } else {
            let got = &values[py_index(index.parse().unwrap(), values.len())];
            assert_close(key, got, want);
        }
    } else {
        return false;
    }
    true
}

fn hex_set(frames: &[CsiFrame], key: &str) -> Value {
    let set: BTreeSet<i64> = frames.iter().map(|f| f.meta_int(key).unwrap()).collect();
    Value::from(
        set.into_iter()
            .map(|v| format!("{v:#x}"))
            .collect::<Vec<_>>(),
    )
}

fn check_nexmon(file: &str) {
    let entry = reference_entry(file);
    let (frames, stats) = read_all(file, CaptureFormat::Nexmon);
    assert_eq!(stats.skipped_total(), 0, "{stats:?}");
    assert_eq!(stats.good, frames.len() as u64);
    for (key, want) in entry["result"].as_object().unwrap() {
        match key.as_str() {
            "magic" | "chan_spec" | "chip_version" => {
                assert_eq!(&hex_set(&frames, key), want, "{key}")
            }
            "caplen_values" => {
                let mut hist = BTreeMap::new();
                for f in &frames {
                    *hist
                        .entry(f.meta_int("caplen").unwrap().to_string())
                        .or_insert(0u64) += 1;
                }
                assert_eq!(&serde_json::to_value(hist).unwrap(), want, "caplen_values");
            }
            _ => assert!(
                check_generic(&frames, key, want),
                "{file}: unchecked key {key}"
            ),
        }
    }
    // FFT-order subcarrier indices and the pcap time.
    let f = &frames[0];
    assert_eq!(f.subcarriers[..3], [0, 1, 2]);
    assert_eq!(f.subcarriers[128..130], [-128, -127]);
    assert_eq!(*f.subcarriers.last().unwrap(), -1);
    let (sec, usec) = (f.meta_int("sec").unwrap(), f.meta_int("usec").unwrap());
    assert_eq!(f.timestamp_ns, sec * 1_000_000_000 + usec * 1_000);
}

#[test]
fn nexmon_bcm4358_old_header_float_packed() {
    check_nexmon("nexmon_csi/example.pcap");
}

#[test]
fn nexmon_bcm43455c0_new_header_int16() {
    check_nexmon("CSIKit/nexmon/example_43455c0.pcap");
}

/// The chip heuristic (used when the chip field is the old `0xdead` placeholder or unknown)
/// tells the packings of both real files apart from their CSI bits alone.
#[test]
fn nexmon_chip_heuristic_on_real_payloads() {
    use wdp_csi::readers::nexmon::{infer_chip, ChipGuess};
    use wdp_csi::readers::pcap::{udp_of, PcapItem, PcapReader};
    use wdp_csi::NexmonChip;
    for (file, want) in [
        ("nexmon_csi/example.pcap", NexmonChip::Bcm4358),
        ("CSIKit/nexmon/example_43455c0.pcap", NexmonChip::Bcm43455c0),
    ] {
        let bytes = std::fs::read(format!("{CAPTURES}/{file}")).unwrap();
        let mut pcap = PcapReader::new(&bytes[..]).unwrap();
        let link = pcap.header().link_type;
        let mut checked = 0;
        while let Some(item) = pcap.next_item() {
            let PcapItem::Record { data, .. } = item.unwrap() else {
                panic!("corrupt record in {file}")
            };
            let mut payload = udp_of(link, data).unwrap().payload.to_vec();
            // Pretend the chip field is the old placeholder.
            payload[16..18].copy_from_slice(&0xdeadu16.to_le_bytes());
            match infer_chip(&payload) {
                ChipGuess::Chip(chip) => assert_eq!(chip, want, "{file}"),
                ChipGuess::AllZero => continue,
                ChipGuess::Ambiguous => panic!("{file}: ambiguous packet"),
            }
            checked += 1;
        }
        assert!(checked > 0);
    }
}

fn check_esp32(file: &str, expect_header_line: bool) {
    let entry = reference_entry(file);
    let (frames, stats) = read_all(file, CaptureFormat::Esp32);
    assert_eq!(stats.skipped_total(), 0, "{stats:?}");
    assert_eq!(stats.ignored, u64::from(expect_header_line), "{stats:?}");
    for (key, want) in entry["result"].as_object().unwrap() {
        match key.as_str() {
            // Informational: csiread cannot read the file with its header line; we can.
            "csiread_on_original" => assert!(expect_header_line),
            _ => assert!(
                check_generic(&frames, key, want),
                "{file}: unchecked key {key}"
            ),
        }
    }
    for f in &frames {
        // Espressif's L-LTF order: none 0..31,-32..-1; above (1) -64..-1; below (2) 0..63.
        let want: Vec<i32> = match f.meta_int("secondary_channel").unwrap() {
            0 => (0..32).chain(-32..0).collect(),
            1 => (-64..0).collect(),
            _ => (0..64).collect(),
        };
        assert_eq!(f.subcarriers, want);
        assert_eq!(
            f.timestamp_ns,
            f.meta_int("local_timestamp").unwrap() * 1_000
        );
        assert_eq!(f.rssi_dbm, Some(f.meta_int("rssi").unwrap() as f32));
        assert_eq!(f.noise_dbm, Some(f.meta_int("noise_floor").unwrap() as f32));
    }
}

#[test]
fn esp32_tool_example_without_header() {
    check_esp32("ESP32-CSI-Tool/example_csi.csv", false);
}

#[test]
fn esp32_csikit_example_with_header_line() {
    check_esp32("CSIKit/esp32/example_data.csv", true);
}

#[test]
fn picoscenes_iwl5300() {
    let file = "csiread/rx_by_iwl5300.csi";
    let entry = reference_entry(file);
    let (frames, stats) = read_all(file, CaptureFormat::PicoScenes);
    assert_eq!(stats.skipped_total(), 0, "{stats:?}");
    assert_eq!(stats.ignored, 0);
    let num_rx0 = frames[0].meta_int("CSI.Info.NumRx").unwrap() as usize;
    let num_tx0 = frames[0].meta_int("CSI.Info.NumTx").unwrap() as usize;
    // csiread's CSI.CSI[packet, tone, rx, tx] for frame 0.
    let tone_block = |tone: usize| {
        let f = &frames[0];
        Value::from(
            (0..num_rx0)
                .map(|rx| {
                    Value::from(
                        (0..num_tx0)
                            .map(|tx| pair(f.get(tx, rx, tone).unwrap()))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>(),
        )
    };
    let nonzero_tones: Vec<usize> = (0..frames[0].n_subcarriers())
        .filter(|&t| {
            (0..frames[0].n_tx).any(|tx| {
                (0..frames[0].n_rx).any(|rx| frames[0].get(tx, rx, t).unwrap().norm_sqr() > 0.0)
            })
        })
        .collect();
    for (key, want) in entry["result"].as_object().unwrap() {
        match key.as_str() {
            "csi_field_shape(pl_size)" => {
                // csiread's padded buffer: every frame must fit in it.
                let dims: Vec<usize> = want
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as usize)
                    .collect();
                assert_eq!(frames.len(), dims[0]);
                for f in &frames {
                    assert!(f.n_subcarriers() <= dims[1] && f.n_rx <= dims[2] && f.n_tx <= dims[3]);
                }
            }
            "CSI.CSI[0,0:3,:NumRx0,:NumTx0]  (tone, rx, tx)" => {
                let got = Value::from((0..3).map(tone_block).collect::<Vec<_>>());
                assert_close(key, &got, want);
            }
            "CSI.nonzero_tones_frame0" => {
                assert_eq!(nonzero_tones.len() as u64, want.as_u64().unwrap())
            }
            "CSI.CSI[0,last_nonzero_tone,:NumRx0,:NumTx0]" => {
                assert_close(key, &tone_block(*nonzero_tones.last().unwrap()), want)
            }
            _ => assert!(
                check_generic(&frames, key, want),
                "{file}: unchecked key {key}"
            ),
        }
    }
    // Axes: [NumTx + NumESS, NumRx, NumTones]; rssi/noise/time from RxSBasic.
    for f in &frames {
        let sts = f.meta_int("CSI.Info.NumTx").unwrap() + f.meta_int("CSI.Info.NumESS").unwrap();
        assert_eq!(f.n_tx as i64, sts);
        assert_eq!(f.n_rx as i64, f.meta_int("CSI.Info.NumRx").unwrap());
        assert_eq!(
            f.n_subcarriers() as i64,
            f.meta_int("CSI.Info.NumTones").unwrap()
        );
        assert_eq!(
            f.rssi_dbm,
            Some(f.meta_int("RxSBasic.RSSI").unwrap() as f32)
        );
        assert_eq!(
            f.noise_dbm,
            Some(f.meta_int("RxSBasic.NoiseFloor").unwrap() as f32)
        );
        assert_eq!(
            f.timestamp_ns,
            f.meta_int("RxSBasic.Timestamp").unwrap() * 1_000
        );
    }
    assert_eq!(frames[0].subcarriers[14..16], [-1, 1]);
    assert_eq!(*frames[0].subcarriers.last().unwrap(), 28);
}
