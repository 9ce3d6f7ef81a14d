//! The whole `WifiDensePose` network and its DensePose stage.
//!
//! `window [B, 2, A, S, T]` -> [`CsiEncoder`] -> `features [B, F]` ->
//! [`SpatialUpsampler`] -> `spatial [B, 3, H, W]` -> [`DensePoseStage`]:
//! [`Backbone`] (ResNet-FPN or GFL) -> stride-4 map -> [`PersonHead`] (centres,
//! sizes, offsets) -> per-person ROIAlign -> [`DensePoseHead`].
//!
//! Variable prefixes: `encoder.`, `upsampler.`, `backbone.`, `head.person.`,
//! `head.densepose.`, `temporal.` (see [`crate::checkpoint`]).

use tch::{nn, Kind, Tensor};

use crate::backbone::Backbone;
use crate::decode::{
    decode_centers, decode_keypoints, decode_parts, CenterDecode, CenterTargets, PoseOutput,
};
use crate::encoder::CsiEncoder;
use crate::error::{ModelError, Result};
use crate::head::{CountSource, DensePoseHead, DensePoseMaps, PersonHead, PersonMaps};
use crate::losses::{self, LossWeights};
use crate::preset::{InputDims, Preset};
use crate::roi::roi_align;
use crate::temporal::TemporalModule;
use crate::upsampler::SpatialUpsampler;

/// Training outputs of [`DensePoseStage::forward_t`].
#[derive(Debug)]
pub struct StageOutputs {
    /// Stride-4 backbone map `[B, C, H/4, W/4]`.
    pub backbone_features: Tensor,
    /// Centre heatmap logits, sizes, offsets.
    pub person: PersonMaps,
    /// ROIs the DensePose head ran on `[K, 5]` (batch index, x1, y1, x2, y2).
    pub rois: Tensor,
    /// Mask logits, UV, keypoint heatmaps per ROI.
    pub densepose: DensePoseMaps,
}

/// Backbone + person head + DensePose head: `spatial [B, 3, H, W]` -> poses.
#[derive(Debug)]
pub struct DensePoseStage {
    backbone: Backbone,
    person: PersonHead,
    head: DensePoseHead,
    preset: Preset,
}

impl DensePoseStage {
    /// Builds the stage; `backbone_path` and `head_path` are the `backbone` and `head`
    /// prefixes (the roots of a stage VarStore, or sub-paths of the whole model's).
    pub fn new(backbone_path: nn::Path, head_path: nn::Path, preset: &Preset) -> Result<Self> {
        preset.validate()?;
        let hw = (preset.upsampler.out_height, preset.upsampler.out_width);
        let backbone = Backbone::new(backbone_path, &preset.backbone, 3, hw)?;
        let c = backbone.out_channels();
        Ok(Self {
            person: PersonHead::new(&head_path / "person", &preset.person, c),
            head: DensePoseHead::new(&head_path / "densepose", &preset.head, c),
            backbone,
            preset: preset.clone(),
        })
    }

    /// Stride of the person maps and ROI features.
    pub fn stride(&self) -> i64 {
        self.backbone.stride()
    }

    /// Channels of the backbone map (the visual tokens).
    pub fn out_channels(&self) -> i64 {
        self.backbone.out_channels()
    }

    /// Side of the per-person output maps.
    pub fn output_size(&self) -> i64 {
        self.preset.head.output_size()
    }

    fn check_spatial(&self, spatial: &Tensor) -> Result<()> {
        let s = spatial.size();
        let (h, w) = (
            self.preset.upsampler.out_height,
            self.preset.upsampler.out_width,
        );
        if s.len() != 4 || s[1] != 3 || s[2] != h || s[3] != w {
            return Err(ModelError::InputShape {
                stage: "densepose".into(),
                expected: format!("[B, 3, {h}, {w}]"),
                found: s,
            });
        }
        Ok(())
    }

    fn decode_cfg(&self) -> CenterDecode {
        CenterDecode {
            max_people: self.preset.person.max_people,
            score_threshold: self.preset.person.score_threshold,
            stride: self.stride(),
            image_hw: (
                self.preset.upsampler.out_height,
                self.preset.upsampler.out_width,
            ),
        }
    }

    /// Person boxes `[P, 5]` of image `b` decoded from the person maps.
    pub fn decode_boxes(&self, person: &PersonMaps, b: i64) -> Result<Tensor> {
        let count = person
            .count_logits
            .as_ref()
            .map(|c| c.get(b).softmax(-1, Kind::Float));
        decode_centers(
            &person.center_logits.get(b),
            &person.size.get(b),
            &person.offset.get(b),
            count.as_ref(),
            &self.decode_cfg(),
        )
    }

