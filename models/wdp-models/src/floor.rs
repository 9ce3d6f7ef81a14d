//! Where people stand, in metres: a floor-position head on the encoder's features.
//!
//! The floor of the room frame (x, y from the room's corner, as the simulator and the room
//! descriptions define it) is cut into square cells; the head gives one logit per cell, and a
//! softmax over the cells is a distribution of where people are. It is trained by the
//! cross-entropy against the normalised sum of Gaussians at the people's floor positions (one
//! mode per person), which gives usable gradients from the first step, unlike a focal loss on
//! a sparse heatmap. A frame's people are the distribution's best local maxima, as many as the
//! count head says, each refined to the probability-weighted centre of its 3x3 cells.
//!
//! Why a floor grid and not only image-space centres: the image locator places a person in
//! camera pixels, and the floor point read back from a predicted ankle moves metres for a few
//! pixels at the far wall; room state (presence zones, tracking, robots) wants metres.

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, Kind, Tensor};

use crate::error::{ModelError, Result};
use crate::layers::Linear;

/// The floor grid and the head's width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloorConfig {
    /// Cell side, metres.
    pub cell_m: f64,
    /// Cells along x and y `[nx, ny]`: the grid covers `[0, nx * cell_m] x [0, ny * cell_m]`
    /// of the room frame; people outside it are trained on its nearest edge cell.
    pub cells: [i64; 2],
    /// Hidden width of the head (layer norm -> linear -> ReLU -> linear to the cells).
    pub hidden: i64,
    /// Standard deviation of each person's target Gaussian, metres.
    #[serde(default = "default_sigma")]
    pub sigma_m: f64,
    /// Weight of the radio's own floor image (`wdp_locate`'s back-projection through the room's
    /// antenna geometry, as `ln` of the map on this grid) added to the logits before the
    /// people are placed: [`fuse_radio_map`]. 0 places them from the head alone; a frame
    /// without an image (no geometry, a still window) is placed from the head alone too.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub radio_map_weight: f64,
    /// The smallest image value the fusion takes the log of: a cell the radio rules out costs
    /// at most `radio_map_weight * ln(1 / radio_map_floor)` against the image's peak, so the
    /// head keeps its say where the image has nothing (a second person the image misses).
    #[serde(default = "default_map_floor")]
    pub radio_map_floor: f64,
}

