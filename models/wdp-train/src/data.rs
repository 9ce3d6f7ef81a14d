//! Datasets: `wdp simulate` or teacher-capture shards (schema: operators/wdp-sim/SCHEMA.md)
//! turned into model inputs and labels.
//!
//! The packets of consecutive rows are replayed, in order and once each, through the same
//! preprocessing pipeline the `csi-preprocess` node runs, so the model trains on exactly the
//! windows inference will see (filter states, running statistics and all). Each camera frame is
//! paired with the newest window that ends at or before it, as the live pipeline pairs them.

use arrow_array::{
    cast::AsArray,
    types::{Float32Type, Int64Type, UInt32Type, UInt64Type, UInt8Type},
    Array, RecordBatch,
};
use eyre::{eyre, Context, Result};
use ndarray::{s, Array3, Array4};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wdp_csi::dsp::{CsiValues, Output, Packet, Pipeline, PipelineConfig};

/// Part value of teacher recordings: a person pixel whose body part is unknown.
pub use wdp_eval::frame::PART_UNKNOWN;

/// One person's labels in camera-image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonLabel {
    /// COCO-17 `(x, y, v)`, `v` 2 visible, 1 hidden, 0 not labelled.
    pub keypoints: [[f32; 3]; 17],
    /// `x0, y0, x1, y1`; zeros when out of view.
    pub bbox: [f32; 4],
    /// Pelvis `x, y, z` in the room frame, metres, when the dataset has it (simulated ones).
    pub position_m: Option<[f32; 3]>,
}

/// One camera frame with its model input.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Room (scene) name: the domain for adaptation and the per-room breakdown.
    pub room: String,
    /// Frame time, ns.
    pub t_ns: i64,
    /// Frame index in its recording.
    pub seq: u64,
    /// Model input `[2, antenna pairs, subcarriers, time]`, row-major.
    pub window: Vec<f32>,
    /// Window shape.
    pub window_shape: [usize; 4],
    /// People in the frame.
    pub people: Vec<PersonLabel>,
    /// `[P, h, w]` part index over the whole image (0 background, 1-24, or [`PART_UNKNOWN`]).
    pub part_index: Array3<u8>,
    /// `[P, 2, h, w]` UV over the whole image, when the dataset has it.
    pub uv: Option<Array4<f32>>,
    /// Camera image size `[W, H]` the keypoints and boxes refer to.
    pub image_wh: [usize; 2],
    /// A teacher's features of this moment (a live teacher node's `teacher_features`): the
    /// target of feature distillation. Datasets on disk have none.
    pub teacher_features: Option<Vec<f32>>,
    /// The camera the keypoints were labelled in (intrinsics for `image_wh`), when known: the
    /// simulator's scene camera; `None` for teacher recordings.
    pub camera: Option<Arc<wdp_sim::camera::PinholeCamera>>,
    /// The radio's own floor image of this moment (`wdp_locate::Located::map`: the
    /// back-projection of the newest window's change, and of what it holds beyond the empty
    /// room, through the room's antenna geometry), `[ny * nx]` values in `[0, 1]` on the floor
    /// head's grid, when loaded with a locator and the window had something to image.
    pub radio_map: Option<Vec<f32>>,
}

/// What loading a dataset folder found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadReport {
    /// Rows read.
    pub rows: usize,
    /// Frames kept (paired with a window, after `every`).
    pub samples: usize,
    /// Frames without a window yet (start of the recording) or whose window was too old.
    pub unpaired: usize,
    /// Packets replayed through the pipeline.
    pub packets: u64,
}

