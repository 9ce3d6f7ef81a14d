//! Windows and labelled frames the tests of `live` pair, check and turn into samples.

use super::{Labels, LiveWindow, WINDOW_DIMS};
use ndarray::{Array, Array3, Array4, IxDyn};
use wdp_pose::wdp_tensor::TensorMeta;
use wdp_pose::{KeypointKind, Person, PoseFrame, Region};

fn window_meta(t_ns: i64) -> TensorMeta {
    TensorMeta::new(&[2, 3, 4, 8], WINDOW_DIMS)
        .with_time_ns(t_ns)
        .with_room("lab")
}

pub(super) fn window(t_ns: i64) -> LiveWindow {
    let data = Array::from_elem(IxDyn(&[2, 3, 4, 8]), t_ns as f32);
    LiveWindow::new(data.view(), &window_meta(t_ns), None).expect("a good window")
}

pub(super) fn frame(t_ns: i64, people: usize) -> PoseFrame {
    let mut f = PoseFrame::new(
        &TensorMeta::default()
            .with_time_ns(t_ns)
            .with_seq(t_ns as u64),
        (0..people)
            .map(|i| Person {
                keypoints: [[10.0 + i as f32, 20.0, 2.0]; 17],
                bbox: [5.0, 6.0, 40.0, 60.0, 1.0],
                track_id: None,
                floor_m: None,
            })
            .collect(),
    );
    f.keypoint_kind = KeypointKind::Visibility;
    f.image_wh = Some([64, 48]);
    f.region = Region::Image;
    f.parts = Some(Array3::from_elem((people, 12, 16), 3));
    f.uv = Some(Array4::from_elem((people, 2, 12, 16), 0.5));
    f
}

pub(super) fn labels(t_ns: i64) -> Labels {
    Labels::from_frame(&frame(t_ns, 1)).expect("good labels")
}
