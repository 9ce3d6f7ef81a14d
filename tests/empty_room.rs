//! `wdp empty-room` on the real ESP32 recordings: the quiet room's background is written and
//! reads back, the recording with a person moving is far from it, and a bad geometry is named.

mod common;

use std::process::Command;

fn espectre(prefix: &str) -> std::path::PathBuf {
    let dir = common::captures().join("espectre");
    std::fs::read_dir(&dir)
        .expect("espectre folder")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no {prefix}* in {}", dir.display()))
}

const GEOMETRY: &str = "tx: { position_m: [0.5, 2.0, 1.0], antennas: 1 }\n\
                        rx: { position_m: [4.5, 2.0, 1.0], antennas: 1 }\n\
                        carrier_hz: 2.437e9\nroom_m: [5.0, 4.0]\n";

/// `wdp empty-room` on the quiet recording with `geometry` written to `dir`, writing to `out`;
/// `(success, stderr)`.
fn empty_room(
    dir: &std::path::Path,
    geometry: &str,
    out: &std::path::Path,
    extra: &[std::ffi::OsString],
) -> (bool, String) {
    let path = dir.join("geometry.yaml");
    std::fs::write(&path, geometry).expect("write");
    let run = Command::new(env!("CARGO_BIN_EXE_wdp"))
        .arg("empty-room")
        .arg(espectre("baseline_s3_64sc_"))
        .arg("--geometry")
        .arg(&path)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("wdp runs");
    (
        run.status.success(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

#[test]
fn the_quiet_room_is_the_background_and_movement_is_far_from_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("empty-room.yaml");
    let compare = [
        "--compare".into(),
        espectre("movement_s3_64sc_").into_os_string(),
    ];
    let (ok, stderr) = empty_room(dir.path(), GEOMETRY, &out, &compare);
    assert!(ok, "{stderr}");
    let background =
        wdp_locate::Background::from_yaml_str(&std::fs::read_to_string(&out).expect("written"))
            .expect("reads back");
    // One link of 64 subcarriers; 10 s at 0.05 s per window.
    assert_eq!((background.links, background.subcarriers.len()), (1, 64));
    assert!(background.windows > 150, "{} windows", background.windows);
    let times: f64 = stderr
        .split("x the empty room's own")
        .next()
        .and_then(|before| before.rsplit(", ").next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ratio in: {stderr}"));
    // A person moving leaves far more of the channel unexplained by the empty room.
    assert!(times > 3.0, "{times}x: {stderr}");
}

#[test]
fn a_bad_geometry_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = GEOMETRY.replace("2.437e9", "-1");
    let (ok, stderr) = empty_room(dir.path(), &bad, &dir.path().join("out.yaml"), &[]);
    assert!(!ok);
    assert!(
        stderr.contains("geometry.yaml") && stderr.contains("carrier_hz"),
        "{stderr}"
    );
}
