//! The node's handler: pose frames and CSI packets into one `wdp_room::Room` per room, states
//! out on every tick, events as they happen.

use arrow_array::StringArray;
use dora_node_api::dora_core::config::DataId;
use dora_node_api::{MetadataParameters, Parameter};
use eyre::{eyre, Result};
use std::collections::BTreeMap;
use std::time::Instant;
use wdp_node::{Context, Handler, HandlerError, Input};
use wdp_pose::{PoseAssembler, PoseFrame};
use wdp_room::{PoseObservation, Room, RoomConfig, RoomEvent};
use wdp_sense::{SenseConfig, Sensor};

/// The node's configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Thresholds and holds of the room state.
    pub room: RoomConfig,
    /// The signal-level sensor's configuration.
    pub sense: SenseConfig,
    /// The room of every input, instead of their `room` metadata.
    pub room_name: Option<String>,
}

impl Config {
    /// From `ROOM_CONFIG`, `SENSE_CONFIG` and `ROOM`; a configuration out of range is an error
    /// naming the variable.
    pub fn from_env() -> Result<Self> {
        let room = match wdp_node::env::inline_or_file("ROOM_CONFIG")? {
            Some(text) => {
                RoomConfig::from_yaml_str(&text).map_err(|e| eyre!("ROOM_CONFIG: {e}"))?
            }
            None => RoomConfig::default(),
        };
        let sense = match wdp_node::env::inline_or_file("SENSE_CONFIG")? {
            Some(text) => {
                SenseConfig::from_yaml_str(&text).map_err(|e| eyre!("SENSE_CONFIG: {e}"))?
            }
            None => SenseConfig::default(),
        };
        Ok(Self {
            room,
            sense,
            room_name: wdp_node::env::var("ROOM"),
        })
    }
}

/// A room and the last input it had, to tell where its capture clock is at a tick.
struct Slot {
    room: Room,
    capture_ns: i64,
    at: Instant,
}

/// The handler.
pub struct RoomStateNode {
    config: Config,
    assembler: PoseAssembler,
    rooms: BTreeMap<String, Slot>,
    /// One signal-level sensor per (room, link).
    sensors: BTreeMap<(String, String), Sensor>,
    /// Messages sent: states, events.
    pub sent: (u64, u64),
}

impl RoomStateNode {
    /// A node with no room yet.
    pub fn new(config: Config, assembler: PoseAssembler) -> Self {
        Self {
            config,
            assembler,
            rooms: BTreeMap::new(),
            sensors: BTreeMap::new(),
            sent: (0, 0),
        }
    }

    fn room_name(&self, meta_room: &str) -> String {
        match &self.config.room_name {
            Some(r) => r.clone(),
            None if meta_room.is_empty() => "default".to_owned(),
            None => meta_room.to_owned(),
        }
    }

    /// The room's slot, its clock moved to `t_ns` received at `at`.
    fn slot(&mut self, name: &str, t_ns: i64, at: Instant) -> Result<&mut Slot, HandlerError> {
        if !self.rooms.contains_key(name) {
            let room = Room::new(name, self.config.room.clone()).map_err(HandlerError::fatal)?;
            self.rooms.insert(
                name.to_owned(),
                Slot {
                    room,
                    capture_ns: t_ns,
                    at,
                },
            );
        }
        let slot = self
            .rooms
            .get_mut(name)
            .ok_or_else(|| HandlerError::fatal(eyre!("room {name} vanished")))?;
        if t_ns >= slot.capture_ns {
            slot.capture_ns = t_ns;
            slot.at = at;
        }
        Ok(slot)
    }

    fn on_frame(
        &mut self,
        ctx: &mut Context,
        frame: PoseFrame,
        at: Instant,
    ) -> Result<(), HandlerError> {
        let name = self.room_name(&frame.meta.room);
        let people: Vec<PoseObservation> = frame.people.iter().map(PoseObservation::from).collect();
        let slot = self.slot(&name, frame.t_ns(), at)?;
        let events = slot.room.push_pose(frame.t_ns(), &people);
        self.send_events(ctx, &events)
    }

