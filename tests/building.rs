//! A building over several dora daemons, for real: `wdp building --rooms 3 --machines 3` writes
//! the dataflow, a dora coordinator and four daemons (`room-host-1..3`, `compute`) run on
//! loopback, each daemon with its own zenoh port dialling the others by name (no multicast),
//! and `dora start` starts the building. The test reads room-fusion's JSON-lines file:
//! every room live with its own people, its frames flowing (the simulator offers 20 a second);
//! then the kitchen's daemon and its node are killed: the kitchen goes stale within the stated
//! time while the other rooms go on without a gap; then its daemon comes back, the kitchen's
//! chain is added again under new ids (`dora node add`, `connect`, `replace`: dora 1.1 cannot
//! re-spawn the nodes of a daemon that died) and the kitchen rejoins with nothing else
//! restarted; then the living room's model process is killed (SIGKILL) on the compute host:
//! dora's restart policy starts it again, its frames come again, and every window of the gap
//! is received or counted missed. Every process (and namespace) is ended by a guard, also on failure. The same runs
//! with each host in a network namespace of its own (root only).
//!
//! Needs the release node binaries (`cargo build --release --workspace`) and the project's
//! dora CLI (scripts/setup.sh).

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ROOMS: [&str; 3] = ["living-room", "kitchen", "office"];
const HOSTS: [&str; 4] = ["compute", "room-host-1", "room-host-2", "room-host-3"];
/// room-fusion's stale timeout in this test (s): a live room's frames reach fusion up to about
/// 3 s apart when three rooms' models share two cores with a busy process (2.7 s measured), so
/// a shorter timeout marks live rooms stale on a busy machine.
const STALE_AFTER_S: f64 = 5.0;

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("address").port())
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Where the hosts live: all on loopback, or each in a network namespace of its own with its
/// own address on a bridge (created here, removed on drop).
struct Net {
    /// Per host: (namespace, address); empty on loopback.
    hosts: BTreeMap<String, (String, String)>,
    /// The coordinator's address.
    coordinator: String,
    bridge: Option<String>,
}

impl Net {
    fn loopback() -> Self {
        Self {
            hosts: BTreeMap::new(),
            coordinator: "127.0.0.1".into(),
            bridge: None,
        }
    }

    /// A bridge `wdpb<k>` with the coordinator at 10.213.k.1, and per host a namespace
    /// `wdp<k>-<i>` with a veth `wdpv<k>x<i>` on the bridge and the address 10.213.k.(10 + i).
    /// `None` when namespaces cannot be made here (not root, no `ip`).
    fn namespaces(hosts: &[&str]) -> Option<Self> {
        let k = std::process::id() % 200 + 20;
        let bridge = format!("wdpb{k}");
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let mut net = Self {
            hosts: BTreeMap::new(),
            coordinator: format!("10.213.{k}.1"),
            bridge: None,
        };
        if !ip(&["link", "add", &bridge, "type", "bridge"]) {
            return None;
        }
        net.bridge = Some(bridge.clone());
        let cidr = format!("{}/24", net.coordinator);
        if !(ip(&["addr", "add", &cidr, "dev", &bridge]) && ip(&["link", "set", &bridge, "up"])) {
            return None;
        }
        for (i, h) in hosts.iter().enumerate() {
            let ns = format!("wdp{k}-{i}");
            let veth = format!("wdpv{k}x{i}");
            let addr = format!("10.213.{k}.{}", 10 + i);
            if !ip(&["netns", "add", &ns]) {
                return None;
            }
            net.hosts.insert(h.to_string(), (ns.clone(), addr.clone()));
            let ok = ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ]) && ip(&["link", "set", &veth, "master", &bridge, "up"])
                && ip(&[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{addr}/24"),
                    "dev",
                    "eth0",
                ])
                && ip(&["-n", &ns, "link", "set", "eth0", "up"])
                && ip(&["-n", &ns, "link", "set", "lo", "up"]);
            if !ok {
                return None;
            }
        }
        Some(net)
    }

    /// The address a host's daemon listens on.
    fn addr(&self, host: &str) -> String {
        self.hosts
            .get(host)
            .map_or_else(|| "127.0.0.1".to_owned(), |(_, a)| a.clone())
    }

    /// Bytes through a host's link (both directions) so far; `None` on loopback.
    fn link_bytes(&self, host: &str) -> Option<u64> {
        let k = self.bridge.as_ref()?.trim_start_matches("wdpb").to_owned();
        let (ns, _) = self.hosts.get(host)?;
        let index = ns.rsplit('-').next()?;
        let read = |dir: &str| -> Option<u64> {
            std::fs::read_to_string(format!(
                "/sys/class/net/wdpv{k}x{index}/statistics/{dir}_bytes"
            ))
            .ok()?
            .trim()
            .parse()
            .ok()
        };
        Some(read("rx")? + read("tx")?)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for (ns, _) in self.hosts.values() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        if let Some(b) = &self.bridge {
            let _ = Command::new("ip").args(["link", "del", b]).status();
        }
    }
}

