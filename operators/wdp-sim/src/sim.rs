//! The simulator: a packet clock and a camera clock over one deterministic world.

use crate::body::{pose_body, BodyPose, PoseParams};
use crate::camera::PinholeCamera;
use crate::channel::{sample_body_surface, ChannelModel, SurfaceSample};
use crate::error::SimError;
use crate::geom::Vec3;
use crate::impairments::RadioImpairments;
use crate::motion::{separate, MotionPlan};
use crate::render::render_rgb;
use crate::rng::{SimRng, Stream};
use crate::scene::{Camera, Furniture, Scene};
use crate::truth::{cast, ground_truth, pixel_rays, GroundTruth};
use ndarray::Array3;
use num_complex::Complex32;
use std::collections::BTreeMap;
use wdp_csi::{CaptureFormat, CsiFrame, MetaValue};

/// One output of the simulator, in time order.
#[derive(Debug, Clone, PartialEq)]
pub enum SimEvent {
    /// A received CSI packet.
    Packet(CsiFrame),
    /// A camera frame's ground truth.
    Frame(Box<GroundTruth>),
}

/// A packet slot drawn but not yet emitted.
#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u64,
    t_s: f64,
    lost: bool,
}

/// Runs a [`Scene`]: CSI packets at the packet rate (with loss and jitter) and camera ground truth
/// at the camera rate, both from the same bodies at the same instants.
///
/// ```
/// use wdp_sim::{Scene, SimEvent, Simulator};
/// let mut scene = Scene::preset("lab")?;
/// scene.duration_s = Some(0.2);
/// let mut sim = Simulator::new(scene)?;
/// let (mut packets, mut frames) = (0, 0);
/// while let Some(event) = sim.next_event() {
///     match event {
///         SimEvent::Packet(frame) => { assert_eq!(frame.n_tx * frame.n_rx, 9); packets += 1 }
///         SimEvent::Frame(truth) => { assert_eq!(truth.people.len(), 1); frames += 1 }
///     }
/// }
/// assert!(packets >= 18 && frames == 4);
/// # Ok::<(), wdp_sim::SimError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Simulator {
    scene: Scene,
    subcarriers: Vec<i32>,
    channel: ChannelModel,
    plans: Vec<MotionPlan>,
    heights_m: Vec<f64>,
    samples: Vec<Vec<SurfaceSample>>,
    impairments: RadioImpairments,
    timing_rng: SimRng,
    camera_cfg: Camera,
    camera: PinholeCamera,
    gt_camera: PinholeCamera,
    boxes: Vec<(Vec3, Vec3)>,
    gt_rays: Vec<Vec3>,
    rgb_rays: Vec<Vec3>,
    background: Option<Array3<u8>>,
    next_seq: u64,
    pending: Option<Slot>,
    next_frame: u64,
    buf: Vec<Complex32>,
}

impl Simulator {
    /// Validates the scene and precomputes the static channel.
    pub fn new(scene: Scene) -> Result<Self, SimError> {
        scene.validate()?;
        let subcarriers = scene.radio.layout.indices();
        let channel = ChannelModel::new(&scene, &subcarriers)?;
        let room_xy = [scene.room.size_m[0], scene.room.size_m[1]];
        let plans: Vec<MotionPlan> = scene
            .people
            .iter()
            .enumerate()
            .map(|(i, p)| MotionPlan::new(p, i, room_xy, scene.seed))
            .collect();
        let heights_m: Vec<f64> = scene.people.iter().map(|p| p.height_m).collect();
        let samples = scene
            .people
            .iter()
            .enumerate()
            .map(|(i, p)| {
                // a body is the person's, not the sequence's
                let mut rng = SimRng::new(p.body_seed_or_index(i), Stream::Body, 0);
                let standing = pose_body(&PoseParams::default(), p.height_m);
                sample_body_surface(
                    &standing.capsules,
                    scene.radio.body_points_per_person,
                    p.reflectivity,
                    p.height_m,
                    &mut rng,
                )
            })
            .collect();
        let impairments =
            RadioImpairments::new(&scene.impairments, scene.seed, channel.static_power());
        let camera_cfg = PinholeCamera::scene_config(&scene);
        let camera = PinholeCamera::from_config(&camera_cfg);
        let [gw, gh] = camera_cfg.gt_resolution.unwrap_or(camera_cfg.resolution);
        let gt_camera = camera.scaled(gw, gh);
        let boxes = scene
            .room
            .furniture
            .iter()
            .filter_map(|f| match f {
                Furniture::Box { min_m, max_m, .. } => {
                    Some((Vec3::from_array(*min_m), Vec3::from_array(*max_m)))
                }
                Furniture::Point { .. } => None,
            })
            .collect();
        let buf = vec![Complex32::new(0.0, 0.0); channel.n_tx * channel.n_rx * channel.n_sub];
        let gt_rays = pixel_rays(&gt_camera);
        let rgb_rays = if camera_cfg.rgb && gt_camera != camera {
            pixel_rays(&camera)
        } else {
            Vec::new()
        };
        let mut sim = Simulator {
            timing_rng: SimRng::new(scene.seed, Stream::Timing, 0),
            scene,
            subcarriers,
            channel,
            plans,
            heights_m,
            samples,
            impairments,
            camera_cfg,
            camera,
            gt_camera,
            boxes,
            gt_rays,
            rgb_rays,
            background: None,
            next_seq: 0,
            pending: None,
            next_frame: 0,
            buf,
        };
        if sim.camera_cfg.rgb {
            // walls, floor and furniture never move: render them once
            let rays = sim.rgb_rays();
            let depth = cast(&sim.camera, rays, &[], &sim.boxes);
            let bg = render_rgb(
                &sim.camera,
                &[],
                &sim.boxes,
                sim.scene.room.size_m,
                &depth,
                rays,
                None,
            );
            sim.background = Some(bg);
        }
        Ok(sim)
    }