    fn on_csi(&mut self, ctx: &mut Context, input: &Input) -> Result<(), HandlerError> {
        let r = input.tensor::<f32>(&wdp_csi::CSI_DIMS)?;
        wdp_node::finite("values", r.data.iter())?;
        let frame = wdp_csi::frame_from_tensor(r.data.view(), &r.meta)?;
        let name = self.room_name(&r.meta.room);
        let link = if r.meta.link.is_empty() {
            "link0".to_owned()
        } else {
            r.meta.link.clone()
        };
        let key = (name.clone(), link.clone());
        if !self.sensors.contains_key(&key) {
            let sensor = Sensor::new(self.config.sense.clone()).map_err(HandlerError::fatal)?;
            self.sensors.insert(key.clone(), sensor);
        }
        let seconds = match self.sensors.get_mut(&key) {
            Some(sensor) => sensor.push(&frame),
            None => Vec::new(),
        };
        let slot = self.slot(&name, frame.timestamp_ns, input.received)?;
        let mut events = Vec::new();
        for second in &seconds {
            events.extend(
                slot.room
                    .push_signal(frame.timestamp_ns, &link, second.into()),
            );
        }
        self.send_events(ctx, &events)
    }

    /// One state per room, each room's clock moved on by the wall time since its last input
    /// (so a source that stopped goes stale and tracks expire).
    fn tick(&mut self, ctx: &mut Context, now: Instant) -> Result<(), HandlerError> {
        let mut out = Vec::new();
        for slot in self.rooms.values_mut() {
            let waited = now.saturating_duration_since(slot.at).as_nanos();
            let t = slot
                .capture_ns
                .saturating_add(i64::try_from(waited).unwrap_or(i64::MAX));
            let events = slot.room.advance(t);
            out.push((events, slot.room.state()));
        }
        for (events, state) in out {
            self.send_events(ctx, &events)?;
            let text = serde_json::to_string(&state).map_err(|e| eyre!("room_state: {e}"))?;
            send_json(ctx, "room_state", text, state.t_ns, &state.room)?;
            self.sent.0 += 1;
        }
        Ok(())
    }

    fn send_events(&mut self, ctx: &mut Context, events: &[RoomEvent]) -> Result<(), HandlerError> {
        for e in events {
            let text = serde_json::to_string(e).map_err(|e| eyre!("events: {e}"))?;
            send_json(ctx, "events", text, e.t_ns, &e.room)?;
            self.sent.1 += 1;
        }
        Ok(())
    }
}

/// One JSON object as an Arrow UTF-8 array of one element, with `t_ns` and `room` metadata.
fn send_json(
    ctx: &mut Context,
    output: &str,
    text: String,
    t_ns: i64,
    room: &str,
) -> Result<(), HandlerError> {
    let mut params = MetadataParameters::new();
    params.insert("t_ns".into(), Parameter::Integer(t_ns));
    params.insert("room".into(), Parameter::String(room.to_owned()));
    ctx.node
        .send_output(
            DataId::from(output.to_owned()),
            params,
            StringArray::from(vec![text]),
        )
        .map_err(HandlerError::from)
}

impl Handler for RoomStateNode {
    fn accepts(&self, id: &str) -> bool {
        matches!(id, "keypoints" | "boxes" | "parts" | "uv" | "csi" | "tick")
    }

    fn on_input(&mut self, ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        match input.id.as_str() {
            "tick" => self.tick(ctx, input.received),
            "csi" => self.on_csi(ctx, &input),
            id => {
                let message = input.pose(id)?;
                self.assembler.push(message)?;
                while let Some(frame) = self.assembler.pop() {
                    self.on_frame(ctx, frame, input.received)?;
                }
                Ok(())
            }
        }
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        let stats = self.assembler.stats();
        ctx.announce(&format!(
            "{} rooms, {} room_state and {} events sent; pose frames {stats:?}",
            self.rooms.len(),
            self.sent.0,
            self.sent.1
        ));
        Ok(())
    }
}
