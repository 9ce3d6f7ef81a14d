//! The multipath channel: line of sight, wall reflections by the image method, furniture and body
//! scattering, summed over subcarriers and antenna pairs as `H(f) = Σ a_p exp(-j 2π f τ_p)`.
//!
//! Static paths (line of sight, walls, furniture) are summed once. Body points move, so they are
//! summed per packet; for each point and antenna pair the per-subcarrier phasor is advanced by a
//! precomputed rotation (no sin/cos per subcarrier). The body also shadows the line of sight: each
//! link's direct path is attenuated by the torso, head and legs in its first Fresnel zone. Body
//! echoes are single-bounce (no body-wall paths).

use crate::body::Capsule;
use crate::error::SimError;
use crate::geom::{segment_segment_distance, Vec3};
use crate::layout::SUBCARRIER_SPACING_HZ;
use crate::rng::{SimRng, Stream};
use crate::scene::{AntennaArray, Furniture, Scene, SPEED_OF_LIGHT_MPS};
use num_complex::{Complex32, Complex64};
use std::f64::consts::{PI, TAU};

/// (4π)^1.5, the bistatic radar equation's constant (amplitude form).
const FOUR_PI_POW_1_5: f64 = 44.546_623_974_653_6;
/// Effective radar cross-section of a 1.75 m adult at 5 GHz, m². Measured monostatic values are
/// 0.5-1 m²; the extra stands in for the body-wall double-bounce paths that are not traced.
const BODY_RCS_M2: f64 = 2.0;
/// Most antennas per array.
const MAX_ANTENNAS: usize = 3;
/// Antenna-pair lanes of the body-scattering loop.
const LANES: usize = MAX_ANTENNAS * MAX_ANTENNAS;
/// Capsules (indices into the body's capsule list) that shadow the line of sight.
const SHADOWING_CAPSULES: [usize; 7] = [0, 1, 2, 3, 10, 11, 12];

/// One propagation path between a transmit and a receive antenna.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PropagationPath {
    /// Total path length in metres (delay = length / c).
    pub length_m: f64,
    /// Complex amplitude at the carrier reference (free-space loss, reflection coefficients with
    /// their pi phase, scatterer phase).
    pub amplitude: Complex64,
    /// Number of wall reflections (0 for line of sight and scatterers).
    pub order: u8,
}

impl PropagationPath {
    /// Delay in seconds.
    pub fn delay_s(&self) -> f64 {
        self.length_m / SPEED_OF_LIGHT_MPS
    }
}

/// Image sources of `tx` in a shoebox room `[0,size]^3` up to `max_order` reflections, with the
/// product of the reflection coefficients of the walls hit. Wall order: x_min, x_max, y_min,
/// y_max, floor, ceiling. Every image of a shoebox room is a valid path.
pub fn image_sources(
    size_m: [f64; 3],
    reflection: [f64; 6],
    tx: Vec3,
    max_order: u8,
) -> Vec<(Vec3, f64, u8)> {
    let mirror = |p: Vec3, wall: usize| -> Vec3 {
        let axis = wall / 2;
        let plane = if wall.is_multiple_of(2) {
            0.0
        } else {
            size_m[axis]
        };
        let mut a = p.to_array();
        a[axis] = 2.0 * plane - a[axis];
        Vec3::from_array(a)
    };
    let mut out = vec![(tx, 1.0, 0u8)];
    if max_order >= 1 {
        for (w, r) in reflection.iter().enumerate() {
            out.push((mirror(tx, w), -r, 1));
        }
    }
    if max_order >= 2 {
        for w1 in 0..6 {
            for w2 in 0..6 {
                let (a1, a2) = (w1 / 2, w2 / 2);
                // same wall twice is impossible; two perpendicular walls in either order are the
                // same image (count once); two parallel walls in either order are two paths
                if w1 == w2 || (a1 != a2 && w1 > w2) {
                    continue;
                }
                let img = mirror(mirror(tx, w1), w2);
                out.push((img, reflection[w1] * reflection[w2], 2));
            }
        }
    }
    out
}