    /// The person maps alone (centres, sizes, offsets) of `spatial [B, 3, H, W]`: what
    /// class-aware domain alignment reads its pseudo-labels from.
    pub fn person_maps(&self, spatial: &Tensor, train: bool) -> Result<PersonMaps> {
        self.check_spatial(spatial)?;
        Ok(self
            .person
            .forward(&self.backbone.features_t(spatial, train)))
    }

    /// Training forward. `rois [K, 5]` (batch index, x1, y1, x2, y2) are the ground-truth
    /// person boxes for the DensePose head; without them the decoded centres are used.
    pub fn forward_t(
        &self,
        spatial: &Tensor,
        rois: Option<&Tensor>,
        train: bool,
    ) -> Result<StageOutputs> {
        self.forward_located_t(spatial, Located::default(), rois, train)
    }

    /// [`Self::forward_t`] with the upsampler's locator logits `[B, 1, H/4, W/4]`, combined
    /// with the backbone's as `person.centre` says, and its count logits `[B, C]`, which count
    /// the people when `person.count` is `head`.
    pub fn forward_located_t(
        &self,
        spatial: &Tensor,
        located: Located<'_>,
        rois: Option<&Tensor>,
        train: bool,
    ) -> Result<StageOutputs> {
        let (features, person) = self.person_t(spatial, located, train)?;
        let rois = match rois {
            Some(r) => r.shallow_clone(),
            None => {
                let boxes = (0..spatial.size()[0])
                    .map(|b| tch::no_grad(|| self.decode_boxes(&person, b)))
                    .collect::<Result<Vec<_>>>()?;
                rois_of(&boxes)
            }
        };
        self.densepose_t(features, person, rois)
    }

    /// The backbone's map and the person maps of `spatial`, with the upsampler's locator and
    /// count combined in as the preset says.
    fn person_t(
        &self,
        spatial: &Tensor,
        located: Located<'_>,
        train: bool,
    ) -> Result<(Tensor, PersonMaps)> {
        let Located { locator, count, .. } = located;
        self.check_spatial(spatial)?;
        let features = self.backbone.features_t(spatial, train);
        let mut person = self.person.forward(&features);
        if let Some(l) = locator {
            let (want, got) = (person.center_logits.size(), l.size());
            if want != got {
                return Err(ModelError::InputShape {
                    stage: "densepose locator".into(),
                    expected: format!("{want:?}"),
                    found: got,
                });
            }
        }
        person.center_logits = self
            .preset
            .person
            .centre
            .combine(&person.center_logits, locator);
        // Without count logits (a caller with none), the peaks count, as without a locator
        // the backbone's centres place.
        if let Some(c) = count.filter(|_| self.preset.person.count == CountSource::Head) {
            let classes = self.preset.upsampler.count_classes;
            if c.size() != [spatial.size()[0], classes] {
                return Err(ModelError::InputShape {
                    stage: "densepose count".into(),
                    expected: format!("[{}, {classes}]", spatial.size()[0]),
                    found: c.size(),
                });
            }
            person.count_logits = Some(c.shallow_clone());
        }
        Ok((features, person))
    }

    /// The DensePose head on `rois [K, 5]` of the backbone's map.
    fn densepose_t(
        &self,
        features: Tensor,
        person: PersonMaps,
        rois: Tensor,
    ) -> Result<StageOutputs> {
        let h = &self.preset.head;
        let pooled = roi_align(
            &features,
            &rois,
            1.0 / self.stride() as f64,
            h.roi_size,
            h.sampling_ratio,
        )?;
        let densepose = if rois.size()[0] == 0 {
            self.empty_maps(features.device())
        } else {
            self.head.forward(&pooled)
        };
        Ok(StageOutputs {
            backbone_features: features,
            person,
            rois,
            densepose,
        })
    }

    fn empty_maps(&self, device: tch::Device) -> DensePoseMaps {
        let h = &self.preset.head;
        let r = h.output_size();
        let opts = (Kind::Float, device);
        DensePoseMaps {
            mask_logits: Tensor::zeros([0, h.num_parts + 1, r, r], opts),
            uv: Tensor::zeros([0, h.num_parts, 2, r, r], opts),
            keypoint_heatmaps: Tensor::zeros([0, h.num_keypoints, r, r], opts),
        }
    }

