//! The node's handler: each room's pose frames into the [`Fusion`], the building state out on
//! every tick, events as they happen, both also as lines of a JSON-lines file when configured.

use crate::fusion::{BuildingEvent, Fusion, FusionConfig};
use arrow_array::StringArray;
use dora_node_api::dora_core::config::DataId;
use dora_node_api::{MetadataParameters, Parameter};
use eyre::{eyre, Result};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use wdp_building::BuildingPlan;
use wdp_node::{Context, Handler, HandlerError, Input, Latency};
use wdp_pose::{AssemblerConfig, PoseAssembler, PoseFrame};
use wdp_room::{PoseObservation, RoomConfig};

/// The pose streams a room's input ids end with (`<room>_keypoints`, ...).
const POSE_KINDS: [&str; 4] = ["keypoints", "boxes", "parts", "uv"];

/// The node's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The building: rooms and doors.
    pub plan: BuildingPlan,
    /// Health and handover settings.
    pub fusion: FusionConfig,
    /// Each room's state settings (`wdp_room`).
    pub room: RoomConfig,
    /// A JSON-lines file receiving every state and event.
    pub out_file: Option<PathBuf>,
}

impl Config {
    /// From `BUILDING` (required), `FUSION_CONFIG`, `ROOM_CONFIG` and `OUT_FILE`; every error
    /// names its variable.
    pub fn from_env() -> Result<Self> {
        let building = wdp_node::env::inline_or_file("BUILDING")?.ok_or_else(|| {
            eyre!("BUILDING: the building description (inline YAML or a file) is required")
        })?;
        let plan = BuildingPlan::from_yaml_str(&building).map_err(|e| eyre!("BUILDING: {e}"))?;
        let fusion = match wdp_node::env::inline_or_file("FUSION_CONFIG")? {
            Some(text) => serde_yaml::from_str::<FusionConfig>(&text)
                .map_err(|e| eyre!("FUSION_CONFIG: {e}"))?,
            None => FusionConfig::default(),
        };
        fusion.validate().map_err(|e| eyre!("FUSION_CONFIG: {e}"))?;
        let room = match wdp_node::env::inline_or_file("ROOM_CONFIG")? {
            Some(text) => {
                RoomConfig::from_yaml_str(&text).map_err(|e| eyre!("ROOM_CONFIG: {e}"))?
            }
            None => RoomConfig::default(),
        };
        let out_file = wdp_node::env::var("OUT_FILE").map(|v| wdp_node::env::dataflow_path(&v));
        Ok(Self {
            plan,
            fusion,
            room,
            out_file,
        })
    }
}

/// Per room: its frames' assembler and the end-to-end latency of its frames.
struct RoomInput {
    assembler: PoseAssembler,
    latency: Latency,
}

/// The handler.
pub struct RoomFusionNode {
    fusion: Fusion,
    inputs: BTreeMap<String, RoomInput>,
    out: Option<BufWriter<File>>,
    /// Messages sent: states, events.
    pub sent: (u64, u64),
}

