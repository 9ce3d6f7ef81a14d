//! What is published: the JSON of states, people and events, and pose frames as JSON and as
//! Arrow IPC. Pure functions of the messages, tested without a network.

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, Int64Builder};
use arrow_array::{ArrayRef, Float32Array, RecordBatch};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{DataType, Field, Schema};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use wdp_node::HandlerError;
use wdp_pose::{KeypointKind, PoseFrame};
use wdp_room::{RoomEvent, RoomState};

/// The Arrow IPC stream's media type (IANA), the `encoding` of `.../pose/arrow` samples.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// A `room_state` message checked against the contract (wdp-room's `RoomState`), with
/// `frame_id` added: the state to publish and its parsed form.
pub fn state(text: &str, frame_prefix: &str) -> Result<(Value, RoomState), HandlerError> {
    // The text as received is what goes out, so fields this node does not know still reach
    // the robots; the contract is checked on the same parse.
    let mut value: Value = serde_json::from_str(text).map_err(|e| HandlerError::bad("json", e))?;
    let parsed = RoomState::deserialize(&value).map_err(|e| HandlerError::bad("json", e))?;
    value["frame_id"] = json!(crate::keys::frame_id(frame_prefix, &parsed.room));
    Ok((value, parsed))
}

/// One tracked person of a state, on its own key.
pub fn person(state: &RoomState, track: &wdp_room::TrackState, frame_prefix: &str) -> Value {
    json!({
        "room": state.room,
        "t_ns": state.t_ns,
        "track_id": track.id,
        "x_m": track.x_m,
        "y_m": track.y_m,
        "moving": track.moving,
        "frame_id": crate::keys::frame_id(frame_prefix, &state.room),
    })
}

/// An `events` message checked against the contract: its room.
pub fn event(text: &str) -> Result<String, HandlerError> {
    let parsed: RoomEvent = serde_json::from_str(text).map_err(|e| HandlerError::bad("json", e))?;
    Ok(parsed.room)
}

/// A pose frame as JSON: the JSON-lines record pose-sink writes (`t_ns`, `seq`, `room`,
/// `image_wh`, `people` with `track_id`, `bbox`, 17 `keypoints`, `floor_m`), plus `frame_id`.
pub fn pose_json(frame: &PoseFrame, frame_prefix: &str) -> String {
    let mut value = serde_json::to_value(wdp_pose::jsonl::FrameRecord::from(frame))
        .unwrap_or_else(|_| json!({}));
    value["frame_id"] = json!(crate::keys::frame_id(frame_prefix, &frame.meta.room));
    value.to_string()
}

