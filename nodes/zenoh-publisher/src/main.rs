//! # zenoh-publisher
//!
//! Room states, tracked people, events and poses to zenoh, for robots: stable key expressions,
//! JSON and Arrow IPC payloads, floor positions in metres in a named frame. ROS 2 users put
//! zenoh-bridge-ros2dds beside it (docs/ROS2.md). Links no libtorch.
//!
//! ## Inputs (each optional)
//! - `room_state`: room-state's JSON states (docs/CONTRACT.md).
//! - `events`: room-state's JSON events.
//! - `keypoints`, `boxes`: the pose contract (temporal, densepose, densepose-fused), reassembled
//!   by `seq`.
//!
//! A message that breaks its contract is reported, counted under `input/field` and dropped;
//! the node keeps running.
//!
//! ## Keys (`<prefix>` is `KEY_PREFIX/SITE`, `<room>` the message's room as one key chunk)
//! | key | encoding | payload |
//! | --- | --- | --- |
//! | `<prefix>/<room>/state` | `application/json` | the room state as room-state sent it, plus `frame_id` |
//! | `<prefix>/<room>/people/<track_id>` | `application/json` | `{room, t_ns, track_id, x_m, y_m, moving, frame_id}`, on every state; DELETE when the track ends |
//! | `<prefix>/<room>/event` | `application/json` | the event as room-state sent it (`entered`, `left`, `fall`) |
//! | `<prefix>/<room>/pose` | `application/json` | one pose frame: pose-sink's JSON line plus `frame_id` |
//! | `<prefix>/<room>/pose/arrow` | `application/vnd.apache.arrow.stream` | one pose frame, a row per person (`payload::pose_arrow`) |
//! | `<prefix>/publisher` | liveliness token | present while the node runs |
//!
//! With `ROS2_PREFIX` set, the same in ROS 2 messages (CDR, `application/cdr`) on keys that are
//! ROS 2 topic names, for zenoh-bridge-ros2dds (`<ros>` = `ROS2_PREFIX`, `<room_>` the room as
//! a ROS name token; docs/ROS2.md):
//!
//! | key (ROS 2 topic without the leading `/`) | ROS 2 type | content |
//! | --- | --- | --- |
//! | `<ros>/<room_>/state` | `std_msgs/msg/String` | the state's JSON, as on `<prefix>/<room>/state` |
//! | `<ros>/<room_>/event` | `std_msgs/msg/String` | the event's JSON |
//! | `<ros>/<room_>/people` | `geometry_msgs/msg/PoseArray` | the tracked people at `(x_m, y_m, 0)` in `frame_id`, on every state |
//! | `<ros>/<room_>/pose` | `std_msgs/msg/String` | the pose frame's JSON |
//!
//! A query on `<prefix>/**` (or any part of it) is answered with the newest sample of every
//! key it selects, so a robot that starts late has the rooms at once.
//!
//! ## Never blocking the dataflow
//! Puts use zenoh's `Drop` congestion control: a slow or absent subscriber loses samples, the
//! dataflow does not wait. The stop summary gives puts, deletes, bytes and errors.
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `KEY_PREFIX` | first chunks of every key | `wdp` |
//! | `SITE` | the site (building, home) | `home` |
//! | `FRAME_PREFIX` | prefix of the rooms' frame ids (`frame_id` = prefix + room, lower case, `_` for other characters) | empty |
//! | `POSE_FORMATS` | `json`, `arrow`, or both (`json,arrow`) | `json,arrow` |
//! | `ROS2_PREFIX` | key prefix of the ROS 2 messages (ROS name tokens, e.g. `ros2/wdp/home`); unset: none | unset |
//! | `ZENOH_MODE` | `peer`, `client` (needs `ZENOH_CONNECT`) or `router` | `peer` |
//! | `ZENOH_LISTEN` | endpoints to listen on, comma-separated; `none` for none | `tcp/127.0.0.1:7447` (loopback) |
//! | `ZENOH_CONNECT` | endpoints to connect to (a router, the ROS 2 bridge) | none |
//! | `ZENOH_MULTICAST` | multicast scouting | `false` (endpoints are named) |
//! | `ZENOH_CONFIG` | a zenoh JSON5 configuration file to start from (TLS, access control, ...); the variables above override it | none |

mod keys;
mod payload;
mod ros2;
mod session;

use dora_node_api::DoraNode;
use eyre::{eyre, Result};
use keys::Keys;
use session::{Publisher, Settings};
use std::collections::{BTreeMap, BTreeSet};
use wdp_node::{env, Context, Handler, HandlerError, Input};
use wdp_pose::{PoseAssembler, PoseFrame};
use zenoh::bytes::Encoding;