/// The coordinator and the daemons, each in a process group of its own (the daemon's nodes
/// with it), ended on drop.
struct Deployment<'n> {
    net: &'n Net,
    dir: PathBuf,
    env: Vec<(String, String)>,
    coordinator_port: u16,
    zenoh_ports: BTreeMap<String, u16>,
    listen_ports: BTreeMap<String, u16>,
    coordinator: Option<Child>,
    daemons: BTreeMap<String, Child>,
    started: bool,
    /// A zenoh settings file layered over dora's, for every daemon and its nodes.
    zenoh_overlay: Option<PathBuf>,
}

impl Deployment<'_> {
    fn dora(&self) -> Command {
        let mut c = Command::new(common::dora());
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        c
    }

    /// The dora CLI in a session of its own (its pid is its process group: the daemon and
    /// the nodes it spawns are ended together), inside the host's namespace when it has one.
    fn dora_session(&self, host: Option<&str>) -> Command {
        let mut c = Command::new("setsid");
        if let Some((ns, _)) = host.and_then(|h| self.net.hosts.get(h)) {
            c.args(["ip", "netns", "exec", ns]);
        }
        c.arg(common::dora())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        c
    }

    fn log(&self, name: &str) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{name}.log")))
            .expect("log file")
    }

    fn start_coordinator(&mut self) {
        let log = self.log("coordinator");
        let child = self
            .dora_session(None)
            .args(["coordinator", "--store", "memory", "--interface"])
            .arg(&self.net.coordinator)
            .arg("--port")
            .arg(self.coordinator_port.to_string())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dora coordinator starts");
        self.coordinator = Some(child);
        let port = self.coordinator_port;
        let addr = self.net.coordinator.clone();
        let up = common::wait_for(Duration::from_secs(20), || {
            std::net::TcpStream::connect((addr.as_str(), port)).ok()
        });
        if up.is_none() {
            self.fail("the coordinator did not listen within 20 s");
        }
    }

    fn start_daemon(&mut self, machine: &str) {
        let log = self.log(&format!("daemon-{machine}"));
        let mut cmd = self.dora_session(Some(machine));
        cmd.args(["daemon", "--machine-id", machine, "--coordinator-addr"])
            .arg(&self.net.coordinator)
            .arg("--coordinator-port")
            .arg(self.coordinator_port.to_string())
            .arg("--local-listen-port")
            .arg(self.listen_ports[machine].to_string())
            .arg("--zenoh-listen")
            .arg(format!(
                "{}:{}",
                self.net.addr(machine),
                self.zenoh_ports[machine]
            ))
            .arg("--zenoh-no-multicast");
        if let Some(overlay) = &self.zenoh_overlay {
            cmd.arg("--zenoh-config-overlay").arg(overlay);
        }
        for (other, port) in &self.zenoh_ports {
            if other != machine {
                cmd.arg("--zenoh-connect")
                    .arg(format!("tcp/{}:{port}", self.net.addr(other)));
            }
        }
        // The daemon's own folder (dora keeps per-dataflow files there).
        let child = cmd
            .current_dir(&self.dir)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dora daemon starts");
        self.daemons.insert(machine.to_owned(), child);
    }

    /// Kills a daemon's process group: the daemon and the nodes it spawned.
    fn kill_daemon(&mut self, machine: &str) {
        if let Some(mut child) = self.daemons.remove(machine) {
            kill_group(&mut child);
        }
    }

    /// Runs a dora CLI command against this coordinator; its output when it succeeds.
    fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .dora()
            .args(args)
            .arg("--coordinator-addr")
            .arg(&self.net.coordinator)
            .arg("--coordinator-port")
            .arg(self.coordinator_port.to_string())
            .output()
            .map_err(|e| e.to_string())?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(text)
        }
    }

    fn fail(&self, message: &str) -> ! {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
        logs.sort();
        for path in logs {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            eprintln!("--- {} (last lines) ---", path.display());
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
        panic!("{message}");
    }
}

fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--"])
        .arg(format!("-{}", child.id()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Deployment<'_> {
    fn drop(&mut self) {
        if self.started {
            let _ = self
                .dora()
                .args(["stop", "--name", "building-test", "--coordinator-addr"])
                .arg(&self.net.coordinator)
                .arg("--coordinator-port")
                .arg(self.coordinator_port.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let machines: Vec<String> = self.daemons.keys().cloned().collect();
        for m in machines {
            self.kill_daemon(&m);
        }
        if let Some(mut c) = self.coordinator.take() {
            kill_group(&mut c);
        }
    }
}

/// The building states and events of room-fusion's file so far.
fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn states(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l.get("rooms").is_some()).collect()
}

fn room<'a>(state: &'a Value, name: &str) -> &'a Value {
    state["rooms"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["room"] == name))
        .unwrap_or_else(|| panic!("room {name} in {state}"))
}

fn health(state: &Value, name: &str) -> String {
    room(state, name)["health"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn frames(state: &Value, name: &str) -> i64 {
    room(state, name)["frames"].as_i64().unwrap_or(0)
}

/// The torch library folder of the project's venv, for the model node.
fn torch_lib() -> Option<String> {
    let python = common::dora().with_file_name("python");
    let out = Command::new(python)
        .args([
            "-c",
            "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// One deployment at a time in this binary (each runs three model processes at real time).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn three_rooms_on_three_loopback_daemons_a_room_dies_goes_stale_and_rejoins() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    building_scenario(&Net::loopback());
}

/// The same with each host in a network namespace of its own (its own address on a bridge,
/// the coordinator on the bridge's address): needs root and `ip`; skipped otherwise.
#[test]
fn three_rooms_on_namespaced_hosts_a_room_dies_goes_stale_and_rejoins() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(net) = Net::namespaces(&HOSTS) else {
        eprintln!("skipped: network namespaces cannot be made here (root and `ip` needed)");
        return;
    };
    building_scenario(&net);
}

/// The release binaries' folder, checked to hold the building's nodes.
fn binaries() -> PathBuf {
    let wdp = PathBuf::from(env!("CARGO_BIN_EXE_wdp"));
    let bin_dir = wdp.parent().expect("binaries folder").to_path_buf();
    for node in [
        "csi-source",
        "csi-preprocess",
        "densepose-fused",
        "temporal",
        "room-fusion",
    ] {
        assert!(
            bin_dir.join(node).is_file(),
            "{} missing: cargo build --release --workspace",
            bin_dir.join(node).display()
        );
    }
    bin_dir
}

/// `wdp building ARGS --out DIR/building.yml` (this checkout as every machine's project
/// folder, its binaries and models, the state file DIR/building.jsonl), checked by
/// `dora validate`; returns the dataflow's path and text.
fn generate(dir: &Path, args: &[&str]) -> (PathBuf, String) {
    let bin_dir = binaries();
    let flow = dir.join("building.yml");
    let mut generate = Command::new(env!("CARGO_BIN_EXE_wdp"));
    generate
        .arg("building")
        .args(args)
        .arg("--out")
        .arg(&flow)
        .arg("--models-dir")
        .arg(common::root().join("models"))
        .arg("--state-file")
        .arg(dir.join("building.jsonl"))
        .arg("--root")
        .arg(common::root())
        .arg("--bin-dir")
        .arg(&bin_dir);
    let out = generate.output().expect("wdp building runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&flow).expect("dataflow written");
    let validate = Command::new(common::dora())
        .arg("validate")
        .arg(&flow)
        .output()
        .expect("dora validate runs");
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stdout)
    );
    (flow, text)
}

/// A coordinator and one daemon per host on `net`, the dataflow `flow` started on them.
fn deploy<'n>(net: &'n Net, dir: &Path, hosts: &[&str], flow: &Path) -> Deployment<'n> {
    deploy_with(net, dir, hosts, flow, None)
}

