//! Pose frames to and from messages, the assembler, and JSON lines.
#![allow(clippy::unwrap_used)]

use ndarray::{Array3, Array4, ArrayD, IxDyn};
use std::io::Cursor;
use wdp_pose::jsonl::{read_json_lines, write_json_line};
use wdp_pose::wdp_tensor::{self, MetaValue, TensorMeta};
use wdp_pose::{
    AssemblerConfig, KeypointKind, Person, PoseArray, PoseAssembler, PoseError, PoseFrame,
    PoseMessage, PoseOutput, Region,
};

fn person(x: f32, y: f32, id: Option<i64>) -> Person {
    let mut p = Person::from_box([x, y, x + 40.0, y + 100.0, 0.8]);
    for (k, kp) in p.keypoints.iter_mut().enumerate() {
        *kp = [x + k as f32, y + 5.0 * k as f32, 0.5 + k as f32 / 100.0];
    }
    p.track_id = id;
    p
}

fn frame(seq: u64, people: usize, dense: bool) -> PoseFrame {
    let base = TensorMeta::default()
        .with_time_ns(1_000 + seq as i64)
        .with_seq(seq)
        .with_room("lab")
        .with_link("tx0-rx0")
        .with("model", MetaValue::Text("fused".into()))
        .with("untrained", MetaValue::Bool(true))
        .with("frame_index", MetaValue::Int(seq as i64 * 2));
    let people: Vec<Person> = (0..people)
        .map(|i| person(10.0 + 50.0 * i as f32, 20.0, (i == 0).then_some(3)))
        .collect();
    let mut f = PoseFrame::new(&base, people);
    f.image_wh = Some([320, 240]);
    if dense {
        let n = f.people.len();
        f.parts = Some(Array3::from_shape_fn((n, 8, 6), |(p, y, x)| {
            ((p + y * 6 + x) % 25) as u8
        }));
        f.uv = Some(Array4::from_shape_fn((n, 2, 8, 6), |(p, c, y, x)| {
            (p + c + y + x) as f32 / 20.0
        }));
    }
    f
}

fn take(messages: &[PoseMessage], output: PoseOutput) -> PoseMessage {
    messages
        .iter()
        .find(|m| m.output == output)
        .cloned()
        .expect("message present")
}