/// The node's configuration.
struct Config {
    keys: Keys,
    frame_prefix: String,
    json: bool,
    arrow: bool,
    /// Where the ROS 2 messages go, when they are wanted.
    ros2_prefix: Option<String>,
    settings: Settings,
}

fn config_from_env() -> Result<Config> {
    let keys = Keys::new(
        &env::var("KEY_PREFIX").unwrap_or_else(|| "wdp".to_owned()),
        &env::var("SITE").unwrap_or_else(|| "home".to_owned()),
    )?;
    let formats = match env::list("POSE_FORMATS") {
        f if f.is_empty() => vec!["json".to_owned(), "arrow".to_owned()],
        f => f,
    };
    if let Some(other) = formats
        .iter()
        .find(|f| !matches!(f.as_str(), "json" | "arrow"))
    {
        return Err(eyre!("POSE_FORMATS: `{other}`, expected json and/or arrow"));
    }
    let defaults = Settings::default();
    let listen = match env::list("ZENOH_LISTEN") {
        l if l.is_empty() => defaults.listen,
        l if l == ["none"] => Vec::new(),
        l => l,
    };
    let settings = Settings {
        file: env::var("ZENOH_CONFIG").map(|f| env::dataflow_path(&f)),
        mode: env::var("ZENOH_MODE").unwrap_or(defaults.mode),
        listen,
        connect: env::list("ZENOH_CONNECT"),
        multicast: env::parse_or("ZENOH_MULTICAST", false)?,
    };
    let ros2_prefix = env::var("ROS2_PREFIX");
    if let Some(prefix) = &ros2_prefix {
        if prefix.split('/').any(|t| ros2::token(t) != t) {
            return Err(eyre!(
                "ROS2_PREFIX={prefix}: ROS 2 name tokens separated by `/` (letters, digits, \
                 `_`, not starting with a digit), e.g. ros2/wdp/home"
            ));
        }
    }
    Ok(Config {
        keys,
        ros2_prefix,
        frame_prefix: env::var("FRAME_PREFIX").unwrap_or_default(),
        json: formats.iter().any(|f| f == "json"),
        arrow: formats.iter().any(|f| f == "arrow"),
        settings,
    })
}

fn main() -> Result<()> {
    let config = config_from_env()?;
    let publisher = Publisher::open(&config.settings, &config.keys)?;
    wdp_node::announce(&format!(
        "zenoh-publisher: {} on {} (mode {}{})",
        config.keys.all(),
        publisher.locators().join(", "),
        config.settings.mode,
        match config.settings.connect.as_slice() {
            [] => String::new(),
            c => format!(", connecting to {}", c.join(", ")),
        }
    ));
    let (node, events) = DoraNode::init_from_env()?;
    let assembler = wdp_pose::dora::assembler_for(&node, 32);
    let mut handler = ZenohPublisher {
        publisher: Some(publisher),
        config,
        assembler,
        tracks: BTreeMap::new(),
        counts: Counts::default(),
    };
    wdp_node::run("zenoh-publisher", node, events, &mut handler)?;
    Ok(())
}

/// What was published, by kind.
#[derive(Debug, Default)]
struct Counts {
    states: u64,
    people: u64,
    tracks_ended: u64,
    events: u64,
    poses: u64,
}

/// The node's handler.
struct ZenohPublisher {
    /// `None` once closed at stop.
    publisher: Option<Publisher>,
    config: Config,
    assembler: PoseAssembler,
    /// The tracks of each room's last state, to delete their keys when they end.
    tracks: BTreeMap<String, BTreeSet<u64>>,
    counts: Counts,
}

/// The open session (`None` once closed at stop).
fn open(publisher: &mut Option<Publisher>) -> Result<&mut Publisher, HandlerError> {
    publisher
        .as_mut()
        .ok_or_else(|| HandlerError::fatal(eyre!("the zenoh session is closed")))
}