    /// The floor points `[people, 2]` of image `b` from the floor logits, as many as it has
    /// people (the count decided once, for the picture and the floor); `None` without logits
    /// or a floor head in the preset.
    fn floor_points(&self, floor: Option<&Tensor>, b: i64, people: i64) -> Result<Option<Tensor>> {
        let (Some(logits), Some(grid)) = (floor, &self.preset.upsampler.floor) else {
            return Ok(None);
        };
        let (ny, nx) = grid.map_size();
        let s = logits.size();
        if s.len() != 3 || s[0] <= b || s[1..] != [ny, nx] {
            return Err(ModelError::InputShape {
                stage: "densepose floor".into(),
                expected: format!("[B, {ny}, {nx}]"),
                found: s,
            });
        }
        let xy = crate::floor::decode_floor(&logits.get(b), people as usize, grid.cell_m)?;
        let flat: Vec<f32> = xy.iter().flatten().copied().collect();
        Ok(Some(Tensor::from_slice(&flat).view([xy.len() as i64, 2])))
    }

    /// Inference: `spatial [B, 3, H, W]` -> one [`PoseOutput`] per image.
    pub fn infer(&self, spatial: &Tensor) -> Result<Vec<PoseOutput>> {
        self.infer_located(spatial, Located::default())
    }

    /// [`Self::infer`] with the upsampler's locator and count logits (see
    /// [`Self::forward_located_t`]).
    pub fn infer_located(&self, spatial: &Tensor, located: Located<'_>) -> Result<Vec<PoseOutput>> {
        self.infer_placed(spatial, located, None)
    }

    /// [`Self::infer_located`] with each person's box placed where the floor head says they
    /// stand (location first): `place(b, xy)` is the box `[x1, y1, x2, y2]`, in the stage's
    /// input pixels, of a person standing at floor point `xy` (metres) in image `b`'s room, or
    /// `None` where it cannot say (the decoded box is kept). Without a floor head, or with no
    /// `place`, the boxes are the decoded ones. The DensePose head then draws each person in
    /// its placed box; the scores and the count stay the person head's.
    pub fn infer_placed(
        &self,
        spatial: &Tensor,
        located: Located<'_>,
        place: Option<&FloorPlacer<'_>>,
    ) -> Result<Vec<PoseOutput>> {
        tch::no_grad(|| {
            let (features, person) = self.person_t(spatial, located, false)?;
            let mut boxes = Vec::new();
            let mut floors = Vec::new();
            for b in 0..spatial.size()[0] {
                let decoded = self.decode_boxes(&person, b)?;
                let floor_m = self.floor_points(located.floor, b, decoded.size()[0])?;
                let boxes_b = match (place, &floor_m) {
                    (Some(place), Some(xy)) => placed_boxes(&decoded, xy, |p| place(b, p))?,
                    _ => decoded,
                };
                boxes.push(boxes_b);
                floors.push(floor_m);
            }
            let out = self.densepose_t(features, person, rois_of(&boxes))?;
            let mut poses = Vec::new();
            let mut start = 0;
            for (boxes_b, floor_m) in boxes.into_iter().zip(floors) {
                let n = boxes_b.size()[0];
                let first = start;
                start += n;
                let pick = |t: &Tensor| t.narrow(0, first, n);
                let heat = pick(&out.densepose.keypoint_heatmaps);
                let (part_index, uv) =
                    decode_parts(&pick(&out.densepose.mask_logits), &pick(&out.densepose.uv))?;
                poses.push(PoseOutput {
                    keypoints: decode_keypoints(&heat, &boxes_b)?,
                    boxes: boxes_b,
                    part_index,
                    uv,
                    floor_m,
                });
            }
            Ok(poses)
        })
    }
}

/// Where a person standing at a floor point `(x, y)` metres of image `b`'s room appears: its
/// box `[x1, y1, x2, y2]` in the stage's input pixels, `None` when unknown (see
/// [`DensePoseStage::infer_placed`] and [`crate::floor::box_from_floor`]).
pub type FloorPlacer<'a> = dyn Fn(i64, [f32; 2]) -> Option<[f32; 4]> + 'a;

/// ROIs `[K, 5]` (image index, x1, y1, x2, y2) of per-image boxes `[P, 5]`, images in order.
fn rois_of(boxes: &[Tensor]) -> Tensor {
    let rows: Vec<Tensor> = boxes
        .iter()
        .enumerate()
        .map(|(b, boxes)| {
            let p = boxes.size()[0];
            let idx = Tensor::full([p, 1], b as f64, (Kind::Float, boxes.device()));
            Tensor::cat(&[idx, boxes.narrow(1, 0, 4).to_kind(Kind::Float)], 1)
        })
        .collect();
    if rows.is_empty() {
        Tensor::zeros([0, 5], (Kind::Float, tch::Device::Cpu))
    } else {
        Tensor::cat(&rows, 0)
    }
}

