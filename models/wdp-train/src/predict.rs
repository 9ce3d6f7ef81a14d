//! Running a model over samples and mapping its poses back to camera pixels.

use crate::data::Sample;
use crate::sequence::same_recording;
use crate::targets::sample_windows;
use eyre::Result;
use tch::{Device, Kind, Tensor};
use wdp_models::floor::box_from_floor;
use wdp_models::model::FloorPlacer;
use wdp_models::WifiDensePose;

/// One detected person in camera pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// `(x, y, score)` per COCO-17 keypoint.
    pub keypoints: [[f32; 3]; 17],
    /// `x1, y1, x2, y2`.
    pub bbox: [f32; 4],
    /// Person score.
    pub score: f32,
    /// `[r, r]` part index over the box (0 background, 1-24).
    pub parts: Vec<u8>,
    /// `[2, r, r]` UV over the box.
    pub uv: Vec<f32>,
    /// `r`.
    pub grid: usize,
    /// Floor position `(x, y)` metres in the room frame from the model's floor head, when it
    /// has one: the k-th best of its peaks for the k-th best detection.
    pub floor_m: Option<[f32; 2]>,
}

/// Inference on `samples` in batches; detections per sample, in camera pixels.
pub fn predict(
    model: &WifiDensePose,
    samples: &[&Sample],
    batch_size: usize,
    device: Device,
) -> Result<Vec<Vec<Detection>>> {
    predict_with_progress(model, samples, batch_size, device, None, |_| {})
}

/// [`predict`] with the temporal module between encoder and translation, as the `temporal`
/// node runs it: each frame's features refined over the last `sequence` frames of its
/// recording (fewer at a recording's start; samples in recording order).
pub fn predict_sequence(
    model: &WifiDensePose,
    samples: &[&Sample],
    batch_size: usize,
    device: Device,
    sequence: usize,
) -> Result<Vec<Vec<Detection>>> {
    predict_with_progress(
        model,
        samples,
        batch_size,
        device,
        Some(sequence.max(1)),
        |_| {},
    )
}

/// [`predict`], or with `sequence` [`predict_sequence`] over that many frames, calling
/// `on_batch` with the number of samples of each batch once it is done: a progress bar's hook.
pub fn predict_with_progress(
    model: &WifiDensePose,
    samples: &[&Sample],
    batch_size: usize,
    device: Device,
    sequence: Option<usize>,
    mut on_batch: impl FnMut(usize),
) -> Result<Vec<Vec<Detection>>> {
    let sequence = sequence.map(|t| t.max(1));
    let p = model.preset();
    let (tw, th) = (p.upsampler.out_width as f32, p.upsampler.out_height as f32);
    let mut all = Vec::with_capacity(samples.len());
    // Encoder features of the frames before the current chunk (same recording), newest last.
    let mut history: std::collections::VecDeque<Tensor> = Default::default();
    let mut previous: Option<&Sample> = None;
    for chunk in samples.chunks(batch_size.max(1)) {
        let x = sample_windows(chunk, device)?;
        let poses = tch::no_grad(|| -> Result<_> {
            let features = model.encoder.encode_t(&x, false)?.features;
            let features = match sequence {
                None => features,
                Some(t) => {
                    let mut refined = Vec::with_capacity(chunk.len());
                    for (i, s) in chunk.iter().enumerate() {
                        if previous.is_some_and(|p| !same_recording(p, s)) {
                            history.clear();
                        }
                        previous = Some(s);
                        history.push_back(features.get(i as i64));
                        if history.len() > t {
                            history.pop_front();
                        }
                        let seq = Tensor::stack(history.make_contiguous(), 0).unsqueeze(0);
                        let out = model.temporal_t(&seq, false)?;
                        refined.push(out.get(0).get(seq.size()[1] - 1));
                    }
                    Tensor::stack(&refined, 0)
                }
            };
            let mut up = model.upsampler.forward_located_checked(&features, false)?;
            // The radio's floor image, where the preset weighs it and the frames have one.
            let maps: Vec<Option<&[f32]>> = chunk.iter().map(|s| s.radio_map.as_deref()).collect();
            up.weigh_radio_map(p.upsampler.floor.as_ref(), &maps)?;
            // Location first, where the preset says and the frame's camera is known: each
            // frame's camera scaled to the model's picture once.
            let cameras: Vec<_> = chunk
                .iter()
                .map(|s| {
                    s.camera
                        .as_ref()
                        .map(|c| c.scaled(tw as usize, th as usize))
                })
                .collect();
            let place = p.person.place.map(|body| {
                move |b: i64, xy: [f32; 2]| {
                    let cam = cameras.get(b as usize)?.as_ref()?;
                    box_from_floor(xy, &body, |q| cam.pixel(q))
                }
            });
            let place = place.as_ref().map(|p| p as &FloorPlacer);
            Ok(model.stage.infer_placed(&up.spatial, up.located(), place)?)
        })?;
        for (s, pose) in chunk.iter().zip(poses) {
            let sx = s.image_wh[0] as f32 / tw;
            let sy = s.image_wh[1] as f32 / th;
            let kp = Vec::<f32>::try_from(pose.keypoints.to_kind(Kind::Float).flatten(0, -1))?;
            let bx = Vec::<f32>::try_from(pose.boxes.to_kind(Kind::Float).flatten(0, -1))?;
            let parts = Vec::<u8>::try_from(pose.part_index.to_kind(Kind::Uint8).flatten(0, -1))?;
            let uv = Vec::<f32>::try_from(pose.uv.to_kind(Kind::Float).flatten(0, -1))?;
            let floor = match &pose.floor_m {
                Some(f) => Vec::<f32>::try_from(f.to_kind(Kind::Float).flatten(0, -1))?,
                None => Vec::new(),
            };
            let n = bx.len() / 5;
            let grid = parts
                .len()
                .checked_div(n)
                .map_or(0, |per| (per as f64).sqrt() as usize);
            let dets = (0..n)
                .map(|i| Detection {
                    keypoints: std::array::from_fn(|k| {
                        let o = (i * 17 + k) * 3;
                        [kp[o] * sx, kp[o + 1] * sy, kp[o + 2]]
                    }),
                    bbox: [
                        bx[i * 5] * sx,
                        bx[i * 5 + 1] * sy,
                        bx[i * 5 + 2] * sx,
                        bx[i * 5 + 3] * sy,
                    ],
                    score: bx[i * 5 + 4],
                    parts: parts[i * grid * grid..(i + 1) * grid * grid].to_vec(),
                    uv: uv[i * 2 * grid * grid..(i + 1) * 2 * grid * grid].to_vec(),
                    grid,
                    floor_m: floor.get(2 * i..2 * i + 2).map(|xy| [xy[0], xy[1]]),
                })
                .collect();
            all.push(dets);
        }
        on_batch(chunk.len());
    }
    Ok(all)
}