#[test]
fn frame_round_trips_through_messages_and_arrow() {
    let f = frame(5, 2, true);
    let messages = f.to_messages().unwrap();
    let ids: Vec<&str> = messages.iter().map(|m| m.output.id()).collect();
    assert_eq!(ids, ["keypoints", "boxes", "parts", "uv"]);
    let kp = take(&messages, PoseOutput::Keypoints);
    assert_eq!(kp.meta.shape, [2, 17, 3]);
    assert_eq!(kp.meta.dims, ["person", "keypoint", "xys"]);
    assert_eq!((kp.meta.seq, kp.meta.t_ns), (5, 1005));
    assert_eq!(
        (kp.meta.room.as_str(), kp.meta.link.as_str()),
        ("lab", "tx0-rx0")
    );
    assert_eq!(kp.meta.ints("track_ids"), Some(&[3, -1][..]));
    assert_eq!(kp.meta.ints("image_wh"), Some(&[320, 240][..]));
    assert_eq!(kp.meta.text("model"), Some("fused"));
    let boxes = take(&messages, PoseOutput::Boxes);
    assert_eq!(boxes.meta.dims, ["person", "box"]);
    assert_eq!(boxes.meta.text("format"), Some("xyxy"));
    let parts = take(&messages, PoseOutput::Parts);
    assert!(matches!(parts.data, PoseArray::U8(_)));
    assert_eq!(parts.meta.dims, ["person", "height", "width"]);
    assert_eq!(parts.meta.text("region"), Some("box"));
    let uv = take(&messages, PoseOutput::Uv);
    assert_eq!(uv.meta.shape, [2, 2, 8, 6]);
    assert_eq!(uv.meta.dims, ["person", "uv", "height", "width"]);

    let back = PoseFrame::from_messages(&messages).unwrap();
    assert_eq!(back, f);
    assert_eq!(back.model(), Some("fused"));
    assert_eq!(back.untrained(), Some(true));
    assert_eq!(back.frame_index(), Some(10));

    // through Arrow, as a node receives them
    let received: Vec<PoseMessage> = messages
        .iter()
        .map(|m| {
            let arrow = match &m.data {
                PoseArray::F32(a) => wdp_tensor::to_arrow(a.view()),
                PoseArray::U8(a) => wdp_tensor::to_arrow(a.view()),
            };
            PoseMessage::from_arrow(
                &format!("densepose/{}", m.output.id()),
                &*arrow,
                m.meta.clone(),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(PoseFrame::from_messages(&received).unwrap(), f);
}

#[test]
fn image_region_and_visibility_survive_the_round_trip() {
    let mut f = frame(1, 1, true);
    f.region = Region::Image;
    f.keypoint_kind = KeypointKind::Visibility;
    f.people[0].track_id = None;
    let messages = f.to_messages().unwrap();
    assert_eq!(messages[0].meta.dims[2], "xyv");
    assert_eq!(messages[2].meta.text("region"), Some("image"));
    assert!(messages[0].meta.ints("track_ids").is_none());
    assert_eq!(PoseFrame::from_messages(&messages).unwrap(), f);
}

#[test]
fn empty_frames_round_trip() {
    let f = frame(2, 0, true);
    let messages = f.to_messages().unwrap();
    assert_eq!(messages[0].meta.shape, [0, 17, 3]);
    assert_eq!(PoseFrame::from_messages(&messages).unwrap(), f);
}

#[test]
fn inconsistent_frames_are_refused_when_sending() {
    let mut f = frame(1, 2, true);
    f.people.pop();
    let err = f.to_messages().unwrap_err();
    assert!(
        matches!(&err, PoseError::Invalid { input, field, .. } if input == "parts" && field == "shape"),
        "{err}"
    );
}

fn push_all(a: &mut PoseAssembler, messages: Vec<PoseMessage>) {
    for m in messages {
        a.push(m).unwrap();
    }
}

#[test]
fn assembler_releases_interleaved_frames_in_seq_order() {
    let mut a = PoseAssembler::default();
    let m0 = frame(0, 1, true).to_messages().unwrap();
    let m1 = frame(1, 2, true).to_messages().unwrap();
    let m2 = frame(2, 1, true).to_messages().unwrap();
    let order = [
        &m0[0], &m1[0], &m1[1], &m0[1], &m1[2], &m2[0], &m2[1], &m2[2], &m2[3], &m0[2],
    ];
    for m in order {
        a.push(m.clone()).unwrap();
        assert!(a.pop().is_none(), "nothing is complete yet");
    }
    // frame 1 completes before frame 0 but waits for it; frame 2 waits too
    a.push(m1[3].clone()).unwrap();
    assert!(a.pop().is_none());
    a.push(m0[3].clone()).unwrap();
    let seqs: Vec<u64> = std::iter::from_fn(|| a.pop()).map(|f| f.seq()).collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert_eq!(a.stats().frames, 3);
    assert_eq!(a.pending(), 0);
}

#[test]
fn assembler_drops_old_incomplete_frames_and_counts_them() {
    let mut a = PoseAssembler::new(AssemblerConfig {
        max_pending: 3,
        ..AssemblerConfig::default()
    });
    let mut m0 = frame(0, 1, true).to_messages().unwrap();
    let late_uv = m0.pop().unwrap();
    push_all(&mut a, m0);
    for seq in 1..=2 {
        push_all(&mut a, frame(seq, 1, true).to_messages().unwrap());
    }
    assert!(a.pop().is_none(), "frames 1 and 2 wait for frame 0");
    assert_eq!(a.pending(), 3);
    // a fourth frame exceeds the bound: frame 0 is given up
    push_all(&mut a, frame(3, 1, true).to_messages().unwrap());
    let seqs: Vec<u64> = std::iter::from_fn(|| a.pop()).map(|f| f.seq()).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(a.stats().incomplete_dropped, 1);
    a.push(late_uv).unwrap();
    assert_eq!(a.stats().stale_messages, 1);
    assert!(a.pop().is_none());

    // end of stream: complete frames come out, incomplete ones are counted
    let mut m4 = frame(4, 1, true).to_messages().unwrap();
    m4.truncate(2);
    push_all(&mut a, m4);
    push_all(&mut a, frame(5, 1, true).to_messages().unwrap());
    let rest: Vec<u64> = a.flush().iter().map(PoseFrame::seq).collect();
    assert_eq!(rest, [5]);
    assert_eq!(a.stats().incomplete_dropped, 2);
}

#[test]
fn a_sender_counting_from_the_start_again_is_a_restart_not_stale_frames() {
    let mut a = PoseAssembler::default();
    for seq in 0..10 {
        push_all(&mut a, frame(seq, 1, true).to_messages().unwrap());
    }
    // Frame 10 is left incomplete when the stage upstream is killed.
    let mut m10 = frame(10, 1, true).to_messages().unwrap();
    m10.truncate(2);
    push_all(&mut a, m10);
    // It comes back counting from 0; the radio's clock has moved on.
    let restarted = |seq: u64| {
        let mut f = frame(seq, 1, true);
        f.meta = f.meta.clone().with_time_ns(5_000 + seq as i64);
        f.to_messages().unwrap()
    };
    for seq in 0..3 {
        push_all(&mut a, restarted(seq));
    }
    // A late message of the old count (its clock behind) is still stale.
    let late = frame(4, 1, true).to_messages().unwrap().remove(0);
    a.push(late).unwrap();
    let seqs: Vec<u64> = std::iter::from_fn(|| a.pop()).map(|f| f.seq()).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]);
    let s = a.stats();
    assert_eq!(
        (s.restarts, s.incomplete_dropped, s.stale_messages),
        (1, 1, 1)
    );
    assert_eq!(s.frames, 13);
    // Well into the new count, the capture clock steps back (a radio's clock reset): frames
    // still come through, not taken for the old count's.
    for seq in 3..12 {
        push_all(&mut a, restarted(seq));
    }
    for seq in 12..15 {
        let mut f = frame(seq, 1, true);
        f.meta = f.meta.clone().with_time_ns(10 + seq as i64);
        push_all(&mut a, f.to_messages().unwrap());
    }
    let seqs: Vec<u64> = std::iter::from_fn(|| a.pop()).map(|f| f.seq()).collect();
    assert_eq!(seqs, (3..15).collect::<Vec<_>>());
}

#[test]
fn assembler_without_dense_maps_needs_only_keypoints_and_boxes() {
    let mut a = PoseAssembler::new(AssemblerConfig {
        expect_parts: false,
        expect_uv: false,
        ..AssemblerConfig::default()
    });
    push_all(&mut a, frame(0, 2, false).to_messages().unwrap());
    let f = a.pop().expect("complete");
    assert_eq!(f.people.len(), 2);
    assert!(f.parts.is_none());
    // dense maps that arrive anyway are ignored, before or after their frame completes
    let m = frame(1, 1, true).to_messages().unwrap();
    for i in [2, 0, 1, 3] {
        a.push(m[i].clone()).unwrap();
    }
    let f = a.pop().expect("complete");
    assert!(f.parts.is_none() && f.uv.is_none());
    assert_eq!(a.stats().stale_messages, 0);
}

#[test]
fn mismatched_person_counts_name_the_input_and_field() {
    let mut a = PoseAssembler::default();
    let m1 = frame(1, 1, true).to_messages().unwrap();
    let m2 = frame(1, 2, true).to_messages().unwrap();
    a.push(m1[0].clone()).unwrap();
    a.push(m2[1].clone()).unwrap(); // boxes of 2 people
    a.push(m1[2].clone()).unwrap();
    let err = a.push(m1[3].clone()).unwrap_err();
    match &err {
        PoseError::Invalid {
            input,
            field,
            problem,
        } => {
            assert_eq!((input.as_str(), field.as_str()), ("boxes", "shape"));
            assert!(
                problem.contains("2 people") && problem.contains("keypoints hold 1"),
                "{problem}"
            );
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(a.stats().invalid_dropped, 1);
    assert!(a.pop().is_none());
    // later messages of the dropped frame are ignored, the next frame is fine
    a.push(m1[1].clone()).unwrap();
    push_all(&mut a, frame(2, 1, true).to_messages().unwrap());
    assert_eq!(a.pop().map(|f| f.seq()), Some(2));
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    let mut a = PoseAssembler::default();
    let meta = |seq: u64, dims: &[&str]| TensorMeta::new(&[], dims.iter().copied()).with_seq(seq);
    let f32s = |shape: &[usize]| PoseArray::F32(ArrayD::zeros(IxDyn(shape)));
    let u8s = |shape: &[usize]| PoseArray::U8(ArrayD::zeros(IxDyn(shape)));
    let cases: Vec<(&str, PoseArray, TensorMeta, &str, &str)> = vec![
        (
            "keypoints",
            f32s(&[1, 17]),
            meta(0, &[]),
            "keypoints",
            "shape",
        ),
        (
            "keypoints",
            f32s(&[1, 16, 3]),
            meta(1, &[]),
            "keypoints",
            "shape",
        ),
        (
            "boxes",
            f32s(&[1, 4]),
            meta(2, &["person", "box"]),
            "boxes",
            "shape",
        ),
        ("parts", f32s(&[1, 4, 4]), meta(3, &[]), "parts", "type"),
        (
            "parts",
            u8s(&[1, 4, 4]),
            meta(4, &["person", "h", "w"]),
            "parts",
            "dims",
        ),
        ("uv", f32s(&[1, 3, 4, 4]), meta(5, &[]), "uv", "shape"),
        (
            "keypoints",
            f32s(&[1, 17, 3]),
            meta(6, &["person", "keypoint", "abc"]),
            "keypoints",
            "dims",
        ),
        (
            "boxes",
            f32s(&[1, 5]),
            meta(7, &[]).with("format", MetaValue::Text("xywh".into())),
            "boxes",
            "format",
        ),
    ];
    for (id, data, meta, input, field) in cases {
        let err = a.push_input(id, data, meta).unwrap_err();
        match &err {
            PoseError::Invalid {
                input: i, field: f, ..
            } => {
                assert_eq!((i.as_str(), f.as_str()), (input, field), "{err}");
            }
            other => panic!("{id}: unexpected {other}"),
        }
    }
    assert!(matches!(
        a.push_input("foo", f32s(&[1, 5]), meta(9, &[])),
        Err(PoseError::UnknownInput(_))
    ));
    // a bad track_ids list is caught when the frame completes
    let mut m = frame(10, 2, false).to_messages().unwrap();
    m[0].meta
        .extra
        .insert("track_ids".into(), MetaValue::Ints(vec![1]));
    let mut b = PoseAssembler::new(AssemblerConfig {
        expect_parts: false,
        expect_uv: false,
        ..AssemblerConfig::default()
    });
    b.push(m[0].clone()).unwrap();
    let err = b.push(m[1].clone()).unwrap_err();
    assert!(err.to_string().contains("track_ids"), "{err}");
}

#[test]
fn json_lines_round_trip() {
    let mut frames = vec![frame(0, 2, true), frame(1, 0, false)];
    frames[1].keypoint_kind = KeypointKind::Visibility;
    let mut out = Vec::new();
    for f in &frames {
        write_json_line(&mut out, f).unwrap();
    }
    out.extend_from_slice(b"\n");
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(text.lines().filter(|l| !l.is_empty()).count(), 2);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["model"], "fused");
    assert_eq!(first["people"][0]["track_id"], 3);
    assert_eq!(
        first["people"][0]["keypoints"].as_array().unwrap().len(),
        17
    );
    assert!(first.get("parts").is_none());

    let back: Vec<PoseFrame> = read_json_lines(Cursor::new(out))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back.len(), 2);
    for (b, f) in back.iter().zip(&frames) {
        let mut expected = f.clone();
        expected.parts = None;
        expected.uv = None;
        assert_eq!(b, &expected);
    }

    let mut nan = frame(3, 1, false);
    nan.people[0].keypoints[4][0] = f32::NAN;
    let line = nan.to_json_line();
    assert!(line.contains("null"));
    let back = PoseFrame::from_json_line(&line, 1).unwrap();
    assert!(back.people[0].keypoints[4][0].is_nan());

    let err = read_json_lines(Cursor::new("{\"t_ns\": 1}\n"))
        .next()
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().starts_with("JSON line 1"), "{err}");
}