/// A pose frame as one Arrow IPC stream of one record batch, a row per person:
///
/// | column | type | meaning |
/// | --- | --- | --- |
/// | `track_id` | int64, null when none | the track |
/// | `score` | float32 | the box score |
/// | `box` | fixed_size_list<float32>[4] | `x1, y1, x2, y2`, pixels of `image_wh` |
/// | `keypoints` | fixed_size_list<fixed_size_list<float32>[3]>[17] | COCO-17 `x, y, s` (pixels; `s` score or visibility, schema's `keypoint_kind`) |
/// | `floor_m` | fixed_size_list<float32>[2], null when unknown | `x, y` metres in `frame_id` |
///
/// Schema metadata: `t_ns`, `seq`, `room`, `frame_id`, `keypoint_kind`, and `image_wh`
/// (`W,H`) and `model` when known.
pub fn pose_arrow(
    frame: &PoseFrame,
    frame_prefix: &str,
) -> Result<Vec<u8>, arrow_schema::ArrowError> {
    let n = frame.people.len();
    let mut track = Int64Builder::with_capacity(n);
    let mut score = Vec::with_capacity(n);
    let mut boxes = FixedSizeListBuilder::new(Float32Builder::new(), 4);
    let mut keypoints =
        FixedSizeListBuilder::new(FixedSizeListBuilder::new(Float32Builder::new(), 3), 17);
    let mut floor = FixedSizeListBuilder::new(Float32Builder::new(), 2);
    for p in &frame.people {
        track.append_option(p.track_id);
        score.push(p.bbox[4]);
        boxes.values().append_slice(&p.bbox[..4]);
        boxes.append(true);
        for k in &p.keypoints {
            keypoints.values().values().append_slice(k);
            keypoints.values().append(true);
        }
        keypoints.append(true);
        match p.floor_m {
            Some(xy) => {
                floor.values().append_slice(&xy);
                floor.append(true);
            }
            None => {
                floor.values().append_slice(&[0.0, 0.0]);
                floor.append(false);
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(track.finish()),
        Arc::new(Float32Array::from(score)),
        Arc::new(boxes.finish()),
        Arc::new(keypoints.finish()),
        Arc::new(floor.finish()),
    ];
    let item =
        |n| DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), n);
    let mut meta = HashMap::from([
        ("t_ns".to_owned(), frame.t_ns().to_string()),
        ("seq".to_owned(), frame.seq().to_string()),
        ("room".to_owned(), frame.meta.room.clone()),
        (
            "frame_id".to_owned(),
            crate::keys::frame_id(frame_prefix, &frame.meta.room),
        ),
        (
            "keypoint_kind".to_owned(),
            match frame.keypoint_kind {
                KeypointKind::Score => "score",
                KeypointKind::Visibility => "visibility",
            }
            .to_owned(),
        ),
    ]);
    if let Some([w, h]) = frame.image_wh {
        meta.insert("image_wh".to_owned(), format!("{w},{h}"));
    }
    if let Some(model) = frame.model() {
        meta.insert("model".to_owned(), model.to_owned());
    }
    let schema = Schema::new(vec![
        Field::new("track_id", DataType::Int64, true),
        Field::new("score", DataType::Float32, false),
        Field::new("box", item(4), false),
        Field::new(
            "keypoints",
            DataType::FixedSizeList(Arc::new(Field::new("item", item(3), true)), 17),
            false,
        ),
        Field::new("floor_m", item(2), true),
    ])
    .with_metadata(meta);
    let batch = RecordBatch::try_new(Arc::new(schema), columns)?;
    let mut out = Vec::new();
    {
        let mut writer = StreamWriter::try_new(&mut out, &batch.schema())?;
        writer.write(&batch)?;
        writer.finish()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::{Array, FixedSizeListArray, Int64Array};
    use arrow_ipc::reader::StreamReader;
    use wdp_pose::Person;
    use wdp_tensor::TensorMeta;

    fn frame() -> PoseFrame {
        let mut a = Person::from_box([10.0, 20.0, 30.0, 60.0, 0.9]);
        a.track_id = Some(4);
        a.floor_m = Some([1.5, 2.25]);
        a.keypoints[16] = [25.0, 58.0, 0.7];
        let b = Person::from_box([40.0, 20.0, 50.0, 60.0, 0.6]);
        let meta = TensorMeta::default()
            .with_time_ns(123)
            .with_seq(7)
            .with_room("Living Room".to_owned());
        let mut f = PoseFrame::new(&meta, vec![a, b]);
        f.image_wh = Some([128, 96]);
        f
    }

    #[test]
    fn poses_as_arrow_read_back_row_per_person() {
        let bytes = pose_arrow(&frame(), "").unwrap();
        let mut reader = StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        let schema = reader.schema();
        let m = schema.metadata();
        assert_eq!(m["t_ns"], "123");
        assert_eq!(m["seq"], "7");
        assert_eq!(m["frame_id"], "living_room");
        assert_eq!(m["image_wh"], "128,96");
        let batch = reader.next().unwrap().unwrap();
        assert!(reader.next().is_none());
        assert_eq!(batch.num_rows(), 2);
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ids.value(0), 4);
        assert!(ids.is_null(1));
        let kp = batch
            .column(3)
            .as_any()
            .downcast_ref::<FixedSizeListArray>()
            .unwrap();
        let first = kp.value(0);
        let first = first.as_any().downcast_ref::<FixedSizeListArray>().unwrap();
        let last = first.value(16);
        let last = last.as_any().downcast_ref::<Float32Array>().unwrap();
        assert_eq!(last.values().to_vec(), vec![25.0, 58.0, 0.7]);
        let floor = batch
            .column(4)
            .as_any()
            .downcast_ref::<FixedSizeListArray>()
            .unwrap();
        assert!(floor.is_valid(0) && floor.is_null(1));
        let xy = floor.value(0);
        let xy = xy.as_any().downcast_ref::<Float32Array>().unwrap();
        assert_eq!(xy.values().to_vec(), vec![1.5, 2.25]);
        // No people is a frame too: an empty batch with the same schema.
        let empty = PoseFrame::new(&TensorMeta::default(), vec![]);
        let bytes = pose_arrow(&empty, "").unwrap();
        let mut reader = StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        assert_eq!(reader.next().unwrap().unwrap().num_rows(), 0);
    }

    #[test]
    fn poses_as_json_carry_the_frame() {
        let v: Value = serde_json::from_str(&pose_json(&frame(), "wdp_")).unwrap();
        assert_eq!(v["frame_id"], "wdp_living_room");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["people"][0]["floor_m"], json!([1.5, 2.25]));
        assert_eq!(v["people"][1]["track_id"], Value::Null);
        assert_eq!(v["people"][0]["keypoints"].as_array().unwrap().len(), 17);
    }

    #[test]
    fn states_are_checked_and_keep_unknown_fields() {
        let text = r#"{"room":"lab","t_ns":5,"presence":true,"presence_confidence":0.9,
            "motion":false,"people":1,"tracks":[{"id":3,"x_m":1.0,"y_m":2.0,"moving":false}],
            "source":"both","breathing_bpm":null,"later":"kept"}"#;
        let (value, parsed) = state(text, "").unwrap();
        assert_eq!(value["later"], "kept");
        assert_eq!(value["frame_id"], "lab");
        let p = person(&parsed, &parsed.tracks[0], "");
        assert_eq!(p["track_id"], 3);
        assert_eq!(p["x_m"], 1.0);
        for bad in [
            "[1]",
            r#"{"room":"lab"}"#,
            r#"{"room":"lab","t_ns":5,"presence":"yes","presence_confidence":0.9,"motion":false,"people":1,"tracks":[],"source":"both"}"#,
            "not json",
        ] {
            let e = state(bad, "").unwrap_err();
            assert!(
                matches!(&e, HandlerError::BadInput { field, .. } if field == "json"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            event(r#"{"room":"lab","t_ns":5,"event":"fall"}"#).unwrap(),
            "lab"
        );
        assert!(event(r#"{"room":"lab","t_ns":5,"event":"dance"}"#).is_err());
    }
}
