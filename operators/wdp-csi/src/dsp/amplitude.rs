//! Amplitude operators: AGC and RSSI compensation, linear or dB scale.
//!
//! Radios scale CSI by their automatic gain control, so a gain step looks like a sudden change
//! of the channel. Where the frame reports the gain (Intel 5300 `agc`, in dB) it is undone; where
//! it reports the RSSI, each packet can instead be scaled so that its mean CSI power equals the
//! received power (what the CSI Tool's `get_scaled_csi` does), which removes any gain.

use serde::{Deserialize, Serialize};

/// Linear amplitude or dB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AmplitudeScale {
    /// `|h|`.
    #[default]
    Linear,
    /// `20 log10 |h|`.
    Db,
}

/// Settings of the amplitude step.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmplitudeConfig {
    /// Output scale.
    pub scale: AmplitudeScale,
    /// Undo the receiver's AGC gain where the packet reports it: `|h| * 10^(-agc_db / 20)`.
    pub agc: bool,
    /// Scale each packet so its mean CSI power is the reported RSSI (linear milliwatts); takes
    /// precedence over `agc`, whose effect the RSSI already includes.
    pub rssi: bool,
    /// Floor of the dB scale, for zero amplitudes (null subcarriers).
    pub floor_db: f32,
}

impl Default for AmplitudeConfig {
    fn default() -> Self {
        Self {
            scale: AmplitudeScale::Linear,
            agc: true,
            rssi: false,
            floor_db: -100.0,
        }
    }
}

impl AmplitudeConfig {
    /// The factor to multiply this packet's amplitudes with, given its AGC gain, RSSI and mean
    /// power `mean(|h|^2)`. 1 when the packet reports nothing that is enabled.
    pub fn gain_factor(&self, agc_db: Option<f32>, rssi_dbm: Option<f32>, mean_power: f32) -> f32 {
        if self.rssi {
            if let Some(rssi) = rssi_dbm.filter(|r| r.is_finite()) {
                if mean_power > 0.0 && mean_power.is_finite() {
                    return (10f32.powf(rssi / 10.0) / mean_power).sqrt();
                }
            }
        }
        if self.agc {
            if let Some(agc) = agc_db.filter(|a| a.is_finite()) {
                return 10f32.powf(-agc / 20.0);
            }
        }
        1.0
    }
}

/// Converts linear amplitudes to dB in place, with a floor for zeros.
pub fn to_db(amplitude: &mut [f32], floor_db: f32) {
    for a in amplitude.iter_mut() {
        let db = 20.0 * a.log10();
        *a = if db.is_finite() {
            db.max(floor_db)
        } else {
            floor_db
        };
    }
}

/// Mean power `mean(re^2 + im^2)` of interleaved complex values.
pub fn mean_power_interleaved(values: &[f32]) -> f32 {
    if values.len() < 2 {
        return 0.0;
    }
    let sum: f64 = values.iter().map(|v| f64::from(*v) * f64::from(*v)).sum();
    (sum / (values.len() / 2) as f64) as f32
}

/// Mean power `mean(a^2)` of amplitudes.
pub fn mean_power(amplitude: &[f32]) -> f32 {
    if amplitude.is_empty() {
        return 0.0;
    }
    let sum: f64 = amplitude
        .iter()
        .map(|v| f64::from(*v) * f64::from(*v))
        .sum();
    (sum / amplitude.len() as f64) as f32
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn agc_step_is_undone() {
        let c = AmplitudeConfig::default();
        // The same channel seen with 10 dB more gain has 10^(10/20) times the amplitude.
        let a_low = 5.0 * c.gain_factor(Some(30.0), None, 0.0);
        let a_high = 5.0 * 10f32.powf(0.5) * c.gain_factor(Some(40.0), None, 0.0);
        assert!((a_low - a_high).abs() < 1e-6);
    }

    #[test]
    fn rssi_scaling_sets_packet_power() {
        let c = AmplitudeConfig {
            rssi: true,
            ..Default::default()
        };
        let amps = [3.0f32, 4.0, 5.0];
        let g = c.gain_factor(None, Some(-40.0), mean_power(&amps));
        let scaled: Vec<f32> = amps.iter().map(|a| a * g).collect();
        let p_dbm = 10.0 * mean_power(&scaled).log10();
        assert!((p_dbm + 40.0).abs() < 1e-3);
        // Nothing reported: unchanged.
        assert_eq!(c.gain_factor(None, None, 1.0), 1.0);
    }

    #[test]
    fn db_has_a_floor() {
        let mut a = [0.0f32, 1.0, 10.0, f32::MIN_POSITIVE];
        to_db(&mut a, -100.0);
        assert_eq!(a, [-100.0, 0.0, 20.0, -100.0]);
    }
}
