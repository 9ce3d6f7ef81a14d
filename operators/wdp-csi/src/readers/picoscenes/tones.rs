//! Tone plans: the subcarrier indices of each packet format and bandwidth PicoScenes records,
//! their pilot tones, and the Intel 5300's grouped subcarriers.

use super::{PACKET_FORMAT_HE_SU, PACKET_FORMAT_HT, PACKET_FORMAT_NON_HT, PACKET_FORMAT_VHT};

/// Intel 5300 subcarrier indices: 30 groups, -28..28 at 20 MHz, -58..58 at 40 MHz.
pub(super) fn iwl5300_subcarriers(cbw: u16, offset: i16) -> Option<Vec<i32>> {
    let (edge, inner, step) = match cbw {
        20 => (28, 1, 2),
        40 => (58, 2, 4),
        _ => return None,
    };
    let mut v: Vec<i32> = (0..14).map(|i| -edge + i * step).collect();
    v.push(-inner);
    v.extend((0..14).map(|i| inner + i * step));
    v.push(edge);
    let offset = i32::from(offset);
    Some(v.into_iter().map(|k| k + offset).collect())
}

/// Every subcarrier index of a packet format's tone plan at a bandwidth (pilots included),
/// lowest first; `None` for combinations PicoScenes does not record.
pub(super) fn tone_plan(format: i8, cbw: u16) -> Option<Vec<i32>> {
    // Inclusive ranges of the positive half; the plan is symmetric around DC.
    let halves: &[(i32, i32)] = match (format, cbw) {
        (PACKET_FORMAT_NON_HT, 20) => &[(1, 26)],
        (PACKET_FORMAT_HT | PACKET_FORMAT_VHT, 20) => &[(1, 28)],
        (PACKET_FORMAT_HT | PACKET_FORMAT_VHT, 40) => &[(2, 58)],
        (PACKET_FORMAT_VHT, 80) => &[(2, 122)],
        (PACKET_FORMAT_VHT, 160) => &[(6, 126), (130, 250)],
        (PACKET_FORMAT_HE_SU, 20) => &[(2, 122)],
        (PACKET_FORMAT_HE_SU, 40) => &[(3, 244)],
        (PACKET_FORMAT_HE_SU, 80) => &[(3, 500)],
        (PACKET_FORMAT_HE_SU, 160) => &[(12, 509), (515, 1012)],
        _ => return None,
    };
    let positive: Vec<i32> = halves.iter().flat_map(|&(a, b)| a..=b).collect();
    let mut plan: Vec<i32> = positive.iter().rev().map(|k| -k).collect();
    plan.extend(positive);
    Some(plan)
}

/// The magnitudes of the pilot subcarrier indices of a tone plan (pilots sit at `±k`).
pub(super) fn pilot_tones(format: i8, cbw: u16) -> &'static [i32] {
    match (format, cbw) {
        (PACKET_FORMAT_NON_HT | PACKET_FORMAT_HT | PACKET_FORMAT_VHT, 20) => &[7, 21],
        (PACKET_FORMAT_HT | PACKET_FORMAT_VHT, 40) => &[11, 25, 53],
        (PACKET_FORMAT_VHT, 80) => &[11, 39, 75, 103],
        (PACKET_FORMAT_VHT, 160) => &[25, 53, 89, 117, 139, 167, 203, 231],
        (PACKET_FORMAT_HE_SU, 20) => &[22, 48, 90, 116],
        (PACKET_FORMAT_HE_SU, 40) => &[10, 36, 78, 104, 144, 170, 212, 238],
        (PACKET_FORMAT_HE_SU, 80) => &[24, 92, 158, 226, 266, 334, 400, 468],
        // The 80 MHz pilots of each half, around ±512.
        (PACKET_FORMAT_HE_SU, 160) => &[
            44, 112, 178, 246, 286, 354, 420, 488, 536, 604, 670, 738, 778, 846, 912, 980,
        ],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    // In tests a panic is the failure report.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn tone_plans_have_the_standard_sizes_and_hold_their_pilots() {
        let cases = [
            (PACKET_FORMAT_NON_HT, 20, 52, 4),
            (PACKET_FORMAT_HT, 20, 56, 4),
            (PACKET_FORMAT_HT, 40, 114, 6),
            (PACKET_FORMAT_VHT, 80, 242, 8),
            (PACKET_FORMAT_VHT, 160, 484, 16),
            (PACKET_FORMAT_HE_SU, 20, 242, 8),
            (PACKET_FORMAT_HE_SU, 40, 484, 16),
            (PACKET_FORMAT_HE_SU, 80, 996, 16),
            (PACKET_FORMAT_HE_SU, 160, 1992, 32),
        ];
        for (format, cbw, tones, pilots) in cases {
            let plan = tone_plan(format, cbw).unwrap();
            assert_eq!(plan.len(), tones, "{format} {cbw}");
            assert!(plan.windows(2).all(|w| w[0] < w[1]));
            let found = plan
                .iter()
                .filter(|k| pilot_tones(format, cbw).contains(&k.abs()))
                .count();
            assert_eq!(found, pilots, "{format} {cbw}");
        }
        assert_eq!(tone_plan(PACKET_FORMAT_HT, 80), None);
    }
}
