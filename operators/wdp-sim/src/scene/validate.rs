//! Range checks of a parsed scene: every value is checked against its allowed range, and an
//! error names the dotted path of the field (`people[1].motion.speed_mps`); the parser adds its
//! line.

use super::{Furniture, Material, Motion, Scene};
use crate::error::SimError;

impl Scene {
    /// Checks every value's range; errors name the field path.
    pub fn validate(&self) -> Result<(), SimError> {
        let [sx, sy, sz] = self.room.size_m;
        for (i, s) in self.room.size_m.iter().enumerate() {
            positive(&format!("room.size_m[{i}]"), *s)?;
        }
        for (name, m) in self.room.walls.all() {
            if let Material::Coefficient(c) = m {
                if !(0.0..=1.0).contains(c) {
                    return Err(SimError::invalid(
                        format!("room.walls.{name}"),
                        "reflection coefficient must be in [0, 1]",
                    ));
                }
            }
        }
        let inside = |field: String, p: [f64; 3]| -> Result<(), SimError> {
            for (k, (v, lim)) in p.iter().zip([sx, sy, sz]).enumerate() {
                if !v.is_finite() || *v < 0.0 || *v > lim {
                    return Err(SimError::invalid(
                        format!("{field}[{k}]"),
                        format!("must be inside the room (0 to {lim} m)"),
                    ));
                }
            }
            Ok(())
        };
        for (i, f) in self.room.furniture.iter().enumerate() {
            match f {
                Furniture::Point { position_m, rcs_m2 } => {
                    inside(format!("room.furniture[{i}].position_m"), *position_m)?;
                    non_negative(&format!("room.furniture[{i}].rcs_m2"), *rcs_m2)?;
                }
                Furniture::Box {
                    min_m,
                    max_m,
                    rcs_per_m2,
                } => {
                    inside(format!("room.furniture[{i}].min_m"), *min_m)?;
                    inside(format!("room.furniture[{i}].max_m"), *max_m)?;
                    for k in 0..3 {
                        if max_m[k] <= min_m[k] {
                            return Err(SimError::invalid(
                                format!("room.furniture[{i}].max_m[{k}]"),
                                "must be > min_m",
                            ));
                        }
                    }
                    non_negative(&format!("room.furniture[{i}].rcs_per_m2"), *rcs_per_m2)?;
                }
            }
        }
        positive("radio.carrier_hz", self.radio.carrier_hz)?;
        if !(1e9..=100e9).contains(&self.radio.carrier_hz) {
            return Err(SimError::invalid(
                "radio.carrier_hz",
                "must be between 1 GHz and 100 GHz",
            ));
        }
        positive("radio.packet_rate_hz", self.radio.packet_rate_hz)?;
        if self.radio.max_reflection_order > 2 {
            return Err(SimError::invalid(
                "radio.max_reflection_order",
                "must be 0, 1 or 2",
            ));
        }
        if self.radio.body_points_per_person == 0 {
            return Err(SimError::invalid(
                "radio.body_points_per_person",
                "must be > 0",
            ));
        }
        for (name, arr) in [("tx", &self.tx), ("rx", &self.rx)] {
            inside(format!("{name}.position_m"), arr.position_m)?;
            if !(1..=3).contains(&arr.antennas) {
                return Err(SimError::invalid(
                    format!("{name}.antennas"),
                    "must be 1, 2 or 3",
                ));
            }
            if let Some(s) = arr.spacing_m {
                positive(&format!("{name}.spacing_m"), s)?;
            }
        }
        if self.people.len() > 5 {
            return Err(SimError::invalid("people", "at most 5 people"));
        }
        for (i, p) in self.people.iter().enumerate() {
            let f = format!("people[{i}]");
            if !(1.0..=2.2).contains(&p.height_m) {
                return Err(SimError::invalid(
                    format!("{f}.height_m"),
                    "must be between 1.0 and 2.2 m",
                ));
            }
            non_negative(&format!("{f}.reflectivity"), p.reflectivity)?;
            let on_floor = |field: String, xy: [f64; 2]| -> Result<(), SimError> {
                for (k, (v, lim)) in xy.iter().zip([sx, sy]).enumerate() {
                    if !v.is_finite() || *v < 0.0 || *v > lim {
                        return Err(SimError::invalid(
                            format!("{field}[{k}]"),
                            format!("must be inside the room (0 to {lim} m)"),
                        ));
                    }
                }
                Ok(())
            };
            let m = format!("{f}.motion");
            match &p.motion {
                Motion::Stand {
                    position_m,
                    breathing_hz,
                    breathing_amplitude_m,
                    ..
                } => {
                    on_floor(format!("{m}.position_m"), *position_m)?;
                    non_negative(&format!("{m}.breathing_hz"), *breathing_hz)?;
                    non_negative(
                        &format!("{m}.breathing_amplitude_m"),
                        *breathing_amplitude_m,
                    )?;
                }
                Motion::Walk {
                    waypoints_m,
                    speed_mps,
                    ..
                } => {
                    if waypoints_m.len() < 2 {
                        return Err(SimError::invalid(
                            format!("{m}.waypoints_m"),
                            "needs at least 2 waypoints",
                        ));
                    }
                    for (k, w) in waypoints_m.iter().enumerate() {
                        on_floor(format!("{m}.waypoints_m[{k}]"), *w)?;
                    }
                    positive(&format!("{m}.speed_mps"), *speed_mps)?;
                }
                Motion::Wander {
                    speed_mps,
                    pause_s,
                    margin_m,
                } => {
                    positive(&format!("{m}.speed_mps"), *speed_mps)?;
                    non_negative(&format!("{m}.pause_s"), *pause_s)?;
                    non_negative(&format!("{m}.margin_m"), *margin_m)?;
                    if 2.0 * margin_m >= sx.min(sy) {
                        return Err(SimError::invalid(
                            format!("{m}.margin_m"),
                            "leaves no room to walk",
                        ));
                    }
                }
                Motion::Turn {
                    position_m,
                    period_s,
                }
                | Motion::Wave {
                    position_m,
                    period_s,
                    ..
                }
                | Motion::Squat {
                    position_m,
                    period_s,
                    ..
                }
                | Motion::Sit {
                    position_m,
                    period_s,
                    ..
                } => {
                    on_floor(format!("{m}.position_m"), *position_m)?;
                    positive(&format!("{m}.period_s"), *period_s)?;
                }
                Motion::Fall {
                    position_m,
                    at_s,
                    duration_s,
                    ..
                } => {
                    on_floor(format!("{m}.position_m"), *position_m)?;
                    non_negative(&format!("{m}.at_s"), *at_s)?;
                    positive(&format!("{m}.duration_s"), *duration_s)?;
                }
            }
        }
        if let Some(c) = &self.camera {
            inside("camera.position_m".into(), c.position_m)?;
            let d: f64 = (0..3)
                .map(|k| (c.look_at_m[k] - c.position_m[k]).powi(2))
                .sum();
            if d < 1e-6 {
                return Err(SimError::invalid(
                    "camera.look_at_m",
                    "must differ from position_m",
                ));
            }
            if !(1.0..179.0).contains(&c.fov_deg) {
                return Err(SimError::invalid("camera.fov_deg", "must be in (1, 179)"));
            }
            for (k, v) in c.resolution.iter().enumerate() {
                if !(8..=4096).contains(v) {
                    return Err(SimError::invalid(
                        format!("camera.resolution[{k}]"),
                        "must be 8 to 4096 pixels",
                    ));
                }
            }
            if let Some(g) = c.gt_resolution {
                for (k, v) in g.iter().enumerate() {
                    if !(4..=4096).contains(v) {
                        return Err(SimError::invalid(
                            format!("camera.gt_resolution[{k}]"),
                            "must be 4 to 4096 pixels",
                        ));
                    }
                }
            }
            positive("camera.fps", c.fps)?;
            if let Some(k) = c.intrinsics {
                positive("camera.intrinsics.fx", k.fx)?;
                positive("camera.intrinsics.fy", k.fy)?;
            }
        }
        let imp = &self.impairments;
        if let Some(s) = imp.snr_db {
            if !s.is_finite() {
                return Err(SimError::invalid("impairments.snr_db", "must be finite"));
            }
        }
        non_negative("impairments.cfo_std_hz", imp.cfo_std_hz)?;
        non_negative("impairments.sto_std_ns", imp.sto_std_ns)?;
        non_negative("impairments.agc_step_db", imp.agc_step_db)?;
        non_negative("impairments.agc_max_db", imp.agc_max_db)?;
        non_negative("impairments.jitter_std_us", imp.jitter_std_us)?;
        for (name, p) in [
            ("impairments.agc_step_probability", imp.agc_step_probability),
            ("impairments.packet_loss", imp.packet_loss),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(SimError::invalid(name, "must be in [0, 1)"));
            }
        }
        if let Some(d) = self.duration_s {
            positive("duration_s", d)?;
        }
        Ok(())
    }
}

fn positive(field: &str, v: f64) -> Result<(), SimError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(SimError::invalid(field, "must be > 0"))
    }
}

fn non_negative(field: &str, v: f64) -> Result<(), SimError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(SimError::invalid(field, "must be >= 0"))
    }
}
