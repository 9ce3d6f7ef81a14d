//! `wdp sense` on the real ESP32 recordings: one JSON object per second with the documented
//! fields, a configuration file, corrupt lines skipped and counted.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn sense(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wdp"))
        .arg("sense")
        .args(args)
        .output()
        .expect("wdp runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn espectre(name: &str) -> String {
    let dir = common::captures().join("espectre");
    let prefix = format!("{name}_s3_64sc_");
    let entry = std::fs::read_dir(&dir)
        .expect("espectre folder")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .unwrap_or_else(|| panic!("no {prefix}* in {}", dir.display()));
    std::fs::read_to_string(entry).expect("capture is text")
}

/// The quiet recording then the movement one, as one file (the second's clock restarts).
fn quiet_then_movement(dir: &Path, extra: &str) -> String {
    let path = dir.join("quiet-then-movement.csv");
    let text = format!("{}{extra}{}", espectre("baseline"), espectre("movement"));
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf8").to_owned()
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn json_lines_tell_the_quiet_room_from_the_moving_person() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A record cut short by a serial glitch, between the two recordings.
    let file = quiet_then_movement(
        dir.path(),
        "CSI_DATA,PASSIVE,00:00:00:00:00:00,0,11,1,0,0,1\n",
    );
    let (ok, stdout, stderr) = sense(&["--json", &file]);
    assert!(ok, "{stderr}");
    let seconds = lines(&stdout);
    assert!(seconds.len() >= 20, "{stdout}");
    for (i, s) in seconds.iter().enumerate() {
        assert_eq!(s["t_s"], i as u64, "{s}");
        for field in ["motion", "presence", "calibrating"] {
            assert!(s[field].is_boolean(), "{field}: {s}");
        }
        for field in [
            "confidence",
            "motion_confidence",
            "presence_confidence",
            "score",
        ] {
            assert!(s.get(field).is_some(), "{field}: {s}");
        }
        assert!(s["baseline"]["motion"].is_boolean(), "{s}");
        if s["calibrating"] == false {
            let c = s["confidence"]
                .as_f64()
                .expect("a confidence after calibration");
            assert!((0.0..=1.0).contains(&c), "{s}");
            assert!(s["enter_threshold"].as_f64().is_some(), "{s}");
        }
    }
    // 5 calibration seconds, quiet until the recording ends (10 s and a bit), then movement.
    assert!(seconds[..5].iter().all(|s| s["calibrating"] == true));
    assert!(
        seconds[5..11].iter().all(|s| s["motion"] == false),
        "{stdout}"
    );
    let moving = &seconds[11..];
    let detected = moving.iter().filter(|s| s["motion"] == true).count();
    assert!(detected + 1 >= moving.len(), "{stdout}");
    assert!(stderr.contains("1 corrupt skipped"), "{stderr}");
    assert!(stderr.contains("1 clock discontinuities"), "{stderr}");
}

#[test]
fn configuration_file_and_text_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = quiet_then_movement(dir.path(), "");
    let config = dir.path().join("sense.yaml");
    std::fs::write(&config, "calibration_s: 2\nbaseline: { threshold: 1000 }\n").expect("write");
    let config = config.to_str().expect("utf8");
    let (ok, stdout, stderr) = sense(&["--json", "--config", config, &file]);
    assert!(ok, "{stderr}");
    let seconds = lines(&stdout);
    let calibrating = seconds.iter().filter(|s| s["calibrating"] == true).count();
    assert_eq!(calibrating, 2, "{stdout}");
    assert!(seconds.iter().all(|s| s["baseline"]["threshold"] == 1000.0));

    let (ok, text, stderr) = sense(&[&file]);
    assert!(ok, "{stderr}");
    assert!(text.lines().count() >= 20, "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.contains("motion=yes")),
        "{text}"
    );

    std::fs::write(dir.path().join("bad.yaml"), "exit_ratio: 9\n").expect("write");
    let bad = dir.path().join("bad.yaml");
    let (ok, _, stderr) = sense(&["--config", bad.to_str().expect("utf8"), &file]);
    assert!(!ok);
    assert!(stderr.contains("exit_ratio"), "{stderr}");
}