fn default_map_floor() -> f64 {
    1e-3
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn default_sigma() -> f64 {
    0.25
}

impl FloorConfig {
    /// Checks the grid: positive cell size, width and cell counts.
    pub fn validate(&self) -> Result<()> {
        let ok = self.cell_m > 0.0
            && self.cell_m.is_finite()
            && self.radio_map_weight >= 0.0
            && self.radio_map_weight.is_finite()
            && self.radio_map_floor > 0.0
            && self.radio_map_floor <= 1.0
            && self.cells.iter().all(|&c| c >= 1)
            && self.hidden >= 1
            && self.sigma_m > 0.0;
        if ok {
            Ok(())
        } else {
            Err(ModelError::Invalid(format!(
                "upsampler.floor {self:?}: cell_m, cells, hidden and sigma_m must be positive, radio_map_weight at least 0, radio_map_floor in (0, 1]"
            )))
        }
    }

    /// Cells `(ny, nx)` of the logits' map.
    pub fn map_size(&self) -> (i64, i64) {
        (self.cells[1], self.cells[0])
    }

    /// The target distribution `[ny, nx]` of people at floor points `xy` (metres), the
    /// normalised sum of their Gaussians; `None` without people.
    pub fn target(&self, xy: &[[f32; 2]]) -> Option<Vec<f32>> {
        if xy.is_empty() {
            return None;
        }
        let (ny, nx) = self.map_size();
        let (cell, s2) = (
            self.cell_m as f32,
            2.0 * (self.sigma_m * self.sigma_m) as f32,
        );
        let (w, h) = (nx as f32 * cell, ny as f32 * cell);
        let mut q = vec![0f32; (nx * ny) as usize];
        for p in xy {
            // Clamped into the grid: a person just outside it is still "there, at the edge".
            let px = p[0].clamp(0.0, w - 1e-3 * cell);
            let py = p[1].clamp(0.0, h - 1e-3 * cell);
            for iy in 0..ny {
                let cy = (iy as f32 + 0.5) * cell;
                for ix in 0..nx {
                    let cx = (ix as f32 + 0.5) * cell;
                    let d2 = (cx - px).powi(2) + (cy - py).powi(2);
                    q[(iy * nx + ix) as usize] += (-d2 / s2).exp();
                }
            }
        }
        let sum: f32 = q.iter().sum();
        (sum > 0.0).then(|| q.iter().map(|v| v / sum).collect())
    }
}

/// The head: layer norm -> linear -> ReLU -> linear to one logit per floor cell.
#[derive(Debug)]
pub struct FloorHead {
    norm: nn::LayerNorm,
    hidden: Linear,
    out: Linear,
    cfg: FloorConfig,
}

impl FloorHead {
    /// Builds the head on `p` for `feature_dim` features.
    pub fn new(p: nn::Path, cfg: &FloorConfig, feature_dim: i64) -> Result<Self> {
        cfg.validate()?;
        let (ny, nx) = cfg.map_size();
        Ok(Self {
            norm: nn::layer_norm(&p / "norm", vec![feature_dim], Default::default()),
            hidden: Linear::new(&p / 0, feature_dim, cfg.hidden),
            out: Linear::new(&p / 2, cfg.hidden, nx * ny),
            cfg: cfg.clone(),
        })
    }

    /// The grid.
    pub fn config(&self) -> &FloorConfig {
        &self.cfg
    }

    /// Logits `[B, ny, nx]` of `features [B, F]`.
    pub fn logits(&self, features: &Tensor) -> Tensor {
        let (ny, nx) = self.cfg.map_size();
        let b = features.size()[0];
        self.out
            .forward(&self.hidden.forward(&self.norm.forward(features)).relu())
            .view([b, ny, nx])
    }
}

/// `logits [B, ny, nx]` plus `weight * ln(max(map, floor))` of each frame's radio image
/// (`[ny * nx]` values in `[0, 1]`): the product of the head's distribution and the radio's
/// likelihood, sharpened or flattened by `weight`; a frame whose image is `None` keeps its
/// logits.
pub fn fuse_radio_map(
    logits: &Tensor,
    maps: &[Option<&[f32]>],
    weight: f64,
    floor: f64,
) -> Result<Tensor> {
    let s = logits.size();
    if s.len() != 3 || s[0] != maps.len() as i64 {
        return Err(ModelError::InputShape {
            stage: "floor radio map".into(),
            expected: format!("logits [{}, ny, nx]", maps.len()),
            found: s,
        });
    }
    if weight == 0.0 || maps.iter().all(Option::is_none) {
        return Ok(logits.shallow_clone());
    }
    let cells = (s[1] * s[2]) as usize;
    let mut add = Vec::with_capacity(maps.len() * cells);
    for (i, m) in maps.iter().enumerate() {
        match m {
            Some(m) if m.len() != cells => {
                return Err(ModelError::InputShape {
                    stage: format!("floor radio map of frame {i}"),
                    expected: format!("{cells} cells"),
                    found: vec![m.len() as i64],
                })
            }
            Some(m) => add.extend(
                m.iter()
                    .map(|v| (weight * f64::from(*v).max(floor).ln()) as f32),
            ),
            None => add.extend(std::iter::repeat_n(0f32, cells)),
        }
    }
    let add = Tensor::from_slice(&add)
        .view([s[0], s[1], s[2]])
        .to_device(logits.device())
        .to_kind(logits.kind());
    Ok(logits + add)
}

/// Cross-entropy of `logits [B, ny, nx]` against each frame's target distribution (`None`:
/// a frame without people, left out); 0 when no frame has people.
pub fn floor_loss(logits: &Tensor, targets: &[Option<Vec<f32>>]) -> Result<Tensor> {
    let s = logits.size();
    if s.len() != 3 || s[0] != targets.len() as i64 {
        return Err(ModelError::InputShape {
            stage: "floor loss".into(),
            expected: format!("[{}, ny, nx]", targets.len()),
            found: s,
        });
    }
    let cells = s[1] * s[2];
    let mut q = Vec::with_capacity(targets.len() * cells as usize);
    let mut has = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        match t {
            Some(t) if t.len() as i64 != cells => {
                return Err(ModelError::Invalid(format!(
                    "floor target of frame {i} has {} cells, the head {cells}",
                    t.len()
                )))
            }
            Some(t) => {
                q.extend_from_slice(t);
                has.push(1f32);
            }
            None => {
                q.extend(std::iter::repeat_n(0f32, cells as usize));
                has.push(0f32);
            }
        }
    }
    let device = logits.device();
    let q = Tensor::from_slice(&q)
        .view([targets.len() as i64, cells])
        .to_device(device);
    Ok(masked_floor_loss(
        logits,
        &q,
        &Tensor::from_slice(&has).to_device(device),
    ))
}

