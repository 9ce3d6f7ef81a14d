//! Presets: the built-ins load, and bad files give errors naming the field.
#![allow(clippy::unwrap_used)]

use wdp_models::{BackboneKind, InputDims, ModelError, Preset};

#[test]
fn builtin_presets_load() {
    for name in Preset::builtin_names() {
        let p = Preset::load(name).unwrap();
        assert_eq!(p.name, name);
        assert_eq!(p.encoder.feature_dim, 256, "features contract");
        assert_eq!(p.head.num_parts, 24);
        assert_eq!(p.head.num_keypoints, 17);
    }
    let paper = Preset::load("paper").unwrap();
    assert_eq!(
        (paper.upsampler.out_height, paper.upsampler.out_width),
        (720, 1280)
    );
    assert_eq!(
        paper.backbone.resnet_fpn.stage_channels,
        vec![64, 128, 256, 512]
    );
    assert_eq!(paper.backbone.resnet_fpn.fpn_channels, 256);
    assert_eq!(
        Preset::load("gfl").unwrap().backbone.kind,
        BackboneKind::Gfl
    );
}

#[test]
fn preset_errors_name_the_field() {
    let lite =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../presets/lite.yaml"))
            .unwrap();
    // Value that the model cannot use.
    let bad = lite.replace("out_height: 96", "out_height: 100");
    let err = Preset::from_yaml("bad", &bad).unwrap_err();
    assert!(
        matches!(&err, ModelError::PresetField { field, .. } if field == "upsampler.out_height"),
        "{err}"
    );
    // Found by the `preset` fuzz target: poses are COCO-17 on the wire.
    let bad = lite.replace("num_keypoints: 17", "num_keypoints: 34");
    assert!(Preset::from_yaml("bad", &bad)
        .unwrap_err()
        .to_string()
        .contains("head.num_keypoints"));
    let bad = lite.replace("fusion_heads: 4", "fusion_heads: 5");
    assert!(Preset::from_yaml("bad", &bad)
        .unwrap_err()
        .to_string()
        .contains("encoder.fusion_heads"));
    // Missing and unknown fields are named by the parser.
    let bad = lite
        .replace("  fpn_channels: 64\n", "")
        .replace("    fpn_channels: 64\n", "");
    let err = Preset::from_yaml("bad", &bad).unwrap_err().to_string();
    assert!(err.contains("fpn_channels"), "{err}");
    let bad = lite.replace(
        "  dropout: 0.1\nupsampler",
        "  dropout: 0.1\n  dropuot: 0.2\nupsampler",
    );
    let err = Preset::from_yaml("bad", &bad).unwrap_err().to_string();
    assert!(err.contains("dropuot"), "{err}");
    // Placing people by the floor head needs one, and a body of positive size.
    let floor = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../presets/lite-floor.yaml"
    ))
    .unwrap();
    assert!(floor.contains("  place:\n    height_m: 1.72\n"));
    let err = Preset::from_yaml("bad", &floor.replace("height_m: 1.72", "height_m: -1"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("person.place.height_m"), "{err}");
    let placed = lite.replace(
        "  score_threshold: 0.3\n",
        "  score_threshold: 0.3\n  place: { height_m: 1.7, width_m: 0.6 }\n",
    );
    assert_ne!(placed, lite);
    let err = Preset::from_yaml("bad", &placed).unwrap_err().to_string();
    assert!(
        err.contains("person.place") && err.contains("upsampler.floor"),
        "{err}"
    );
    // A path that does not exist.
    let err = Preset::load("no/such/preset.yaml").unwrap_err().to_string();
    assert!(err.contains("no/such/preset.yaml"), "{err}");
}

#[test]
fn input_dims_from_window_shapes() {
    assert_eq!(
        InputDims::from_window_shape(&[2, 9, 30, 100]).unwrap(),
        InputDims::new(9, 30, 100)
    );
    assert_eq!(
        InputDims::from_window_shape(&[4, 2, 1, 56, 50]).unwrap(),
        InputDims::new(1, 56, 50)
    );
    assert!(InputDims::from_window_shape(&[3, 9, 30, 100]).is_err());
    assert!(InputDims::from_window_shape(&[2, 9, 30, 2]).is_err());
}
