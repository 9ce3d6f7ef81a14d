//! A [`PoseFrame`] on the wire: its four outputs ([`PoseOutput`]), their typed values
//! ([`PoseArray`]), one message ([`PoseMessage`]) with its checks, and the conversion of a frame
//! to and from its messages.
//!
//! Split from `frame.rs` (issue 15: no source file over ~600 lines) so that the frame types and
//! their encoding can be read apart; `crate::frame` re-exports everything public here.

use super::{
    KeypointKind, Person, PoseFrame, Region, KEY_FLOOR_M, KEY_FORMAT, KEY_IMAGE_WH, KEY_REGION,
    KEY_TRACK_IDS, NUM_KEYPOINTS,
};
use crate::PoseError;
use arrow_array::Array;
use ndarray::{Array2, Array3, ArrayD, ArrayViewD, Ix3, Ix4};
use wdp_tensor::{MetaValue, TensorMeta};

/// The four outputs of a pose frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoseOutput {
    /// f32 `[P, 17, 3]`.
    Keypoints,
    /// f32 `[P, 5]`.
    Boxes,
    /// u8 `[P, h, w]`.
    Parts,
    /// f32 `[P, 2, h, w]`.
    Uv,
}

impl PoseOutput {
    /// All four, in sending order.
    pub const ALL: [PoseOutput; 4] = [
        PoseOutput::Keypoints,
        PoseOutput::Boxes,
        PoseOutput::Parts,
        PoseOutput::Uv,
    ];

    /// The dora output (and usual input) id.
    pub fn id(self) -> &'static str {
        match self {
            PoseOutput::Keypoints => "keypoints",
            PoseOutput::Boxes => "boxes",
            PoseOutput::Parts => "parts",
            PoseOutput::Uv => "uv",
        }
    }

    /// The output an input id names: the id itself or its last `/`-separated part (so
    /// `densepose/keypoints` works too).
    pub fn from_id(id: &str) -> Option<Self> {
        let last = id.rsplit('/').next().unwrap_or(id);
        PoseOutput::ALL.into_iter().find(|o| o.id() == last)
    }

    /// Axis names of this output (`keypoints` depends on the keypoint kind).
    pub fn dims(self, kind: KeypointKind) -> [&'static str; 4] {
        match self {
            PoseOutput::Keypoints => ["person", "keypoint", kind.dim_name(), ""],
            PoseOutput::Boxes => ["person", "box", "", ""],
            PoseOutput::Parts => ["person", "height", "width", ""],
            PoseOutput::Uv => ["person", "uv", "height", "width"],
        }
    }

    fn rank(self) -> usize {
        match self {
            PoseOutput::Keypoints | PoseOutput::Parts => 3,
            PoseOutput::Boxes => 2,
            PoseOutput::Uv => 4,
        }
    }
}

/// A typed pose array: part indices are u8, everything else f32.
#[derive(Debug, Clone, PartialEq)]
pub enum PoseArray {
    /// Keypoints, boxes, UV.
    F32(ArrayD<f32>),
    /// Part indices.
    U8(ArrayD<u8>),
}

impl PoseArray {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            PoseArray::F32(a) => a.shape(),
            PoseArray::U8(a) => a.shape(),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            PoseArray::F32(_) => "f32",
            PoseArray::U8(_) => "u8",
        }
    }
}

impl From<ArrayD<f32>> for PoseArray {
    fn from(a: ArrayD<f32>) -> Self {
        PoseArray::F32(a)
    }
}

impl From<ArrayD<u8>> for PoseArray {
    fn from(a: ArrayD<u8>) -> Self {
        PoseArray::U8(a)
    }
}

impl From<ArrayViewD<'_, f32>> for PoseArray {
    fn from(a: ArrayViewD<'_, f32>) -> Self {
        PoseArray::F32(a.to_owned())
    }
}

impl From<ArrayViewD<'_, u8>> for PoseArray {
    fn from(a: ArrayViewD<'_, u8>) -> Self {
        PoseArray::U8(a.to_owned())
    }
}

/// One of the four messages of a frame: output, typed values and metadata (`shape` set).
#[derive(Debug, Clone, PartialEq)]
pub struct PoseMessage {
    /// Which output.
    pub output: PoseOutput,
    /// The values.
    pub data: PoseArray,
    /// The metadata to send, or as received.
    pub meta: TensorMeta,
}

impl PoseMessage {
    /// A message from an input id, typed values and metadata; checks it ([`PoseMessage::check`]).
    pub fn new(input: &str, data: PoseArray, meta: TensorMeta) -> Result<Self, PoseError> {
        let output =
            PoseOutput::from_id(input).ok_or_else(|| PoseError::UnknownInput(input.into()))?;
        let message = PoseMessage { output, data, meta };
        message.check()?;
        Ok(message)
    }