/// [`floor_loss`] on dense targets: `q [B, cells]` the frames' target distributions, `has [B]`
/// 1 for the frames with people (the others' rows are ignored); the mean cross-entropy over
/// those frames, 0 when there are none.
pub fn masked_floor_loss(logits: &Tensor, q: &Tensor, has: &Tensor) -> Tensor {
    let logp = logits.flatten(1, -1).log_softmax(-1, Kind::Float);
    let per_frame = -(q * logp).sum_dim_intlist(1, false, Kind::Float);
    (per_frame * has).sum(Kind::Float) / has.sum(Kind::Float).clamp_min(1.0)
}

/// The `n` best local maxima of one frame's `logits [ny, nx]` as floor points (metres), best
/// first, each the probability-weighted centre of its 3x3 cells. When the map has fewer maxima
/// than `n`, its best other cells follow (fewer than `n` only on a grid of fewer cells): the
/// caller has decided how many people there are.
pub fn decode_floor(logits: &Tensor, n: usize, cell_m: f64) -> Result<Vec<[f32; 2]>> {
    let s = logits.size();
    if s.len() != 2 {
        return Err(ModelError::InputShape {
            stage: "floor decode".into(),
            expected: "[ny, nx]".into(),
            found: s,
        });
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    let (ny, nx) = (s[0] as usize, s[1] as usize);
    let p = logits
        .to_kind(Kind::Float)
        .flatten(0, -1)
        .softmax(-1, Kind::Float);
    let p = Vec::<f32>::try_from(&p).map_err(|e| ModelError::Invalid(format!("floor: {e}")))?;
    let at = |x: usize, y: usize| p[y * nx + x];
    let neighbours = |x: usize, y: usize| {
        let xs = x.saturating_sub(1)..=(x + 1).min(nx - 1);
        xs.flat_map(move |i| (y.saturating_sub(1)..=(y + 1).min(ny - 1)).map(move |j| (i, j)))
    };
    let mut peaks: Vec<(f32, usize, usize)> = (0..ny)
        .flat_map(|y| (0..nx).map(move |x| (x, y)))
        .filter(|&(x, y)| neighbours(x, y).all(|(i, j)| at(i, j) <= at(x, y)))
        .map(|(x, y)| (at(x, y), x, y))
        .collect();
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
    if peaks.len() < n {
        let mut rest: Vec<(f32, usize, usize)> = (0..ny)
            .flat_map(|y| (0..nx).map(move |x| (x, y)))
            .filter(|&(x, y)| !peaks.iter().any(|&(_, px, py)| (px, py) == (x, y)))
            .map(|(x, y)| (at(x, y), x, y))
            .collect();
        rest.sort_by(|a, b| b.0.total_cmp(&a.0));
        peaks.extend(rest.into_iter().take(n - peaks.len()));
    }
    let cell = cell_m as f32;
    Ok(peaks
        .into_iter()
        .take(n)
        .map(|(_, x, y)| {
            let (mut w, mut sx, mut sy) = (0f32, 0f32, 0f32);
            for (i, j) in neighbours(x, y) {
                let v = at(i, j);
                w += v;
                sx += v * (i as f32 + 0.5);
                sy += v * (j as f32 + 0.5);
            }
            [sx / w * cell, sy / w * cell]
        })
        .collect())
}

/// The body drawn for a person placed by where they stand (`person.place` in a preset): the
/// box of an upright person of this height and width, standing at the floor point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyBox {
    /// Height of the box above the floor, metres (the simulator's people are 1.50-1.95 m).
    pub height_m: f64,
    /// Width of the box, metres (shoulders and arms).
    pub width_m: f64,
}