/// Antenna element positions of a uniform linear array.
pub fn antenna_positions(array: &AntennaArray, wavelength_m: f64) -> Vec<Vec3> {
    let spacing = array.spacing_m.unwrap_or(wavelength_m / 2.0);
    let axis = Vec3::new(1.0, 0.0, 0.0).rotate_z(array.axis_deg.to_radians());
    let c = Vec3::from_array(array.position_m);
    let n = array.antennas;
    (0..n)
        .map(|k| c + axis * ((k as f64 - (n as f64 - 1.0) / 2.0) * spacing))
        .collect()
}

/// A scattering point sampled on a body capsule, in the capsule's own coordinates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SurfaceSample {
    capsule: usize,
    s: f64,
    cos_theta: f64,
    sin_theta: f64,
    /// sqrt of this point's radar cross-section without the capsule reflectivity, m.
    sqrt_rcs_m: f64,
}

/// Samples `n` points on the body surface, proportionally to capsule area.
pub(crate) fn sample_body_surface(
    capsules: &[Capsule],
    n: usize,
    reflectivity: f64,
    height_m: f64,
    rng: &mut SimRng,
) -> Vec<SurfaceSample> {
    let areas: Vec<f64> = capsules
        .iter()
        .map(|c| TAU * c.radius_m * (c.a.distance(c.b) + 2.0 * c.radius_m))
        .collect();
    let total: f64 = areas.iter().sum();
    let k = height_m / 1.75;
    let sigma = BODY_RCS_M2 * reflectivity * k * k / n as f64;
    (0..n)
        .map(|i| {
            // stratified pick of the capsule keeps the spread even
            let mut x = (i as f64 + rng.uniform()) / n as f64 * total;
            let mut capsule = areas.len() - 1;
            for (ci, a) in areas.iter().enumerate() {
                if x < *a {
                    capsule = ci;
                    break;
                }
                x -= a;
            }
            let theta = rng.range(0.0, TAU);
            SurfaceSample {
                capsule,
                s: rng.uniform(),
                cos_theta: theta.cos(),
                sin_theta: theta.sin(),
                sqrt_rcs_m: sigma.sqrt(),
            }
        })
        .collect()
}

/// Precomputed static channel and the geometry needed per packet.
#[derive(Debug, Clone)]
pub(crate) struct ChannelModel {
    pub n_tx: usize,
    pub n_rx: usize,
    pub n_sub: usize,
    wavelength_m: f64,
    /// Frequency of the first reported subcarrier.
    f0_hz: f64,
    /// Index step from the previous subcarrier (steps[0] = 0).
    steps: Vec<usize>,
    max_step: usize,
    tx: Vec<Vec3>,
    rx: Vec<Vec3>,
    tx_center: Vec3,
    rx_center: Vec3,
    /// Sum of all static paths, `[tx, rx, sub]`.
    static_h: Vec<Complex32>,
    /// The line-of-sight part of `static_h`, for shadowing.
    los_h: Vec<Complex32>,
    /// Fresnel-zone scale of each link, metres.
    fresnel_m: Vec<f64>,
}

