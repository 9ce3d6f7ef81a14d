//! The shared edge cases (`cases.json`, also run by nodes/teacher-sync's Python test) against
//! [`TimeBuffer`].

use serde_json::Value;
use wdp_timepair::{Config, Policy, Stats, TimeBuffer};

fn int(v: &Value, what: &str) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("{what}: {v} is not an integer"))
}

fn config(c: &Value) -> Config {
    let lag = match &c["max_lag_ns"] {
        Value::Null => i64::MAX,
        v => int(v, "max_lag_ns"),
    };
    let policy = match c["policy"].as_str() {
        Some("nearest") => Policy::Nearest { max_lag_ns: lag },
        Some("newest_at_or_before") => Policy::NewestAtOrBefore { max_lag_ns: lag },
        other => panic!("policy {other:?}"),
    };
    let opt = |key: &str| match &c[key] {
        Value::Null => None,
        v => Some(int(v, key)),
    };
    Config::new(policy)
        .capacity(c["capacity"].as_u64().expect("capacity") as usize)
        .max_age_ns(opt("max_age_ns"))
        .reorder_ns(opt("reorder_ns"))
}

fn stat(s: &Stats, name: &str) -> u64 {
    match name {
        "pushed" => s.pushed,
        "evicted" => s.evicted,
        "expired" => s.expired,
        "resets" => s.resets,
        "reset_dropped" => s.reset_dropped,
        "paired" => s.paired,
        "unpaired" => s.unpaired,
        other => panic!("no counter {other}"),
    }
}

fn id(found: Option<&String>) -> Value {
    found.map_or(Value::Null, |s| Value::String(s.clone()))
}

#[test]
fn the_shared_cases_hold() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/cases.json");
    let text = std::fs::read_to_string(path).expect("cases.json is readable");
    let doc: Value = serde_json::from_str(&text).expect("cases.json is JSON");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 10, "{} cases", cases.len());
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let mut buf = TimeBuffer::<String>::new(config(&case["config"]));
        for (n, step) in case["steps"].as_array().expect("steps").iter().enumerate() {
            let at = format!("{name}, step {n}: {step}");
            let expect = &step["expect"];
            if let Some(t) = step.get("push") {
                let id = step["id"].as_str().expect("id").to_owned();
                buf.push(int(t, "push"), id);
            } else if let Some(t) = step.get("find") {
                let got = buf.find(int(t, "find")).and_then(|i| buf.get(i));
                assert_eq!(id(got.map(|(_, v)| v)), *expect, "{at}");
            } else if let Some(t) = step.get("pair") {
                let got = buf.pair(int(t, "pair"));
                assert_eq!(id(got.map(|(_, v)| v)), *expect, "{at}");
            } else if let Some(t) = step.get("take") {
                let got = buf.take(int(t, "take"));
                assert_eq!(id(got.as_ref().map(|(_, v)| v)), *expect, "{at}");
            } else if let Some(t) = step.get("decided") {
                let got = buf.decided(int(t, "decided"));
                assert_eq!(Value::Bool(got), *expect, "{at}");
            } else if let Some(held) = step.get("held") {
                let got: Vec<Value> = buf.iter().map(|(_, v)| id(Some(v))).collect();
                assert_eq!(Value::Array(got), *held, "{at}");
            } else if let Some(counts) = step.get("stats") {
                let s = buf.stats();
                for (k, v) in counts.as_object().expect("stats object") {
                    assert_eq!(Some(stat(&s, k)), v.as_u64(), "{at}: {k}");
                }
            } else if let Some(f) = step.get("forgotten") {
                assert_eq!(buf.forgotten(), f.as_i64(), "{at}");
            } else {
                panic!("{at}: unknown step");
            }
        }
    }
}