/// The image box `[x1, y1, x2, y2]` of `body` standing at floor point `xy` (metres, room
/// frame, z up from the floor) as `project` (room point -> pixel, `None` behind the camera)
/// sees it: from the projections of the feet and of the top of the body, as wide as the body
/// is at that depth. `None` when either point is behind the camera.
pub fn box_from_floor(
    xy: [f32; 2],
    body: &BodyBox,
    project: impl Fn([f64; 3]) -> Option<[f64; 2]>,
) -> Option<[f32; 4]> {
    let (x, y) = (f64::from(xy[0]), f64::from(xy[1]));
    let feet = project([x, y, 0.0])?;
    let top = project([x, y, body.height_m])?;
    let tall = (feet[1] - top[1]).hypot(feet[0] - top[0]);
    if !(tall.is_finite() && tall > 0.0) {
        return None;
    }
    let half = tall * body.width_m / body.height_m / 2.0;
    let cx = (feet[0] + top[0]) / 2.0;
    Some([
        (cx - half) as f32,
        top[1].min(feet[1]) as f32,
        (cx + half) as f32,
        top[1].max(feet[1]) as f32,
    ])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tch::Device;

    fn grid() -> FloorConfig {
        FloorConfig {
            cell_m: 0.5,
            cells: [8, 6],
            hidden: 4,
            sigma_m: 0.25,
            radio_map_weight: 0.0,
            radio_map_floor: 1e-3,
        }
    }

    /// Two people give a two-mode target; decoding its logarithm finds both, within a
    /// fraction of a cell, best first, and no third where there is none.
    #[test]
    fn a_target_decodes_to_its_people() {
        let cfg = grid();
        let people = [[1.1f32, 2.3], [3.2, 0.8]];
        let q = cfg.target(&people).unwrap();
        assert!((q.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        let logits = Tensor::from_slice(&q).view([6, 8]).clamp_min(1e-12).log();
        let found = decode_floor(&logits, 2, cfg.cell_m).unwrap();
        assert_eq!(found.len(), 2);
        for p in people {
            let best = found
                .iter()
                .map(|f| (f[0] - p[0]).hypot(f[1] - p[1]))
                .fold(f32::INFINITY, f32::min);
            assert!(best < 0.15, "{p:?} not in {found:?}");
        }
        assert!(cfg.target(&[]).is_none());
        // Asked for more people than the map has maxima: as many points, the best first.
        let more = decode_floor(&logits, 5, cfg.cell_m).unwrap();
        assert_eq!(more.len(), 5);
        assert_eq!(&more[..2], &found[..]);
        assert_eq!(decode_floor(&logits, 0, 0.5).unwrap().len(), 0);
    }

    /// Trained on one frame, the head's loss falls to the target's entropy and its peak goes
    /// where the person is; frames without people do not count.
    #[test]
    fn the_head_learns_where_a_person_stands() {
        tch::manual_seed(0);
        let cfg = grid();
        let vs = nn::VarStore::new(Device::Cpu);
        let head = FloorHead::new(vs.root(), &cfg, 16).unwrap();
        let x = Tensor::randn([2, 16], (Kind::Float, Device::Cpu));
        let targets = vec![cfg.target(&[[2.6, 1.4]]), None];
        let mut opt = nn::OptimizerConfig::build(nn::Adam::default(), &vs, 1e-2).unwrap();
        let first = floor_loss(&head.logits(&x), &targets)
            .unwrap()
            .double_value(&[]);
        for _ in 0..300 {
            let loss = floor_loss(&head.logits(&x), &targets).unwrap();
            opt.backward_step(&loss);
        }
        let last = floor_loss(&head.logits(&x), &targets)
            .unwrap()
            .double_value(&[]);
        assert!(last < first * 0.6, "{first} -> {last}");
        let p = decode_floor(&head.logits(&x).get(0), 1, cfg.cell_m).unwrap()[0];
        assert!((p[0] - 2.6).hypot(p[1] - 1.4) < 0.3, "{p:?}");
        let none = floor_loss(&head.logits(&x), &[None, None]).unwrap();
        assert_eq!(none.double_value(&[]), 0.0);
        assert!(floor_loss(&head.logits(&x), &[None]).is_err());
    }

    /// The radio image multiplies in: its peak wins with a large weight, its floor caps what a
    /// ruled-out cell costs, a frame without an image keeps its logits, a wrong size is named.
    #[test]
    fn the_radio_image_is_weighed_in_with_a_floor() {
        let logits =
            Tensor::from_slice(&[0.0f32, 1.0, 2.0, 3.0, 0.0, 0.0, 4.0, 0.0]).view([2, 2, 2]);
        let map = [1.0f32, 0.0, 0.5, 0.0];
        let fused = fuse_radio_map(&logits, &[Some(&map), None], 2.0, 0.01).unwrap();
        let v = Vec::<f32>::try_from(fused.flatten(0, -1)).unwrap();
        let ln = |x: f32| x.ln();
        let want = [
            0.0,
            1.0 + 2.0 * ln(0.01),
            2.0 + 2.0 * ln(0.5),
            3.0 + 2.0 * ln(0.01),
        ];
        for (a, b) in v[..4].iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{v:?}");
        }
        assert_eq!(&v[4..], &[0.0, 0.0, 4.0, 0.0], "no image: the logits");
        let e = fuse_radio_map(&logits, &[Some(&map[..3]), None], 2.0, 0.01).unwrap_err();
        assert!(e.to_string().contains("frame 0"), "{e}");
    }

    /// A person 2 m in front of a level camera at 1 m height: feet below the centre, top
    /// above it, the box as wide as the body's share of its height; behind the camera, none.
    #[test]
    fn a_box_is_where_the_body_stands() {
        // Camera at (0, 0, 1) looking along +y, focal 100 px, centre (50, 50).
        let project = |p: [f64; 3]| {
            (p[1] > 0.0).then(|| {
                [
                    50.0 + 100.0 * p[0] / p[1],
                    50.0 - 100.0 * (p[2] - 1.0) / p[1],
                ]
            })
        };
        let body = BodyBox {
            height_m: 1.8,
            width_m: 0.6,
        };
        let b = box_from_floor([0.0, 2.0], &body, project).unwrap();
        assert_eq!(b, [35.0, 10.0, 65.0, 100.0]);
        let moved = box_from_floor([1.0, 2.0], &body, project).unwrap();
        assert!((moved[0] - b[0] - 50.0).abs() < 1e-4, "{moved:?}");
        assert_eq!(box_from_floor([0.0, -2.0], &body, project), None);
    }
}