impl ChannelModel {
    pub fn new(scene: &Scene, subcarriers: &[i32]) -> Result<Self, SimError> {
        let lambda = scene.radio.wavelength_m();
        let tx = antenna_positions(&scene.tx, lambda);
        let rx = antenna_positions(&scene.rx, lambda);
        let first = *subcarriers
            .first()
            .ok_or_else(|| SimError::invalid("radio.layout", "has no subcarriers"))?;
        let steps: Vec<usize> = std::iter::once(0)
            .chain(subcarriers.windows(2).map(|w| (w[1] - w[0]) as usize))
            .collect();
        let max_step = steps.iter().copied().max().unwrap_or(1).max(1);
        let freqs: Vec<f64> = subcarriers
            .iter()
            .map(|&k| scene.radio.carrier_hz + k as f64 * SUBCARRIER_SPACING_HZ)
            .collect();
        let walls = scene
            .room
            .walls
            .all()
            .map(|(_, m)| m.reflection_coefficient());
        let furniture = furniture_points(scene, lambda);
        let n_sub = subcarriers.len();
        let mut static_h = vec![Complex32::new(0.0, 0.0); tx.len() * rx.len() * n_sub];
        let mut los_h = static_h.clone();
        let mut fresnel_m = Vec::new();
        for (i, t) in tx.iter().enumerate() {
            let images = image_sources(
                scene.room.size_m,
                walls,
                *t,
                scene.radio.max_reflection_order,
            );
            for (j, r) in rx.iter().enumerate() {
                let base = (i * rx.len() + j) * n_sub;
                let mut paths = paths_from_images(&images, *r, lambda);
                for (pos, amp) in &furniture {
                    let (d1, d2) = (t.distance(*pos), pos.distance(*r));
                    paths.push(PropagationPath {
                        length_m: d1 + d2,
                        amplitude: amp / (d1 * d2),
                        order: 0,
                    });
                }
                for (pi, p) in paths.iter().enumerate() {
                    for (k, f) in freqs.iter().enumerate() {
                        let h = p.amplitude * Complex64::from_polar(1.0, -TAU * f * p.delay_s());
                        let h32 = Complex32::new(h.re as f32, h.im as f32);
                        static_h[base + k] += h32;
                        if pi == 0 {
                            los_h[base + k] += h32;
                        }
                    }
                }
                fresnel_m.push((lambda * t.distance(*r)).sqrt() / 2.0);
            }
        }
        let center = |v: &[Vec3]| v.iter().fold(Vec3::ZERO, |a, b| a + *b) * (1.0 / v.len() as f64);
        Ok(ChannelModel {
            n_tx: tx.len(),
            n_rx: rx.len(),
            n_sub,
            wavelength_m: lambda,
            f0_hz: scene.radio.carrier_hz + first as f64 * SUBCARRIER_SPACING_HZ,
            steps,
            max_step,
            tx_center: center(&tx),
            rx_center: center(&rx),
            tx,
            rx,
            static_h,
            los_h,
            fresnel_m,
        })
    }

    /// Mean power per subcarrier of the static (empty-room) channel.
    pub fn static_power(&self) -> f64 {
        self.static_h
            .iter()
            .map(|h| h.norm_sqr() as f64)
            .sum::<f64>()
            / self.static_h.len() as f64
    }