/// How to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The preprocessing (the same as the inference dataflow's csi-preprocess).
    pub pipeline: PipelineConfig,
    /// Keep every n-th paired frame (neighbouring frames are nearly identical).
    pub every: usize,
    /// Longest allowed gap between a frame and the end of its window, ns.
    pub max_lag_ns: i64,
    /// Keep every n-th mask row and column (part index and UV). Full-resolution UV maps cost
    /// 0.6 MB per person and frame, more than the window; the targets they make are coarser
    /// than half the camera's resolution (the translated image, the 28x28 head cells).
    pub mask_stride: usize,
    /// Keep the labels only: no window values (the shape stays), no part or UV masks. What a
    /// baseline that ignores the radio needs, at a small part of the memory (100 sequences of
    /// every frame with masks and windows need more than 24 GB).
    pub labels_only: bool,
    /// Keep the part and UV masks. Off for what reads only the windows and the people's
    /// positions (`--heads-only`): the masks are most of a sample's memory (with 2 people at
    /// stride 2, about 350 KB against the window's 54 KB).
    pub masks: bool,
    /// Image each kept frame's newest window on the floor too ([`Sample::radio_map`]), from
    /// the dataset's scene geometry (a dataset without one is an error).
    pub locator: Option<wdp_locate::LocatorSettings>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        let mut pipeline = PipelineConfig::default();
        // One window per camera frame at 100 packets/s and 20 fps, as in dataflows/inference.yml.
        pipeline.window.hop = 5;
        Self {
            pipeline,
            every: 1,
            max_lag_ns: 100_000_000,
            mask_stride: 2,
            labels_only: false,
            masks: true,
            locator: None,
        }
    }
}

/// Loads several dataset folders (every `options.every`-th frame through `options.pipeline`)
/// into one list, logging what each held.
pub fn load_datasets(dirs: &[PathBuf], options: &LoadOptions) -> Result<Vec<Sample>> {
    let mut all = Vec::new();
    for dir in dirs {
        let (samples, report) =
            load_dataset(dir, options).wrap_err_with(|| format!("dataset {}", dir.display()))?;
        let line = format!(
            "{}: {} rows, {} frames kept, {} unpaired, {} packets",
            dir.display(),
            report.rows,
            report.samples,
            report.unpaired,
            report.packets
        );
        tracing::info!("{line}");
        eprintln!("{line}");
        all.extend(samples);
    }
    Ok(all)
}

impl LoadOptions {
    /// Default pairing, the given preprocessing and frame stride.
    pub fn with(pipeline: PipelineConfig, every: usize) -> Self {
        Self {
            pipeline,
            every,
            ..Self::default()
        }
    }
}

/// The locator a model with `preset` reads the radio's floor image from: on its floor head's
/// grid, when the preset weighs that image (`upsampler.floor.radio_map_weight` above 0).
pub fn locator_for(preset: &wdp_models::Preset) -> Option<wdp_locate::LocatorSettings> {
    let floor = preset.upsampler.floor.as_ref()?;
    (floor.radio_map_weight > 0.0).then(|| {
        let mut settings = wdp_locate::LocatorSettings::default();
        settings.grid.cell_m = floor.cell_m;
        settings.grid.cells = floor.cells.map(|c| c as usize);
        settings
    })
}