    /// Reads a received Arrow array (u8 for `parts`, f32 otherwise) shaped by its metadata.
    pub fn from_arrow(input: &str, array: &dyn Array, meta: TensorMeta) -> Result<Self, PoseError> {
        let output =
            PoseOutput::from_id(input).ok_or_else(|| PoseError::UnknownInput(input.into()))?;
        let tensor = |source| PoseError::Tensor {
            input: output.id().into(),
            source,
        };
        let data = match output {
            PoseOutput::Parts => {
                PoseArray::from(wdp_tensor::view::<u8>(array, &meta).map_err(tensor)?)
            }
            _ => PoseArray::from(wdp_tensor::view::<f32>(array, &meta).map_err(tensor)?),
        };
        Self::new(input, data, meta)
    }

    /// Checks element type, rank, fixed extents and axis names of this message on its own.
    pub fn check(&self) -> Result<(), PoseError> {
        let input = self.output.id();
        let bad = |field: &str, problem: String| PoseError::invalid(input, field, problem);
        let expected_type = if self.output == PoseOutput::Parts {
            "u8"
        } else {
            "f32"
        };
        if self.data.type_name() != expected_type {
            return Err(bad(
                "type",
                format!("{} values, expected {expected_type}", self.data.type_name()),
            ));
        }
        let shape = self.data.shape();
        if !self.meta.shape.is_empty() && self.meta.shape != shape {
            return Err(bad(
                "shape",
                format!("metadata says {:?}, data is {shape:?}", self.meta.shape),
            ));
        }
        let rank = self.output.rank();
        if shape.len() != rank {
            return Err(bad(
                "shape",
                format!("{shape:?} has {} axes, expected {rank}", shape.len()),
            ));
        }
        let fixed: &[(usize, usize)] = match self.output {
            PoseOutput::Keypoints => &[(1, NUM_KEYPOINTS), (2, 3)],
            PoseOutput::Boxes => &[(1, 5)],
            PoseOutput::Parts => &[],
            PoseOutput::Uv => &[(1, 2)],
        };
        for &(axis, extent) in fixed {
            if shape[axis] != extent {
                return Err(bad(
                    "shape",
                    format!(
                        "{shape:?}: axis {axis} has {} entries, expected {extent}",
                        shape[axis]
                    ),
                ));
            }
        }
        if !self.meta.dims.is_empty() {
            let expected = self.output.dims(KeypointKind::Score);
            let ok = self.meta.dims.len() == rank
                && self.meta.dims.iter().enumerate().all(|(i, d)| {
                    if self.output == PoseOutput::Keypoints && i == 2 {
                        d == "xys" || d == "xyv"
                    } else {
                        d == expected[i]
                    }
                });
            if !ok {
                let mut want: Vec<&str> = expected[..rank].to_vec();
                if self.output == PoseOutput::Keypoints {
                    want[2] = "xys|xyv";
                }
                return Err(bad(
                    "dims",
                    format!("{:?}, expected {}", self.meta.dims, want.join(",")),
                ));
            }
        }
        if self.output == PoseOutput::Boxes {
            if let Some(value) = self.meta.extra.get(KEY_FORMAT) {
                if *value != MetaValue::Text("xyxy".into()) {
                    return Err(bad(KEY_FORMAT, format!("{value:?}, expected \"xyxy\"")));
                }
            }
        }
        Ok(())
    }

    /// The people's floor positions `(x, y)` metres (`floor_m` metadata), when the message
    /// carries them; an error names the field when their number is not the message's people's.
    pub fn floor_positions(&self) -> Result<Option<Vec<[f32; 2]>>, PoseError> {
        Ok(floor_m(self, self.persons())?
            .map(|v| v.chunks_exact(2).map(|c| [c[0], c[1]]).collect()))
    }

    fn persons(&self) -> usize {
        self.data.shape()[0]
    }
}