    /// The channel with the given bodies in the room, written into `out` (`[tx, rx, sub]`).
    /// `bodies` pairs each body's capsules with its surface samples.
    pub fn synthesize(&self, bodies: &[(&[Capsule], &[SurfaceSample])], out: &mut [Complex32]) {
        out.copy_from_slice(&self.static_h);
        let n_sub = self.n_sub;
        // line-of-sight shadowing per link
        for i in 0..self.n_tx {
            for j in 0..self.n_rx {
                let link = i * self.n_rx + j;
                let mut att = 1.0f64;
                for (caps, _) in bodies {
                    for &c in SHADOWING_CAPSULES.iter() {
                        if let Some(cap) = caps.get(c) {
                            let d = segment_segment_distance(self.tx[i], self.rx[j], cap.a, cap.b)
                                - cap.radius_m;
                            let v = d / self.fresnel_m[link];
                            att *= 1.0 - 0.6 * (1.0 - smoothstep((v + 1.0) / 2.0));
                        }
                    }
                }
                if att < 1.0 {
                    let delta = (att.max(0.05) - 1.0) as f32;
                    let base = link * n_sub;
                    for k in 0..n_sub {
                        out[base + k] += self.los_h[base + k] * delta;
                    }
                }
            }
        }
        let (n_tx, n_rx) = (self.n_tx, self.n_rx);
        let lambda = self.wavelength_m;
        let k0 = -TAU * self.f0_hz / SPEED_OF_LIGHT_MPS;
        let kd = -TAU * SUBCARRIER_SPACING_HZ / SPEED_OF_LIGHT_MPS;
        let mut tx_ph = [Complex32::new(0.0, 0.0); MAX_ANTENNAS];
        let mut tx_rot = [Complex32::new(0.0, 0.0); MAX_ANTENNAS];
        let mut tx_amp = [0f32; MAX_ANTENNAS];
        let mut rx_ph = tx_ph;
        let mut rx_rot = tx_rot;
        let mut rx_amp = tx_amp;
        // All antenna pairs advance together, one lane each: the per-subcarrier recurrences are
        // independent, so the inner loop over a fixed-size lane array vectorises. Accumulators
        // are subcarrier-major and added to `out` once at the end.
        let mut acc_re = vec![[0f32; LANES]; n_sub];
        let mut acc_im = vec![[0f32; LANES]; n_sub];
        let mut pow_re = vec![[1f32; LANES]; self.max_step + 1];
        let mut pow_im = vec![[0f32; LANES]; self.max_step + 1];
        for (caps, samples) in bodies {
            // capsule frames once per body
            let frames: Vec<(Vec3, Vec3, Vec3, Vec3, f64, f64)> = caps
                .iter()
                .map(|c| {
                    let axis = c.b - c.a;
                    let e2 = axis.normalized().cross(c.ref_dir);
                    (c.a, axis, c.ref_dir, e2, c.radius_m, c.reflectivity.sqrt())
                })
                .collect();
            for smp in samples.iter() {
                let Some(&(a, axis, e1, e2, r, refl)) = frames.get(smp.capsule) else {
                    continue;
                };
                let normal = e1 * smp.cos_theta + e2 * smp.sin_theta;
                let pos = a + axis * smp.s + normal * r;
                let ut = (self.tx_center - pos).normalized();
                let ur = (self.rx_center - pos).normalized();
                // only the surface lit by the transmitter or seen by the receiver scatters; the
                // back of the body is dark
                let facing = 0.5 * (normal.dot(ut).max(0.0) + normal.dot(ur).max(0.0));
                if facing <= 0.0 {
                    continue;
                }
                let base_amp = (lambda * smp.sqrt_rcs_m * refl * facing / FOUR_PI_POW_1_5) as f32;
                for (m, t) in self.tx.iter().enumerate() {
                    let d = pos.distance(*t);
                    tx_ph[m] = phasor(k0 * d);
                    tx_rot[m] = small_phasor(kd * d);
                    tx_amp[m] = (1.0 / d) as f32;
                }
                for (m, q) in self.rx.iter().enumerate() {
                    let d = pos.distance(*q);
                    rx_ph[m] = phasor(k0 * d);
                    rx_rot[m] = small_phasor(kd * d);
                    rx_amp[m] = (1.0 / d) as f32;
                }
                let mut z_re = [0f32; LANES];
                let mut z_im = [0f32; LANES];
                for i in 0..n_tx {
                    for j in 0..n_rx {
                        let lane = i * n_rx + j;
                        let z = tx_ph[i] * rx_ph[j] * (base_amp * tx_amp[i] * rx_amp[j]);
                        let rot = tx_rot[i] * rx_rot[j];
                        z_re[lane] = z.re;
                        z_im[lane] = z.im;
                        pow_re[1][lane] = rot.re;
                        pow_im[1][lane] = rot.im;
                    }
                }
                for s in 2..pow_re.len() {
                    for l in 0..LANES {
                        let (ar, ai) = (pow_re[s - 1][l], pow_im[s - 1][l]);
                        let (br, bi) = (pow_re[1][l], pow_im[1][l]);
                        pow_re[s][l] = ar * br - ai * bi;
                        pow_im[s][l] = ar * bi + ai * br;
                    }
                }
                for (k, &st) in self.steps.iter().enumerate() {
                    if k > 0 {
                        let (pr, pi) = (&pow_re[st], &pow_im[st]);
                        for l in 0..LANES {
                            let re = z_re[l] * pr[l] - z_im[l] * pi[l];
                            let im = z_re[l] * pi[l] + z_im[l] * pr[l];
                            z_re[l] = re;
                            z_im[l] = im;
                        }
                    }
                    let (ar, ai) = (&mut acc_re[k], &mut acc_im[k]);
                    for l in 0..LANES {
                        ar[l] += z_re[l];
                        ai[l] += z_im[l];
                    }
                }
            }
        }
        for lane in 0..n_tx * n_rx {
            let row = &mut out[lane * n_sub..(lane + 1) * n_sub];
            for (k, h) in row.iter_mut().enumerate() {
                *h += Complex32::new(acc_re[k][lane], acc_im[k][lane]);
            }
        }
    }
}

/// exp(j·phase) in f32, reducing the (large) phase in f64 first.
#[inline]
fn phasor(phase: f64) -> Complex32 {
    let p = phase - TAU * (phase * (1.0 / TAU)).round();
    let (s, c) = (p as f32).sin_cos();
    Complex32::new(c, s)
}

