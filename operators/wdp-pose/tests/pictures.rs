//! Overlays and animated GIFs.
#![allow(clippy::unwrap_used)]

use ndarray::{Array3, Array4};
use std::io::Cursor;
use wdp_pose::anim::{nearest_index, palette};
use wdp_pose::render::{KEYPOINT_COLOR, PERSON_COLORS};
use wdp_pose::wdp_tensor::TensorMeta;
use wdp_pose::{
    part_color, DenseStyle, GifWriter, KeypointKind, Person, PoseFrame, Region, RenderOptions,
    RgbImage,
};

const BG: [u8; 3] = [40, 40, 48];

fn blend(under: [u8; 3], over: [u8; 3], alpha: f32) -> [u8; 3] {
    std::array::from_fn(|k| {
        let o = under[k] as f32;
        (o + (over[k] as f32 - o) * alpha).round() as u8
    })
}

/// One person with box (40, 40)-(80, 120); the top half of its 8 x 4 part map is part 3 and the
/// bottom half part 9; only the shoulders are present.
fn frame() -> PoseFrame {
    let mut p = Person::from_box([40.0, 40.0, 80.0, 120.0, 0.9]);
    p.keypoints[5] = [50.0, 60.0, 0.9];
    p.keypoints[6] = [70.0, 60.0, 0.9];
    p.track_id = Some(7);
    let mut f = PoseFrame::new(&TensorMeta::default(), vec![p]);
    f.image_wh = Some([160, 160]);
    f.parts = Some(Array3::from_shape_fn(
        (1, 8, 4),
        |(_, y, _)| if y < 4 { 3 } else { 9 },
    ));
    f.uv = Some(Array4::from_elem((1, 2, 8, 4), 0.5));
    f
}

#[test]
fn overlay_draws_parts_inside_the_box_and_the_skeleton() {
    let f = frame();
    let img = render_default(&f);
    assert_eq!((img.width, img.height), (160, 160));
    // parts: top half of the box part 3, bottom half part 9, blended at half opacity
    assert_eq!(img.get(45, 50), Some(blend(BG, part_color(3), 0.5)));
    assert_eq!(img.get(75, 110), Some(blend(BG, part_color(9), 0.5)));
    // outside the box the canvas is untouched
    assert_eq!(img.get(20, 20), Some(BG));
    assert_eq!(img.get(100, 100), Some(BG));
    assert_eq!(img.get(60, 130), Some(BG));
    // the shoulder line between (50, 60) and (70, 60), in the person's colour (track 7)
    let col = PERSON_COLORS[7 % 5];
    assert_eq!(img.get(60, 60), Some(col));
    // keypoint dots, and the box outline
    assert_eq!(img.get(50, 60), Some(KEYPOINT_COLOR));
    assert_eq!(img.get(40, 80), Some(col));
    assert_eq!(img.get(60, 40), Some(col));
    // no skeleton where keypoints are absent (hips have score 0)
    assert_eq!(img.get(60, 85), Some(blend(BG, part_color(9), 0.5)));
    // the track label "#7" sits above the box
    let label = (33..40).flat_map(|y| (40..50).map(move |x| (x, y)));
    assert!(label.into_iter().any(|(x, y)| img.get(x, y) == Some(col)));
}

fn render_default(f: &PoseFrame) -> RgbImage {
    wdp_pose::render_overlay(f, None, &RenderOptions::default())
}

#[test]
fn image_region_maps_cover_the_whole_picture() {
    let mut f = frame();
    f.region = Region::Image;
    f.parts = Some(Array3::from_shape_fn((1, 16, 16), |(_, y, x)| {
        u8::from(x < 8 && y < 8) * 5
    }));
    let img = render_default(&f);
    assert_eq!(img.get(10, 10), Some(blend(BG, part_color(5), 0.5)));
    assert_eq!(img.get(150, 150), Some(BG));
}

