//! `person.centre: locator`: the people are found where the upsampler's locator points, whatever
//! the backbone's centre branch says.
#![allow(clippy::unwrap_used)]

use tch::{nn, Device, Kind, Tensor};
use wdp_models::{CentreSource, CountSource, InputDims, Located, Preset, WifiDensePose};

/// `lite` with a locator, used as `centre` says.
fn locator_preset(centre: CentreSource) -> Preset {
    let mut preset = Preset::load("lite").unwrap();
    preset.upsampler.locator_hidden = 16;
    preset.person.centre = centre;
    preset
}

/// Makes the linear layer `layer` of `vs` say the same whatever its input: weights zero, bias
/// `-20` except `+20` at `index` of its `outputs`.
fn answer(vs: &nn::VarStore, layer: &str, outputs: i64, index: i64) {
    let bias = Tensor::full([outputs], -20.0, (Kind::Float, Device::Cpu));
    let _ = bias.get(index).fill_(20.0);
    tch::no_grad(|| {
        let mut vars = vs.variables();
        vars.get_mut(&format!("{layer}.bias")).unwrap().copy_(&bias);
        let _ = vars.get_mut(&format!("{layer}.weight")).unwrap().zero_();
    });
}

/// A model of `preset` whose locator points at one cell.
fn pointing_model(preset: &Preset, cell: (i64, i64)) -> (nn::VarStore, WifiDensePose) {
    tch::manual_seed(3);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = WifiDensePose::new(&vs.root(), preset, InputDims::new(3, 8, 40)).unwrap();
    let (h, w) = preset.upsampler.locator_size();
    answer(&vs, "upsampler.locator.2", h * w, cell.0 * w + cell.1);
    (vs, model)
}

#[test]
fn the_locator_places_the_one_person_it_points_at() {
    let (row, col) = (10, 20);
    let (_vs, model) = pointing_model(&locator_preset(CentreSource::Locator), (row, col));
    let window = Tensor::randn([2, 2, 3, 8, 40], (Kind::Float, Device::Cpu));
    let poses = model.infer(&window).unwrap();
    assert_eq!(poses.len(), 2);
    for pose in poses {
        // One person (every other cell has probability e^-20), its centre in the pointed
        // cell's neighbourhood (the backbone's offset moves it within a cell or so).
        assert_eq!(pose.boxes.size()[0], 1, "{:?}", pose.boxes);
        let b = Vec::<f32>::try_from(pose.boxes.get(0)).unwrap();
        let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
        let stride = 4.0;
        let (ex, ey) = ((col as f32 + 0.5) * stride, (row as f32 + 0.5) * stride);
        assert!(
            (cx - ex).abs() <= 2.0 * stride && (cy - ey).abs() <= 2.0 * stride,
            "centre ({cx}, {cy}), pointed at ({ex}, {ey})"
        );
        assert!(b[4] > 0.99, "score {}", b[4]);
    }
}

#[test]
fn centre_sources_combine_as_named() {
    let backbone = Tensor::from_slice(&[1.0f32, -2.0]).view([1, 1, 1, 2]);
    let locator = Tensor::from_slice(&[0.5f32, 3.0]).view([1, 1, 1, 2]);
    let values = |t: Tensor| Vec::<f32>::try_from(t.flatten(0, -1)).unwrap();
    assert_eq!(
        values(CentreSource::Backbone.combine(&backbone, Some(&locator))),
        [1.0, -2.0]
    );
    assert_eq!(
        values(CentreSource::Locator.combine(&backbone, Some(&locator))),
        [0.5, 3.0]
    );
    assert_eq!(
        values(CentreSource::Sum.combine(&backbone, Some(&locator))),
        [1.5, 1.0]
    );
    // A model without a locator (or a stage that did not get its logits) keeps the backbone's.
    assert_eq!(
        values(CentreSource::Locator.combine(&backbone, None)),
        [1.0, -2.0]
    );
}

#[test]
fn a_misshapen_locator_map_is_an_error_naming_the_stage() {
    let (_vs, model) = pointing_model(&locator_preset(CentreSource::Locator), (0, 0));
    let spatial = Tensor::rand([1, 3, 96, 128], (Kind::Float, Device::Cpu));
    let wrong = Tensor::zeros([1, 1, 5, 5], (Kind::Float, Device::Cpu));
    let err = model
        .stage
        .forward_located_t(
            &spatial,
            Located {
                locator: Some(&wrong),
                count: None,
                floor: None,
            },
            None,
            false,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("locator"), "{err}");
}

/// `person.count: head`: the count head decides how many people there are, the locator where.
/// The locator is sure of one cell; a head sure of 0 people leaves none, one sure of 2 adds the
/// next best place.
#[test]
fn the_count_head_decides_how_many() {
    for (people, want) in [(0i64, 0i64), (1, 1), (2, 2)] {
        let mut preset = locator_preset(CentreSource::Locator);
        preset.upsampler.count_classes = 4;
        preset.person.count = CountSource::Head;
        preset.person.score_threshold = 0.5;
        let (vs, model) = pointing_model(&preset, (10, 20));
        answer(&vs, "upsampler.count.out", 4, people);
        let window = Tensor::randn([1, 2, 3, 8, 40], (Kind::Float, Device::Cpu));
        let pose = model.infer(&window).unwrap().remove(0);
        assert_eq!(
            pose.boxes.size()[0],
            want,
            "count {people}: {:?}",
            pose.boxes
        );
        if want > 0 {
            // The first is the locator's cell, scored with the head's P(at least one) = 1.
            let b = Vec::<f32>::try_from(pose.boxes.get(0)).unwrap();
            let cx = (b[0] + b[2]) / 2.0;
            assert!((cx - 82.0).abs() <= 8.0, "first person at x {cx}");
            assert!(b[4] > 0.99, "score {}", b[4]);
        }
    }
}