    fn rgb_rays(&self) -> &[Vec3] {
        if self.rgb_rays.is_empty() {
            &self.gt_rays
        } else {
            &self.rgb_rays
        }
    }

    /// The scene being simulated.
    pub fn scene(&self) -> &Scene {
        &self.scene
    }

    /// The signed subcarrier indices of every packet.
    pub fn subcarriers(&self) -> &[i32] {
        &self.subcarriers
    }

    /// `(n_tx, n_rx, n_subcarriers)` of every packet.
    pub fn csi_dims(&self) -> (usize, usize, usize) {
        (self.channel.n_tx, self.channel.n_rx, self.channel.n_sub)
    }

    /// The camera configuration in use (the scene's or the default one).
    pub fn camera_config(&self) -> &Camera {
        &self.camera_cfg
    }

    /// The pinhole camera of keypoints, boxes and the RGB frame.
    pub fn camera(&self) -> &PinholeCamera {
        &self.camera
    }

    /// Noise power per subcarrier (linear, same units as `|H|²`); 0 without noise.
    pub fn noise_power(&self) -> f64 {
        self.impairments.noise_power()
    }

    /// The posed bodies at time `t_s` (pure function of time).
    pub fn people_at(&self, t_s: f64) -> Vec<BodyPose> {
        let mut params: Vec<PoseParams> = self.plans.iter().map(|p| p.params_at(t_s)).collect();
        let room = [self.scene.room.size_m[0], self.scene.room.size_m[1]];
        separate(&mut params, &self.heights_m, room);
        params
            .iter()
            .zip(self.heights_m.iter())
            .map(|(p, h)| pose_body(p, *h))
            .collect()
    }

    /// The ideal channel (no impairments) at time `t_s`, row-major `[tx, rx, subcarrier]`.
    pub fn clean_csi_at(&self, t_s: f64) -> Vec<Complex32> {
        let mut out = vec![Complex32::new(0.0, 0.0); self.buf.len()];
        self.channel_into(t_s, &mut out);
        out
    }

    /// The ideal channel of the empty room (no people).
    pub fn empty_room_csi(&self) -> Vec<Complex32> {
        let mut out = vec![Complex32::new(0.0, 0.0); self.buf.len()];
        self.channel.synthesize(&[], &mut out);
        out
    }

    fn channel_into(&self, t_s: f64, out: &mut [Complex32]) {
        let bodies = self.people_at(t_s);
        let refs: Vec<(&[crate::body::Capsule], &[SurfaceSample])> = bodies
            .iter()
            .zip(self.samples.iter())
            .map(|(b, s)| (b.capsules.as_slice(), s.as_slice()))
            .collect();
        self.channel.synthesize(&refs, out);
    }

    fn end_s(&self) -> f64 {
        self.scene.duration_s.unwrap_or(f64::INFINITY)
    }

    fn slot(&mut self) -> Slot {
        if let Some(s) = self.pending {
            return s;
        }
        let rate = self.scene.radio.packet_rate_hz;
        let seq = self.next_seq;
        let jitter_s = (self.scene.impairments.jitter_std_us * 1e-6 * self.timing_rng.normal())
            .clamp(-0.45 / rate, 0.45 / rate);
        let lost = self.timing_rng.chance(self.scene.impairments.packet_loss);
        let s = Slot {
            seq,
            t_s: (seq as f64 / rate + jitter_s).max(0.0),
            lost,
        };
        self.pending = Some(s);
        s
    }

    fn frame_t_s(&self) -> f64 {
        self.next_frame as f64 / self.camera_cfg.fps
    }

