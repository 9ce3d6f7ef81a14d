//! Pairing predictions with truth frames and scoring them.

use eyre::{eyre, Context as _, Result};
use ndarray::{s, Axis};
use std::collections::HashMap;
use std::path::PathBuf;
use wdp_eval::frame::{add_frame, frame_evaluator, PredictedPerson, TruthFrame};
use wdp_eval::RoomEvaluator;
use wdp_node::{Context, Handler, HandlerError, Input};
use wdp_pose::{AssemblerConfig, PoseAssembler, PoseFrame, Region};
use wdp_timepair::{Config, Policy, TimeBuffer};

/// Most truth frames held per room for predictions still to come: at 30 frames a second, half a
/// minute of pipeline latency (older ones are dropped and counted).
const TRUTH_HELD: usize = 1024;

fn truth_of(frame: &PoseFrame) -> Result<TruthFrame> {
    if frame.region != Region::Image {
        return Err(eyre!("truth maps must cover the image (`region: image`)"));
    }
    let image_wh = frame
        .image_wh
        .ok_or_else(|| eyre!("truth without `image_wh`"))?;
    let parts = frame
        .parts
        .clone()
        .ok_or_else(|| eyre!("truth without `parts`"))?;
    Ok(TruthFrame {
        people: frame
            .people
            .iter()
            .map(|p| {
                let b = p.bbox;
                (p.keypoints, [b[0], b[1], b[2], b[3]])
            })
            .collect(),
        part_index: parts,
        uv: frame.uv.clone(),
        image_wh,
    })
}

/// Predictions scaled from their `image_wh` frame to the truth's image.
fn predictions_of(frame: &PoseFrame, truth_wh: [usize; 2]) -> Result<Vec<PredictedPerson>> {
    let [pw, ph] = frame.image_wh.unwrap_or(truth_wh);
    let sx = truth_wh[0] as f32 / pw.max(1) as f32;
    let sy = truth_wh[1] as f32 / ph.max(1) as f32;
    let (parts, uv) = match (&frame.parts, &frame.uv, frame.region) {
        (Some(p), Some(u), Region::Box) => (p, u),
        _ => return Err(eyre!("predictions need `parts` and `uv` over each box")),
    };
    frame
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let b = p.bbox;
            Ok(PredictedPerson {
                keypoints: p.keypoints.map(|k| [k[0] * sx, k[1] * sy, k[2]]),
                bbox: [b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy],
                score: b[4],
                parts: parts.index_axis(Axis(0), i).to_owned(),
                uv: uv.slice(s![i, .., .., ..]).to_owned(),
                // A model's own floor position (a floor head), when the frame carries one.
                floor_m: p.floor_m.map(|v| v.map(f64::from)),
            })
        })
        .collect()
}

/// The node's handler: truth frames wait, by room and capture time, for the prediction
/// nearest in time; each pair is scored.
pub struct PoseEval {
    predicted: PoseAssembler,
    truth: PoseAssembler,
    waiting: HashMap<String, TimeBuffer<TruthFrame>>,
    eval: Option<RoomEvaluator>,
    tolerance_ns: i64,
    out: PathBuf,
    title: String,
    /// Predictions scored.
    pub scored: u64,
    /// Predictions without a truth frame.
    pub unmatched: u64,
}

impl PoseEval {
    /// Scores within `tolerance_ns`; the report goes to `out` at the end.
    pub fn new(out: PathBuf, title: String, tolerance_ns: i64) -> Result<Self> {
        let config = AssemblerConfig {
            max_pending: 64,
            ..AssemblerConfig::default()
        };
        Ok(Self {
            predicted: PoseAssembler::new(config.clone()),
            truth: PoseAssembler::new(config),
            waiting: HashMap::new(),
            eval: Some(frame_evaluator()?),
            tolerance_ns,
            out,
            title,
            scored: 0,
            unmatched: 0,
        })
    }

    /// Scores a prediction against the waiting truth of its room nearest in time (within the
    /// tolerance; used once, with the older truth of the room, which no later prediction can
    /// match); counts it as unmatched when there is none.
    fn score(&mut self, frame: PoseFrame) -> Result<()> {
        let room = frame.meta.room.clone();
        let Some((_, truth)) = self
            .waiting
            .get_mut(&room)
            .and_then(|w| w.take(frame.t_ns()))
        else {
            self.unmatched += 1;
            return Ok(());
        };
        let preds = predictions_of(&frame, truth.image_wh)?;
        let eval = self
            .eval
            .as_mut()
            .ok_or_else(|| eyre!("evaluation finished"))?;
        add_frame(eval, &room, frame.seq(), &truth, &preds)?;
        self.scored += 1;
        Ok(())
    }
}

impl Handler for PoseEval {
    fn accepts(&self, id: &str) -> bool {
        let pose = |o: &str| matches!(o, "keypoints" | "boxes" | "parts" | "uv");
        pose(id.strip_prefix("truth_").unwrap_or(id))
    }

    fn on_input(&mut self, _ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        if let Some(output) = input.id.strip_prefix("truth_") {
            self.truth.push(input.pose(output)?)?;
            while let Some(f) = self.truth.pop() {
                let truth = truth_of(&f)?;
                // Truth may arrive in any order; of two of equal time, the later wins.
                let config = Config::new(Policy::Nearest {
                    max_lag_ns: self.tolerance_ns,
                })
                .capacity(TRUTH_HELD)
                .reorder_ns(None);
                self.waiting
                    .entry(f.meta.room.clone())
                    .or_insert_with(|| TimeBuffer::new(config))
                    .push(f.t_ns(), truth);
            }
        } else {
            self.predicted.push(input.pose(&input.id)?)?;
            while let Some(f) = self.predicted.pop() {
                self.score(f)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, ctx: &mut Context) -> Result<()> {
        for f in self.predicted.flush() {
            self.score(f)?;
        }
        let Some(eval) = self.eval.take() else {
            return Ok(());
        };
        let report = eval.finish();
        let out = &self.out;
        wdp_eval::write_report(&report, out, &self.title)
            .wrap_err_with(|| format!("writing the report to {}", out.display()))?;
        let kp = report.all.keypoints.as_ref().map(|k| k.stats);
        let evicted: u64 = self.waiting.values().map(|w| w.stats().evicted).sum();
        ctx.announce(&format!(
            "{} frames scored, {} without truth ({} truth frames dropped unused, over {TRUTH_HELD} held per room), {} messages dropped; AP {:.3} AP50 {:.3} AP75 {:.3}, PCK@0.2 {:.3}, part mIoU {:.3}; report {}",
            self.scored,
            self.unmatched,
            evicted,
            ctx.counts().dropped(),
            kp.as_ref().map_or(f64::NAN, |k| k.ap),
            kp.as_ref().map_or(f64::NAN, |k| k.ap50),
            kp.as_ref().map_or(f64::NAN, |k| k.ap75),
            report.all.pck.as_ref().and_then(|p| p.mean).unwrap_or(f64::NAN),
            report.all.parts.as_ref().and_then(|p| p.miou_parts).unwrap_or(f64::NAN),
            out.join("report.md").display()
        ));
        Ok(())
    }
}
