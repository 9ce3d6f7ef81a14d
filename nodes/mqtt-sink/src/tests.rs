//! The handler in dora's testing mode with no broker listening: every message is handled
//! without waiting, the full queue drops the oldest states (events kept) and counts them, and
//! malformed messages are dropped and counted by field. Publishing to a real broker is the
//! dataflow test (tests/home.rs).

use super::MqttSink;
use crate::client::{MqttConfig, Publisher};
use serde_json::json;
use std::time::{Duration, Instant};
use wdp_node::testing::{run_test, tensor_event, text_event};
use wdp_tensor::TensorMeta;

fn state(k: u32) -> String {
    json!({"room": "lab", "t_ns": k, "presence": true, "presence_confidence": 0.9,
           "motion": false, "people": 1, "tracks": [], "source": "pose"})
    .to_string()
}

#[test]
fn no_broker_never_blocks_and_drops_oldest_states() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let config = MqttConfig {
        host: "127.0.0.1".into(),
        port,
        queue: 5,
        ..MqttConfig::default()
    };
    let mut events = Vec::new();
    for k in 0..20u32 {
        let t = f64::from(k) * 0.001;
        events.push(text_event(t, "room_state", &state(k)));
        if k % 5 == 4 {
            let e = json!({"room": "lab", "t_ns": k, "event": "entered"}).to_string();
            events.push(text_event(t + 0.0001, "events", &e));
        }
    }
    events.push(text_event(0.03, "room_state", "{not json"));
    events.push(text_event(
        0.031,
        "room_state",
        r#"{"room":"lab","t_ns":1}"#,
    ));
    events.push(text_event(
        0.032,
        "events",
        r#"{"room":"lab","t_ns":1,"event":"x"}"#,
    ));
    let meta = TensorMeta::new(&[2], ["x"]);
    events.push(tensor_event(0.033, "room_state", &meta, &[1.0f32, 2.0]));
    events.push(text_event(0.034, "poses", &state(0)));
    let mut handler = MqttSink {
        publisher: Publisher::start(config).expect("publisher"),
    };
    let started = Instant::now();
    let run = run_test("mqtt-sink", events, &mut handler).expect("run");
    // Handled at dataflow speed, the shutdown included (no reconnection wait).
    assert!(started.elapsed() < Duration::from_secs(10));
    let c = &run.report.counts;
    assert_eq!(c.handled, 24, "{c:?}");
    assert_eq!(c.bad["room_state/json"], 1, "{c:?}");
    assert_eq!(c.bad["room_state/presence"], 1, "{c:?}");
    assert_eq!(c.bad["room_state/data type"], 1, "{c:?}");
    assert_eq!(c.bad["events/event"], 1, "{c:?}");
    assert_eq!(c.unknown["poses"], 1);
    let (drops, stats, left) = handler.publisher.summary();
    // 24 queued into 5 places: the 4 events and the newest state stay.
    assert_eq!(left, 5);
    assert_eq!((drops.states, drops.events), (19, 0));
    assert_eq!(stats.published.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(stats.errors.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}