/// `decoded [P, 5]` with each box moved to where `place` puts the person at the matching row
/// of `floor [P, 2]`; its score kept, and the box kept where `place` says nothing.
fn placed_boxes(
    decoded: &Tensor,
    floor: &Tensor,
    place: impl Fn([f32; 2]) -> Option<[f32; 4]>,
) -> Result<Tensor> {
    let p = decoded.size()[0];
    let mut rows = Vec::<f32>::try_from(decoded.to_kind(Kind::Float).flatten(0, -1))?;
    let xy = Vec::<f32>::try_from(floor.to_kind(Kind::Float).flatten(0, -1))?;
    for (row, xy) in rows.chunks_mut(5).zip(xy.chunks(2)) {
        if let Some(b) = place([xy[0], xy[1]]) {
            row[..4].copy_from_slice(&b);
        }
    }
    Ok(Tensor::from_slice(&rows)
        .view([p, 5])
        .to_device(decoded.device()))
}

/// What the upsampler's location-first heads say about a batch, for the DensePose stage:
/// the locator's centre logits `[B, 1, H/4, W/4]` and the count head's logits `[B, C]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Located<'a> {
    /// Centre logits, combined with the backbone's as `person.centre` says.
    pub locator: Option<&'a Tensor>,
    /// Count logits, read when `person.count` is `head`.
    pub count: Option<&'a Tensor>,
    /// Floor-position logits `[B, ny, nx]`: each person is given the floor point of one of
    /// their best peaks (inference only).
    pub floor: Option<&'a Tensor>,
}

/// Everything a training step needs from one forward pass.
#[derive(Debug)]
pub struct TrainOutputs {
    /// Encoder features `[B, F]`.
    pub features: Tensor,
    /// Branch attention weights `[B, 2]`.
    pub branch_weights: Tensor,
    /// Translated image `[B, 3, H, W]`.
    pub spatial: Tensor,
    /// The upsampler's location-first person-centre logits `[B, 1, H/4, W/4]`, when it has one.
    pub locator_logits: Option<Tensor>,
    /// The upsampler's count logits `[B, C]`, when it has a count head.
    pub count_logits: Option<Tensor>,
    /// The upsampler's floor-position logits `[B, ny, nx]`, when it has a floor head.
    pub floor_logits: Option<Tensor>,
    /// Backbone map, person maps, ROIs and DensePose maps.
    pub stage: StageOutputs,
}

/// Ground truth for [`densepose_loss`].
#[derive(Debug)]
pub struct DensePoseTargets {
    /// Centre heatmap / size / offset targets (see [`crate::decode::center_targets`]).
    pub center: CenterTargets,
    /// Part index per ROI pixel `[K, r, r]` (0 background).
    pub part_index: Tensor,
    /// UV per ROI pixel `[K, 2, r, r]`.
    pub uv: Tensor,
    /// Keypoint heatmaps `[K, 17, r, r]`.
    pub keypoint_heatmaps: Tensor,
    /// Keypoint visibility `[K, 17]`, if known.
    pub keypoint_visible: Option<Tensor>,
}

/// The terms of [`densepose_loss`] and their weighted sum.
#[derive(Debug)]
pub struct LossBreakdown {
    /// Weighted sum.
    pub total: Tensor,
    /// Part mask cross-entropy.
    pub mask: Tensor,
    /// UV smooth-L1 (foreground).
    pub uv: Tensor,
    /// Keypoint heatmap MSE.
    pub keypoint: Tensor,
    /// Centre focal loss.
    pub center: Tensor,
    /// Size + offset L1.
    pub center_regression: Tensor,
}

/// Supervised DensePose loss of a [`StageOutputs`] (ROIs = the targets' boxes).
pub fn densepose_loss(
    out: &StageOutputs,
    t: &DensePoseTargets,
    w: &LossWeights,
) -> Result<LossBreakdown> {
    let mask = losses::part_mask_ce(&out.densepose.mask_logits, &t.part_index)?;
    let uv = losses::uv_smooth_l1(&out.densepose.uv, &t.uv, &t.part_index)?;
    let keypoint = losses::keypoint_heatmap_mse(
        &out.densepose.keypoint_heatmaps,
        &t.keypoint_heatmaps,
        t.keypoint_visible.as_ref(),
    )?;
    let center = losses::center_focal_loss(&out.person.center_logits, &t.center.heatmap)?;
    let center_regression =
        losses::center_regression_l1(&out.person.size, &t.center.size, &t.center.mask)?
            + losses::center_regression_l1(&out.person.offset, &t.center.offset, &t.center.mask)?;
    let total = &mask * w.mask
        + &uv * w.uv
        + &keypoint * w.keypoint
        + &center * w.center
        + &center_regression * w.center_regression;
    Ok(LossBreakdown {
        total,
        mask,
        uv,
        keypoint,
        center,
        center_regression,
    })
}