impl ZenohPublisher {
    fn on_state(&mut self, text: &str) -> Result<(), HandlerError> {
        let Config {
            keys,
            frame_prefix: prefix,
            ros2_prefix,
            ..
        } = &self.config;
        let (value, state) = payload::state(text, prefix)?;
        let publisher = open(&mut self.publisher)?;
        let json = value.to_string();
        if let Some(ros) = ros2_prefix {
            let topic = format!("{ros}/{}", ros2::token(&state.room));
            let xy: Vec<[f64; 2]> = state
                .tracks
                .iter()
                .map(|t| [f64::from(t.x_m), f64::from(t.y_m)])
                .collect();
            let frame = crate::keys::frame_id(prefix, &state.room);
            publisher.put(
                &format!("{topic}/state"),
                ros2::string(&json),
                Encoding::APPLICATION_CDR,
            );
            publisher.put(
                &format!("{topic}/people"),
                ros2::pose_array(state.t_ns, &frame, &xy),
                Encoding::APPLICATION_CDR,
            );
        }
        publisher.put(
            &keys.state(&state.room),
            json.into_bytes(),
            Encoding::APPLICATION_JSON,
        );
        for t in &state.tracks {
            publisher.put(
                &keys.person(&state.room, t.id),
                payload::person(&state, t, prefix).to_string().into_bytes(),
                Encoding::APPLICATION_JSON,
            );
        }
        let now: BTreeSet<u64> = state.tracks.iter().map(|t| t.id).collect();
        let before = self.tracks.insert(state.room.clone(), now);
        let now = &self.tracks[&state.room];
        let mut ended = 0;
        for id in before.unwrap_or_default().difference(now) {
            publisher.delete(&keys.person(&state.room, *id));
            ended += 1;
        }
        self.counts.states += 1;
        self.counts.people += state.tracks.len() as u64;
        self.counts.tracks_ended += ended;
        Ok(())
    }

    fn on_frame(&mut self, frame: &PoseFrame) -> Result<(), HandlerError> {
        let Config {
            keys,
            frame_prefix: prefix,
            json,
            arrow,
            ros2_prefix,
            ..
        } = &self.config;
        let room = &frame.meta.room;
        let arrow_bytes = if *arrow {
            Some(payload::pose_arrow(frame, prefix).map_err(|e| HandlerError::Failed(e.into()))?)
        } else {
            None
        };
        let text = (*json || ros2_prefix.is_some()).then(|| payload::pose_json(frame, prefix));
        let publisher = open(&mut self.publisher)?;
        if let (Some(ros), Some(text)) = (ros2_prefix, &text) {
            let topic = format!("{ros}/{}/pose", ros2::token(room));
            publisher.put(&topic, ros2::string(text), Encoding::APPLICATION_CDR);
        }
        if let (true, Some(text)) = (*json, text) {
            publisher.put(
                &keys.pose(room),
                text.into_bytes(),
                Encoding::APPLICATION_JSON,
            );
        }
        if let Some(bytes) = arrow_bytes {
            publisher.put(
                &keys.pose_arrow(room),
                bytes,
                Encoding::from(payload::ARROW_STREAM),
            );
        }
        self.counts.poses += 1;
        Ok(())
    }

    fn on_event(&mut self, text: &str) -> Result<(), HandlerError> {
        let room = payload::event(text)?;
        let publisher = open(&mut self.publisher)?;
        publisher.put(
            &self.config.keys.event(&room),
            text.as_bytes().to_vec(),
            Encoding::APPLICATION_JSON,
        );
        if let Some(ros) = &self.config.ros2_prefix {
            let topic = format!("{ros}/{}/event", ros2::token(&room));
            publisher.put(&topic, ros2::string(text), Encoding::APPLICATION_CDR);
        }
        self.counts.events += 1;
        Ok(())
    }
}

impl Handler for ZenohPublisher {
    fn accepts(&self, id: &str) -> bool {
        matches!(id, "room_state" | "events" | "keypoints" | "boxes")
    }

    fn on_input(&mut self, _ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        match input.id.as_str() {
            "room_state" => self.on_state(input.text()?),
            "events" => self.on_event(input.text()?),
            id => {
                self.assembler.push(input.pose(id)?)?;
                while let Some(frame) = self.assembler.pop() {
                    self.on_frame(&frame)?;
                }
                Ok(())
            }
        }
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        for frame in self.assembler.flush() {
            // A frame the flush completes is still published; one that fails is in the log.
            if let Err(e) = self.on_frame(&frame) {
                tracing::warn!("publishing the last pose frames: {e}");
            }
        }
        let c = &self.counts;
        let mut line = format!(
            "published on {}: {} states, {} people updates ({} tracks ended), {} events, {} pose \
             frames; pose frames {:?}",
            self.config.keys.all(),
            c.states,
            c.people,
            c.tracks_ended,
            c.events,
            c.poses,
            self.assembler.stats()
        );
        if let Some(publisher) = self.publisher.take() {
            let s = publisher.stats();
            line += &format!(
                "; zenoh: {} puts, {} deletes, {} payload bytes, {} errors",
                s.puts, s.deletes, s.bytes, s.errors
            );
            publisher.close()?;
        }
        ctx.announce(&line);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