#[test]
fn overlay_scales_to_a_camera_frame_and_draws_uv() {
    let f = frame();
    let camera = RgbImage::filled(320, 320, [0, 0, 0]);
    let opts = RenderOptions {
        dense: DenseStyle::Uv,
        dense_alpha: 1.0,
        ..RenderOptions::default()
    };
    let img = wdp_pose::render_overlay(&f, Some(camera), &opts);
    assert_eq!((img.width, img.height), (320, 320));
    // the box is now (80, 80)-(160, 240); UV 0.5 is drawn as (128, 128, 96)
    assert_eq!(img.get(100, 200), Some([128, 128, 96]));
    assert_eq!(img.get(60, 200), Some([0, 0, 0]));
    assert_eq!(img.get(120, 120), Some(PERSON_COLORS[2]));
}

#[test]
fn visibility_keypoints_show_hidden_ones_as_rings() {
    let mut f = frame();
    f.keypoint_kind = KeypointKind::Visibility;
    f.parts = None;
    f.uv = None;
    f.people[0].keypoints[5][2] = 1.0;
    f.people[0].keypoints[6][2] = 2.0;
    let img = render_default(&f);
    assert_eq!(img.get(70, 60), Some(KEYPOINT_COLOR), "visible: filled");
    assert_ne!(
        img.get(50, 60),
        Some(KEYPOINT_COLOR),
        "hidden: ring, centre not drawn"
    );
    assert_eq!(img.get(52, 60), Some(KEYPOINT_COLOR), "hidden: ring");
}

#[test]
fn png_encodes() {
    let png = render_default(&frame()).to_png().unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn palette_maps_colours_to_near_entries() {
    let p = palette();
    assert_eq!(p.len(), 256 * 3);
    for rgb in [
        [0, 0, 0],
        [255, 255, 255],
        [40, 40, 48],
        [200, 30, 90],
        part_color(3),
    ] {
        let i = nearest_index(rgb) as usize;
        let q = [p[3 * i], p[3 * i + 1], p[3 * i + 2]];
        for k in 0..3 {
            assert!(
                (q[k] as i32 - rgb[k] as i32).abs() <= 26,
                "{rgb:?} -> {q:?}"
            );
        }
    }
    assert_eq!(nearest_index([255, 0, 0]), 180);
}

#[test]
fn gif_decodes_with_frame_count_size_and_delays() {
    let f = frame();
    let mut writer = GifWriter::new(Vec::new(), 160, 160).unwrap();
    let times = [0i64, 100_000_000, 250_000_000, 250_000_000];
    for (i, &t) in times.iter().enumerate() {
        let mut g = f.clone();
        g.people[0].bbox[0] += 5.0 * i as f32;
        writer.push(&render_default(&g), t).unwrap();
    }
    assert_eq!(writer.frames(), 4);
    let wrong = RgbImage::filled(10, 10, BG);
    assert!(writer.push(&wrong, 300_000_000).is_err());
    let bytes = writer.finish().unwrap();

    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(Cursor::new(bytes)).unwrap();
    assert_eq!((decoder.width(), decoder.height()), (160, 160));
    let mut delays = Vec::new();
    let mut first = None;
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        assert_eq!((frame.width, frame.height), (160, 160));
        delays.push(frame.delay);
        first.get_or_insert_with(|| frame.buffer.to_vec());
    }
    // 100 ms, 150 ms, a repeated timestamp keeps the last delay, the last frame too
    assert_eq!(delays, [10, 15, 15, 15]);
    let first = first.unwrap();
    let at = |x: usize, y: usize| {
        let i = (y * 160 + x) * 4;
        [first[i], first[i + 1], first[i + 2]]
    };
    let close = |a: [u8; 3], b: [u8; 3]| (0..3).all(|k| (a[k] as i32 - b[k] as i32).abs() <= 26);
    assert!(close(at(20, 20), BG), "{:?}", at(20, 20));
    assert!(
        close(at(45, 50), blend(BG, part_color(3), 0.5)),
        "{:?}",
        at(45, 50)
    );
}
