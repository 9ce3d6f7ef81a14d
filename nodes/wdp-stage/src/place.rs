//! Location first on the pose nodes: with a preset that places people by the floor head
//! (`person.place`), each person's box is where a body of that size standing at their floor
//! point appears to the camera the poses are drawn in.

use eyre::{bail, Context, Result};
use wdp_models::floor::box_from_floor;
use wdp_node::env::{dataflow_path, inline_or_file, var};
use wdp_sim::camera::PinholeCamera;

use crate::StageConfig;

/// The camera the poses are drawn in, scaled to the translated image, when the preset places
/// people by the floor head: `CAMERA` (a scene's `camera` block: `position_m`, `look_at_m`,
/// `fov_deg` or `intrinsics`, `resolution`; inline YAML or a file relative to the dataflow
/// folder) or the camera of `SCENE` (a simulator scene, preset name or file). `None` when the
/// preset does not place people, or (said once) when neither is set.
pub fn camera_from_env(config: &StageConfig) -> Result<Option<PinholeCamera>> {
    if config.preset.person.place.is_none() {
        return Ok(None);
    }
    let camera = match (inline_or_file("CAMERA")?, var("SCENE")) {
        (Some(_), Some(_)) => bail!("CAMERA and SCENE are both set: give one"),
        (Some(text), None) => {
            serde_yaml::from_str::<wdp_sim::scene::Camera>(&text).wrap_err("CAMERA")?
        }
        (None, Some(name)) => {
            let scene = wdp_sim::Scene::load(&name, dataflow_path)
                .wrap_err_with(|| format!("SCENE={name}"))?;
            PinholeCamera::scene_config(&scene)
        }
        (None, None) => {
            tracing::warn!(
                "preset `{}` places people by the floor head (person.place) but neither CAMERA \
                 nor SCENE is set: the boxes are the person maps' own",
                config.preset.name
            );
            return Ok(None);
        }
    };
    let up = &config.preset.upsampler;
    Ok(Some(
        PinholeCamera::from_config(&camera).scaled(up.out_width as usize, up.out_height as usize),
    ))
}

/// The placer of [`wdp_models::DensePoseStage::infer_placed`] for `camera` (one camera for
/// every frame), when the preset places people and there is a camera.
pub fn placer<'a>(
    config: &StageConfig,
    camera: Option<&'a PinholeCamera>,
) -> Option<impl Fn(i64, [f32; 2]) -> Option<[f32; 4]> + 'a> {
    let body = config.preset.person.place?;
    let camera = camera?;
    Some(move |_: i64, xy: [f32; 2]| box_from_floor(xy, &body, |q| camera.pixel(q)))
}
