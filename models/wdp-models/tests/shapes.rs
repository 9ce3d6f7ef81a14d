//! Shape tests of every module at two input dims (3x3 antennas x 30 subcarriers x 100
//! packets, and 1x1 x 56 x 50), on the `lite` and `gfl` presets.
#![allow(clippy::unwrap_used)]

use tch::{nn, nn::Module, nn::ModuleT, Device, Kind, Tensor};
use wdp_models::{
    gfl::FilterSpec, roi::roi_align, Backbone, CsiEncoder, DensePoseHead, GflBlock, InputDims,
    PersonHead, Preset, SpatialUpsampler, TemporalModule, WifiDensePose,
};

const DIMS: [InputDims; 2] = [
    InputDims {
        antennas: 9,
        subcarriers: 30,
        window: 100,
    },
    InputDims {
        antennas: 1,
        subcarriers: 56,
        window: 50,
    },
];

fn window(b: i64, d: InputDims) -> Tensor {
    Tensor::randn(
        [b, 2, d.antennas, d.subcarriers, d.window],
        (Kind::Float, Device::Cpu),
    )
}

#[test]
fn encoder_shapes_at_two_input_dims() {
    let preset = Preset::load("lite").unwrap();
    for d in DIMS {
        let vs = nn::VarStore::new(Device::Cpu);
        let enc = CsiEncoder::new(vs.root(), &preset.encoder, d).unwrap();
        let out = enc.encode_t(&window(3, d), true).unwrap();
        assert_eq!(out.features.size(), [3, 256]);
        assert_eq!(out.branch_weights.size(), [3, 2]);
        let sums = out.branch_weights.sum_dim_intlist(1, false, Kind::Float);
        assert!(sums.allclose(
            &Tensor::ones([3], (Kind::Float, Device::Cpu)),
            1e-5,
            1e-5,
            false
        ));
        assert_eq!(enc.forward_t(&window(1, d), false).size(), [1, 256]);
        // Wrong subcarrier count is a clear error, not a libtorch panic.
        let bad = Tensor::zeros(
            [1, 2, d.antennas, d.subcarriers + 1, d.window],
            (Kind::Float, Device::Cpu),
        );
        let err = enc.encode_t(&bad, false).unwrap_err().to_string();
        assert!(
            err.contains("encoder") && err.contains(&format!("{}", d.subcarriers)),
            "{err}"
        );
    }
}

#[test]
fn upsampler_backbone_heads_temporal_shapes() {
    for name in ["lite", "gfl"] {
        let preset = Preset::load(name).unwrap();
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let up = SpatialUpsampler::new(&root / "up", &preset.upsampler, 256).unwrap();
        let feats = Tensor::randn([2, 256], (Kind::Float, Device::Cpu));
        let spatial = up.forward_checked(&feats, true).unwrap();
        assert_eq!(spatial.size(), [2, 3, 96, 128]);
        assert!(up
            .forward_checked(&Tensor::zeros([2, 255], (Kind::Float, Device::Cpu)), false)
            .is_err());

        let bb = Backbone::new(&root / "bb", &preset.backbone, 3, (96, 128)).unwrap();
        let levels = bb.levels_t(&spatial, true);
        let c = bb.out_channels();
        if name == "lite" {
            let sizes: Vec<_> = levels.iter().map(|l| l.size()).collect();
            assert_eq!(
                sizes,
                vec![
                    vec![2, c, 24, 32],
                    vec![2, c, 12, 16],
                    vec![2, c, 6, 8],
                    vec![2, c, 3, 4]
                ]
            );
        } else {
            assert_eq!(levels.len(), 1);
        }
        let fmap = bb.features_t(&spatial, true);
        assert_eq!(fmap.size(), [2, c, 24, 32]);

        let person = PersonHead::new(&root / "person", &preset.person, c).forward(&fmap);
        assert_eq!(person.center_logits.size(), [2, 1, 24, 32]);
        assert_eq!(person.size.size(), [2, 2, 24, 32]);
        assert_eq!(person.offset.size(), [2, 2, 24, 32]);

        let head = DensePoseHead::new(&root / "dp", &preset.head, c);
        let rois = Tensor::from_slice(&[
            0f32, 10., 10., 60., 90., 1., 0., 0., 128., 96., 1., 30., 5., 50., 40.,
        ])
        .view([3, 5]);
        let pooled = roi_align(&fmap, &rois, 0.25, 14, 2).unwrap();
        assert_eq!(pooled.size(), [3, c, 14, 14]);
        let maps = head.forward(&pooled);
        assert_eq!(maps.mask_logits.size(), [3, 25, 28, 28]);
        assert_eq!(maps.uv.size(), [3, 24, 2, 28, 28]);
        assert_eq!(maps.keypoint_heatmaps.size(), [3, 17, 28, 28]);

        let temporal = TemporalModule::new(&root / "t", &preset.temporal, 256).unwrap();
        let seq = Tensor::randn([2, 5, 256], (Kind::Float, Device::Cpu));
        assert_eq!(
            temporal.forward_checked(&seq, true).unwrap().size(),
            [2, 5, 256]
        );
        assert!(temporal
            .forward_checked(
                &Tensor::zeros([2, 5, 128], (Kind::Float, Device::Cpu)),
                false
            )
            .is_err());
    }
}

