//! The runtime on a toy node (doubles a 3-vector), in dora's testing mode.

use wdp_node::testing::{run_test, tensor_event};
use wdp_node::{Context, Handler, HandlerError, Input};
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