impl PoseFrame {
    /// The messages to send: `keypoints` and `boxes`, then `parts` and `uv` when present, each
    /// with shape, dims and this frame's metadata.
    pub fn to_messages(&self) -> Result<Vec<PoseMessage>, PoseError> {
        self.validate()?;
        let n = self.people.len();
        let ids: Option<Vec<i64>> = self.people.iter().any(|p| p.track_id.is_some()).then(|| {
            self.people
                .iter()
                .map(|p| p.track_id.unwrap_or(-1))
                .collect()
        });
        // Floor positions travel only when every person has one: a list the receiver can
        // split in pairs without holes.
        let floor: Option<Vec<f64>> = self
            .people
            .iter()
            .map(|p| p.floor_m)
            .collect::<Option<Vec<_>>>()
            .filter(|v| !v.is_empty())
            .map(|v| v.iter().flatten().map(|&x| f64::from(x)).collect());
        let meta = |output: PoseOutput, shape: &[usize]| {
            let dims = output.dims(self.keypoint_kind);
            let mut meta =
                TensorMeta::new(shape, dims[..shape.len()].iter().copied()).carry_from(&self.meta);
            if let Some(ids) = &ids {
                meta = meta.with(KEY_TRACK_IDS, MetaValue::Ints(ids.clone()));
            }
            if let Some([w, h]) = self.image_wh {
                meta = meta.with(KEY_IMAGE_WH, MetaValue::Ints(vec![w as i64, h as i64]));
            }
            if let (Some(xy), PoseOutput::Keypoints | PoseOutput::Boxes) = (&floor, output) {
                meta = meta.with(KEY_FLOOR_M, MetaValue::Floats(xy.clone()));
            }
            match output {
                PoseOutput::Boxes => meta.with(KEY_FORMAT, MetaValue::Text("xyxy".into())),
                PoseOutput::Parts | PoseOutput::Uv => {
                    meta.with(KEY_REGION, MetaValue::Text(self.region.as_str().into()))
                }
                PoseOutput::Keypoints => meta,
            }
        };
        let keypoints = Array3::from_shape_fn((n, NUM_KEYPOINTS, 3), |(p, k, c)| {
            self.people[p].keypoints[k][c]
        });
        let boxes = Array2::from_shape_fn((n, 5), |(p, c)| self.people[p].bbox[c]);
        let mut out = vec![
            PoseMessage {
                output: PoseOutput::Keypoints,
                meta: meta(PoseOutput::Keypoints, keypoints.shape()),
                data: PoseArray::F32(keypoints.into_dyn()),
            },
            PoseMessage {
                output: PoseOutput::Boxes,
                meta: meta(PoseOutput::Boxes, boxes.shape()),
                data: PoseArray::F32(boxes.into_dyn()),
            },
        ];
        if let Some(parts) = &self.parts {
            out.push(PoseMessage {
                output: PoseOutput::Parts,
                meta: meta(PoseOutput::Parts, parts.shape()),
                data: PoseArray::U8(parts.clone().into_dyn()),
            });
        }
        if let Some(uv) = &self.uv {
            out.push(PoseMessage {
                output: PoseOutput::Uv,
                meta: meta(PoseOutput::Uv, uv.shape()),
                data: PoseArray::F32(uv.clone().into_dyn()),
            });
        }
        Ok(out)
    }

