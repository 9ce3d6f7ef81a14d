//! `dataflows/home.yml` with real components: a mosquitto broker started here, the real dora
//! CLI running the dataflow (simulator, preprocessing, the model, temporal, room-state,
//! mqtt-sink, zenoh-publisher), an MQTT subscriber, and a Python zenoh subscriber
//! (`scripts/zenoh_listen.py` on eclipse-zenoh) that receives the states and the poses (JSON
//! and Arrow IPC) from the Rust publisher, then asks its queryable for the newest samples and
//! its liveliness token. Checks the retained discovery configs of the room's
//! entities, the state payloads, an `entered` event, availability `online`; then kills the
//! broker in the middle of the run, starts it again on the same port (without persistence: it
//! forgot every retained message), and checks that availability, discovery and states flow
//! again; at a clean stop,
//! `offline`. Every wait is a condition with a generous deadline, never a fixed sleep.
//!
//! Needs `mosquitto` (scripts/setup.sh installs it), the venv's dora CLI, and the release
//! binaries (`cargo build --release --workspace`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PREFIX: &str = "wdp-test";
const ROOM: &str = "living-room";
const ROOM_ID: &str = "living-room";
/// zenoh keys of the test: `<ZENOH_BASE>/<room>/...`.
const ZENOH_BASE: &str = "wdp-test/zenoh";
/// The ROS 2 messages' keys: `<ROS2_BASE>/living_room/...`.
const ROS2_BASE: &str = "ros2/wdp_test";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits for `what` up to `deadline`, polling; panics with `describe()` if it never holds.
fn wait_for(
    what: &str,
    deadline: Duration,
    mut ok: impl FnMut() -> bool,
    describe: impl Fn() -> String,
) {
    let end = Instant::now() + deadline;
    while !ok() {
        assert!(
            Instant::now() < end,
            "timed out waiting for {what}\n{}",
            describe()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The broker binary: on the PATH, or where the Debian package puts it.
fn mosquitto() -> PathBuf {
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("mosquitto"))
        .find(|p| p.is_file());
    let path = on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/mosquitto"));
    assert!(path.is_file(), "mosquitto missing: run scripts/setup.sh");
    path
}

struct Broker {
    child: Child,
}

impl Broker {
    fn start(port: u16, log: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(mosquitto())
            .args(["-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("mosquitto starts");
        let mut broker = Self { child };
        wait_for(
            "mosquitto to listen",
            Duration::from_secs(60),
            || {
                assert!(
                    broker.child.try_wait().unwrap().is_none(),
                    "mosquitto exited"
                );
                TcpStream::connect(("127.0.0.1", port)).is_ok()
            },
            String::new,
        );
        broker
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One received publish.
#[derive(Debug, Clone)]
struct Received {
    topic: String,
    payload: String,
    retain: bool,
}

/// A subscriber on its own thread that resubscribes after every reconnection and keeps all
/// it receives.
struct Subscriber {
    got: Arc<Mutex<Vec<Received>>>,
    client: Client,
}

impl Subscriber {
    fn start(id: &str, port: u16, filters: &[&str]) -> Self {
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut connection) = Client::new(options, 100);
        let got = Arc::new(Mutex::new(Vec::new()));
        let filters: Vec<String> = filters.iter().map(|f| (*f).to_owned()).collect();
        let (sink, sub) = (got.clone(), client.clone());
        std::thread::spawn(move || loop {
            match connection.recv() {
                Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                    for f in &filters {
                        let _ = sub.try_subscribe(f.as_str(), QoS::AtLeastOnce);
                    }
                }
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                    sink.lock().unwrap().push(Received {
                        topic: p.topic.clone(),
                        payload: String::from_utf8_lossy(&p.payload).into_owned(),
                        retain: p.retain,
                    });
                }
                Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) => return,
                Ok(Ok(_)) => {}
                // The broker is away: try again (the client reconnects on the next recv).
                Ok(Err(_)) => std::thread::sleep(Duration::from_millis(200)),
                Err(_) => return,
            }
        });
        Self { got, client }
    }

    fn since(&self, mark: usize) -> Vec<Received> {
        self.got.lock().unwrap()[mark..].to_vec()
    }

    fn len(&self) -> usize {
        self.got.lock().unwrap().len()
    }

    fn stop(self) {
        let _ = self.client.disconnect();
    }
}

fn discovery_topics() -> Vec<String> {
    [
        "binary_sensor/wdp_{}/occupancy",
        "binary_sensor/wdp_{}/motion",
        "sensor/wdp_{}/people",
        "sensor/wdp_{}/breathing",
        "event/wdp_{}/activity",
    ]
    .iter()
    .map(|t| format!("homeassistant/{}/config", t.replace("{}", ROOM_ID)))
    .collect()
}

/// Every discovery config of the room, as the last message of its topic, parsed and checked.
fn discovery_ok(messages: &[Received], retained: bool) -> bool {
    discovery_topics().iter().all(|topic| {
        let Some(m) = messages.iter().rev().find(|m| &m.topic == topic) else {
            return false;
        };
        if retained && !m.retain {
            return false;
        }
        let v: Value = serde_json::from_str(&m.payload)
            .unwrap_or_else(|e| panic!("{topic}: not JSON ({e}): {}", m.payload));
        assert_eq!(
            v["availability_topic"],
            format!("{PREFIX}/availability"),
            "{topic}"
        );
        assert!(
            v["unique_id"]
                .as_str()
                .is_some_and(|s| s.starts_with("wdp_")),
            "{topic}"
        );
        assert_eq!(
            v["device"]["identifiers"][0],
            format!("wdp_{ROOM_ID}"),
            "{topic}"
        );
        let state_topic = v["state_topic"].as_str().expect("state_topic");
        if topic.contains("/event/") {
            assert_eq!(state_topic, format!("{PREFIX}/{ROOM_ID}/event"));
            assert_eq!(
                v["event_types"],
                serde_json::json!(["entered", "left", "fall"])
            );
        } else {
            assert_eq!(state_topic, format!("{PREFIX}/{ROOM_ID}/state"));
            assert!(v["value_template"].is_string(), "{topic}");
        }
        true
    })
}

/// The room's states among `messages`, each parsed and checked against the contract.
fn states(messages: &[Received]) -> Vec<Value> {
    let topic = format!("{PREFIX}/{ROOM_ID}/state");
    messages
        .iter()
        .filter(|m| m.topic == topic)
        .map(|m| {
            let v: Value = serde_json::from_str(&m.payload)
                .unwrap_or_else(|e| panic!("state not JSON ({e}): {}", m.payload));
            assert_eq!(v["room"], ROOM, "{v}");
            assert!(v["t_ns"].is_i64(), "{v}");
            assert!(
                v["presence"].is_boolean() && v["motion"].is_boolean(),
                "{v}"
            );
            let c = v["presence_confidence"].as_f64().expect("confidence");
            assert!((0.0..=1.0).contains(&c), "{v}");
            assert!(v["people"].is_null() || v["people"].is_u64(), "{v}");
            assert!(v["breathing_bpm"].is_null(), "{v}");
            assert!(v["tracks"].is_array(), "{v}");
            let source = v["source"].as_str().expect("source");
            assert!(["pose", "signal", "both", "none"].contains(&source), "{v}");
            v
        })
        .collect()
}

fn availability(messages: &[Received]) -> Vec<String> {
    let topic = format!("{PREFIX}/availability");
    messages
        .iter()
        .filter(|m| m.topic == topic)
        .map(|m| m.payload.clone())
        .collect()
}

/// An `entered` event of the room, in the form the `event` entity reads.
fn entered(messages: &[Received]) -> bool {
    let topic = format!("{PREFIX}/{ROOM_ID}/event");
    messages.iter().filter(|m| m.topic == topic).any(|m| {
        let v: Value = serde_json::from_str(&m.payload)
            .unwrap_or_else(|e| panic!("event not JSON ({e}): {}", m.payload));
        assert_eq!(v["room"], ROOM, "{v}");
        assert!(v["t_ns"].is_i64(), "{v}");
        v["event_type"] == "entered" && v["event"] == "entered"
    })
}

/// home.yml with node paths made absolute and the broker and the run's length overridden.
fn prepare(dir: &Path, port: u16, zenoh_port: u16) -> PathBuf {
    let flows = root().join("dataflows");
    let text = std::fs::read_to_string(flows.join("home.yml")).unwrap();
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let overrides = [
        ("csi-source", "DURATION_S", "3600".to_owned()),
        ("mqtt-sink", "MQTT_HOST", "127.0.0.1".to_owned()),
        ("mqtt-sink", "MQTT_PORT", port.to_string()),
        ("mqtt-sink", "TOPIC_PREFIX", PREFIX.to_owned()),
        ("mqtt-sink", "MQTT_CLIENT_ID", "wdp-home-test".to_owned()),
        ("mqtt-sink", "RECONNECT_MAX_S", "2".to_owned()),
        ("zenoh-publisher", "KEY_PREFIX", "wdp-test".to_owned()),
        ("zenoh-publisher", "SITE", "zenoh".to_owned()),
        ("zenoh-publisher", "ROS2_PREFIX", ROS2_BASE.to_owned()),
        (
            "zenoh-publisher",
            "ZENOH_LISTEN",
            format!("tcp/127.0.0.1:{zenoh_port}"),
        ),
    ];
    for node in doc["nodes"].as_sequence_mut().unwrap() {
        let id = node["id"].as_str().unwrap().to_owned();
        if let Some(path) = node["path"].as_str() {
            let abs = flows.join(path);
            assert!(
                abs.is_file(),
                "{} missing: cargo build --release --workspace",
                abs.display()
            );
            node["path"] = serde_yaml::Value::String(abs.to_string_lossy().into_owned());
        }
        if let Some(env) = node.get_mut("env").and_then(|e| e.as_mapping_mut()) {
            for (_, v) in env.iter_mut() {
                if let Some(s) = v.as_str().filter(|s| s.starts_with("../")) {
                    *v = serde_yaml::Value::String(flows.join(s).to_string_lossy().into_owned());
                }
            }
        }
        for (node_id, key, value) in &overrides {
            if *node_id == id {
                node["env"][*key] = serde_yaml::Value::String(value.clone());
            }
        }
    }
    let out = dir.join("home.yml");
    std::fs::write(&out, serde_yaml::to_string(&doc).unwrap()).unwrap();
    out
}

fn dora() -> PathBuf {
    let venv = std::env::var("WDP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join(".venv"));
    let dora = venv.join("bin/dora");
    assert!(
        dora.is_file(),
        "{} missing: run scripts/setup.sh",
        dora.display()
    );
    dora
}

/// `scripts/zenoh_listen.py` (eclipse-zenoh) as a child; its JSON lines are collected. Started
/// again when it exits, so it may start before the node listens.
struct ZenohListener {
    args: Vec<String>,
    log: PathBuf,
    child: Mutex<Option<Child>>,
    got: Arc<Mutex<Vec<Value>>>,
}

impl ZenohListener {
    fn new(zenoh_port: u16, extra: &[&str], log: PathBuf) -> Self {
        let mut args = vec![
            root()
                .join("scripts/zenoh_listen.py")
                .to_string_lossy()
                .into_owned(),
            "--connect".to_owned(),
            format!("tcp/127.0.0.1:{zenoh_port}"),
            "--key".to_owned(),
            format!("{ZENOH_BASE}/**"),
            "--key".to_owned(),
            format!("{ROS2_BASE}/**"),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let listener = Self {
            args,
            log,
            child: Mutex::default(),
            got: Arc::default(),
        };
        listener.start();
        listener
    }

    fn start(&self) {
        use std::io::BufRead;
        let python = dora().parent().unwrap().join("python");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut child = Command::new(python)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("the zenoh listener starts");
        let stdout = child.stdout.take().unwrap();
        let got = self.got.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("zenoh listener: not JSON ({e}): {line}"));
                got.lock().unwrap().push(v);
            }
        });
        *self.child.lock().unwrap() = Some(child);
    }

    /// The lines so far; starts the listener again if it ended (`again`).
    fn lines(&self, again: bool) -> Vec<Value> {
        if again && self.ended() {
            self.start();
        }
        self.got.lock().unwrap().clone()
    }

    fn ended(&self) -> bool {
        self.child
            .lock()
            .unwrap()
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_some())
    }
}

