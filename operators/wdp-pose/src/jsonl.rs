//! One JSON object per [`PoseFrame`] (no dense maps), for files and messages to other systems:
//!
//! ```json
//! {"t_ns":1,"seq":2,"room":"lab","link":"","model":"fused","untrained":true,
//!  "keypoint_kind":"score","image_wh":[320,240],
//!  "people":[{"track_id":0,"bbox":[1,2,3,4,0.9],"keypoints":[[x,y,s], ...17]}]}
//! ```
//!
//! Non-finite coordinates are written as `null` and read back as NaN.

use crate::frame::{KeypointKind, Person, PoseFrame, KEY_FRAME_INDEX, KEY_MODEL, KEY_UNTRAINED};
use crate::PoseError;
use serde::{Deserialize, Deserializer, Serialize};
use std::io::{BufRead, Write};
use wdp_tensor::{MetaValue, TensorMeta};

/// A number that may be written as `null` (NaN).
fn nan_or<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Num(#[serde(deserialize_with = "nan_or")] f32);

/// One person of a JSON line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonRecord {
    /// Track id, when known.
    #[serde(default)]
    pub track_id: Option<i64>,
    /// Floor position `[x, y]` metres in the room frame, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_m: Option<[f32; 2]>,
    /// `[x1, y1, x2, y2, score]`.
    bbox: [Num; 5],
    /// 17 `[x, y, score or visibility]`.
    keypoints: [[Num; 3]; 17],
}

/// One frame as a JSON line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameRecord {
    /// Capture time, ns.
    pub t_ns: i64,
    /// Sequence number.
    pub seq: u64,
    /// Room.
    #[serde(default)]
    pub room: String,
    /// Link.
    #[serde(default)]
    pub link: String,
    /// Model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Whether the model weights were untrained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untrained: Option<bool>,
    /// Camera frame number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_index: Option<u64>,
    /// What the third keypoint value is.
    #[serde(default)]
    pub keypoint_kind: KeypointKind,
    /// `[W, H]` of the coordinate frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_wh: Option<[usize; 2]>,
    /// The people.
    pub people: Vec<PersonRecord>,
}

impl From<&PoseFrame> for FrameRecord {
    fn from(f: &PoseFrame) -> Self {
        FrameRecord {
            t_ns: f.t_ns(),
            seq: f.seq(),
            room: f.meta.room.clone(),
            link: f.meta.link.clone(),
            model: f.model().map(str::to_owned),
            untrained: f.untrained(),
            frame_index: f.frame_index(),
            keypoint_kind: f.keypoint_kind,
            image_wh: f.image_wh,
            people: f
                .people
                .iter()
                .map(|p| PersonRecord {
                    track_id: p.track_id,
                    floor_m: p.floor_m,
                    bbox: p.bbox.map(Num),
                    keypoints: p.keypoints.map(|k| k.map(Num)),
                })
                .collect(),
        }
    }
}

impl From<FrameRecord> for PoseFrame {
    fn from(r: FrameRecord) -> Self {
        let mut meta = TensorMeta::default()
            .with_time_ns(r.t_ns)
            .with_seq(r.seq)
            .with_room(r.room)
            .with_link(r.link);
        if let Some(model) = r.model {
            meta = meta.with(KEY_MODEL, MetaValue::Text(model));
        }
        if let Some(untrained) = r.untrained {
            meta = meta.with(KEY_UNTRAINED, MetaValue::Bool(untrained));
        }
        if let Some(index) = r.frame_index {
            meta = meta.with(KEY_FRAME_INDEX, MetaValue::Int(index as i64));
        }
        let people = r
            .people
            .into_iter()
            .map(|p| Person {
                keypoints: p.keypoints.map(|k| k.map(|n| n.0)),
                bbox: p.bbox.map(|n| n.0),
                track_id: p.track_id,
                floor_m: p.floor_m,
            })
            .collect();
        PoseFrame {
            meta,
            people,
            keypoint_kind: r.keypoint_kind,
            image_wh: r.image_wh,
            ..PoseFrame::default()
        }
    }
}

impl PoseFrame {
    /// The frame as one line of JSON (without a newline).
    pub fn to_json_line(&self) -> String {
        // Serialising plain numbers, strings and lists into a String cannot fail.
        serde_json::to_string(&FrameRecord::from(self)).unwrap_or_default()
    }

    /// Parses a line written by [`PoseFrame::to_json_line`] (`line_number` is for the error).
    pub fn from_json_line(line: &str, line_number: usize) -> Result<Self, PoseError> {
        serde_json::from_str::<FrameRecord>(line)
            .map(PoseFrame::from)
            .map_err(|source| PoseError::Json {
                line: line_number,
                source,
            })
    }
}

/// Writes the frame as a JSON line followed by a newline.
pub fn write_json_line(out: &mut impl Write, frame: &PoseFrame) -> Result<(), PoseError> {
    writeln!(out, "{}", frame.to_json_line()).map_err(|e| PoseError::io("writing a JSON line", e))
}

/// Reads JSON lines back into frames, skipping blank lines.
pub fn read_json_lines<R: BufRead>(input: R) -> impl Iterator<Item = Result<PoseFrame, PoseError>> {
    input
        .lines()
        .enumerate()
        .filter_map(|(i, line)| match line {
            Err(e) => Some(Err(PoseError::io(
                format!("reading JSON line {}", i + 1),
                e,
            ))),
            Ok(l) if l.trim().is_empty() => None,
            Ok(l) => Some(PoseFrame::from_json_line(&l, i + 1)),
        })
}
