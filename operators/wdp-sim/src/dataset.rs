//! Arrow IPC dataset writer: one row per camera frame with the CSI window that precedes it and
//! the frame's ground truth. The schema is documented in `SCHEMA.md` next to this crate.

use crate::error::SimError;
use crate::scene::Scene;
use crate::sim::{SimEvent, Simulator};
use crate::truth::GroundTruth;
use arrow_array::builder::{
    FixedSizeListBuilder, Float32Builder, Int64Builder, ListBuilder, StringBuilder, UInt32Builder,
    UInt64Builder, UInt8Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use arrow_ipc::CompressionType;
use arrow_schema::{DataType, Field, Schema};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wdp_csi::MetaValue;

/// Version of the row layout written by [`write_dataset`].
pub const SCHEMA_VERSION: u32 = 1;

/// Rows per Arrow record batch inside a shard.
const BATCH_ROWS: usize = 32;

/// What to write.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetOptions {
    /// Simulated seconds.
    pub duration_s: f64,
    /// CSI packets per row; `None` is packets per camera frame (packet rate / fps, at least 1).
    pub window: Option<usize>,
    /// Rows per shard file.
    pub shard_rows: usize,
    /// Store the RGB frame (needs `camera.rgb`).
    pub include_rgb: bool,
    /// Store UV maps.
    pub include_uv: bool,
    /// Compress record batches with LZ4 (frame format; pyarrow reads it transparently).
    pub compress: bool,
}

impl Default for DatasetOptions {
    fn default() -> Self {
        Self {
            duration_s: 60.0,
            window: None,
            shard_rows: 1000,
            include_rgb: true,
            include_uv: true,
            compress: true,
        }
    }
}

/// What [`write_dataset`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetSummary {
    /// Rows (camera frames with a full CSI window).
    pub rows: usize,
    /// Shard files, in order.
    pub shards: Vec<PathBuf>,
    /// CSI packets received.
    pub packets: usize,
    /// Shape of one row's CSI: `[window, n_tx, n_rx, n_sub, 2]`.
    pub csi_shape: [usize; 5],
    /// Part-mask `[height, width]`.
    pub mask_hw: [usize; 2],
    /// RGB `[height, width]` when stored.
    pub rgb_hw: Option<[usize; 2]>,
}

#[derive(Serialize)]
struct DatasetJson<'a> {
    schema_version: u32,
    room: &'a str,
    seed: u64,
    duration_s: f64,
    window: usize,
    rows: usize,
    packets: usize,
    shards: Vec<String>,
    csi_shape: [usize; 5],
    subcarriers: &'a [i32],
    mask_hw: [usize; 2],
    rgb_hw: Option<[usize; 2]>,
    people: usize,
    scene: &'a Scene,
}

/// A received packet waiting in the window.
struct Received {
    t_ns: i64,
    agc_db: f32,
    /// `[tx, rx, sub, re/im]` flattened.
    csi: Vec<f32>,
}

struct Builders {
    seq: UInt64Builder,
    t_ns: Int64Builder,
    room: StringBuilder,
    csi: FixedSizeListBuilder<Float32Builder>,
    csi_t_ns: FixedSizeListBuilder<Int64Builder>,
    n_people: UInt32Builder,
    track_id: ListBuilder<UInt32Builder>,
    keypoints: ListBuilder<Float32Builder>,
    boxes: ListBuilder<Float32Builder>,
    mask_height: UInt32Builder,
    mask_width: UInt32Builder,
    part_index: ListBuilder<UInt8Builder>,
    uv: ListBuilder<Float32Builder>,
    rgb_height: UInt32Builder,
    rgb_width: UInt32Builder,
    rgb: ListBuilder<UInt8Builder>,
    position_m: ListBuilder<Float32Builder>,
    csi_agc_db: FixedSizeListBuilder<Float32Builder>,
    rows: usize,
}