/// A preset that counts by the head needs one.
#[test]
fn counting_by_a_missing_head_is_a_preset_error() {
    let mut preset = Preset::load("lite").unwrap();
    preset.person.count = CountSource::Head;
    let err = preset.validate().unwrap_err().to_string();
    assert!(
        err.contains("person.count") && err.contains("count_classes"),
        "{err}"
    );
}

/// With a floor head, every person the count head keeps gets a floor point, the first at the
/// head's surest cell; the split stage given a floor map of the wrong grid names it.
#[test]
fn each_counted_person_gets_a_floor_point() {
    let mut preset = floor_preset();
    preset.person.score_threshold = 0.5;
    let (vs, model) = pointing_model(&preset, (10, 20));
    answer(&vs, "upsampler.count.out", 4, 2);
    // Cell (row 3, column 6): floor point (3.25, 1.75) m.
    answer(&vs, "upsampler.floor.2", 80, 3 * 10 + 6);
    let window = Tensor::randn([1, 2, 3, 8, 40], (Kind::Float, Device::Cpu));
    let pose = model.infer(&window).unwrap().remove(0);
    let floor = pose.floor_m.expect("floor points");
    assert_eq!(floor.size(), [2, 2]);
    let first = Vec::<f32>::try_from(floor.get(0)).unwrap();
    assert!(
        (first[0] - 3.25).abs() < 0.05 && (first[1] - 1.75).abs() < 0.05,
        "{first:?}"
    );
    let spatial = Tensor::rand([1, 3, 96, 128], (Kind::Float, Device::Cpu));
    let wrong = Tensor::zeros([1, 5, 5], (Kind::Float, Device::Cpu));
    let located = Located {
        floor: Some(&wrong),
        ..Located::default()
    };
    let err = model
        .stage
        .infer_located(&spatial, located)
        .unwrap_err()
        .to_string();
    assert!(err.contains("floor"), "{err}");
}

/// The locator preset counting by its count head (4 classes), with a floor head of 10 x 8
/// cells of 0.5 m.
fn floor_preset() -> Preset {
    let mut preset = locator_preset(CentreSource::Locator);
    preset.upsampler.count_classes = 4;
    preset.person.count = CountSource::Head;
    preset.upsampler.floor = Some(wdp_models::floor::FloorConfig {
        cell_m: 0.5,
        cells: [10, 8],
        hidden: 8,
        sigma_m: 0.25,
        radio_map_weight: 0.0,
        radio_map_floor: 1e-3,
    });
    preset
}

/// Location first: each person's box is the placer's box for its floor point, its keypoints
/// drawn inside it, its score the person head's; where the placer says nothing the decoded box
/// stays.
#[test]
fn people_are_drawn_in_the_boxes_placed_at_their_floor_points() {
    let preset = floor_preset();
    let (vs, model) = pointing_model(&preset, (10, 20));
    answer(&vs, "upsampler.count.out", 4, 2);
    answer(&vs, "upsampler.floor.2", 80, 3 * 10 + 6);
    let window = Tensor::randn([1, 2, 3, 8, 40], (Kind::Float, Device::Cpu));
    let decoded = model.infer(&window).unwrap().remove(0);
    // A box 10 px per metre from the floor point, 6 x 20 px.
    let place = |_: i64, xy: [f32; 2]| {
        let (x, y) = (xy[0] * 10.0, xy[1] * 10.0);
        Some([x, y, x + 6.0, y + 20.0])
    };
    let placed = model
        .infer_with_radio(&window, &[], Some(&place))
        .unwrap()
        .remove(0);
    let boxes = Vec::<f32>::try_from(placed.boxes.flatten(0, -1)).unwrap();
    let floor = Vec::<f32>::try_from(placed.floor_m.unwrap().flatten(0, -1)).unwrap();
    let scores = Vec::<f32>::try_from(decoded.boxes.select(1, 4)).unwrap();
    let keypoints = Vec::<f32>::try_from(placed.keypoints.flatten(0, -1)).unwrap();
    assert_eq!(boxes.len(), 10, "two people: {boxes:?}");
    for p in 0..2 {
        let want = place(0, [floor[2 * p], floor[2 * p + 1]]).unwrap();
        assert_eq!(boxes[5 * p..5 * p + 4], want, "person {p}");
        assert_eq!(boxes[5 * p + 4], scores[p], "person {p}'s score");
        for k in keypoints[51 * p..51 * (p + 1)].chunks(3) {
            assert!(
                (want[0] - 0.5..=want[2] + 0.5).contains(&k[0])
                    && (want[1] - 0.5..=want[3] + 0.5).contains(&k[1]),
                "keypoint {k:?} outside {want:?}"
            );
        }
    }
    let nowhere = |_: i64, _: [f32; 2]| None;
    let kept = model
        .infer_with_radio(&window, &[], Some(&nowhere))
        .unwrap()
        .remove(0);
    assert!(kept.boxes.equal(&decoded.boxes));
}
