//! # csi-locate
//!
//! Where on the floor the radio's change comes from, with no model: every window of packets,
//! aligned to one phase, has its dominant change back-projected through the room's antenna
//! geometry onto a floor grid ([`wdp_locate`]), and, when the empty room's channel is known, what
//! the window holds beyond it (people standing still as well as moving) too. The image is the
//! radio's own evidence of where people are; the upsampler weighs it into its floor head's
//! logits when the preset says so (`upsampler.floor.radio_map_weight`).
//!
//! ## Inputs
//! - `csi`: Float32 `[tx, rx, subcarrier, 2]` (re, im), one packet per message, as
//!   csi-preprocess reads it (metadata `t_ns`, `subcarriers`, optional `agc`). A message that is
//!   not such a tensor (type, shape, dims, `subcarriers`), or whose values are not finite, is
//!   logged, counted under `csi/<field>` and dropped before the locator; a packet of another
//!   antenna layout than the geometry's is dropped and counted too (`csi/layout`). Other input
//!   ids are logged and ignored.
//!
//! ## Outputs
//! - `radio_map`: Float32 `[ny, nx]`, dims `y,x`: per floor cell (row y, column x; cell side
//!   `cell_m`, from the room frame's origin) the back-projected power of the window's dominant
//!   change, divided by the largest cell's, and with a background the cell-wise larger of that
//!   and the same image of the window's mean minus the empty room (so in `[0, 1]`; 0 outside the
//!   room; all 1 for a window with nothing to image, which says nothing). Metadata: `t_ns` of
//!   the window's newest packet, `seq` (window counter), `room`, `link`, `cell_m`, `best_m` (the
//!   best point `[x, y]`, m), `change_share` (the imaged change's share of the window's change
//!   power; 0 when still), with a background `still_share` (what is left of the window's mean
//!   power once the empty room is taken out: near 0 in an empty room, around a percent per
//!   person).
//!
//! ## Configuration (`env:`)
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `RADIO_GEOMETRY` | the antennas: a YAML/JSON file (relative to the dataflow folder) or inline YAML of `wdp_locate::RadioGeometry` (`tx`, `rx` arrays as a scene writes them, `carrier_hz`, `room_m`) | required unless `SCENE` |
//! | `SCENE` | a simulator scene (preset name or scene file) whose radio and room give the geometry | |
//! | `EMPTY_ROOM` | the empty room's background: a YAML file (relative to the dataflow folder) of `wdp_locate::Background`, the mean aligned channel recorded with nobody in the room | with `SCENE`, the simulated room's own (`locator.empty_room_s` seconds of it); otherwise none, and the image sees only what moves |
//! | `WDP_LOCATOR_CONFIG` | a file or inline YAML of `wdp_locate::LocatorSettings` (the windows' preprocessing, the grid, the changes imaged) | 0.25 m cells, 32 x 24, windows of 30 packets every 5 |
//!
//! At stop the node logs its counts (packets, refused, windows, still windows) and the imaging
//! time per window.

mod config;
#[cfg(test)]
mod tests;

use dora_node_api::DoraNode;
use eyre::Result;
use wdp_locate::Locator;
use wdp_node::{Context, Handler, HandlerError, Input, Latency};
use wdp_tensor::{MetaValue, TensorMeta};

fn main() -> Result<()> {
    let config = config::from_env()?;
    let (node, events) = DoraNode::init_from_env()?;
    wdp_node::run("csi-locate", node, events, &mut Locate::new(config))?;
    Ok(())
}

/// The node's handler: packets in, a floor image per window out. The locator is built for the
/// first packet's subcarriers (a capture's layout is only known then).
struct Locate {
    geometry: wdp_locate::RadioGeometry,
    settings: wdp_locate::LocatorSettings,
    background: Option<wdp_locate::Background>,
    locator: Option<(Vec<i32>, Locator)>,
    windows: u64,
    still: u64,
    imaging: Latency,
}

impl Locate {
    fn new(config: config::Config) -> Self {
        Self {
            geometry: config.geometry,
            settings: config.settings,
            background: config.background,
            locator: None,
            windows: 0,
            still: 0,
            imaging: Latency::default(),
        }
    }
}

impl Handler for Locate {
    fn accepts(&self, id: &str) -> bool {
        id == "csi"
    }