/// exp(j·phase) for |phase| < 0.5 rad by Taylor series (error < 1e-7), used for the small
/// per-subcarrier rotations (2π · 312.5 kHz · d / c is 0.0066 rad per metre of path).
#[inline]
fn small_phasor(phase: f64) -> Complex32 {
    if phase.abs() >= 0.5 {
        return phasor(phase);
    }
    let x2 = phase * phase;
    let c = 1.0 - x2 / 2.0 * (1.0 - x2 / 12.0 * (1.0 - x2 / 30.0 * (1.0 - x2 / 56.0)));
    let s = phase * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0 * (1.0 - x2 / 72.0))));
    Complex32::new(c as f32, s as f32)
}

fn smoothstep(u: f64) -> f64 {
    let u = u.clamp(0.0, 1.0);
    u * u * (3.0 - 2.0 * u)
}

/// Paths from image sources to a receiver; the first is the line of sight.
pub fn paths_from_images(
    images: &[(Vec3, f64, u8)],
    rx: Vec3,
    wavelength_m: f64,
) -> Vec<PropagationPath> {
    images
        .iter()
        .map(|(img, gain, order)| {
            let d = img.distance(rx);
            PropagationPath {
                length_m: d,
                amplitude: Complex64::new(gain * wavelength_m / (4.0 * PI * d), 0.0),
                order: *order,
            }
        })
        .collect()
}

