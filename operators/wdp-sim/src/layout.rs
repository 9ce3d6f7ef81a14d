//! OFDM subcarrier layouts of real WiFi chips.

use serde::{Deserialize, Serialize};

/// 802.11 OFDM subcarrier spacing (20 and 40 MHz channels).
pub const SUBCARRIER_SPACING_HZ: f64 = 312_500.0;

/// Which subcarriers a chip reports, as signed indices around the carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubcarrierLayout {
    /// Intel 5300 CSI Tool: 30 grouped subcarriers of a 20 MHz channel
    /// (-28, -26, ..., -2, -1, 1, 3, ..., 27, 28).
    Intel5300,
    /// 802.11n HT20: the 56 data and pilot subcarriers -28..=-1, 1..=28.
    Ht20,
    /// 802.11n HT40: the 114 subcarriers -58..=-2, 2..=58.
    Ht40,
    /// ESP32 L-LTF: all 64 FFT bins -32..=31 of a 20 MHz channel, as the ESP32 reports them
    /// (guard and DC bins included).
    Esp32,
}

impl SubcarrierLayout {
    /// The signed subcarrier indices in increasing order.
    pub fn indices(self) -> Vec<i32> {
        match self {
            Self::Intel5300 => {
                let mut v: Vec<i32> = (-28..=-2).step_by(2).collect();
                v.push(-1);
                v.extend((1..=27).step_by(2));
                v.push(28);
                v
            }
            Self::Ht20 => (-28..=-1).chain(1..=28).collect(),
            Self::Ht40 => (-58..=-2).chain(2..=58).collect(),
            Self::Esp32 => (-32..=31).collect(),
        }
    }

    /// Channel bandwidth in Hz.
    pub fn bandwidth_hz(self) -> f64 {
        match self {
            Self::Ht40 => 40e6,
            _ => 20e6,
        }
    }

    /// Stable short name (as written in scene files).
    pub fn name(self) -> &'static str {
        match self {
            Self::Intel5300 => "intel5300",
            Self::Ht20 => "ht20",
            Self::Ht40 => "ht40",
            Self::Esp32 => "esp32",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layouts_have_the_chip_counts() {
        let intel = SubcarrierLayout::Intel5300.indices();
        assert_eq!(intel.len(), 30);
        assert_eq!(&intel[..3], &[-28, -26, -24]);
        assert_eq!(&intel[13..17], &[-2, -1, 1, 3]);
        assert_eq!(intel[29], 28);
        assert_eq!(SubcarrierLayout::Ht20.indices().len(), 56);
        assert_eq!(SubcarrierLayout::Ht40.indices().len(), 114);
        assert_eq!(SubcarrierLayout::Esp32.indices().len(), 64);
        for l in [
            SubcarrierLayout::Intel5300,
            SubcarrierLayout::Ht20,
            SubcarrierLayout::Ht40,
            SubcarrierLayout::Esp32,
        ] {
            let v = l.indices();
            assert!(v.windows(2).all(|w| w[0] < w[1]), "{l:?} sorted");
        }
    }
}