    /// Rebuilds a frame from its messages: `keypoints` and `boxes` are required, `parts` and
    /// `uv` optional; all must have the same `seq` and person count.
    pub fn from_messages(messages: &[PoseMessage]) -> Result<Self, PoseError> {
        let mut slots: [Option<&PoseMessage>; 4] = [None; 4];
        for m in messages {
            m.check()?;
            let slot = &mut slots[m.output as usize];
            if slot.is_some() {
                return Err(PoseError::invalid(
                    m.output.id(),
                    "seq",
                    format!("two messages for seq {}", m.meta.seq),
                ));
            }
            *slot = Some(m);
        }
        let [keypoints, boxes, parts, uv] = slots;
        let keypoints =
            keypoints.ok_or_else(|| PoseError::invalid("keypoints", "message", "missing"))?;
        let boxes = boxes.ok_or_else(|| PoseError::invalid("boxes", "message", "missing"))?;
        let n = keypoints.persons();
        for m in [Some(boxes), parts, uv].into_iter().flatten() {
            if m.meta.seq != keypoints.meta.seq {
                return Err(PoseError::invalid(
                    m.output.id(),
                    "seq",
                    format!(
                        "{} differs from keypoints' {}",
                        m.meta.seq, keypoints.meta.seq
                    ),
                ));
            }
            if m.persons() != n {
                return Err(PoseError::invalid(
                    m.output.id(),
                    "shape",
                    format!(
                        "{:?} holds {} people, keypoints hold {n}",
                        m.data.shape(),
                        m.persons()
                    ),
                ));
            }
        }
        let keypoint_kind = match keypoints.meta.dims.get(2).map(String::as_str) {
            Some("xyv") => KeypointKind::Visibility,
            _ => KeypointKind::Score,
        };
        let (PoseArray::F32(kp), PoseArray::F32(bx)) = (&keypoints.data, &boxes.data) else {
            return Err(PoseError::invalid(
                "keypoints",
                "type",
                "expected f32 values",
            ));
        };
        let track_ids = track_ids(keypoints, n)?.or(track_ids(boxes, n)?);
        let floor = floor_m(keypoints, n)?.or(floor_m(boxes, n)?);
        let people = (0..n)
            .map(|p| Person {
                keypoints: std::array::from_fn(|k| std::array::from_fn(|c| kp[[p, k, c]])),
                bbox: std::array::from_fn(|c| bx[[p, c]]),
                track_id: track_ids.as_ref().and_then(|ids| ids[p]),
                floor_m: floor.as_ref().map(|xy| [xy[2 * p], xy[2 * p + 1]]),
            })
            .collect();
        let image_wh = match image_wh(keypoints)? {
            Some(wh) => Some(wh),
            None => image_wh(boxes)?,
        };
        let mut region: Option<Region> = None;
        for m in [parts, uv].into_iter().flatten() {
            let r = match m.meta.extra.get(KEY_REGION) {
                None => None,
                Some(MetaValue::Text(s)) => Some(Region::parse(s).ok_or_else(|| {
                    PoseError::invalid(
                        m.output.id(),
                        KEY_REGION,
                        format!("`{s}`, expected box or image"),
                    )
                })?),
                Some(v) => {
                    return Err(PoseError::invalid(
                        m.output.id(),
                        KEY_REGION,
                        format!("{v:?}, expected text"),
                    ))
                }
            };
            if let (Some(a), Some(b)) = (region, r) {
                if a != b {
                    return Err(PoseError::invalid(
                        m.output.id(),
                        KEY_REGION,
                        format!("{} differs from parts' {}", b.as_str(), a.as_str()),
                    ));
                }
            }
            region = region.or(r);
        }
        let parts = match parts.map(|m| &m.data) {
            Some(PoseArray::U8(a)) => Some(
                a.clone()
                    .into_dimensionality::<Ix3>()
                    .map_err(|e| PoseError::invalid("parts", "shape", e.to_string()))?,
            ),
            _ => None,
        };
        let uv = match uv.map(|m| &m.data) {
            Some(PoseArray::F32(a)) => Some(
                a.clone()
                    .into_dimensionality::<Ix4>()
                    .map_err(|e| PoseError::invalid("uv", "shape", e.to_string()))?,
            ),
            _ => None,
        };
        let mut frame = PoseFrame::new(&keypoints.meta, people);
        frame.keypoint_kind = keypoint_kind;
        frame.image_wh = image_wh;
        frame.region = region.unwrap_or_default();
        frame.parts = parts;
        frame.uv = uv;
        frame.validate()?;
        Ok(frame)
    }
}

fn track_ids(m: &PoseMessage, n: usize) -> Result<Option<Vec<Option<i64>>>, PoseError> {
    match m.meta.extra.get(KEY_TRACK_IDS) {
        None => Ok(None),
        Some(MetaValue::Ints(ids)) if ids.len() == n => Ok(Some(
            ids.iter().map(|&id| (id >= 0).then_some(id)).collect(),
        )),
        Some(MetaValue::Ints(ids)) => Err(PoseError::invalid(
            m.output.id(),
            KEY_TRACK_IDS,
            format!("{} ids for {n} people", ids.len()),
        )),
        Some(v) => Err(PoseError::invalid(
            m.output.id(),
            KEY_TRACK_IDS,
            format!("{v:?}, expected a list of integers"),
        )),
    }
}

fn floor_m(m: &PoseMessage, n: usize) -> Result<Option<Vec<f32>>, PoseError> {
    match m.meta.extra.get(KEY_FLOOR_M) {
        None => Ok(None),
        Some(MetaValue::Floats(v)) if v.len() == 2 * n && v.iter().all(|x| x.is_finite()) => {
            Ok(Some(v.iter().map(|&x| x as f32).collect()))
        }
        Some(v) => Err(PoseError::invalid(
            m.output.id(),
            KEY_FLOOR_M,
            format!("{v:?}, expected {} finite values (x, y per person)", 2 * n),
        )),
    }
}

fn image_wh(m: &PoseMessage) -> Result<Option<[usize; 2]>, PoseError> {
    match m.meta.extra.get(KEY_IMAGE_WH) {
        None => Ok(None),
        Some(MetaValue::Ints(v)) if v.len() == 2 && v.iter().all(|&x| x > 0) => {
            Ok(Some([v[0] as usize, v[1] as usize]))
        }
        Some(v) => Err(PoseError::invalid(
            m.output.id(),
            KEY_IMAGE_WH,
            format!("{v:?}, expected two positive integers [W, H]"),
        )),
    }
}
