//! [`LiveWindow`]: a received window tensor, checked against the model's input shape.

use crate::data::Sample;
use eyre::{bail, eyre, Result};
use ndarray::ArrayViewD;
use wdp_pose::wdp_tensor::TensorMeta;

/// Axis names of a model-input window (csi-preprocess's `window`).
pub const WINDOW_DIMS: [&str; 4] = ["feature", "antenna", "subcarrier", "time"];

/// A model-input window received from a running pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveWindow {
    /// Capture time of the newest packet in it, ns.
    pub t_ns: i64,
    /// Room it was captured in.
    pub room: String,
    /// `[2, antenna pairs, subcarriers, time]`.
    pub shape: [usize; 4],
    /// Row-major values.
    pub values: Vec<f32>,
}

impl LiveWindow {
    /// Checks and copies a received window tensor: rank 4 with axes `feature, antenna,
    /// subcarrier, time` (when named), 2 features (amplitude, phase), finite values, and the
    /// shape `expected` (the model's input) when given.
    pub fn new(
        data: ArrayViewD<'_, f32>,
        meta: &TensorMeta,
        expected: Option<[usize; 4]>,
    ) -> Result<Self> {
        let s = data.shape();
        let shape: [usize; 4] = s.try_into().map_err(|_| {
            eyre!(
                "window: shape {s:?} has {} axes, expected 4 ([2, antennas, subcarriers, time])",
                s.len()
            )
        })?;
        if !meta.dims.is_empty() && meta.dims != WINDOW_DIMS {
            bail!(
                "window: dims {:?}, expected {} (a model-input window, not e.g. a spectrogram)",
                meta.dims,
                WINDOW_DIMS.join(",")
            );
        }
        if shape[0] != 2 {
            bail!(
                "window: shape {shape:?}: axis 0 (feature) has {} entries, expected 2 (amplitude, phase)",
                shape[0]
            );
        }
        if shape.contains(&0) {
            bail!("window: shape {shape:?} has an empty axis");
        }
        if let Some(e) = expected.filter(|e| *e != shape) {
            bail!("window: shape {shape:?} differs from {e:?}, the model's input shape");
        }
        let bad = data.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            bail!("window: {bad} of {} values are not finite", data.len());
        }
        Ok(Self {
            t_ns: meta.t_ns,
            room: meta.room.clone(),
            shape,
            values: data.iter().copied().collect(),
        })
    }
}

impl From<Sample> for LiveWindow {
    /// The window of a dataset frame (unlabelled target frames loaded from shards).
    fn from(s: Sample) -> Self {
        Self {
            t_ns: s.t_ns,
            room: s.room,
            shape: s.window_shape,
            values: s.window,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array, IxDyn};

    #[test]
    fn a_window_of_the_wrong_shape_is_refused_naming_what_is_wrong() {
        let meta = |shape: &[usize], dims: &[&str]| {
            TensorMeta::new(shape, dims.iter().copied()).with_time_ns(1)
        };
        let ok = Array::<f32, _>::zeros(IxDyn(&[2, 3, 4, 8]));
        let w = LiveWindow::new(ok.view(), &meta(&[2, 3, 4, 8], &WINDOW_DIMS), None).expect("good");
        assert_eq!((w.shape, w.values.len(), w.t_ns), ([2, 3, 4, 8], 192, 1));

        let rank3 = Array::<f32, _>::zeros(IxDyn(&[2, 12, 8]));
        let e = LiveWindow::new(rank3.view(), &meta(&[2, 12, 8], &[]), None).expect_err("refused");
        assert!(
            e.to_string()
                .contains("window: shape [2, 12, 8] has 3 axes"),
            "{e}"
        );

        let three = Array::<f32, _>::zeros(IxDyn(&[3, 3, 4, 8]));
        let e =
            LiveWindow::new(three.view(), &meta(&[3, 3, 4, 8], &[]), None).expect_err("refused");
        assert!(
            e.to_string().contains("axis 0 (feature) has 3 entries"),
            "{e}"
        );

        let spectrogram = ["antenna", "subcarrier", "freq", "frame"];
        let e = LiveWindow::new(ok.view(), &meta(&[2, 3, 4, 8], &spectrogram), None)
            .expect_err("refused");
        assert!(e.to_string().contains("window: dims"), "{e}");

        let e = LiveWindow::new(
            ok.view(),
            &meta(&[2, 3, 4, 8], &WINDOW_DIMS),
            Some([2, 3, 4, 16]),
        )
        .expect_err("refused");
        assert!(
            e.to_string()
                .contains("shape [2, 3, 4, 8] differs from [2, 3, 4, 16]"),
            "{e}"
        );

        let mut nan = ok.clone();
        nan[[1, 2, 3, 7]] = f32::NAN;
        let e = LiveWindow::new(nan.view(), &meta(&[2, 3, 4, 8], &WINDOW_DIMS), None)
            .expect_err("refused");
        assert!(
            e.to_string().contains("1 of 192 values are not finite"),
            "{e}"
        );
    }
}
