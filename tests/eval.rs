//! `dataflows/eval.yml`: the shipped model scored inside a dataflow against the simulator's
//! ground truth of a held-out room; every prediction finds its truth frame and the report is
//! written with every metric.

mod common;

use std::time::Duration;

#[test]
fn eval_dataflow_scores_every_frame_and_writes_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("eval");
    let flow = common::prepare(
        "eval.yml",
        dir.path(),
        &[
            ("csi-source", "DURATION_S", "4"),
            ("pose-eval", "OUT_DIR", out.to_str().expect("utf8")),
        ],
    );
    let run = common::run_dataflow(&flow, Duration::from_secs(240));
    assert!(run.success, "eval dataflow failed:\n{}", run.log);
    // 4 s at 100 packets/s, windows of 100 with a hop of 5: about 61 frames, all paired.
    let line = run
        .log
        .lines()
        .find(|l| l.contains("frames scored"))
        .unwrap_or_else(|| panic!("summary line missing:\n{}", run.log));
    let words: Vec<&str> = line.split_whitespace().collect();
    let count_before = |label: &str| -> u64 {
        let at = words
            .iter()
            .position(|w| *w == label)
            .unwrap_or_else(|| panic!("{label} in {line}"));
        words[at - 1].parse().unwrap_or_else(|_| panic!("{line}"))
    };
    let (scored, unmatched) = (count_before("frames"), count_before("without"));
    assert!(scored >= 50, "{line}");
    // Only a window at the very edge of the simulated span can miss its camera frame.
    assert!(unmatched <= 2, "{line}");
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("results.json")).expect("results.json"),
    )
    .expect("results JSON");
    let all = &results["all"];
    assert!(
        all["keypoints"]["stats"]["ap50"].as_f64().is_some(),
        "{all}"
    );
    assert!(all["parts"]["miou"].as_f64().is_some(), "{all}");
    assert!(all["uv"]["mean_foreground"].is_number() || all["uv"]["mean_foreground"].is_null());
    assert!(
        results["rooms"]["corridor"].is_object(),
        "per-room breakdown"
    );
    assert!(out.join("report.md").is_file());
}
