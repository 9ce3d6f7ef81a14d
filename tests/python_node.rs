//! The tensor contract across languages: `dataflows/live-esp32.yml` with its source switched to
//! replaying a real ESP32 capture. The Python node (dora-rs Python API) decodes each Rust `csi`
//! tensor with `np.asarray(value).reshape(metadata["shape"])` and sends back mean amplitudes,
//! which the Rust recorder stores; they must equal the same statistic computed here from the
//! recorded Rust tensors.

mod common;

use std::time::Duration;
use wdp_tensor::view;

#[test]
fn python_node_reads_rust_tensors_and_rust_reads_python_tensors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rec");
    let capture = common::captures().join("ESP32-CSI-Tool/example_csi.csv");
    let every = 4usize;
    let flow = common::prepare(
        "live-esp32.yml",
        dir.path(),
        &[
            ("csi-source", "MODE", "file"),
            ("csi-source", "CAPTURE", capture.to_str().expect("utf8")),
            ("csi-source", "PACING", "fast"),
            ("csi-stats", "REPORT_EVERY", &every.to_string()),
            ("csi-recorder", "OUT_DIR", out.to_str().expect("utf8")),
        ],
    );
    let run = common::run_dataflow(&flow, Duration::from_secs(60));
    assert!(run.success, "dataflow failed:\n{}", run.log);

    let csi = wdp_record::read_dir(out.join("csi")).expect("csi recorded");
    let stats = wdp_record::read_dir(out.join("stats")).expect("stats recorded");
    assert_eq!(csi.len(), 13, "every packet of the capture");
    assert_eq!(
        stats.len(),
        csi.len() / every,
        "one report per {every} packets"
    );

    for (k, report) in stats.iter().enumerate() {
        let chunk = &csi[k * every..(k + 1) * every];
        let shape = &chunk[0].meta.shape;
        assert_eq!(
            report.meta.shape,
            shape[..2],
            "Python kept the [tx, rx] axes"
        );
        assert_eq!(report.meta.dims, ["tx", "rx"]);
        assert_eq!(report.meta.t_ns, chunk[every - 1].meta.t_ns, "t_ns carried");
        let got = view::<f32>(report.values.as_ref(), &report.meta).expect("stats tensor");
        for tx in 0..shape[0] {
            for rx in 0..shape[1] {
                let mean: f64 = chunk
                    .iter()
                    .map(|r| {
                        let v = view::<f32>(r.values.as_ref(), &r.meta).expect("csi");
                        let n = v.shape()[2];
                        (0..n)
                            .map(|s| {
                                f64::from(v[[tx, rx, s, 0]]).hypot(f64::from(v[[tx, rx, s, 1]]))
                            })
                            .sum::<f64>()
                            / n as f64
                    })
                    .sum::<f64>()
                    / every as f64;
                let value = f64::from(got[[tx, rx]]);
                assert!(
                    (value - mean).abs() <= 1e-4 * mean.max(1.0),
                    "({tx},{rx}): python {value} vs rust {mean}"
                );
            }
        }
    }
}