/// Loads every shard of a dataset folder (`dataset.json` lists them in order).
pub fn load_dataset(dir: &Path, options: &LoadOptions) -> Result<(Vec<Sample>, LoadReport)> {
    let info_path = dir.join("dataset.json");
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&info_path)
            .wrap_err_with(|| format!("reading {}", info_path.display()))?,
    )
    .wrap_err_with(|| format!("parsing {}", info_path.display()))?;
    let shards: Vec<PathBuf> = info["shards"]
        .as_array()
        .ok_or_else(|| eyre!("{}: no `shards` list", info_path.display()))?
        .iter()
        .filter_map(|s| s.as_str().map(|s| dir.join(s)))
        .collect();
    let scene = scene_of(&info, &info_path);
    let mut pipeline = Pipeline::new(options.pipeline.clone()).wrap_err("pipeline config")?;
    let mut state = Replay::default();
    if let Some(settings) = &options.locator {
        let scene = scene.as_ref().ok_or_else(|| {
            eyre!(
                "{}: no scene, so no antenna geometry for the locator",
                info_path.display()
            )
        })?;
        let subcarriers: Vec<i32> = serde_json::from_value(info["subcarriers"].clone())
            .wrap_err_with(|| format!("{}: `subcarriers`", info_path.display()))?;
        let geometry = wdp_locate::RadioGeometry::from_scene(scene);
        let mut locator = wdp_locate::Locator::new(&geometry, &subcarriers, settings)
            .wrap_err_with(|| format!("{}: locator", info_path.display()))?;
        if let Some(bg) = wdp_locate::simulated_background(scene, settings)
            .wrap_err_with(|| format!("{}: the empty room's background", info_path.display()))?
        {
            locator.set_background(bg)?;
        }
        state.locator = Some(locator);
    }
    let mut samples = Vec::new();
    let mut report = LoadReport::default();
    for shard in &shards {
        let file =
            std::fs::File::open(shard).wrap_err_with(|| format!("opening {}", shard.display()))?;
        let reader = arrow_ipc::reader::FileReader::try_new(file, None)
            .wrap_err_with(|| format!("reading {}", shard.display()))?;
        let meta = reader.schema().metadata().clone();
        let mut layout = ShardLayout::from_metadata(&meta)
            .wrap_err_with(|| format!("schema metadata of {}", shard.display()))?;
        layout.camera = scene.as_ref().map(|scene| {
            let config = wdp_sim::camera::PinholeCamera::scene_config(scene);
            let [w, h] = layout.image_wh;
            Arc::new(wdp_sim::camera::PinholeCamera::from_config(&config).scaled(w, h))
        });
        for batch in reader {
            let batch = batch.wrap_err_with(|| format!("reading {}", shard.display()))?;
            read_batch(
                &batch,
                &layout,
                &mut pipeline,
                &mut state,
                options,
                &mut samples,
                &mut report,
            )
            .wrap_err_with(|| format!("{}", shard.display()))?;
        }
    }
    report.samples = samples.len();
    Ok((samples, report))
}

/// The simulator scene of a dataset (`dataset.json`'s `scene`); `None` for teacher recordings
/// (`null`) and, with a warning, for a scene this version cannot read.
fn scene_of(info: &serde_json::Value, path: &Path) -> Option<wdp_sim::Scene> {
    let scene = info.get("scene").filter(|s| !s.is_null())?;
    match serde_json::from_value(scene.clone()) {
        Ok(s) => Some(s),
        Err(e) => {
            let line = format!("{}: unreadable `scene` ({e}): no camera", path.display());
            tracing::warn!("{line}");
            eprintln!("{line}");
            None
        }
    }
}

struct ShardLayout {
    csi_shape: [usize; 5],
    subcarriers: Vec<i32>,
    image_wh: [usize; 2],
    camera: Option<Arc<wdp_sim::camera::PinholeCamera>>,
}

impl ShardLayout {
    fn from_metadata(meta: &HashMap<String, String>) -> Result<Self> {
        let get = |k: &str| {
            meta.get(k)
                .ok_or_else(|| eyre!("missing `{k}` in the schema metadata"))
        };
        let csi: Vec<usize> =
            serde_json::from_str(get("wdp.csi_shape")?).wrap_err("wdp.csi_shape")?;
        let csi_shape: [usize; 5] = csi
            .try_into()
            .map_err(|v| eyre!("wdp.csi_shape {v:?}: expected 5 numbers"))?;
        let subcarriers: Vec<i32> =
            serde_json::from_str(get("wdp.subcarriers")?).wrap_err("wdp.subcarriers")?;
        let wh: Vec<usize> = serde_json::from_str(get("wdp.image_wh")?).wrap_err("wdp.image_wh")?;
        let image_wh: [usize; 2] = wh
            .try_into()
            .map_err(|v| eyre!("wdp.image_wh {v:?}: expected [W, H]"))?;
        if csi_shape[3] != subcarriers.len() || csi_shape[4] != 2 {
            return Err(eyre!(
                "wdp.csi_shape {csi_shape:?} disagrees with {} subcarriers",
                subcarriers.len()
            ));
        }
        Ok(Self {
            csi_shape,
            subcarriers,
            image_wh,
            camera: None,
        })
    }
}

