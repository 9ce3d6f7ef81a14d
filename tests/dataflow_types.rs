//! Every port of every dataflow is typed as the contract says (`wdp_tensor::streams`): each
//! output with its stream's dora type, each input (but the recorder's, which takes anything)
//! with the type of the stream its source sends. The dataflows `wdp building` writes, for each
//! split, too. `dora validate --strict-types` (scripts/test.sh) then checks the wiring, and the
//! end-to-end tests run the nodes with `DORA_RUNTIME_TYPE_CHECK=error` (common::dora_run), so a
//! send of another Arrow type than its port's fails the test.

mod common;

use serde_yaml::Value;
use std::path::Path;
use std::process::Command;
use wdp_tensor::streams::dora_type;

/// The problems of one dataflow's typing, one line each.
fn typing_problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let nodes = doc["nodes"].as_sequence().cloned().unwrap_or_default();
    for node in &nodes {
        let id = node["id"].as_str().unwrap_or("?");
        let path = node["path"].as_str().unwrap_or_default();
        for output in node["outputs"].as_sequence().into_iter().flatten() {
            let output = output.as_str().unwrap_or_default();
            let want = dora_type(output);
            let got = node["output_types"][output].as_str();
            if want.is_none() || got != want.as_deref() {
                problems.push(format!(
                    "{id}: output `{output}` typed {got:?}, the contract says {want:?}"
                ));
            }
        }
        if path.ends_with("csi-recorder") {
            continue;
        }
        let Some(inputs) = node["inputs"].as_mapping() else {
            continue;
        };
        for (input, def) in inputs {
            let input = input.as_str().unwrap_or_default();
            let source = def.as_str().or_else(|| def["source"].as_str());
            let Some((_, stream)) = source.and_then(|s| s.split_once('/')) else {
                problems.push(format!("{id}: input `{input}` without a source"));
                continue;
            };
            if source.is_some_and(|s| s.starts_with("dora/")) {
                continue;
            }
            let want = dora_type(stream);
            let got = node["input_types"][input].as_str();
            if want.is_none() || got != want.as_deref() {
                problems.push(format!(
                    "{id}: input `{input}` (from `{}`) typed {got:?}, the contract says {want:?}",
                    source.unwrap_or_default()
                ));
            }
        }
    }
    problems
}

fn read(path: &Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).expect("dataflow")).expect("YAML")
}

#[test]
fn every_port_of_every_dataflow_is_typed_as_the_contract_says() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(common::root().join("dataflows")).expect("dataflows") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yml") {
            continue;
        }
        let doc = read(&path);
        checked += 1;
        problems.extend(
            typing_problems(&doc)
                .into_iter()
                .map(|p| format!("{}: {p}", path.display())),
        );
    }
    assert!(checked >= 19, "only {checked} dataflows found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_generated_buildings_are_typed() {
    let dir = tempfile::tempdir().expect("tempdir");
    for split in ["csi", "window", "pose"] {
        let out = dir.path().join(format!("building-{split}.yml"));
        let status = Command::new(env!("CARGO_BIN_EXE_wdp"))
            .args([
                "building",
                "--rooms",
                "4",
                "--machines",
                "2",
                "--split",
                split,
            ])
            .arg("--out")
            .arg(&out)
            .output()
            .expect("wdp building runs");
        assert!(status.status.success(), "{status:?}");
        let problems = typing_problems(&read(&out));
        assert!(
            problems.is_empty(),
            "split {split}:\n{}",
            problems.join("\n")
        );
    }
}

/// The check finds what it is for: an untyped output, and an input typed as another stream.
#[test]
fn a_mistyped_port_is_found() {
    let doc: Value = serde_yaml::from_str(
        "nodes:\n  - id: a\n    path: x\n    outputs: [window, csi]\n    output_types:\n      \
         window: std/core/v1/Float32[stream=window]\n  - id: b\n    path: y\n    inputs:\n      \
         window: a/window\n      tick: dora/timer/millis/100\n    input_types:\n      \
         window: std/core/v1/Float32[stream=csi]\n",
    )
    .expect("YAML");
    let problems = typing_problems(&doc);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("output `csi`"), "{problems:?}");
    assert!(problems[1].contains("input `window`"), "{problems:?}");
}
