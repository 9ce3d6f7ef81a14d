//! The node's handler in dora's testing mode: messages of any input recorded and read back; a
//! misshapen message and one of another element type dropped and counted, a NaN recorded as
//! it came.

use super::Record;
use wdp_node::testing::{run_test, tensor_event};
use wdp_record::{Recorder, RecorderOptions};
use wdp_tensor::TensorMeta;

#[test]
fn every_input_recorded_bad_messages_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rec");
    let recorder = Recorder::create(&out, RecorderOptions::default()).expect("recorder");
    let meta = |seq: u64| {
        TensorMeta::new(&[1, 1, 2, 2], ["tx", "rx", "subcarrier", "complex"]).with_seq(seq)
    };
    let mut events = Vec::new();
    for seq in 0..4u64 {
        let t = seq as f64 * 0.01;
        events.push(tensor_event(
            t,
            "csi",
            &meta(seq),
            &[seq as f32, 1.0, 2.0, 3.0],
        ));
        events.push(tensor_event(
            t + 0.001,
            "other",
            &TensorMeta::new(&[2], ["x"]),
            &[1u8, 2],
        ));
    }
    events.push(tensor_event(0.05, "csi", &meta(9), &[1.0f32, 2.0]));
    events.push(tensor_event(0.06, "csi", &meta(9), &[1u8, 2, 3, 4]));
    events.push(tensor_event(
        0.07,
        "csi",
        &meta(4),
        &[f32::NAN, 1.0, 2.0, 3.0],
    ));
    let mut handler = Record::new(recorder);
    let run = run_test("csi-recorder", events, &mut handler).expect("run");
    assert!(run.outputs.is_empty());
    let c = &run.report.counts;
    assert_eq!(c.handled, 9);
    assert_eq!(c.bad["csi/shape"], 1, "{c:?}");
    assert_eq!(c.bad["csi/message"], 1, "{c:?}");
    let csi = wdp_record::read_dir(out.join("csi")).expect("csi");
    assert_eq!(csi.len(), 5);
    assert_eq!(csi[2].meta.seq, 2);
    assert_eq!(csi[4].meta.shape, [1, 1, 2, 2]);
    assert_eq!(
        wdp_record::read_dir(out.join("other"))
            .expect("other")
            .len(),
        4
    );
}
