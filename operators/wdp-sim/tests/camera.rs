//! Camera ground truth: pinhole projection, visibility, occlusion, masks and UV.
#![allow(clippy::unwrap_used)]

mod common;
use common::bare_scene;
use wdp_sim::scene::{Motion, Person};
use wdp_sim::{render_overlay, Simulator};

fn stand(x: f64, y: f64, facing_deg: f64) -> Person {
    Person {
        height_m: 1.75,
        reflectivity: 1.0,
        motion: Motion::Stand {
            position_m: [x, y],
            facing_deg,
            breathing_hz: 0.25,
            breathing_amplitude_m: 0.004,
        },
        body_seed: None,
    }
}

#[test]
fn keypoints_follow_the_pinhole_model() {
    let mut scene = bare_scene();
    scene.people = vec![stand(3.0, 2.5, 180.0)];
    let sim = Simulator::new(scene).unwrap();
    let t = 0.35;
    let gt = sim.ground_truth_at(t, 7);
    assert_eq!(gt.frame_index, 7);
    assert_eq!(gt.t_ns, 350_000_000);
    let body = &sim.people_at(t)[0];
    // camera at (0.1, 2.5, 1.5) looking along +x: x_c = -(y - 2.5), y_c = -(z - 1.5), z_c = x - 0.1
    for (k, j) in body.keypoints().iter().enumerate() {
        let (xc, yc, zc) = (-(j.y - 2.5), -(j.z - 1.5), j.x - 0.1);
        let u = 200.0 * xc / zc + 160.0;
        let v = 200.0 * yc / zc + 120.0;
        let kp = gt.people[0].keypoints[k];
        assert!(
            (kp[0] as f64 - u).abs() < 1e-3 && (kp[1] as f64 - v).abs() < 1e-3,
            "kp {k}"
        );
        assert_eq!(kp[2], 2.0, "kp {k} visible");
    }
    // the person faces the camera: their left shoulder is on the image's right
    let kp = &gt.people[0].keypoints;
    assert!(kp[5][0] > kp[6][0]);
    let b = gt.people[0].box_xyxy;
    assert!(b[0] < kp[5][0].min(kp[6][0]) && b[2] > kp[5][0].max(kp[6][0]));
    assert!(b[1] < kp[0][1] && b[3] > kp[15][1]);
}

#[test]
fn masks_and_uv_cover_the_parts_of_a_visible_person() {
    let mut scene = bare_scene();
    scene.people = vec![stand(2.5, 2.5, 180.0)];
    if let Some(c) = scene.camera.as_mut() {
        c.gt_resolution = Some([160, 120]);
        c.rgb = true;
    }
    let sim = Simulator::new(scene).unwrap();
    let gt = sim.ground_truth_at(0.0, 0);
    assert_eq!(gt.part_index.dim(), (1, 120, 160));
    assert_eq!(gt.uv.dim(), (1, 2, 120, 160));
    let rgb = gt.rgb.as_ref().unwrap();
    assert_eq!(rgb.dim(), (240, 320, 3));
    let mut seen = [false; 25];
    let mut fg = 0;
    for ((p, y, x), &part) in gt.part_index.indexed_iter() {
        seen[part as usize] = true;
        let (u, v) = (gt.uv[[p, 0, y, x]], gt.uv[[p, 1, y, x]]);
        if part == 0 {
            assert_eq!((u, v), (0.0, 0.0));
        } else {
            fg += 1;
            assert!((0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v));
        }
    }
    // facing the camera: torso front, both hands, head halves, legs and arms are visible
    for part in [2u8, 3, 4, 9, 10, 13, 14, 23, 24] {
        assert!(seen[part as usize], "part {part} missing");
    }
    assert!(!seen[1], "torso back is hidden when facing the camera");
    assert!(fg > 500, "{fg} foreground pixels");
    let png = render_overlay(&gt).to_png().unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn nearer_people_hide_farther_ones_and_out_of_view_is_zero() {
    let mut scene = bare_scene();
    scene.people = vec![
        stand(4.5, 2.5, 180.0), // far, straight behind the near one
        stand(2.0, 2.5, 180.0), // near
        stand(1.0, 0.3, 0.0),   // outside the field of view
    ];
    let sim = Simulator::new(scene).unwrap();
    let gt = sim.ground_truth_at(0.0, 0);
    let far = &gt.people[0];
    let near = &gt.people[1];
    let hidden = far.keypoints.iter().filter(|k| k[2] == 1.0).count();
    assert!(hidden >= 8, "only {hidden} far keypoints hidden");
    // nothing hides the near person (its ankles may leave the frame: 0)
    assert!(near.keypoints.iter().all(|k| k[2] != 1.0));
    assert!(near.keypoints[..13].iter().all(|k| k[2] == 2.0));
    let count = |p: usize| {
        gt.part_index
            .index_axis(ndarray::Axis(0), p)
            .iter()
            .filter(|v| **v > 0)
            .count()
    };
    assert!(
        count(0) * 4 < count(1),
        "far {} near {}",
        count(0),
        count(1)
    );
    let out = &gt.people[2];
    assert!(out.keypoints.iter().all(|k| *k == [0.0, 0.0, 0.0]));
    assert_eq!(out.box_xyxy, [0.0; 4]);
    assert_eq!(count(2), 0);
    // masks are exclusive: one person per pixel
    let (_, h, w) = gt.part_index.dim();
    for y in 0..h {
        for x in 0..w {
            let n = (0..3).filter(|&p| gt.part_index[[p, y, x]] > 0).count();
            assert!(n <= 1);
        }
    }
}