    /// The next received CSI packet (lost packets are skipped; their sequence numbers are missing
    /// from `meta["seq"]`), or `None` after `duration_s`. Does not advance the camera clock.
    pub fn next_packet(&mut self) -> Option<CsiFrame> {
        loop {
            let slot = self.slot();
            if slot.t_s >= self.end_s() {
                return None;
            }
            self.pending = None;
            self.next_seq += 1;
            if !slot.lost {
                return Some(self.make_packet(slot));
            }
        }
    }

    /// Time of the next camera frame in ns, or `None` after `duration_s`.
    pub fn next_frame_t_ns(&self) -> Option<i64> {
        let t = self.frame_t_s();
        (t < self.end_s()).then(|| (t * 1e9).round() as i64)
    }

    /// The next camera frame's ground truth, or `None` after `duration_s`. Does not advance the
    /// packet clock.
    pub fn next_ground_truth(&mut self) -> Option<GroundTruth> {
        let t = self.frame_t_s();
        if t >= self.end_s() {
            return None;
        }
        let index = self.next_frame;
        self.next_frame += 1;
        Some(self.ground_truth_at(t, index))
    }

    /// Packets and camera frames merged in time order (a frame before a packet at the same
    /// instant), or `None` after `duration_s`.
    pub fn next_event(&mut self) -> Option<SimEvent> {
        loop {
            let slot = self.slot();
            let tf = self.frame_t_s();
            let end = self.end_s();
            if tf < end && tf <= slot.t_s {
                return self
                    .next_ground_truth()
                    .map(|g| SimEvent::Frame(Box::new(g)));
            }
            if slot.t_s >= end {
                return None;
            }
            self.pending = None;
            self.next_seq += 1;
            if !slot.lost {
                return Some(SimEvent::Packet(self.make_packet(slot)));
            }
        }
    }

    /// Ground truth at time `t_s` labelled `frame_index` (pure function of time).
    pub fn ground_truth_at(&self, t_s: f64, frame_index: u64) -> GroundTruth {
        let bodies = self.people_at(t_s);
        let t_ns = (t_s * 1e9).round() as i64;
        let depth = cast(&self.gt_camera, &self.gt_rays, &bodies, &self.boxes);
        let mut gt = ground_truth(
            &self.camera,
            &self.gt_camera,
            &bodies,
            &self.boxes,
            &depth,
            t_ns,
            frame_index,
        );
        if self.camera_cfg.rgb {
            // one ray cast serves both when the resolutions match
            let own;
            let rgb_depth = if self.rgb_rays.is_empty() {
                &depth
            } else {
                own = cast(&self.camera, &self.rgb_rays, &bodies, &self.boxes);
                &own
            };
            gt.rgb = Some(render_rgb(
                &self.camera,
                &bodies,
                &self.boxes,
                self.scene.room.size_m,
                rgb_depth,
                self.rgb_rays(),
                self.background.as_ref(),
            ));
        }
        gt
    }

    fn make_packet(&mut self, slot: Slot) -> CsiFrame {
        let mut buf = std::mem::take(&mut self.buf);
        self.channel_into(slot.t_s, &mut buf);
        let power: f64 =
            buf.iter().map(|h| h.norm_sqr() as f64).sum::<f64>() / buf.len().max(1) as f64;
        let applied = self
            .impairments
            .apply(slot.t_s, &mut buf, &self.subcarriers);
        let tx_dbm = self.scene.radio.tx_power_dbm;
        let noise = self.impairments.noise_power();
        let mut meta = BTreeMap::new();
        meta.insert("seq", MetaValue::Int(slot.seq as i64));
        meta.insert("agc_db", MetaValue::Float(applied.agc_db));
        meta.insert("sto_ns", MetaValue::Float(applied.sto_ns));
        meta.insert("room", MetaValue::Text(self.scene.name.clone()));
        meta.insert("carrier_hz", MetaValue::Float(self.scene.radio.carrier_hz));
        meta.insert(
            "bandwidth_hz",
            MetaValue::Float(self.scene.radio.layout.bandwidth_hz()),
        );
        meta.insert(
            "layout",
            MetaValue::Text(self.scene.radio.layout.name().to_string()),
        );
        let frame = CsiFrame {
            format: CaptureFormat::Simulated,
            n_tx: self.channel.n_tx,
            n_rx: self.channel.n_rx,
            subcarriers: self.subcarriers.clone(),
            csi: buf.clone(),
            timestamp_ns: (slot.t_s * 1e9).round() as i64,
            rssi_dbm: Some((tx_dbm + 10.0 * power.max(1e-30).log10()) as f32),
            noise_dbm: (noise > 0.0).then(|| (tx_dbm + 10.0 * noise.log10()) as f32),
            meta,
        };
        self.buf = buf;
        frame
    }
}

impl Iterator for Simulator {
    type Item = SimEvent;

    /// Same as [`Simulator::next_event`].
    fn next(&mut self) -> Option<SimEvent> {
        self.next_event()
    }
}