impl Builders {
    fn new(csi_len: usize, window: usize) -> Self {
        Builders {
            seq: UInt64Builder::new(),
            t_ns: Int64Builder::new(),
            room: StringBuilder::new(),
            csi: FixedSizeListBuilder::new(Float32Builder::new(), csi_len as i32),
            csi_t_ns: FixedSizeListBuilder::new(Int64Builder::new(), window as i32),
            n_people: UInt32Builder::new(),
            track_id: ListBuilder::new(UInt32Builder::new()),
            keypoints: ListBuilder::new(Float32Builder::new()),
            boxes: ListBuilder::new(Float32Builder::new()),
            mask_height: UInt32Builder::new(),
            mask_width: UInt32Builder::new(),
            part_index: ListBuilder::new(UInt8Builder::new()),
            uv: ListBuilder::new(Float32Builder::new()),
            rgb_height: UInt32Builder::new(),
            rgb_width: UInt32Builder::new(),
            rgb: ListBuilder::new(UInt8Builder::new()),
            position_m: ListBuilder::new(Float32Builder::new()),
            csi_agc_db: FixedSizeListBuilder::new(Float32Builder::new(), window as i32),
            rows: 0,
        }
    }

    fn finish(&mut self, schema: &Arc<Schema>) -> Result<RecordBatch, SimError> {
        self.rows = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.seq.finish()),
            Arc::new(self.t_ns.finish()),
            Arc::new(self.room.finish()),
            Arc::new(self.csi.finish()),
            Arc::new(self.csi_t_ns.finish()),
            Arc::new(self.n_people.finish()),
            Arc::new(self.track_id.finish()),
            Arc::new(self.keypoints.finish()),
            Arc::new(self.boxes.finish()),
            Arc::new(self.mask_height.finish()),
            Arc::new(self.mask_width.finish()),
            Arc::new(self.part_index.finish()),
            Arc::new(self.uv.finish()),
            Arc::new(self.rgb_height.finish()),
            Arc::new(self.rgb_width.finish()),
            Arc::new(self.rgb.finish()),
            Arc::new(self.position_m.finish()),
            Arc::new(self.csi_agc_db.finish()),
        ];
        Ok(RecordBatch::try_new(schema.clone(), cols)?)
    }
}

fn item(dt: DataType) -> Arc<Field> {
    Arc::new(Field::new("item", dt, true))
}

/// The Arrow schema of a dataset row (metadata filled by [`write_dataset`]).
pub fn dataset_schema(csi_len: usize, window: usize, metadata: HashMap<String, String>) -> Schema {
    let list = |name: &str, dt: DataType, nullable: bool| {
        Field::new(name, DataType::List(item(dt)), nullable)
    };
    Schema::new(vec![
        Field::new("seq", DataType::UInt64, false),
        Field::new("t_ns", DataType::Int64, false),
        Field::new("room", DataType::Utf8, false),
        Field::new(
            "csi",
            DataType::FixedSizeList(item(DataType::Float32), csi_len as i32),
            false,
        ),
        Field::new(
            "csi_t_ns",
            DataType::FixedSizeList(item(DataType::Int64), window as i32),
            false,
        ),
        Field::new("n_people", DataType::UInt32, false),
        list("track_id", DataType::UInt32, false),
        list("keypoints", DataType::Float32, false),
        list("boxes", DataType::Float32, false),
        Field::new("mask_height", DataType::UInt32, false),
        Field::new("mask_width", DataType::UInt32, false),
        list("part_index", DataType::UInt8, false),
        list("uv", DataType::Float32, true),
        Field::new("rgb_height", DataType::UInt32, false),
        Field::new("rgb_width", DataType::UInt32, false),
        list("rgb", DataType::UInt8, true),
        // appended after the first layout's columns: readers by name or by position keep working;
        // nullable because a camera teacher knows no position and some radios report no gain
        list("position_m", DataType::Float32, true),
        Field::new(
            "csi_agc_db",
            DataType::FixedSizeList(item(DataType::Float32), window as i32),
            true,
        ),
    ])
    .with_metadata(metadata)
}

/// Simulates `scene` for `options.duration_s` and writes `shard-00000.arrow`, ... and
/// `dataset.json` into `out_dir` (created if needed). One row per camera frame that has at least
/// `window` packets before it.
pub fn write_dataset(
    scene: &Scene,
    out_dir: &Path,
    options: &DatasetOptions,
) -> Result<DatasetSummary, SimError> {
    write_dataset_observed(scene, out_dir, options, |_| {})
}