impl RoomFusionNode {
    /// A node for `config`'s building; opens the output file.
    pub fn new(config: Config) -> Result<Self> {
        let fusion =
            Fusion::new(config.plan.clone(), config.fusion, config.room).map_err(|e| eyre!(e))?;
        let inputs = config
            .plan
            .room_names()
            .into_iter()
            .map(|name| {
                let assembler = PoseAssembler::new(AssemblerConfig {
                    max_pending: 32,
                    expect_parts: false,
                    expect_uv: false,
                });
                (
                    name,
                    RoomInput {
                        assembler,
                        latency: Latency::default(),
                    },
                )
            })
            .collect();
        let out = match &config.out_file {
            Some(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| eyre!("OUT_FILE: creating {}: {e}", dir.display()))?;
                }
                let f = File::create(path)
                    .map_err(|e| eyre!("OUT_FILE: creating {}: {e}", path.display()))?;
                Some(BufWriter::new(f))
            }
            None => None,
        };
        Ok(Self {
            fusion,
            inputs,
            out,
            sent: (0, 0),
        })
    }

    /// The fusion (for tests).
    pub fn fusion(&self) -> &Fusion {
        &self.fusion
    }

    /// `(room, pose kind)` of an input id `<room>_<kind>` of a known room.
    fn split<'a>(&self, id: &'a str) -> Option<(&'a str, &'a str)> {
        let (room, kind) = id.rsplit_once('_')?;
        (POSE_KINDS.contains(&kind) && self.fusion.has_room(room)).then_some((room, kind))
    }

    fn on_frame(
        &mut self,
        ctx: &mut Context,
        room: &str,
        frame: PoseFrame,
        now_ns: i64,
    ) -> Result<(), HandlerError> {
        if let (Some(first), Some(input)) = (frame.meta.trace().first(), self.inputs.get_mut(room))
        {
            let ms = (now_ns - first.1) as f64 / 1e6;
            if ms.is_finite() && ms >= 0.0 {
                input.latency.record_ms(ms);
            }
        }
        let people: Vec<PoseObservation> = frame.people.iter().map(PoseObservation::from).collect();
        let events = self
            .fusion
            .push_frame_seq(room, Some(frame.meta.seq), frame.t_ns(), &people, now_ns)
            .map_err(|e| HandlerError::bad("room", e))?;
        self.send_events(ctx, &events)
    }

    fn tick(&mut self, ctx: &mut Context, now_ns: i64) -> Result<(), HandlerError> {
        let events = self.fusion.advance(now_ns);
        self.send_events(ctx, &events)?;
        let state = self.fusion.state(now_ns);
        let text = serde_json::to_string(&state).map_err(|e| eyre!("building_state: {e}"))?;
        self.write_line(&text)?;
        send_json(ctx, "building_state", text, now_ns)?;
        self.sent.0 += 1;
        Ok(())
    }

    fn send_events(
        &mut self,
        ctx: &mut Context,
        events: &[BuildingEvent],
    ) -> Result<(), HandlerError> {
        for e in events {
            let text = serde_json::to_string(e).map_err(|e| eyre!("events: {e}"))?;
            self.write_line(&text)?;
            let t_ms = match e {
                BuildingEvent::Handover { t_ms, .. }
                | BuildingEvent::Stale { t_ms, .. }
                | BuildingEvent::Rejoined { t_ms, .. } => *t_ms,
            };
            send_json(ctx, "events", text, t_ms.saturating_mul(1_000_000))?;
            self.sent.1 += 1;
        }
        Ok(())
    }

    fn write_line(&mut self, text: &str) -> Result<(), HandlerError> {
        if let Some(out) = &mut self.out {
            writeln!(out, "{text}")
                .and_then(|()| out.flush())
                .map_err(|e| HandlerError::fatal(eyre!("OUT_FILE: {e}")))?;
        }
        Ok(())
    }
}

/// One JSON object as an Arrow UTF-8 array of one element, with `t_ns` metadata (wall clock).
fn send_json(ctx: &mut Context, output: &str, text: String, t_ns: i64) -> Result<(), HandlerError> {
    let mut params = MetadataParameters::new();
    params.insert("t_ns".into(), Parameter::Integer(t_ns));
    ctx.node
        .send_output(
            DataId::from(output.to_owned()),
            params,
            StringArray::from(vec![text]),
        )
        .map_err(HandlerError::from)
}

impl Handler for RoomFusionNode {
    fn accepts(&self, id: &str) -> bool {
        id == "tick" || self.split(id).is_some()
    }

    fn on_input(&mut self, ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        if input.id == "tick" {
            return self.tick(ctx, input.received_ns);
        }
        let Some((room, kind)) = self.split(&input.id) else {
            return Err(HandlerError::bad(
                "id",
                format!("no room input {}", input.id),
            ));
        };
        let room = room.to_owned();
        let message = input.pose(kind)?;
        let Some(slot) = self.inputs.get_mut(&room) else {
            return Ok(());
        };
        slot.assembler.push(message)?;
        let mut frames = Vec::new();
        while let Some(frame) = slot.assembler.pop() {
            frames.push(frame);
        }
        for frame in frames {
            self.on_frame(ctx, &room, frame, input.received_ns)?;
        }
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        let mut summary = serde_json::Map::new();
        for (room, input) in &self.inputs {
            let f = input.latency.figures();
            ctx.announce(&format!(
                "room {room}: {} frames, end-to-end latency {}; pose frames {:?}",
                f.count,
                f.line(1),
                input.assembler.stats()
            ));
            summary.insert(
                room.clone(),
                serde_json::json!({
                    "frames": f.count,
                    "p50_ms": input.latency.quantile_ms(0.5),
                    "p99_ms": input.latency.quantile_ms(0.99),
                }),
            );
        }
        let line = serde_json::json!({ "latency": summary }).to_string();
        self.write_line(&line).map_err(|e| eyre!("{e}"))?;
        ctx.announce(&format!(
            "{} building states and {} events sent, {} handovers",
            self.sent.0,
            self.sent.1,
            self.fusion.state(wdp_tensor::wall_ns()).handovers
        ));
        Ok(())
    }
}