/// [`deploy`], the daemons given a zenoh settings overlay.
fn deploy_with<'n>(
    net: &'n Net,
    dir: &Path,
    hosts: &[&str],
    flow: &Path,
    zenoh_overlay: Option<PathBuf>,
) -> Deployment<'n> {
    let mut env = vec![
        (
            "PATH".to_owned(),
            format!(
                "{}:{}",
                common::dora().parent().expect("bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        ),
        ("RUST_LOG".to_owned(), "warn".to_owned()),
    ];
    if let Some(lib) = torch_lib() {
        let old = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
        env.push(("LD_LIBRARY_PATH".to_owned(), format!("{lib}:{old}")));
    }
    let ports = free_ports(1 + 2 * hosts.len());
    let mut d = Deployment {
        net,
        dir: dir.to_path_buf(),
        env,
        coordinator_port: ports[0],
        zenoh_ports: hosts
            .iter()
            .zip(&ports[1..])
            .map(|(h, p)| (h.to_string(), *p))
            .collect(),
        listen_ports: hosts
            .iter()
            .zip(&ports[1 + hosts.len()..])
            .map(|(h, p)| (h.to_string(), *p))
            .collect(),
        coordinator: None,
        daemons: BTreeMap::new(),
        started: false,
        zenoh_overlay,
    };
    d.start_coordinator();
    for h in hosts {
        d.start_daemon(h);
    }
    let flow_arg = flow.display().to_string();
    let started = common::wait_for(Duration::from_secs(60), || {
        d.cli(&["start", &flow_arg, "--name", "building-test", "--detach"])
            .ok()
    });
    if started.is_none() {
        d.fail("dora start did not succeed within 60 s (daemons not registered?)");
    }
    d.started = true;
    d
}

/// Generates, deploys and checks the building on `net` (see the module's documentation).
fn building_scenario(net: &Net) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().to_path_buf();
    let fusion = format!("{{stale_after_s: {STALE_AFTER_S}}}");
    let (flow, text) = generate(
        &dir,
        &[
            "--rooms",
            "3",
            "--machines",
            "3",
            "--fusion-config",
            &fusion,
        ],
    );
    let state_file = dir.join("building.jsonl");
    let deployed = Instant::now();
    let mut d = deploy(net, &dir, &HOSTS, &flow);

    // 1. Every room live, its frames arriving (the simulator offers 20 frames/s).
    let live = common::wait_for(Duration::from_secs(120), || {
        let lines = read_lines(&state_file);
        let s = states(&lines).last().map(|s| (*s).clone())?;
        ROOMS
            .iter()
            .all(|r| health(&s, r) == "live" && frames(&s, r) >= 40)
            .then_some(s)
    });
    let Some(first) = live else {
        d.fail("the three rooms were not all live with 40 frames within 120 s")
    };
    let t_first = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let lines = read_lines(&state_file);
    let second = (*states(&lines).last().expect("states")).clone();
    let span_s = (second["t_ms"].as_i64().unwrap_or(0) - first["t_ms"].as_i64().unwrap_or(0))
        as f64
        / 1000.0;
    assert!(
        span_s >= 3.0,
        "states {span_s} s apart after {:?}",
        t_first.elapsed()
    );
    let mut ids = Vec::new();
    for r in ROOMS {
        let rate = (frames(&second, r) - frames(&first, r)) as f64 / span_s;
        eprintln!("{r}: {rate:.1} frames/s at room-fusion");
        // Frames keep flowing from every room. How many of the 20 offered the compute keeps up
        // with is a benchmark figure (docs/BENCHMARKS.md, "Building"), not a test's: three
        // rooms' models on two cores with one of them busy measured 11.8 frames/s, and a
        // backlog drained after a stall arrives faster than 20 (29.8 over 5 s was seen).
        assert!(
            rate >= 3.0,
            "{r}: {rate:.1} frames/s across daemons (20 offered)"
        );
        // None is counted twice: no room has more frames than its simulator can have offered
        // since the deployment started.
        let offered = 20.0 * deployed.elapsed().as_secs_f64() + 20.0;
        let counted = frames(&second, r) as f64;
        assert!(
            counted <= offered,
            "{r}: {counted} frames counted, at most {offered:.0} offered"
        );
        let view = room(&second, r);
        // Each room's people: its own frames' count, and its tracked people with
        // building-level ids (unique across the building).
        let n = view["frame_people"].as_u64().expect("frame_people");
        assert!(n <= 10, "{r}: {n} people");
        for p in view["tracks"].as_array().expect("tracks") {
            ids.push(p["building_id"].as_u64().expect("building_id"));
        }
    }
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "building ids shared between rooms: {ids:?}"
    );

    // 2. The kitchen's daemon dies with its node.
    let killed_ms = now_ms();
    d.kill_daemon("room-host-2");
    let stale = common::wait_for(Duration::from_secs(20), || {
        read_lines(&state_file).into_iter().find(|l| {
            l["event"] == "stale" && l["room"] == "kitchen" && l["t_ms"].as_i64() >= Some(killed_ms)
        })
    });
    let Some(stale) = stale else {
        d.fail("the kitchen was not marked stale within 20 s of its daemon's death")
    };
    // Stale is decided from the room's last frame at room-fusion: on a machine too loaded to
    // keep up, frames queued before the kill still arrive for a while after it.
    let stale_ms = stale["t_ms"].as_i64().unwrap_or(0);
    let last_ms = stale["last_seen_ms"].as_i64().unwrap_or(0);
    eprintln!(
        "kitchen marked stale {} ms after its daemon was killed, {} ms after its last frame",
        stale_ms - killed_ms,
        stale_ms - last_ms
    );
    assert!(
        (stale_ms - last_ms) as f64 <= (STALE_AFTER_S + 2.5) * 1000.0,
        "stale {} ms after the last frame (timeout {STALE_AFTER_S} s, ticks every 0.5 s, and up \
         to 2 s for a loaded machine to run the tick)",
        stale_ms - last_ms
    );
    // Keep it down a while, then look at the others meanwhile.
    std::thread::sleep(Duration::from_secs(3));
    let outage_end_ms = now_ms();
    let lines = read_lines(&state_file);
    let during: Vec<&Value> = states(&lines)
        .into_iter()
        .filter(|s| {
            let t = s["t_ms"].as_i64().unwrap_or(0);
            t >= killed_ms && t <= outage_end_ms
        })
        .collect();
    assert!(
        during.len() >= 6,
        "{} states during the outage",
        during.len()
    );
    let mut worst_gap = 0;
    for s in &during {
        for r in ["living-room", "office"] {
            let v = room(s, r);
            let gap = s["t_ms"].as_i64().unwrap_or(0) - v["last_seen_ms"].as_i64().unwrap_or(0);
            assert_eq!(v["health"], "live", "{r} during the outage: {s}");
            worst_gap = worst_gap.max(gap);
        }
    }
    eprintln!("other rooms during the outage: newest frame at most {worst_gap} ms old at a tick");
    let last = during.last().expect("a state");
    assert_eq!(health(last, "kitchen"), "stale");
    assert!(room(last, "kitchen")["people"].is_null());
    assert_eq!(last["occupancy_complete"], false);

    // 3. The daemon comes back. The kitchen's whole chain ended with its source (dora closed
    // the compute side's inputs), and dora 1.1 can neither re-spawn nor remove nodes of a
    // daemon that died: the chain is added again under new ids, consumers first, its tracking
    // node connected to room-fusion and restarted in place so that it learns that route.
    d.start_daemon("room-host-2");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("dataflow YAML");
    let chain = ["temporal", "model", "preprocess", "source"].map(|s| format!("kitchen-{s}"));
    for id in &chain {
        let mut node = doc["nodes"]
            .as_sequence()
            .and_then(|n| n.iter().find(|n| n["id"].as_str() == Some(id.as_str())))
            .cloned()
            .unwrap_or_else(|| panic!("{id} in the dataflow"));
        node["id"] = format!("{id}-r1").into();
        if let Some(inputs) = node.get_mut("inputs").and_then(|i| i.as_mapping_mut()) {
            for (_, input) in inputs.iter_mut() {
                if let Some(src) = input
                    .get("source")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
                {
                    let (from, output) = src.split_once('/').expect("node/output");
                    if chain.iter().any(|c| c == from) {
                        input["source"] = format!("{from}-r1/{output}").into();
                    }
                }
            }
        }
        let file = dir.join(format!("{id}-r1.yml"));
        std::fs::write(&file, serde_yaml::to_string(&node).expect("YAML")).expect("node file");
        let arg = file.display().to_string();
        // The source's add waits for the daemon to register again.
        let mut last_error = String::new();
        let added = common::wait_for(Duration::from_secs(30), || {
            match d.cli(&["node", "add", "--from-yaml", &arg, "-d", "building-test"]) {
                Ok(out) => Some(out),
                Err(e) => {
                    last_error = e;
                    None
                }
            }
        });
        if added.is_none() {
            let error: String = last_error
                .lines()
                .filter(|l| !l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
                .filter(|l| !l.trim_start().starts_with("at "))
                .collect::<Vec<_>>()
                .join("\n");
            d.fail(&format!("dora node add {id}-r1 failed for 30 s: {error}"));
        }
    }
    for output in ["keypoints", "boxes"] {
        let from = format!("kitchen-temporal-r1/{output}");
        let to = format!("room-fusion/kitchen_{output}");
        if let Err(e) = d.cli(&["node", "connect", &from, &to, "-d", "building-test"]) {
            d.fail(&format!("dora node connect {from} {to}: {e}"));
        }
    }
    let temporal = dir.join("kitchen-temporal-r1.yml").display().to_string();
    if let Err(e) = d.cli(&[
        "node",
        "replace",
        "kitchen-temporal-r1",
        "--from-yaml",
        &temporal,
        "-d",
        "building-test",
    ]) {
        d.fail(&format!("dora node replace kitchen-temporal-r1: {e}"));
    }
    let back = common::wait_for(Duration::from_secs(60), || {
        let lines = read_lines(&state_file);
        let s = (*states(&lines).last()?).clone();
        (health(&s, "kitchen") == "rejoined").then_some(s)
    });
    let Some(back) = back else {
        d.fail("the kitchen did not rejoin within 60 s of its daemon's return")
    };
    let kitchen = room(&back, "kitchen");
    assert_eq!(kitchen["rejoins"], 1);
    for r in ["living-room", "office"] {
        assert_eq!(room(&back, r)["rejoins"], 0, "{r} was never lost");
    }
    let lines = read_lines(&state_file);
    assert!(
        lines
            .iter()
            .all(|l| l["event"] != "stale" || l["room"] == "kitchen"),
        "only the kitchen went stale"
    );

    // 4. The living room's model process crashes (SIGKILL, on the compute host): its daemon
    // starts it again (`restart_policy: on-failure`), the room's frames come again, and every
    // window of the outage is either processed or counted as missed, never lost silently.
    let model = "living-room-model";
    let Some(pid) = common::node_pid("densepose-fused", model, None) else {
        d.fail(&format!("no process of {model} found in /proc"))
    };
    let lines = read_lines(&state_file);
    let before = (*states(&lines).last().expect("states")).clone();
    let crashed = Instant::now();
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(killed, "kill -KILL {pid} ({model})");
    let Some(new_pid) = common::wait_for(Duration::from_secs(60), || {
        common::node_pid("densepose-fused", model, None).filter(|p| *p != pid)
    }) else {
        d.fail(&format!(
            "{model} was not started again within 60 s of its SIGKILL"
        ))
    };
    let restarted_in = crashed.elapsed();
    let frames_before = frames(&before, "living-room");
    let after = common::wait_for(Duration::from_secs(120), || {
        let lines = read_lines(&state_file);
        let s = (*states(&lines).last()?).clone();
        // 3 s of frames: more than the model had sent when it was killed.
        (frames(&s, "living-room") >= frames_before + 60 && health(&s, "living-room") != "stale")
            .then_some(s)
    });
    let Some(after) = after else {
        d.fail("the living room's frames did not come again within 120 s of its model's restart")
    };
    let (b, a) = (room(&before, "living-room"), room(&after, "living-room"));
    let count = |v: &Value, key: &str| v[key].as_u64().unwrap_or_else(|| panic!("{key}: {v}"));
    assert_eq!(
        count(a, "seq_restarts"),
        count(b, "seq_restarts"),
        "the windows' seq runs on through a model restart"
    );
    let received = count(a, "frames") - count(b, "frames");
    let missed = count(a, "missed_frames") - count(b, "missed_frames");
    let advance = count(a, "last_seq") - count(b, "last_seq");
    eprintln!(
        "{model} (pid {pid}) killed: pid {new_pid} within {restarted_in:?}; {received} frames \
         received and {missed} counted missed while seq advanced {advance}"
    );
    assert_eq!(
        received + missed,
        advance,
        "every window is received or counted missed: {b} -> {a}"
    );

    // 5. Stop: room-fusion writes each room's end-to-end latency.
    let _ = d.cli(&["stop", "--name", "building-test"]);
    d.started = false;
    let latency = common::wait_for(Duration::from_secs(30), || {
        read_lines(&state_file)
            .into_iter()
            .find_map(|l| l.get("latency").cloned())
    });
    match latency {
        Some(l) => eprintln!("end-to-end latency per room: {l}"),
        None => d.fail("room-fusion wrote no latency line at stop"),
    }
}

/// Per-room end-to-end latency (room-fusion's line at stop) of `rooms`: (p50, p99, frames).
fn latencies(state_file: &Path, rooms: &[&str]) -> Vec<(f64, f64, u64)> {
    let line = common::wait_for(Duration::from_secs(30), || {
        read_lines(state_file)
            .into_iter()
            .find_map(|l| l.get("latency").cloned())
    })
    .expect("room-fusion's latency line");
    rooms
        .iter()
        .map(|r| {
            let v = &line[*r];
            (
                v["p50_ms"].as_f64().unwrap_or(f64::NAN),
                v["p99_ms"].as_f64().unwrap_or(f64::NAN),
                v["frames"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// The figures of docs/BENCHMARKS.md, "Building": one room on a host of its own (a network
/// namespace, a veth link to the bridge) and the same scene on the compute host, in one run,
/// for each split (what crosses from the room's host: csi, window, pose): bytes per second on
/// the room host's link (both directions, counted by the kernel on the veth: the room's stream
/// plus dora's and zenoh's own traffic) and each room's end-to-end latency. zenoh's shared
/// memory is turned off (`--zenoh-config-overlay`): namespaces share this machine's memory, and
/// with it on, big messages would cross through memory instead of the link.
#[test]
#[ignore = "benchmark (about 2 minutes): cargo test --release --test building building_figures -- --ignored --nocapture"]
fn building_figures() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let hosts = ["compute", "room-host-1"];
    let net = Net::namespaces(&hosts).expect("network namespaces (root and `ip` needed)");
    let seconds = 20u64;
    let rooms = ["living-room", "living-room-c"];
    let description = "name: figures\n\
        rooms:\n\
        \x20 - {name: living-room, scene: living-room, host: room-host-1}\n\
        \x20 - {name: living-room-c, scene: living-room, host: compute}\n";
    println!("| split | room | host | link bytes/s | end-to-end p50 / p99 ms | frames |");
    println!("| --- | --- | --- | ---: | --- | ---: |");
    for split in ["csi", "window", "pose"] {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let building = dir.join("figures.rooms.yaml");
        std::fs::write(&building, description).expect("description");
        let overlay = dir.join("zenoh-no-shm.json5");
        std::fs::write(
            &overlay,
            "{ transport: { shared_memory: { enabled: false } } }",
        )
        .expect("overlay");
        let building_arg = building.display().to_string();
        let (flow, _) = generate(
            &dir,
            &[
                "--building",
                &building_arg,
                "--machines",
                "1",
                "--split",
                split,
            ],
        );
        let state_file = dir.join("building.jsonl");
        let mut d = deploy_with(&net, &dir, &hosts, &flow, Some(overlay));
        let live = common::wait_for(Duration::from_secs(120), || {
            let lines = read_lines(&state_file);
            let s = (*states(&lines).last()?).clone();
            rooms
                .iter()
                .all(|r| health(&s, r) == "live" && frames(&s, r) >= 40)
                .then_some(())
        });
        if live.is_none() {
            d.fail("the rooms were not all live within 120 s");
        }
        let before = net.link_bytes("room-host-1").expect("link counters");
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_secs(seconds));
        let after = net.link_bytes("room-host-1").expect("link counters");
        let elapsed = t0.elapsed().as_secs_f64();
        let _ = d.cli(&["stop", "--name", "building-test"]);
        d.started = false;
        let lat = latencies(&state_file, &rooms);
        for (i, r) in rooms.iter().enumerate() {
            let (host, bytes) = if i == 0 {
                (
                    "room-host-1",
                    format!("{:.0}", (after - before) as f64 / elapsed),
                )
            } else {
                ("compute", "(no link)".to_owned())
            };
            println!(
                "| {split} | {r} | {host} | {bytes} | {:.1} / {:.1} | {} |",
                lat[i].0, lat[i].1, lat[i].2
            );
        }
        drop(d);
    }
}