    fn on_input(&mut self, ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        // As csi-preprocess: the csi contract's dims, a broken layout counted under its field.
        let csi = input.tensor::<f32>(&wdp_csi::CSI_DIMS)?;
        wdp_node::finite("values", csi.data.iter())?;
        let layout = wdp_csi::csi_layout(&csi.meta)?;
        let links = layout.n_tx * layout.n_rx;
        let want = self.geometry.links().len();
        if links != want {
            return Err(HandlerError::bad(
                "layout",
                format!(
                    "{} x {} antennas, the geometry has {want} antenna pairs",
                    layout.n_tx, layout.n_rx
                ),
            ));
        }
        if self.locator.as_ref().map(|(s, _)| s) != Some(&layout.subcarriers) {
            let mut locator = Locator::new(&self.geometry, &layout.subcarriers, &self.settings)
                .map_err(|e| HandlerError::Fatal(eyre::eyre!("locator: {e}")))?;
            if let Some(b) = &self.background {
                // A background of another layout is the configuration's mistake: say so once
                // and go on with the moving image alone.
                if let Err(e) = locator.set_background(b.clone()) {
                    tracing::warn!("the empty room's background is not used: {e}");
                }
            }
            if self.locator.is_some() {
                tracing::warn!("subcarriers changed: the locator starts over");
            }
            self.locator = Some((layout.subcarriers.clone(), locator));
        }
        let Some((_, locator)) = self.locator.as_mut() else {
            return Ok(());
        };
        let Some(values) = csi.data.as_slice() else {
            return Err(HandlerError::bad("values", "not contiguous"));
        };
        let packet = wdp_csi::packet_from_tensor(values, &csi.meta, &layout);
        let located = locator
            .push(&packet)
            .map_err(|e| HandlerError::bad("window", e.to_string()))?;
        ctx.handled(1);
        let Some(l) = located else {
            return Ok(());
        };
        self.windows += 1;
        let [nx, ny] = self.settings.grid.cells;
        let (values, best) = match &l.map {
            Some(m) => (m.values.clone(), m.best_m),
            None => {
                self.still += 1;
                (vec![1.0; nx * ny], [f32::NAN; 2])
            }
        };
        let share = l.moving.as_ref().map_or(0.0, |m| m.share);
        let meta = TensorMeta::new(&[ny, nx], ["y", "x"])
            .with_time_ns(l.t_ns)
            .with_seq(l.seq)
            .with_room(&csi.meta.room)
            .with_link(&csi.meta.link)
            .with("cell_m", MetaValue::Float(self.settings.grid.cell_m))
            .with(
                "best_m",
                MetaValue::Floats(best.iter().map(|v| f64::from(*v)).collect()),
            )
            .with("change_share", MetaValue::Float(f64::from(share)));
        let meta = match &l.still {
            Some(s) => meta.with("still_share", MetaValue::Float(f64::from(s.share))),
            None => meta,
        };
        let mut tensor = wdp_tensor::Tensor::new(
            ndarray::Array2::from_shape_vec((ny, nx), values)
                .map_err(|e| HandlerError::Fatal(e.into()))?
                .into_dyn(),
            meta,
        )
        .map_err(|e| HandlerError::Fatal(e.into()))?;
        self.imaging.record(input.received.elapsed());
        tensor
            .meta
            .push_trace("locate", input.received_ns, wdp_tensor::wall_ns());
        wdp_tensor::dora::send_tensor(&mut ctx.node, "radio_map", tensor)
            .map_err(|e| HandlerError::Fatal(eyre::eyre!("sending radio_map: {e}")))?;
        ctx.record(input.received);
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        let bad = ctx.counts().bad_total();
        let p = self.imaging.figures();
        let refused = self.locator.as_ref().map_or(0, |(_, l)| {
            let s = l.stats();
            s.malformed + s.non_finite + s.zero_amplitude
        });
        ctx.announce(&format!(
            "{} bad messages, {refused} packets refused by the preprocessing, {} windows imaged \
             ({} still); imaging p50 {:.3} ms, p99 {:.3} ms",
            bad, self.windows, self.still, p.p50_ms, p.p99_ms
        ));
        Ok(())
    }

    fn records_latency(&self) -> bool {
        true
    }
}
