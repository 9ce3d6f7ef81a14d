//! The wire contract: round trips and the errors a stage gets for bad messages.

use arrow_array::{Array, Float32Array, Int32Array, UInt8Array};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use wdp_tensor::{view, MetaValue, Tensor, TensorError, TensorMeta};

fn ramp(shape: &[usize]) -> ArrayD<f32> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| i as f32 * 0.5 - 3.0).collect())
        .expect("shape matches")
}

#[test]
fn round_trip_keeps_values_shape_and_metadata() {
    let meta = TensorMeta::new(&[3, 3, 30, 2], ["tx", "rx", "subcarrier", "complex"])
        .with_time_ns(1_700_000_000_123_456_789)
        .with_seq(7)
        .with_room("lab")
        .with_link("tx0-rx0")
        .with("subcarriers", MetaValue::Ints((0..30).collect()));
    let tensor = Tensor::new(ramp(&[3, 3, 30, 2]), meta.clone()).expect("valid");
    let arrow = tensor.to_arrow();
    assert_eq!(arrow.len(), 3 * 3 * 30 * 2);
    let back = Tensor::<f32>::from_arrow(arrow.as_ref(), meta).expect("decodes");
    assert_eq!(back, tensor);
    assert_eq!(back.data[[2, 1, 29, 1]], tensor.data[[2, 1, 29, 1]]);
}

#[test]
fn view_is_zero_copy() {
    let arrow = Float32Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let meta = TensorMeta::new(&[2, 3], ["a", "b"]);
    let v = view::<f32>(&arrow, &meta).expect("valid");
    assert_eq!(v.as_ptr(), arrow.values().as_ptr());
    assert_eq!(v[[1, 0]], 4.0);
}

#[test]
fn into_arrow_handles_non_standard_layout() {
    let data = ramp(&[4, 5]);
    let transposed = data.t().to_owned();
    let tensor = Tensor::new(transposed.clone(), TensorMeta::default()).expect("valid");
    let arrow = tensor.into_arrow();
    let meta = TensorMeta::new(&[5, 4], Vec::<String>::new());
    assert_eq!(
        view::<f32>(arrow.as_ref(), &meta).expect("valid"),
        transposed.view()
    );
}

#[test]
fn wrong_type_is_named() {
    let arrow = Int32Array::from(vec![1, 2, 3]);
    let err = view::<f32>(&arrow, &TensorMeta::new(&[3], ["x"])).expect_err("type differs");
    assert!(matches!(err, TensorError::DataType { .. }));
    assert!(err.to_string().contains("Int32"), "{err}");
}

#[test]
fn wrong_length_is_reported_with_shape() {
    let arrow = UInt8Array::from(vec![0u8; 10]);
    let err = view::<u8>(&arrow, &TensorMeta::new(&[3, 4], ["h", "w"])).expect_err("short");
    assert_eq!(
        err,
        TensorError::Length {
            len: 10,
            shape: vec![3, 4],
            expected: 12
        }
    );
}

#[test]
fn nulls_are_rejected() {
    let arrow = Float32Array::from(vec![Some(1.0), None]);
    let err = view::<f32>(&arrow, &TensorMeta::new(&[2], ["x"])).expect_err("nulls");
    assert_eq!(err, TensorError::Nulls(1));
}

#[test]
fn dims_must_name_every_axis() {
    let arrow = Float32Array::from(vec![0.0; 6]);
    let err = view::<f32>(&arrow, &TensorMeta::new(&[2, 3], ["only-one"])).expect_err("dims");
    assert!(matches!(err, TensorError::DimsRank { rank: 2, .. }));
}

#[test]
fn expect_dims_checks_names_and_rank() {
    let meta = TensorMeta::new(
        &[2, 9, 30, 100],
        ["feature", "antenna", "subcarrier", "time"],
    );
    assert!(meta
        .expect_dims(&["feature", "*", "subcarrier", "time"])
        .is_ok());
    assert!(matches!(
        meta.expect_dims(&["feature", "antenna", "time", "subcarrier"]),
        Err(TensorError::Dims { .. })
    ));
    assert!(matches!(
        meta.expect_dims(&["a", "b", "c"]),
        Err(TensorError::Rank { expected: 3, .. })
    ));
}

proptest! {
    #[test]
    fn any_shape_round_trips(shape in prop::collection::vec(1usize..5, 1..5), t_ns in any::<i64>()) {
        let data = ramp(&shape);
        let dims: Vec<String> = (0..shape.len()).map(|i| format!("d{i}")).collect();
        let meta = TensorMeta::new(&shape, dims).with_time_ns(t_ns);
        let tensor = Tensor::new(data, meta.clone()).expect("valid");
        let arrow = tensor.to_arrow();
        let back = view::<f32>(arrow.as_ref(), &meta).expect("decodes");
        prop_assert_eq!(back, tensor.data.view());
    }
}