/// [`write_dataset`], calling `on_frame` with each camera frame's time (ns on the simulator
/// clock, from 0 to `options.duration_s`) as it is simulated: a progress bar's hook.
pub fn write_dataset_observed(
    scene: &Scene,
    out_dir: &Path,
    options: &DatasetOptions,
    mut on_frame: impl FnMut(i64),
) -> Result<DatasetSummary, SimError> {
    if !(options.duration_s.is_finite() && options.duration_s > 0.0) {
        return Err(SimError::invalid("duration_s", "must be > 0"));
    }
    if options.shard_rows == 0 {
        return Err(SimError::invalid("shard_rows", "must be > 0"));
    }
    let mut scene = scene.clone();
    scene.duration_s = Some(options.duration_s);
    let mut sim = Simulator::new(scene)?;
    let scene = sim.scene().clone();
    let fps = sim.camera_config().fps;
    let window = options
        .window
        .unwrap_or(((scene.radio.packet_rate_hz / fps).round() as usize).max(1));
    if window == 0 {
        return Err(SimError::invalid("window", "must be > 0"));
    }
    let (n_tx, n_rx, n_sub) = sim.csi_dims();
    let packet_len = n_tx * n_rx * n_sub * 2;
    let csi_len = window * packet_len;
    let cam = sim.camera_config().clone();
    let [mw, mh] = cam.gt_resolution.unwrap_or(cam.resolution);
    let [iw, ih] = cam.resolution;
    let include_rgb = options.include_rgb && cam.rgb;
    let mut meta = HashMap::new();
    let mut put = |k: &str, v: String| {
        meta.insert(format!("wdp.{k}"), v);
    };
    put("schema_version", SCHEMA_VERSION.to_string());
    put(
        "csi_shape",
        format!("[{window}, {n_tx}, {n_rx}, {n_sub}, 2]"),
    );
    put("csi_axes", "packet, tx, rx, subcarrier, re/im".into());
    put("subcarriers", serde_json::to_string(sim.subcarriers())?);
    put("carrier_hz", scene.radio.carrier_hz.to_string());
    put("packet_rate_hz", scene.radio.packet_rate_hz.to_string());
    put("fps", fps.to_string());
    put("room", scene.name.clone());
    put("seed", scene.seed.to_string());
    put("image_wh", format!("[{iw}, {ih}]"));
    put("keypoints_shape", "[n_people, 17, 3]".into());
    put("boxes_shape", "[n_people, 4]".into());
    put("position_m_shape", "[n_people, 3]".into());
    put(
        "part_index_shape",
        "[n_people, mask_height, mask_width]".into(),
    );
    put("uv_shape", "[n_people, 2, mask_height, mask_width]".into());
    put("rgb_shape", "[rgb_height, rgb_width, 3]".into());
    put(
        "part_names",
        serde_json::to_string(&crate::body::PART_NAMES)?,
    );
    let schema = Arc::new(dataset_schema(csi_len, window, meta));
    std::fs::create_dir_all(out_dir)
        .map_err(|e| SimError::io(format!("creating {}", out_dir.display()), e))?;

    let mut b = Builders::new(csi_len, window);
    let mut recent: VecDeque<Received> = VecDeque::with_capacity(window + 1);
    let mut writer: Option<FileWriter<File>> = None;
    let mut shards = Vec::new();
    let (mut rows, mut rows_in_shard, mut packets) = (0usize, 0usize, 0usize);

    while let Some(ev) = sim.next_event() {
        match ev {
            SimEvent::Packet(f) => {
                packets += 1;
                let mut v = Vec::with_capacity(packet_len);
                for c in &f.csi {
                    v.push(c.re);
                    v.push(c.im);
                }
                // every simulated packet reports its AGC gain; 0 dB is no gain change
                let agc_db = match f.meta.get("agc_db") {
                    Some(MetaValue::Float(db)) => *db as f32,
                    _ => 0.0,
                };
                recent.push_back(Received {
                    t_ns: f.timestamp_ns,
                    agc_db,
                    csi: v,
                });
                if recent.len() > window {
                    recent.pop_front();
                }
            }
            SimEvent::Frame(gt) => {
                on_frame(gt.t_ns);
                if recent.len() < window {
                    continue;
                }
                if writer.is_none() {
                    let path = out_dir.join(format!("shard-{:05}.arrow", shards.len()));
                    let file = File::create(&path)
                        .map_err(|e| SimError::io(format!("creating {}", path.display()), e))?;
                    let compression = options.compress.then_some(CompressionType::LZ4_FRAME);
                    let opts = IpcWriteOptions::default().try_with_compression(compression)?;
                    writer = Some(FileWriter::try_new_with_options(file, &schema, opts)?);
                    shards.push(path);
                }
                append_row(
                    &mut b,
                    &scene.name,
                    &recent,
                    &gt,
                    options.include_uv,
                    include_rgb,
                );
                rows += 1;
                rows_in_shard += 1;
                let shard_full = rows_in_shard >= options.shard_rows;
                if b.rows >= BATCH_ROWS || shard_full {
                    if let Some(w) = writer.as_mut() {
                        w.write(&b.finish(&schema)?)?;
                    }
                }
                if shard_full {
                    if let Some(mut w) = writer.take() {
                        w.finish()?;
                    }
                    rows_in_shard = 0;
                }
            }
        }
    }
    if let Some(mut w) = writer.take() {
        if b.rows > 0 {
            w.write(&b.finish(&schema)?)?;
        }
        w.finish()?;
    }
    let summary = DatasetSummary {
        rows,
        shards: shards.clone(),
        packets,
        csi_shape: [window, n_tx, n_rx, n_sub, 2],
        mask_hw: [mh, mw],
        rgb_hw: include_rgb.then_some([ih, iw]),
    };
    let json = DatasetJson {
        schema_version: SCHEMA_VERSION,
        room: &scene.name,
        seed: scene.seed,
        duration_s: options.duration_s,
        window,
        rows,
        packets,
        shards: shards
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect(),
        csi_shape: summary.csi_shape,
        subcarriers: sim.subcarriers(),
        mask_hw: summary.mask_hw,
        rgb_hw: summary.rgb_hw,
        people: scene.people.len(),
        scene: &scene,
    };
    let path = out_dir.join("dataset.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)
        .map_err(|e| SimError::io(format!("writing {}", path.display()), e))?;
    Ok(summary)
}

fn append_row(
    b: &mut Builders,
    room: &str,
    recent: &VecDeque<Received>,
    gt: &GroundTruth,
    include_uv: bool,
    include_rgb: bool,
) {
    b.rows += 1;
    b.seq.append_value(gt.frame_index);
    b.t_ns.append_value(gt.t_ns);
    b.room.append_value(room);
    for p in recent {
        b.csi.values().append_slice(&p.csi);
        b.csi_t_ns.values().append_value(p.t_ns);
        b.csi_agc_db.values().append_value(p.agc_db);
    }
    b.csi.append(true);
    b.csi_t_ns.append(true);
    b.csi_agc_db.append(true);
    b.n_people.append_value(gt.people.len() as u32);
    for p in &gt.people {
        b.track_id.values().append_value(p.track_id);
        for k in &p.keypoints {
            b.keypoints.values().append_slice(k);
        }
        b.boxes.values().append_slice(&p.box_xyxy);
        b.position_m.values().append_slice(&p.position_m);
    }
    b.position_m.append(true);
    b.track_id.append(true);
    b.keypoints.append(true);
    b.boxes.append(true);
    let (_, mh, mw) = gt.part_index.dim();
    b.mask_height.append_value(mh as u32);
    b.mask_width.append_value(mw as u32);
    b.part_index
        .values()
        .extend(gt.part_index.iter().map(|v| Some(*v)));
    b.part_index.append(true);
    if include_uv {
        b.uv.values().extend(gt.uv.iter().map(|v| Some(*v)));
        b.uv.append(true);
    } else {
        b.uv.append_null();
    }
    match (&gt.rgb, include_rgb) {
        (Some(rgb), true) => {
            let (h, w, _) = rgb.dim();
            b.rgb_height.append_value(h as u32);
            b.rgb_width.append_value(w as u32);
            b.rgb.values().extend(rgb.iter().map(|v| Some(*v)));
            b.rgb.append(true);
        }
        _ => {
            b.rgb_height.append_value(0);
            b.rgb_width.append_value(0);
            b.rgb.append_null();
        }
    }
}