#[test]
fn floor_positions_travel_when_every_person_has_one() {
    let mut f = frame(3, 2, true);
    f.people[0].floor_m = Some([1.25, 2.5]);
    f.people[1].floor_m = Some([3.0, 0.75]);
    let messages = f.to_messages().unwrap();
    let kp = take(&messages, PoseOutput::Keypoints);
    assert_eq!(
        kp.meta.extra.get("floor_m"),
        Some(&MetaValue::Floats(vec![1.25, 2.5, 3.0, 0.75]))
    );
    assert!(!take(&messages, PoseOutput::Parts)
        .meta
        .extra
        .contains_key("floor_m"));
    assert_eq!(PoseFrame::from_messages(&messages).unwrap(), f);
    // JSON lines keep them too.
    let mut out = Vec::new();
    write_json_line(&mut out, &f).unwrap();
    let back: Vec<PoseFrame> = read_json_lines(Cursor::new(out))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back[0].people[1].floor_m, Some([3.0, 0.75]));

    // One person without: none travel (a list without holes or none).
    f.people[1].floor_m = None;
    let messages = f.to_messages().unwrap();
    assert!(!messages[0].meta.extra.contains_key("floor_m"));
    let back = PoseFrame::from_messages(&messages).unwrap();
    assert!(back.people.iter().all(|p| p.floor_m.is_none()));

    // A list of the wrong length names the field.
    let mut m = frame(4, 2, false).to_messages().unwrap();
    m[0].meta
        .extra
        .insert("floor_m".into(), MetaValue::Floats(vec![1.0, 2.0]));
    let err = PoseFrame::from_messages(&m).unwrap_err();
    assert!(err.to_string().contains("floor_m"), "{err}");
}
