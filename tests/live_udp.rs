//! Live input: `dataflows/live-esp32.yml` with its radio on a UDP socket. ESP32-CSI-Tool lines of
//! a real capture are sent as datagrams, as a board forwarding over WiFi does; the recorded
//! frames must equal what the file reader reads from the same lines.

mod common;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wdp_tensor::view;

#[test]
fn esp32_lines_over_udp_are_decoded_like_the_file() {
    let capture = common::captures().join("ESP32-CSI-Tool/example_csi.csv");
    let lines: Vec<String> = std::fs::read_to_string(&capture)
        .expect("capture")
        .lines()
        .filter(|l| l.starts_with("CSI_DATA"))
        .map(str::to_owned)
        .collect();
    let expected: Vec<wdp_csi::CsiFrame> = {
        let mut reader = wdp_csi::open(&capture, &Default::default()).expect("open");
        std::iter::from_fn(|| reader.next_frame())
            .map(|f| f.expect("frame"))
            .collect()
    };
    assert_eq!(lines.len(), expected.len());

    let port = UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rec");
    let n = lines.len();
    let flow = common::prepare(
        "live-esp32.yml",
        dir.path(),
        &[
            ("csi-source", "INPUT", &format!("udp:127.0.0.1:{port}")),
            ("csi-source", "MAX_FRAMES", &n.to_string()),
            ("csi-recorder", "OUT_DIR", out.to_str().expect("utf8")),
        ],
    );
    // Send the lines in a loop until the dataflow has what it needs (the node binds its socket
    // once dora has started it; earlier datagrams are simply lost, as on a real network).
    let done = Arc::new(AtomicBool::new(false));
    let sending = done.clone();
    let sender = std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("sender");
        let start = Instant::now();
        let mut i = 0usize;
        while start.elapsed() < Duration::from_secs(40) && !sending.load(Ordering::Relaxed) {
            let _ = socket.send_to(lines[i % n].as_bytes(), ("127.0.0.1", port));
            i += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let run = common::run_dataflow(&flow, Duration::from_secs(40));
    assert!(run.success, "dataflow failed:\n{}", run.log);
    done.store(true, Ordering::Relaxed);
    sender.join().expect("sender thread");

    let records = wdp_record::read_dir(out.join("csi")).expect("csi recorded");
    assert_eq!(records.len(), n, "MAX_FRAMES frames recorded");
    // The first datagram that arrived may be any line; the rest follow in order.
    let first = records[0].meta_json["local_timestamp"]
        .as_i64()
        .expect("local_timestamp");
    let k = expected
        .iter()
        .position(|f| f.meta_int("local_timestamp") == Some(first))
        .expect("first frame is a line of the capture");
    for (i, record) in records.iter().enumerate() {
        let want = &expected[(k + i) % n];
        let got = view::<f32>(record.values.as_ref(), &record.meta).expect("csi");
        assert_eq!(got.shape(), [want.n_tx, want.n_rx, want.n_subcarriers(), 2]);
        for s in 0..want.n_subcarriers() {
            let c = want.get(0, 0, s).expect("value");
            assert_eq!((got[[0, 0, s, 0]], got[[0, 0, s, 1]]), (c.re, c.im));
        }
        assert!(
            record.meta.t_ns > 1_600_000_000_000_000_000,
            "live frames carry host time"
        );
    }
}