#[test]
fn gfl_block_static_and_dynamic_shapes() {
    for dynamic in [None, Some((4, 4))] {
        let vs = nn::VarStore::new(Device::Cpu);
        let spec = FilterSpec {
            h: 6,
            w: 8,
            dim: 16,
            dynamic,
        };
        let block = GflBlock::new(vs.root(), spec, 2.0).unwrap();
        let x = Tensor::randn([3, 6, 8, 16], (Kind::Float, Device::Cpu));
        let y = block.forward(&x);
        assert_eq!(y.size(), [3, 6, 8, 16]);
        assert_eq!(y.kind(), Kind::Float);
        assert!(block
            .filter
            .forward_checked(&Tensor::zeros([3, 6, 9, 16], (Kind::Float, Device::Cpu)))
            .is_err());
        // Dynamic filters have the bases and reweighting MLP; static ones do not.
        let names: Vec<String> = vs.variables().into_keys().collect();
        assert_eq!(
            names.iter().any(|n| n == "filter.bases"),
            dynamic.is_some(),
            "{names:?}"
        );
        assert_eq!(
            names.iter().any(|n| n == "filter.reweight.fc1.weight"),
            dynamic.is_some()
        );
        assert!(names.iter().any(|n| n == "filter.complex_weight"));
    }
}

#[test]
fn whole_model_forward_and_infer_at_two_input_dims() {
    for (name, dims) in [("lite", DIMS[0]), ("lite", DIMS[1]), ("gfl", DIMS[1])] {
        let preset = Preset::load(name).unwrap();
        let vs = nn::VarStore::new(Device::Cpu);
        let model = WifiDensePose::new(&vs.root(), &preset, dims).unwrap();
        let rois =
            Tensor::from_slice(&[0f32, 10., 10., 60., 90., 1., 20., 0., 128., 96.]).view([2, 5]);
        let out = model
            .forward_t(&window(2, dims), Some(&rois), true)
            .unwrap();
        assert_eq!(out.features.size(), [2, 256]);
        assert_eq!(out.spatial.size(), [2, 3, 96, 128]);
        assert_eq!(out.stage.person.center_logits.size(), [2, 1, 24, 32]);
        assert_eq!(out.stage.densepose.mask_logits.size(), [2, 25, 28, 28]);
        assert_eq!(out.stage.densepose.uv.size(), [2, 24, 2, 28, 28]);
        assert_eq!(
            out.stage.densepose.keypoint_heatmaps.size(),
            [2, 17, 28, 28]
        );

        // Inference on one unbatched window [2, A, S, T]; a zero threshold keeps max_people.
        let mut preset0 = preset.clone();
        preset0.person.score_threshold = 0.0;
        let vs0 = nn::VarStore::new(Device::Cpu);
        let model0 = WifiDensePose::new(&vs0.root(), &preset0, dims).unwrap();
        let poses = model0.infer(&window(1, dims).squeeze_dim(0)).unwrap();
        assert_eq!(poses.len(), 1);
        let p = poses[0].boxes.size()[0];
        assert_eq!(p, preset.person.max_people);
        assert_eq!(poses[0].boxes.size(), [p, 5]);
        assert_eq!(poses[0].keypoints.size(), [p, 17, 3]);
        assert_eq!(poses[0].part_index.size(), [p, 28, 28]);
        assert_eq!(poses[0].part_index.kind(), Kind::Uint8);
        assert_eq!(poses[0].uv.size(), [p, 2, 28, 28]);
        let max_part = poses[0].part_index.max().int64_value(&[]);
        assert!(max_part <= 24);

        // A threshold above every score yields P = 0 with the same trailing shapes.
        let mut preset1 = preset.clone();
        preset1.person.score_threshold = 1.0;
        let vs1 = nn::VarStore::new(Device::Cpu);
        let model1 = WifiDensePose::new(&vs1.root(), &preset1, dims).unwrap();
        let poses = model1.infer(&window(2, dims)).unwrap();
        assert_eq!(poses.len(), 2);
        assert_eq!(poses[1].boxes.size(), [0, 5]);
        assert_eq!(poses[1].keypoints.size(), [0, 17, 3]);
        assert_eq!(poses[1].part_index.size(), [0, 28, 28]);
        assert_eq!(poses[1].uv.size(), [0, 2, 28, 28]);
    }
}
