//! The runtime on a toy node (doubles a 3-vector), in dora's testing mode.

use serde_json::json;
use wdp_node::testing::{
    assert_malformed_dropped, malformed_tensor_events, run_test, tensor_event,
};
use wdp_node::{Context, Handler, HandlerError, Input, Work};
use wdp_tensor::ndarray::Array1;
use wdp_tensor::TensorMeta;

#[derive(Default)]
struct Double {
    closed: Vec<String>,
    finished: bool,
    batches: Vec<usize>,
    pending: usize,
}

impl Handler for Double {
    fn accepts(&self, id: &str) -> bool {
        id == "x"
    }

    fn on_input(&mut self, ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        let x = input.tensor::<f32>(&["feature"])?;
        if x.meta.shape != [3] {
            return Err(HandlerError::bad(
                "shape",
                format!("{:?}, expected [3]", x.meta.shape),
            ));
        }
        wdp_node::finite("values", x.data.iter())?;
        if x.data[0] < 0.0 {
            return Err(HandlerError::Failed(eyre::eyre!("negative")));
        }
        let y = Array1::from_iter(x.data.iter().map(|v| v * 2.0)).into_dyn();
        wdp_tensor::dora::send(&mut ctx.node, "y", y.view(), &x.meta)?;
        self.pending += 1;
        Ok(())
    }

    fn on_queue_drained(&mut self, _ctx: &mut Context) -> Result<(), HandlerError> {
        self.batches.push(std::mem::take(&mut self.pending));
        Ok(())
    }

    fn on_close(&mut self, _ctx: &mut Context, id: &str) -> Result<(), HandlerError> {
        self.closed.push(id.to_owned());
        Ok(())
    }

    fn finish(&mut self, _ctx: &mut Context) -> eyre::Result<()> {
        self.finished = true;
        Ok(())
    }
}

#[test]
fn good_messages_out_bad_ones_dropped_and_counted() {
    let meta = TensorMeta::new(&[3], ["feature"]);
    let events = vec![
        tensor_event(0.0, "x", &meta, &[1.0f32, 2.0, 3.0]),
        // Misshapen: 2 values for a shape of 3.
        tensor_event(0.001, "x", &meta, &[1.0f32, 2.0]),
        tensor_event(0.002, "x", &meta, &[f32::NAN, 2.0, 3.0]),
        tensor_event(0.003, "nope", &meta, &[1.0f32, 2.0, 3.0]),
        tensor_event(
            0.004,
            "x",
            &TensorMeta::new(&[3], ["time"]),
            &[1.0f32, 2.0, 3.0],
        ),
        tensor_event(0.005, "x", &meta, &[1u8, 2, 3]),
        tensor_event(0.006, "x", &meta, &[-1.0f32, 2.0, 3.0]),
        tensor_event(0.007, "x", &meta, &[4.0f32, 5.0, f32::INFINITY]),
        tensor_event(0.008, "x", &meta, &[4.0f32, 5.0, 6.0]),
        serde_json::json!({"time_offset_secs": 0.009, "type": "InputClosed", "id": "x"}),
    ];
    let mut node = Double::default();
    let run = run_test("double", events, &mut node).expect("run");
    let ys: Vec<Vec<f64>> = run.on("y").iter().map(|o| o.numbers()).collect();
    assert_eq!(ys, [vec![2.0, 4.0, 6.0], vec![8.0, 10.0, 12.0]]);
    assert_eq!(run.outputs[0].data_type, "Float32");
    let c = &run.report.counts;
    assert_eq!(c.handled, 2);
    assert_eq!(c.received["x"], 8);
    assert_eq!(c.unknown["nope"], 1);
    assert_eq!(c.bad["x/shape"], 1);
    assert_eq!(c.bad["x/values"], 2);
    assert_eq!(c.bad["x/dims"], 1);
    assert_eq!(c.bad["x/data type"], 1);
    assert_eq!(c.failed, 1);
    assert_eq!(c.dropped(), 6);
    assert_eq!(run.report.latency.count, 2);
    assert_eq!(node.closed, ["x"]);
    assert!(node.finished);
    assert!(node.batches.iter().all(|&b| b <= 1));
}

