//! `dataflows/inference-web.yml` run by the real dora CLI (the simulator's living room through
//! the whole model pipeline into pose-sink and the web view, the web view on a port the OS
//! picks), looked at by a real headless Chromium driven over the DevTools protocol:
//!
//! - the page loads, and every request it makes goes to the node (no other network);
//! - it shows the room's name, the scene's number of true people, and the model's count
//!   reaching the scene's number of people;
//! - it updates: the frame counter advances, two screenshots differ, the latency table has the
//!   pipeline's stages, and the simulator's camera frames are drawn under the skeletons;
//! - it survives reconnecting: the page's WebSocket closed from the page reconnects by itself
//!   (a second connection on the server, data flowing again), and a reload gets data too.
//!
//! Every wait is a condition with a deadline, never a fixed sleep. Needs the release binaries
//! (`cargo build --release --workspace`), the venv's dora CLI, and `/usr/bin/chromium`
//! (scripts/setup.sh installs it); without Chromium the test says so and passes.
//! `WEB_VIEW_SCREENSHOT=path.png` also writes the last screenshot there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROOM: &str = "living-room";
const CHROMIUM: &str = "/usr/bin/chromium";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Polls `poll` up to `deadline` until it gives `Ok`; panics with its last `Err` (what it saw)
/// if it never does.
fn wait_for<T>(what: &str, deadline: Duration, mut poll: impl FnMut() -> Result<T, String>) -> T {
    let end = Instant::now() + deadline;
    loop {
        match poll() {
            Ok(v) => return v,
            Err(seen) => assert!(Instant::now() < end, "timed out waiting for {what}\n{seen}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
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

/// The number of people of the simulator's scene, from its preset.
fn scene_people(scene: &str) -> usize {
    let path = root().join(format!("operators/wdp-sim/presets/{scene}.yaml"));
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["people"].as_sequence().expect("people").len()
}

/// inference-web.yml with node paths made absolute, the web view on port 0 and the sink
/// writing into `dir`.
fn prepare(dir: &Path) -> PathBuf {
    let flows = root().join("dataflows");
    let text = std::fs::read_to_string(flows.join("inference-web.yml")).unwrap();
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let out = dir.join("out").to_string_lossy().into_owned();
    let overrides = [
        ("web-view", "PORT", "0".to_owned()),
        ("pose-sink", "OUT_DIR", out),
        ("pose-sink", "PNG_EVERY", "0".to_owned()),
    ];
    let mut ids = Vec::new();
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
        ids.push(id);
    }
    assert!(ids.iter().any(|i| i == "web-view"), "{ids:?}");
    let path = dir.join("inference-web.yml");
    std::fs::write(&path, serde_yaml::to_string(&doc).unwrap()).unwrap();
    path
}

/// `GET path` over HTTP/1.1: the status and the body.
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

fn state(addr: SocketAddr) -> Option<Value> {
    let (status, body) = http_get(addr, "/state.json")?;
    assert_eq!(status, 200, "{body}");
    Some(serde_json::from_str(&body).expect("state.json is JSON"))
}

/// A DevTools protocol client on one page of a headless Chromium.
struct Browser {
    child: Child,
    socket: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// Events received so far (method, params).
    events: Vec<(String, Value)>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Self {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(CHROMIUM)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--hide-scrollbars",
                "--window-size=1100,880",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        // Chromium writes its DevTools port and path into the profile once it listens.
        let port_file = profile.path().join("DevToolsActivePort");
        let url = wait_for(
            "Chromium's DevTools endpoint",
            Duration::from_secs(60),
            || {
                let text = std::fs::read_to_string(&port_file).unwrap_or_default();
                let mut lines = text.lines();
                match (lines.next(), lines.next()) {
                    (Some(port), Some(path)) => Ok(format!("ws://127.0.0.1:{port}{path}")),
                    _ => Err(format!("DevToolsActivePort: {text:?}")),
                }
            },
        );
        let (socket, _) = tungstenite::connect(url.as_str()).expect("DevTools connects");
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = socket.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
        }
        let mut browser = Self {
            child,
            socket,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let attached = browser.call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser.call("Network.enable", json!({}));
        browser.call("Page.enable", json!({}));
        browser.call("Runtime.enable", json!({}));
        browser
    }

    /// Sends `method` (on the page once attached) and returns its result; events that come
    /// meanwhile are kept.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// [`Browser::call`], a protocol error returned (e.g. a page being replaced).
    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket
            .send(tungstenite::Message::Text(message.to_string().into()))
            .expect("DevTools send");
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < end, "no answer to {method}");
            let text = match self.socket.read() {
                Ok(tungstenite::Message::Text(t)) => t.to_string(),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => panic!("DevTools: {e}"),
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == id {
                return match v["error"].is_null() {
                    true => Ok(v["result"].clone()),
                    false => Err(v["error"].clone()),
                };
            }
            if let Some(m) = v["method"].as_str() {
                self.events.push((m.to_owned(), v["params"].clone()));
            }
        }
    }

    /// Evaluates `expression` in the page: its value (JSON-able), or what went wrong (a page
    /// still loading, an exception) as a message.
    fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let r = self
            .try_call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .map_err(|e| e.to_string())?;
        if !r["exceptionDetails"].is_null() {
            return Err(r["exceptionDetails"].to_string());
        }
        Ok(r["result"]["value"].clone())
    }

    /// What the page shows, read from its DOM.
    fn dom(&mut self) -> Value {
        let text = self.eval(
            r#"(() => { try { return JSON.stringify({
                status: document.getElementById("status").textContent,
                frames: +document.getElementById("frames").textContent,
                connects: +document.getElementById("connects").textContent,
                updates: +document.getElementById("updates").textContent,
                cameraFrames: window.wdp.cameraFrames || 0,
                rooms: [...document.querySelectorAll("section.room")].map((s) => ({
                    room: s.dataset.room,
                    name: s.querySelector(".name").textContent,
                    people: +s.querySelector(".people").textContent,
                    truth: +s.querySelector(".truth").textContent,
                    truthShown: !s.querySelector(".truth-box").hidden,
                    frames: +s.querySelector(".frames").textContent,
                    fps: +s.querySelector(".fps").textContent,
                    latency: [...s.querySelectorAll(".latency tbody tr")]
                        .map((r) => r.cells[0].textContent),
                })),
            }); } catch (e) { return JSON.stringify({error: String(e)}); } })()"#,
        );
        match text {
            Ok(Value::String(t)) => serde_json::from_str(&t).unwrap(),
            Ok(other) => json!({ "error": other }),
            Err(e) => json!({ "error": e }),
        }
    }

    fn screenshot(&mut self) -> Vec<u8> {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        png
    }

    /// Every URL the page asked for, WebSockets included.
    fn urls(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|(m, p)| match m.as_str() {
                "Network.requestWillBeSent" => p["request"]["url"].as_str().map(str::to_owned),
                "Network.webSocketCreated" => p["url"].as_str().map(str::to_owned),
                _ => None,
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn room(dom: &Value) -> Option<&Value> {
    dom["rooms"].as_array()?.iter().find(|r| r["room"] == ROOM)
}

#[test]
fn inference_web_in_headless_chromium() {
    if !Path::new(CHROMIUM).is_file() {
        println!("skipping the browser test: {CHROMIUM} is absent (scripts/setup.sh installs it)");
        return;
    }
    let expected = scene_people(ROOM);
    let dir = tempfile::tempdir().unwrap();
    let flow = prepare(dir.path());
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
        .args(["--stop-after", "900s"])
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

    // The node says where it listens.
    let addr: SocketAddr = wait_for("the web view's address", Duration::from_secs(300), || {
        running(&mut dora_run);
        let log = dora_log();
        log.lines()
            .find_map(|l| l.split("web view: http://").nth(1))
            .and_then(|url| url.trim().trim_end_matches('/').parse().ok())
            .ok_or(log)
    });
    assert!(addr.ip().is_loopback(), "{addr}");
    let origin = format!("http://{addr}/");
    let ws_origin = format!("ws://{addr}/");
    // Frames reach the node.
    wait_for(
        "pose frames in /state.json",
        Duration::from_secs(400),
        || {
            running(&mut dora_run);
            let s = state(addr);
            let frames = s
                .as_ref()
                .and_then(|s| s["state"]["rooms"][ROOM]["frames"].as_u64());
            match frames {
                Some(n) if n >= 5 => Ok(()),
                _ => Err(format!("{s:?}\n{}", dora_log())),
            }
        },
    );
    assert_eq!(http_get(addr, "/nothing-here").unwrap().0, 404);

    let mut browser = Browser::start();
    browser.call("Page.navigate", json!({"url": origin}));
    // The room's card with its name, the scene's true people, data flowing.
    wait_for(
        "the room's name, its true people and frames on the page",
        Duration::from_secs(60),
        || {
            let dom = browser.dom();
            let ok = room(&dom).is_some_and(|r| {
                r["name"] == ROOM
                    && r["truthShown"] == true
                    && r["truth"] == expected
                    && r["frames"].as_u64().unwrap_or(0) > 0
            }) && dom["connects"] == 1
                && dom["status"] == "live";
            if ok {
                Ok(())
            } else {
                Err(dom.to_string())
            }
        },
    );
    // The model's count: the scene's number of people at some moment.
    wait_for(
        "the model's people count to be the scene's",
        Duration::from_secs(120),
        || {
            let dom = browser.dom();
            if room(&dom).is_some_and(|r| r["people"] == expected) {
                Ok(())
            } else {
                Err(dom.to_string())
            }
        },
    );
    let shot1 = browser.screenshot();
    let frames1 = browser.dom()["frames"].as_u64().unwrap();
    // It updates: the counter advances, frames/s shows, the latency table has the stages.
    let dom = wait_for(
        "the frame counter to advance",
        Duration::from_secs(60),
        || {
            let dom = browser.dom();
            let ok = dom["frames"].as_u64().unwrap_or(0) >= frames1 + 10
                && room(&dom).is_some_and(|r| r["fps"].as_f64().unwrap_or(0.0) > 0.0);
            if ok {
                Ok(dom)
            } else {
                Err(dom.to_string())
            }
        },
    );
    let stages: Vec<String> = room(&dom).unwrap()["latency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    for stage in ["preprocess", "encoder", "densepose", "end to end"] {
        assert!(stages.iter().any(|s| s == stage), "{stage}: {stages:?}");
    }
    // The simulator's camera frames are fetched and drawn under the skeletons, more than once.
    wait_for(
        "camera frames drawn on the page",
        Duration::from_secs(60),
        || {
            let dom = browser.dom();
            let camera = state(addr).map(|s| s["state"]["rooms"][ROOM]["camera"].clone());
            let served = camera
                .as_ref()
                .is_some_and(|c| c["frames"].as_u64().unwrap_or(0) >= 2 && c["size"][0] == 320);
            if served && dom["cameraFrames"].as_u64().unwrap_or(0) >= 2 {
                Ok(())
            } else {
                Err(format!("{dom}\ncamera: {camera:?}"))
            }
        },
    );
    let shot2 = browser.screenshot();
    assert_ne!(shot1, shot2, "two screenshots of a live page differ");
    std::fs::write(dir.path().join("web-view-1.png"), &shot1).unwrap();
    std::fs::write(dir.path().join("web-view-2.png"), &shot2).unwrap();
    if let Ok(p) = std::env::var("WEB_VIEW_SCREENSHOT") {
        std::fs::write(p, &shot2).unwrap();
    }

    // Reconnecting: the page's socket closed under it comes back by itself.
    let connections = |s: &Option<Value>| {
        s.as_ref()
            .and_then(|s| s["server"]["connections"].as_u64())
            .unwrap_or(0)
    };
    let before = connections(&state(addr));
    assert!(before >= 1);
    browser.eval("window.wdp.socket.close(); true").unwrap();
    let frames_at_close = browser.dom()["frames"].as_u64().unwrap();
    wait_for(
        "the page to reconnect and get frames again",
        Duration::from_secs(60),
        || {
            let dom = browser.dom();
            let server = state(addr);
            let ok = dom["connects"] == 2
                && dom["status"] == "live"
                && dom["frames"].as_u64().unwrap_or(0) > frames_at_close + 5
                && connections(&server) > before;
            if ok {
                Ok(())
            } else {
                Err(format!("{dom}\n{server:?}"))
            }
        },
    );
    // A reload: a new page, a new connection, data again.
    browser.call("Page.reload", json!({}));
    wait_for(
        "the reloaded page to get frames",
        Duration::from_secs(60),
        || {
            let dom = browser.dom();
            let server = state(addr);
            let ok = dom["connects"] == 1
                && room(&dom).is_some_and(|r| r["frames"].as_u64().unwrap_or(0) > 0)
                && connections(&server) > before + 1;
            if ok {
                Ok(())
            } else {
                Err(format!("{dom}\n{server:?}"))
            }
        },
    );

    // No network beyond the node.
    let urls = browser.urls();
    assert!(urls.iter().any(|u| u == &origin), "{urls:?}");
    let frame = format!("/frame/{ROOM}?");
    assert!(
        urls.iter().any(|u| u.contains(&frame)),
        "{frame} not requested: {urls:?}"
    );
    for path in ["app.js", "style.css", "ws"] {
        assert!(
            urls.iter().any(|u| u.ends_with(path)),
            "{path} not requested: {urls:?}"
        );
    }
    for u in &urls {
        assert!(
            u.starts_with(&origin) || u.starts_with(&ws_origin) || u.starts_with("data:"),
            "a request beyond the node: {u} (all: {urls:?})"
        );
    }
    drop(browser);

    // A clean stop: the node's summary counts the connections.
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
    let summary = log
        .lines()
        .find(|l| l.contains("web-view: ") && l.contains("browser connections"))
        .unwrap_or_else(|| panic!("no web-view summary:\n{log}"));
    let connections: u64 = summary
        .split(" browser connections")
        .next()
        .and_then(|s| s.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(connections >= 3, "{summary}");
}