impl Drop for ZenohListener {
    fn drop(&mut self) {
        if let Some(c) = self.child.lock().unwrap().as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The payloads received on `<ZENOH_BASE>/<room>/<suffix>`.
fn zenoh_on(lines: &[Value], suffix: &str) -> Vec<Value> {
    let key = format!("{ZENOH_BASE}/{ROOM_ID}/{suffix}");
    lines
        .iter()
        .filter(|l| l["key"] == key.as_str() && l["kind"] == "put")
        .map(|l| {
            assert!(l.get("error").is_none(), "{l}");
            l["payload"].clone()
        })
        .collect()
}

/// The ROS 2 messages (decoded by rosbags in the listener) on `<ROS2_BASE>/living_room/<suffix>`.
fn ros2_on(lines: &[Value], suffix: &str) -> Vec<Value> {
    let key = format!("{ROS2_BASE}/living_room/{suffix}");
    lines
        .iter()
        .filter(|l| l["key"] == key.as_str())
        .map(|l| {
            assert!(l.get("error").is_none(), "{l}");
            assert_eq!(l["encoding"], "application/cdr", "{l}");
            l["payload"].clone()
        })
        .collect()
}

/// A state, a JSON pose frame and an Arrow pose frame of the room, each as the contract says,
/// and the state and people as ROS 2 messages.
fn zenoh_ok(lines: &[Value]) -> bool {
    let states = zenoh_on(lines, "state");
    for s in &states {
        assert_eq!(s["room"], ROOM, "{s}");
        assert_eq!(s["frame_id"], "living_room", "{s}");
        assert!(s["presence"].is_boolean() && s["tracks"].is_array(), "{s}");
    }
    let poses = zenoh_on(lines, "pose");
    for p in &poses {
        assert_eq!(p["room"], ROOM, "{p}");
        assert_eq!(p["image_wh"], serde_json::json!([128, 96]), "{p}");
        for person in p["people"].as_array().unwrap() {
            assert_eq!(person["keypoints"].as_array().unwrap().len(), 17, "{p}");
            if let Some(xy) = person.get("floor_m") {
                assert_eq!(xy.as_array().unwrap().len(), 2, "{p}");
            }
        }
    }
    let arrows = zenoh_on(lines, "pose/arrow");
    for a in &arrows {
        assert_eq!(a["metadata"]["room"], ROOM, "{a}");
        assert_eq!(a["metadata"]["frame_id"], "living_room", "{a}");
        for row in a["rows"].as_array().unwrap() {
            assert_eq!(row["keypoints"].as_array().unwrap().len(), 17, "{a}");
            assert_eq!(row["box"].as_array().unwrap().len(), 4, "{a}");
        }
    }
    // The same frames in both encodings, and people in some of them.
    let seq_of_json: Vec<String> = poses.iter().map(|p| p["seq"].to_string()).collect();
    let both = arrows
        .iter()
        .any(|a| seq_of_json.contains(&a["metadata"]["seq"].as_str().unwrap_or("").to_owned()));
    let ros_states = ros2_on(lines, "state");
    for s in &ros_states {
        assert_eq!(s["type"], "std_msgs/msg/String", "{s}");
        assert_eq!(s["data"]["room"], ROOM, "{s}");
    }
    let ros_people = ros2_on(lines, "people");
    for p in &ros_people {
        assert_eq!(p["type"], "geometry_msgs/msg/PoseArray", "{p}");
        assert_eq!(p["frame_id"], "living_room", "{p}");
        for q in p["orientations"].as_array().unwrap() {
            assert_eq!(q, &serde_json::json!([0.0, 0.0, 0.0, 1.0]), "{p}");
        }
    }
    !states.is_empty()
        && !ros_states.is_empty()
        && !ros_people.is_empty()
        && both
        && poses
            .iter()
            .any(|p| !p["people"].as_array().unwrap().is_empty())
}

#[test]
fn home_dataflow_publishes_to_home_assistant_and_zenoh_and_survives_a_broker_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let broker_log = dir.path().join("mosquitto.log");
    let mut broker = Broker::start(port, &broker_log);
    let filters = ["homeassistant/#", "wdp-test/#"];
    let live = Subscriber::start("test-live", port, &filters);

    let zenoh_port = free_port();
    let flow = prepare(dir.path(), port, zenoh_port);
    let zenoh = ZenohListener::new(zenoh_port, &[], dir.path().join("zenoh.log"));
    let zenoh_log = || std::fs::read_to_string(dir.path().join("zenoh.log")).unwrap_or_default();
    let log_path = dir.path().join("dora.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let venv_bin = dora().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(std::iter::once(venv_bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let mut dora_run = Command::new(dora())
        .arg("run")
        .arg(&flow)
        // A bound for a test that hangs; the test stops the run itself.
        .args(["--stop-after", "1200s"])
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("dora starts");
    let dora_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let running = |child: &mut Child| {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the dataflow ended early ({status}):\n{}", dora_log());
        }
    };

    // Before the restart: online, every discovery config, states from both sources; on
    // zenoh, states and pose frames in both encodings.
    let deadline = Duration::from_secs(400);
    wait_for(
        "online, the discovery configs, a state from poses and signal, `entered`, and the \
         zenoh states and poses",
        deadline,
        || {
            running(&mut dora_run);
            let got = live.since(0);
            availability(&got).last().is_some_and(|a| a == "online")
                && discovery_ok(&got, false)
                && states(&got).iter().any(|s| s["source"] == "both")
                && entered(&got)
                && zenoh_ok(&zenoh.lines(true))
        },
        || {
            format!(
                "{:?}\nzenoh: {:?}\n{}\n{}",
                live.since(0).last(),
                zenoh.lines(false).last(),
                zenoh_log(),
                dora_log()
            )
        },
    );
    // A robot that comes later asks the publisher's queryable for the newest samples, and
    // sees its liveliness token.
    let asked = ZenohListener::new(zenoh_port, &["--get"], dir.path().join("zenoh.log"));
    wait_for(
        "the answers to a zenoh query",
        Duration::from_secs(60),
        || asked.ended(),
        zenoh_log,
    );
    let answers = asked.lines(false);
    assert_eq!(zenoh_on(&answers, "state").len(), 1, "{answers:?}");
    assert_eq!(zenoh_on(&answers, "pose/arrow").len(), 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .any(|a| a["liveliness"] == format!("{ZENOH_BASE}/publisher").as_str()),
        "{answers:?}"
    );
    // A client that comes later gets the configs and availability as retained messages.
    let late = Subscriber::start("test-late", port, &filters);
    wait_for(
        "retained discovery configs and availability",
        Duration::from_secs(60),
        || {
            let got = late.since(0);
            discovery_ok(&got, true)
                && got.iter().any(|m| {
                    m.topic == format!("{PREFIX}/availability") && m.retain && m.payload == "online"
                })
        },
        || format!("{:?}", late.since(0)),
    );
    late.stop();

    // The broker dies and comes back on the same port, having forgotten everything.
    broker.kill();
    let mark = live.len();
    // Kept until the end of the test; dropping it stops the broker.
    let _restarted = Broker::start(port, &broker_log);
    wait_for(
        "online, discovery and states again after the broker restart",
        Duration::from_secs(300),
        || {
            running(&mut dora_run);
            let got = live.since(mark);
            availability(&got).contains(&"online".to_owned())
                && discovery_ok(&got, false)
                && states(&got).len() >= 3
        },
        || format!("{:?}\n{}", live.since(mark), dora_log()),
    );
    let again = Subscriber::start("test-again", port, &filters);
    wait_for(
        "discovery configs retained by the restarted broker",
        Duration::from_secs(60),
        || discovery_ok(&again.since(0), true),
        || format!("{:?}", again.since(0)),
    );
    again.stop();

    // A clean stop: the sink says offline.
    let mark = live.len();
    let pid = dora_run.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let end = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(s) = dora_run.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > end {
            let _ = dora_run.kill();
            let _ = dora_run.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let log = dora_log();
    assert!(status.is_some(), "the dataflow did not stop:\n{log}");
    wait_for(
        "offline at the stop",
        Duration::from_secs(30),
        || {
            availability(&live.since(mark))
                .last()
                .is_some_and(|a| a == "offline")
        },
        || format!("{:?}\n{log}", live.since(mark)),
    );
    let summary = log
        .lines()
        .find(|l| l.contains("mqtt-sink: ") && l.contains("connections,"))
        .unwrap_or_else(|| panic!("no mqtt-sink summary:\n{log}"));
    // "... mqtt-sink: N connections, ...": the word before.
    let connections: u64 = summary
        .split(" connections,")
        .next()
        .and_then(|s| s.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(connections >= 2, "{summary}");
    live.stop();
}