#[derive(Default)]
struct Replay {
    last_packet_ns: Option<i64>,
    latest: Option<(i64, Vec<f32>, [usize; 4])>,
    paired: usize,
    locator: Option<wdp_locate::Locator>,
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| eyre!("no column `{name}`"))
}

fn read_batch(
    batch: &RecordBatch,
    layout: &ShardLayout,
    pipeline: &mut Pipeline,
    state: &mut Replay,
    options: &LoadOptions,
    samples: &mut Vec<Sample>,
    report: &mut LoadReport,
) -> Result<()> {
    let seq = column(batch, "seq")?.as_primitive::<UInt64Type>();
    let t_ns = column(batch, "t_ns")?.as_primitive::<Int64Type>();
    let room = column(batch, "room")?.as_string::<i32>();
    let csi = column(batch, "csi")?.as_fixed_size_list();
    let csi_t = column(batch, "csi_t_ns")?.as_fixed_size_list();
    let n_people = column(batch, "n_people")?.as_primitive::<UInt32Type>();
    let keypoints = column(batch, "keypoints")?.as_list::<i32>();
    let boxes = column(batch, "boxes")?.as_list::<i32>();
    let mask_h = column(batch, "mask_height")?.as_primitive::<UInt32Type>();
    let mask_w = column(batch, "mask_width")?.as_primitive::<UInt32Type>();
    let parts = column(batch, "part_index")?.as_list::<i32>();
    let uv = column(batch, "uv")?.as_list::<i32>();
    // Newer simulated datasets only.
    let positions = batch
        .column_by_name("position_m")
        .map(|c| c.as_list::<i32>());
    let agc = batch
        .column_by_name("csi_agc_db")
        .map(|c| c.as_fixed_size_list());
    let [window, n_tx, n_rx, n_sub, _] = layout.csi_shape;
    let packet_len = n_tx * n_rx * n_sub * 2;
    for row in 0..batch.num_rows() {
        report.rows += 1;
        let values = csi.value(row);
        let values = values.as_primitive::<Float32Type>().values();
        let times = csi_t.value(row);
        let times = times.as_primitive::<Int64Type>().values();
        if values.len() != window * packet_len || times.len() != window {
            return Err(eyre!(
                "row {row}: csi has {} values for {} packets, expected {}",
                values.len(),
                times.len(),
                window * packet_len
            ));
        }
        let agc_row = agc
            .filter(|a| !a.is_null(row))
            .map(|a| a.value(row).as_primitive::<Float32Type>().values().to_vec());
        if agc_row.as_ref().is_some_and(|a| a.len() != window) {
            return Err(eyre!(
                "row {row}: csi_agc_db has {} values for {window} packets",
                agc_row.as_ref().map_or(0, Vec::len)
            ));
        }
        for (k, &t) in times.iter().enumerate() {
            // Rows overlap when a dataset stores more packets per row than per frame.
            if state.last_packet_ns.is_some_and(|last| t <= last) {
                continue;
            }
            state.last_packet_ns = Some(t);
            report.packets += 1;
            let packet = Packet {
                n_tx,
                n_rx,
                subcarriers: &layout.subcarriers,
                csi: CsiValues::Interleaved(&values[k * packet_len..(k + 1) * packet_len]),
                t_ns: t,
                // The pipeline's amplitude step undoes the gain when it is known.
                agc_db: agc_row.as_ref().map(|a| a[k]),
                rssi_dbm: None,
            };
            // A packet the pipeline refuses (NaN, zeros) is counted in its stats, as live.
            let _ = pipeline.push(&packet);
            // Imaged only for the frames kept, below.
            if let Some(locator) = state.locator.as_mut() {
                locator.feed(&packet);
            }
            while let Some(out) = pipeline.pop() {
                if let Output::Window(w) = out {
                    let s = w.data.shape();
                    let shape = [s[0], s[1], s[2], s[3]];
                    state.latest = Some((w.t_ns, w.data.iter().copied().collect(), shape));
                }
            }
        }
        let frame_t = t_ns.value(row);
        let Some((wt, win, shape)) = &state.latest else {
            report.unpaired += 1;
            continue;
        };
        if frame_t - wt > options.max_lag_ns || *wt > frame_t + options.max_lag_ns {
            report.unpaired += 1;
            continue;
        }
        state.paired += 1;
        if !(state.paired - 1).is_multiple_of(options.every.max(1)) {
            continue;
        }
        let radio_map = match state.locator.as_mut() {
            Some(locator) => locator
                .locate_newest()
                .wrap_err_with(|| format!("row {row}: locator"))?
                .and_then(|l| l.map.map(|m| m.values)),
            None => None,
        };
        let p = n_people.value(row) as usize;
        let kp = keypoints.value(row);
        let kp = kp.as_primitive::<Float32Type>().values();
        let bx = boxes.value(row);
        let bx = bx.as_primitive::<Float32Type>().values();
        if kp.len() != p * 51 || bx.len() != p * 4 {
            return Err(eyre!(
                "row {row}: {p} people but {} keypoint and {} box values",
                kp.len(),
                bx.len()
            ));
        }
        let pos = match positions.filter(|c| !c.is_null(row)) {
            Some(c) => {
                let v = c.value(row);
                let v = v.as_primitive::<Float32Type>().values().to_vec();
                if v.len() != p * 3 {
                    return Err(eyre!(
                        "row {row}: {p} people but {} position_m values",
                        v.len()
                    ));
                }
                Some(v)
            }
            None => None,
        };
        let people = (0..p)
            .map(|i| PersonLabel {
                keypoints: std::array::from_fn(|k| {
                    let o = (i * 17 + k) * 3;
                    [kp[o], kp[o + 1], kp[o + 2]]
                }),
                bbox: std::array::from_fn(|c| bx[i * 4 + c]),
                position_m: pos.as_ref().map(|v| std::array::from_fn(|c| v[i * 3 + c])),
            })
            .collect();
        if options.labels_only {
            samples.push(Sample {
                room: room.value(row).to_owned(),
                t_ns: frame_t,
                seq: seq.value(row),
                window: Vec::new(),
                window_shape: *shape,
                people,
                part_index: Array3::zeros((p, 0, 0)),
                uv: None,
                image_wh: layout.image_wh,
                teacher_features: None,
                camera: layout.camera.clone(),
                radio_map,
            });
            continue;
        }
        let (part_index, uv) = if options.masks {
            let (h, w) = (mask_h.value(row) as usize, mask_w.value(row) as usize);
            let pv = parts.value(row);
            let pv = pv.as_primitive::<UInt8Type>().values().to_vec();
            let stride = options.mask_stride.max(1);
            let part_index = Array3::from_shape_vec((p, h, w), pv)
                .map_err(|e| eyre!("row {row}: part_index: {e}"))?
                .slice_move(s![.., ..;stride, ..;stride])
                .as_standard_layout()
                .into_owned();
            let uv = if uv.is_null(row) {
                None
            } else {
                let u = uv.value(row);
                let u = u.as_primitive::<Float32Type>().values().to_vec();
                let u = Array4::from_shape_vec((p, 2, h, w), u)
                    .map_err(|e| eyre!("row {row}: uv: {e}"))?;
                Some(
                    u.slice_move(s![.., .., ..;stride, ..;stride])
                        .as_standard_layout()
                        .into_owned(),
                )
            };
            (part_index, uv)
        } else {
            (Array3::zeros((p, 0, 0)), None)
        };
        samples.push(Sample {
            room: room.value(row).to_owned(),
            t_ns: frame_t,
            seq: seq.value(row),
            window: win.clone(),
            window_shape: *shape,
            people,
            part_index,
            uv,
            image_wh: layout.image_wh,
            teacher_features: None,
            camera: layout.camera.clone(),
            radio_map,
        });
    }
    Ok(())
}