#[test]
fn empty_infinite_wrongly_typed_shapeless_and_renamed_messages_are_dropped_and_counted() {
    let meta = TensorMeta::new(&[3], ["feature"]);
    let mut events = vec![tensor_event(0.0, "x", &meta, &[1.0f32, 2.0, 3.0])];
    events.extend(malformed_tensor_events(
        0.0,
        "x",
        &meta,
        &[1.0f32, 2.0, 3.0],
    ));
    events.push(tensor_event(0.2, "x", &meta, &[4.0f32, 5.0, 6.0]));
    let mut node = Double::default();
    let run = run_test("double", events, &mut node).expect("run");
    let c = &run.report.counts;
    assert_eq!(c.handled, 2, "{c:?}");
    assert_eq!(c.dropped(), 5, "{c:?}");
    assert_malformed_dropped(c, "x", [0; 4]);
}

/// A u8 input (a picture, a part map): counts its bytes.
#[derive(Default)]
struct Bytes {
    sums: Vec<u64>,
}

impl Handler for Bytes {
    fn accepts(&self, id: &str) -> bool {
        id == "b"
    }

    fn on_input(&mut self, ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        let b = input.tensor::<u8>(&["byte"])?;
        self.sums.push(b.data.iter().map(|&v| u64::from(v)).sum());
        ctx.handled(1);
        Ok(())
    }
}

/// u8 has no infinity: its storm is one of nulls, still counted under `values`.
#[test]
fn the_malformed_sweep_on_a_u8_input_sends_nulls_for_the_storm() {
    let meta = TensorMeta::new(&[3], ["byte"]);
    let mut events = vec![tensor_event(0.0, "b", &meta, &[1u8, 2, 3])];
    events.extend(malformed_tensor_events(0.0, "b", &meta, &[1u8, 2, 3]));
    events.push(tensor_event(0.2, "b", &meta, &[4u8, 5, 6]));
    let mut node = Bytes::default();
    let run = run_test("bytes", events, &mut node).expect("run");
    let c = &run.report.counts;
    assert_eq!(node.sums, [6, 15], "{c:?}");
    assert_eq!(c.dropped(), 5, "{c:?}");
    assert_malformed_dropped(c, "b", [0; 4]);
}

#[test]
fn gaps_in_an_inputs_seq_are_counted_as_missing_and_a_counter_going_back_as_a_restart() {
    let meta = TensorMeta::new(&[3], ["feature"]);
    // 0 1 2, 3-4 lost, 5 6, the sender restarts: 0 1, 2 lost, 3; a bad message still counts as
    // arrived.
    let seqs = [0u64, 1, 2, 5, 6, 0, 1, 3];
    let mut events: Vec<_> = seqs
        .iter()
        .enumerate()
        .map(|(i, &seq)| {
            let values: &[f32] = if i == 2 {
                &[1.0, f32::NAN, 3.0]
            } else {
                &[1.0, 2.0, 3.0]
            };
            tensor_event(i as f64 * 1e-3, "x", &meta.clone().with_seq(seq), values)
        })
        .collect();
    events.push(serde_json::json!({"time_offset_secs": 0.01, "type": "InputClosed", "id": "x"}));
    let mut node = Double::default();
    let run = run_test("double", events, &mut node).expect("run");
    let c = &run.report.counts;
    assert_eq!(c.handled, 7);
    assert_eq!(c.bad["x/values"], 1);
    let g = &c.gaps["x"];
    assert_eq!((g.missing, g.restarts, g.last), (3, 1, Some(3)));
    assert_eq!(c.missing_total(), 3);
}

#[test]
fn a_fatal_error_stops_the_node() {
    struct Fails;
    impl Handler for Fails {
        fn accepts(&self, _: &str) -> bool {
            true
        }
        fn on_input(&mut self, _: &mut Context, _: Input) -> Result<(), HandlerError> {
            Err(HandlerError::fatal(eyre::eyre!("disk gone")))
        }
    }
    let meta = TensorMeta::new(&[1], ["feature"]);
    let events = vec![tensor_event(0.0, "x", &meta, &[1.0f32])];
    let e = run_test("fails", events, &mut Fails).expect_err("fatal");
    assert!(format!("{e:#}").contains("disk gone"), "{e:#}");
}

/// A node with work of its own between messages: every accepted message queues `per_input`
/// units, `on_idle` does one unit a call (in the order they were queued) and is done after
/// `done_after` units, if set.
#[derive(Default)]
struct Worker {
    per_input: usize,
    done_after: Option<usize>,
    queued: usize,
    done: Vec<usize>,
    idle_calls: usize,
    stops: Vec<String>,
    saw_end: bool,
    finished: bool,
}