/// Furniture scattering points: (position, complex amplitude before the 1/(d1 d2) spreading).
fn furniture_points(scene: &Scene, lambda: f64) -> Vec<(Vec3, Complex64)> {
    // the room's own seed: the sequence seed must not rebuild the room
    let mut rng = SimRng::new(scene.room.seed, Stream::Furniture, 0);
    let mut out = Vec::new();
    let mut push = |pos: Vec3, rcs: f64, rng: &mut SimRng| {
        // a rough surface scatters with an arbitrary phase
        let phase = rng.range(0.0, TAU);
        out.push((
            pos,
            Complex64::from_polar(lambda * rcs.max(0.0).sqrt() / FOUR_PI_POW_1_5, phase),
        ));
    };
    for f in &scene.room.furniture {
        match f {
            Furniture::Point { position_m, rcs_m2 } => {
                push(Vec3::from_array(*position_m), *rcs_m2, &mut rng)
            }
            Furniture::Box {
                min_m,
                max_m,
                rcs_per_m2,
            } => {
                // a grid of about 0.3 m on the four sides and the top
                let lo = Vec3::from_array(*min_m);
                let hi = Vec3::from_array(*max_m);
                let size = hi - lo;
                let n = |len: f64| ((len / 0.3).ceil() as usize).max(1);
                let (nx, ny, nz) = (n(size.x), n(size.y), n(size.z));
                let cell = |a: f64, b: f64| a * b;
                for ix in 0..nx {
                    for iy in 0..ny {
                        let (u, v) = ((ix as f64 + 0.5) / nx as f64, (iy as f64 + 0.5) / ny as f64);
                        let area = cell(size.x / nx as f64, size.y / ny as f64);
                        push(
                            Vec3::new(lo.x + u * size.x, lo.y + v * size.y, hi.z),
                            rcs_per_m2 * area,
                            &mut rng,
                        );
                    }
                }
                for iz in 0..nz {
                    let w = (iz as f64 + 0.5) / nz as f64;
                    let z = lo.z + w * size.z;
                    for ix in 0..nx {
                        let u = (ix as f64 + 0.5) / nx as f64;
                        let area = cell(size.x / nx as f64, size.z / nz as f64);
                        for y in [lo.y, hi.y] {
                            push(
                                Vec3::new(lo.x + u * size.x, y, z),
                                rcs_per_m2 * area,
                                &mut rng,
                            );
                        }
                    }
                    for iy in 0..ny {
                        let v = (iy as f64 + 0.5) / ny as f64;
                        let area = cell(size.y / ny as f64, size.z / nz as f64);
                        for x in [lo.x, hi.x] {
                            push(
                                Vec3::new(x, lo.y + v * size.y, z),
                                rcs_per_m2 * area,
                                &mut rng,
                            );
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn image_counts_per_order() {
        let refl = [0.5; 6];
        let tx = Vec3::new(1.0, 2.0, 1.0);
        assert_eq!(image_sources([6.0, 5.0, 3.0], refl, tx, 0).len(), 1);
        assert_eq!(image_sources([6.0, 5.0, 3.0], refl, tx, 1).len(), 7);
        // 12 perpendicular pairs + 6 ordered parallel pairs
        assert_eq!(image_sources([6.0, 5.0, 3.0], refl, tx, 2).len(), 25);
    }

    #[test]
    fn body_sum_matches_direct_evaluation() {
        use crate::body::{pose_body, PoseParams};
        for layout in ["intel5300", "ht40"] {
            let yaml = format!(
                "room: {{ size_m: [6.0, 5.0, 3.0] }}\nradio: {{ carrier_hz: 5.32e9, layout: {layout}, packet_rate_hz: 100.0 }}\ntx: {{ position_m: [0.5, 2.5, 1.2], antennas: 2 }}\nrx: {{ position_m: [5.5, 2.0, 1.0], antennas: 3 }}\n"
            );
            let scene = Scene::from_yaml_str(&yaml).unwrap();
            let subs = scene.radio.layout.indices();
            let model = ChannelModel::new(&scene, &subs).unwrap();
            let body = pose_body(
                &PoseParams {
                    root_xy_m: [3.0, 4.0],
                    yaw_rad: 0.7,
                    ..Default::default()
                },
                1.75,
            );
            let mut rng = SimRng::new(1, Stream::Body, 0);
            let samples = sample_body_surface(&body.capsules, 64, 1.0, 1.75, &mut rng);
            let mut out = vec![Complex32::new(0.0, 0.0); model.static_h.len()];
            model.synthesize(&[(&body.capsules, &samples)], &mut out);
            // direct: every point, pair and subcarrier with its own exp()
            let lambda = scene.radio.wavelength_m();
            let mut expected: Vec<Complex64> = model
                .static_h
                .iter()
                .map(|h| Complex64::new(h.re as f64, h.im as f64))
                .collect();
            // the body is far from the line of sight here: no shadowing
            for smp in &samples {
                let c = &body.capsules[smp.capsule];
                let axis = c.b - c.a;
                let e2 = axis.normalized().cross(c.ref_dir);
                let n = c.ref_dir * smp.cos_theta + e2 * smp.sin_theta;
                let pos = c.a + axis * smp.s + n * c.radius_m;
                let ut = (model.tx_center - pos).normalized();
                let ur = (model.rx_center - pos).normalized();
                let facing = 0.5 * (n.dot(ut).max(0.0) + n.dot(ur).max(0.0));
                for (i, t) in model.tx.iter().enumerate() {
                    for (j, r) in model.rx.iter().enumerate() {
                        let (dt, dr) = (pos.distance(*t), pos.distance(*r));
                        let amp = lambda * smp.sqrt_rcs_m * c.reflectivity.sqrt() * facing
                            / FOUR_PI_POW_1_5
                            / (dt * dr);
                        for (k, idx) in subs.iter().enumerate() {
                            let f = scene.radio.carrier_hz + *idx as f64 * SUBCARRIER_SPACING_HZ;
                            expected[(i * 3 + j) * subs.len() + k] += Complex64::from_polar(
                                amp,
                                -TAU * f * (dt + dr) / SPEED_OF_LIGHT_MPS,
                            );
                        }
                    }
                }
            }
            let scale = expected.iter().map(|h| h.norm()).fold(0.0, f64::max);
            for (a, b) in out.iter().zip(&expected) {
                let d = (Complex64::new(a.re as f64, a.im as f64) - b).norm();
                assert!(d < 1e-4 * scale, "{layout}: {d:e} vs {scale:e}");
            }
        }
    }

    #[test]
    fn small_phasor_matches_polar() {
        for ph in [-0.49, -0.1, -1e-6, 0.0, 0.033, 0.3, 0.499, 0.7, -2.0] {
            let p = small_phasor(ph);
            assert!((p.re as f64 - ph.cos()).abs() < 1e-7, "{ph}");
            assert!((p.im as f64 - ph.sin()).abs() < 1e-7, "{ph}");
        }
    }

    #[test]
    fn phasor_matches_polar() {
        for ph in [-1234.5, -3.0, 0.0, 0.7, 987.25] {
            let p = phasor(ph);
            assert!((p.re as f64 - ph.cos()).abs() < 1e-5);
            assert!((p.im as f64 - ph.sin()).abs() < 1e-5);
        }
    }
}