/// The whole WiFi-DensePose network.
#[derive(Debug)]
pub struct WifiDensePose {
    /// CSI encoder (`encoder.`).
    pub encoder: CsiEncoder,
    /// Modality translation (`upsampler.`).
    pub upsampler: SpatialUpsampler,
    /// Backbone and heads (`backbone.`, `head.`).
    pub stage: DensePoseStage,
    /// Temporal module over frame features (`temporal.`).
    pub temporal: TemporalModule,
    preset: Preset,
}

impl WifiDensePose {
    /// Builds the model on `p` (usually `vs.root()`) for `dims` inputs.
    pub fn new(p: &nn::Path, preset: &Preset, dims: InputDims) -> Result<Self> {
        preset.validate()?;
        let f = preset.encoder.feature_dim;
        Ok(Self {
            encoder: CsiEncoder::new(p / "encoder", &preset.encoder, dims)?,
            upsampler: SpatialUpsampler::new(p / "upsampler", &preset.upsampler, f)?,
            stage: DensePoseStage::new(p / "backbone", p / "head", preset)?,
            temporal: TemporalModule::new(p / "temporal", &preset.temporal, f)?,
            preset: preset.clone(),
        })
    }

    /// The preset the model was built from.
    pub fn preset(&self) -> &Preset {
        &self.preset
    }

    /// Training forward on `window [B, 2, A, S, T]`; `rois` as in [`DensePoseStage::forward_t`].
    pub fn forward_t(
        &self,
        window: &Tensor,
        rois: Option<&Tensor>,
        train: bool,
    ) -> Result<TrainOutputs> {
        let enc = self.encoder.encode_t(window, train)?;
        let up = self
            .upsampler
            .forward_located_checked(&enc.features, train)?;
        let stage = self
            .stage
            .forward_located_t(&up.spatial, up.located(), rois, train)?;
        Ok(TrainOutputs {
            features: enc.features,
            branch_weights: enc.branch_weights,
            spatial: up.spatial,
            locator_logits: up.locator,
            count_logits: up.count,
            floor_logits: up.floor,
            stage,
        })
    }

    /// The DensePose head alone on ROI features `[K, C, R, R]` (for profiling).
    pub fn stage_head_forward(&self, roi_features: &Tensor) -> DensePoseMaps {
        self.stage.head.forward(roi_features)
    }

    /// Temporal module over `features [B, T, F]`.
    pub fn temporal_t(&self, features: &Tensor, train: bool) -> Result<Tensor> {
        self.temporal.forward_checked(features, train)
    }

    /// Inference on `window [2, A, S, T]` (one frame) or `[B, 2, A, S, T]`: one
    /// [`PoseOutput`] per frame.
    pub fn infer(&self, window: &Tensor) -> Result<Vec<PoseOutput>> {
        self.infer_with_radio(window, &[], None)
    }

    /// [`Self::infer`] with each frame's radio floor image (values in `[0, 1]` on the floor
    /// head's grid, `None` or absent: none) weighed into its floor logits as the preset says
    /// (`upsampler.floor.radio_map_weight`), and each person's box placed by `place` (see
    /// [`DensePoseStage::infer_placed`]).
    pub fn infer_with_radio(
        &self,
        window: &Tensor,
        maps: &[Option<&[f32]>],
        place: Option<&FloorPlacer<'_>>,
    ) -> Result<Vec<PoseOutput>> {
        let window = if window.dim() == 4 {
            window.unsqueeze(0)
        } else {
            window.shallow_clone()
        };
        tch::no_grad(|| {
            let features = self.encoder.encode_t(&window, false)?.features;
            let mut up = self.upsampler.forward_located_checked(&features, false)?;
            if !maps.is_empty() {
                up.weigh_radio_map(self.preset.upsampler.floor.as_ref(), maps)?;
            }
            self.stage.infer_placed(&up.spatial, up.located(), place)
        })
    }
}

/// Number of trainable scalars in a VarStore (BatchNorm running statistics excluded).
pub fn count_parameters(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum()
}