impl Handler for Worker {
    fn accepts(&self, id: &str) -> bool {
        id == "x"
    }

    fn on_input(&mut self, _ctx: &mut Context, input: Input) -> Result<(), HandlerError> {
        let x = input.tensor::<f32>(&["feature"])?;
        wdp_node::finite("values", x.data.iter())?;
        self.queued += self.per_input;
        Ok(())
    }

    fn on_idle(&mut self, ctx: &mut Context) -> eyre::Result<Work> {
        self.idle_calls += 1;
        self.saw_end |= ctx.inputs_ended();
        if self.done_after.is_some_and(|n| self.done.len() >= n) {
            return Ok(Work::Done);
        }
        if self.done.len() < self.queued {
            self.done.push(self.done.len());
            return Ok(Work::Pending);
        }
        Ok(Work::Idle)
    }

    fn on_stop(
        &mut self,
        _ctx: &mut Context,
        cause: &dora_node_api::StopCause,
    ) -> Result<(), HandlerError> {
        self.stops.push(format!("{cause:?}"));
        Ok(())
    }

    fn finish(&mut self, _ctx: &mut Context) -> eyre::Result<()> {
        self.finished = true;
        Ok(())
    }

    fn max_drop_reports(&self) -> Option<u64> {
        Some(1)
    }
}

#[test]
fn pending_work_is_done_between_messages_and_after_the_inputs_end() {
    let meta = TensorMeta::new(&[3], ["feature"]);
    let good = [1.0f32, 2.0, 3.0];
    let events = vec![
        tensor_event(0.0, "x", &meta, &good),
        tensor_event(0.001, "x", &meta, &[f32::NAN, 2.0, 3.0]),
        tensor_event(0.002, "x", &meta, &[2.0f32, f32::NAN, 3.0]),
        tensor_event(0.003, "x", &meta, &good),
        tensor_event(0.004, "nope", &meta, &good),
        json!({"time_offset_secs": 0.005, "type": "Stop"}),
    ];
    let mut node = Worker {
        per_input: 5,
        ..Worker::default()
    };
    let run = run_test("worker", events, &mut node).expect("run");
    // Every queued unit done, in order, the last ones after the stream ended.
    assert_eq!(node.done, (0..10).collect::<Vec<_>>());
    assert!(node.saw_end && node.finished);
    assert!(node.idle_calls > node.done.len(), "{}", node.idle_calls);
    assert_eq!(node.stops, ["Manual"]);
    let c = &run.report.counts;
    assert_eq!((c.handled, c.bad["x/values"], c.unknown["nope"]), (2, 2, 1));
}

#[test]
fn a_handler_done_with_its_work_ends_the_run_without_waiting_for_more_input() {
    let meta = TensorMeta::new(&[3], ["feature"]);
    let events = vec![
        tensor_event(0.0, "x", &meta, &[1.0f32, 2.0, 3.0]),
        // Never read: the run ends after two units.
        tensor_event(3.0, "x", &meta, &[1.0f32, 2.0, 3.0]),
    ];
    let mut node = Worker {
        per_input: 5,
        done_after: Some(2),
        ..Worker::default()
    };
    let start = std::time::Instant::now();
    let run = run_test("worker", events, &mut node).expect("run");
    assert!(start.elapsed().as_secs_f64() < 2.5, "{:?}", start.elapsed());
    assert_eq!(node.done, [0, 1]);
    assert!(node.finished && !node.saw_end);
    assert_eq!(run.report.counts.received["x"], 1);
}

#[test]
fn an_idle_handler_waits_for_messages_as_before() {
    // on_idle says Idle: the loop blocks for the next message (the gap below), and is called
    // once after each round and once at the end.
    let meta = TensorMeta::new(&[3], ["feature"]);
    let events = vec![
        tensor_event(0.0, "x", &meta, &[1.0f32, 2.0, 3.0]),
        tensor_event(0.2, "x", &meta, &[1.0f32, 2.0, 3.0]),
    ];
    let mut node = Worker::default();
    let run = run_test("worker", events, &mut node).expect("run");
    assert!(node.done.is_empty() && node.saw_end);
    assert_eq!(node.idle_calls, 3);
    assert_eq!(run.report.counts.handled, 2);
}
