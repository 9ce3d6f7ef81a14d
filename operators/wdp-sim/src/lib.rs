//! Physics-based WiFi sensing simulator: a room, articulated people and a MIMO-OFDM channel,
//! producing CSI packets exactly like the capture readers of [`wdp_csi`] do, plus camera ground
//! truth (COCO-17 keypoints, DensePose part masks and UV maps, an RGB frame).
//!
//! | module | job |
//! | --- | --- |
//! | [`scene`] | YAML scene schema, validation with field paths, room presets |
//! | [`layout`] | subcarrier layouts of real chips (Intel 5300, HT20, HT40, ESP32) |
//! | [`body`] | COCO-17 skeleton, 24 DensePose parts as capsules, forward kinematics |
//! | `motion` | procedural motions (walk, wander, turn, wave, squat, sit, fall, breathing) |
//! | [`channel`] | image-method walls, furniture and body scattering, LoS shadowing |
//! | `impairments` | CFO, random phase, STO, noise, AGC |
//! | [`camera`] | pinhole camera, ray casting |
//! | [`truth`] | keypoints with visibility, boxes, part masks and UV with a z-buffer |
//! | [`render`] | RGB frame, ground-truth overlay, PNG |
//! | [`dataset`] | Arrow IPC dataset writer (see `SCHEMA.md`) |
//! | [`random_people()`] | people of a sequence drawn from its seed |
//!
//! ```
//! let mut scene = wdp_sim::Scene::preset("lab")?;
//! scene.duration_s = Some(1.0);
//! let mut sim = wdp_sim::Simulator::new(scene)?;
//! let frame = sim.next_packet().expect("a packet");
//! assert_eq!((frame.n_tx, frame.n_rx, frame.n_subcarriers()), (3, 3, 30));
//! let truth = sim.next_ground_truth().expect("a frame");
//! assert_eq!(truth.part_index.dim(), (1, 240, 320));
//! # Ok::<(), wdp_sim::SimError>(())
//! ```

pub mod body;
pub mod camera;
pub mod channel;
pub mod dataset;
mod error;
pub mod geom;
mod impairments;
pub mod layout;
mod motion;
mod random_people;
pub mod render;
mod rng;
pub mod scene;
mod sim;
pub mod truth;

pub use dataset::{
    write_dataset, write_dataset_observed, DatasetOptions, DatasetSummary, SCHEMA_VERSION,
};
pub use error::SimError;
pub use layout::SubcarrierLayout;
pub use random_people::{random_people, PeopleRange, MAX_PEOPLE};
pub use render::{render_overlay, truth_frame, RgbImage};
pub use scene::{Impairments, Motion, Person, Scene};
pub use sim::{SimEvent, Simulator};
pub use truth::{GroundTruth, PersonTruth};
