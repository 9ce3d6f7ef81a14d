//! The real ESP32-S3 recordings: a quiet room, then a person moving in it, told apart second
//! by second with the default configuration (calibrated on the quiet start).
#![allow(clippy::unwrap_used)]

mod common;
use common::{frames, second_of, sense, with_gain_walk, MOVEMENT, QUIET};
use wdp_csi::CsiFrame;
use wdp_sense::{append_capture, SecondState, SenseConfig};

/// Quiet then movement on one time axis; the second at which the movement starts.
fn quiet_then_movement() -> (Vec<CsiFrame>, u64) {
    let mut all = frames(QUIET);
    let start = append_capture(&mut all, frames(MOVEMENT));
    let first_moving = second_of(&all, start);
    (all, first_moving)
}

fn describe(states: &[SecondState]) -> String {
    states
        .iter()
        .map(|s| {
            format!(
                "{}:{}{} score/level {:.2}",
                s.t_s,
                if s.calibrating { "cal" } else { "" },
                if s.motion { "M" } else { "-" },
                s.score.unwrap_or(f64::NAN) / s.level.unwrap_or(f64::NAN)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The judged behaviour: calibration on the start, no motion in the quiet seconds after it,
/// motion in most (here: all but at most one) of the movement seconds.
fn check_quiet_then_movement(states: &[SecondState], first_moving: u64) {
    let calibration = u64::from(SenseConfig::default().calibration_s);
    let log = describe(states);
    for s in states {
        assert_eq!(s.calibrating, s.t_s < calibration, "{log}");
    }
    let quiet: Vec<&SecondState> = states
        .iter()
        .filter(|s| !s.calibrating && s.t_s < first_moving && s.packets > 0)
        .collect();
    assert!(quiet.len() >= 5, "{log}");
    assert!(quiet.iter().all(|s| !s.motion && !s.presence), "{log}");
    let moving: Vec<&SecondState> = states.iter().filter(|s| s.t_s >= first_moving).collect();
    assert!(moving.len() >= 10, "{log}");
    let detected = moving.iter().filter(|s| s.motion).count();
    assert!(
        detected + 1 >= moving.len(),
        "{detected}/{}: {log}",
        moving.len()
    );
    assert!(moving[2..].iter().all(|s| s.presence), "{log}");
    // Motion confidence is high where motion is reported.
    assert!(
        moving
            .iter()
            .filter(|s| s.motion)
            .all(|s| s.confidence.unwrap() > 0.5),
        "{log}"
    );
}

#[test]
fn quiet_then_movement_second_by_second() {
    let (all, first_moving) = quiet_then_movement();
    let states = sense(SenseConfig::default(), &all);
    check_quiet_then_movement(&states, first_moving);
}

#[test]
fn quiet_then_movement_without_gain_lock() {
    // The same recordings through a receiver whose AGC keeps stepping (2 dB, every ~10
    // packets on average, within ±8 dB): the turbulence does not see gain, the raw baseline does.
    let (mut all, first_moving) = quiet_then_movement();
    with_gain_walk(&mut all, 2.0, 0.1, 8.0, 7);
    let states = sense(SenseConfig::default(), &all);
    check_quiet_then_movement(&states, first_moving);
    let baseline_false = states
        .iter()
        .filter(|s| !s.calibrating && s.t_s < first_moving && s.baseline.motion)
        .count();
    assert!(
        baseline_false > 0,
        "the gain walk should fool the fixed threshold"
    );
}

#[test]
fn quiet_room_alone_stays_empty_after_calibration() {
    let states = sense(SenseConfig::default(), &frames(QUIET));
    assert!(states.len() >= 10, "{}", describe(&states));
    let after: Vec<&SecondState> = states.iter().filter(|s| !s.calibrating).collect();
    assert!(after.len() >= 5);
    assert!(
        after.iter().all(|s| !s.motion && !s.presence),
        "{}",
        describe(&states)
    );
    assert!(after.iter().all(|s| s.confidence.unwrap() > 0.9));
}

#[test]
fn motion_ends_when_the_room_is_quiet_again() {
    let (mut all, first_moving) = quiet_then_movement();
    let quiet_again = append_capture(&mut all, frames(QUIET));
    let states = sense(SenseConfig::default(), &all);
    let log = describe(&states);
    let back = second_of(&all, quiet_again);
    assert!(states[first_moving as usize + 5].motion, "{log}");
    // The appended quiet recording is disturbed for its first two seconds (as the calibration
    // seconds show: its gain and profile settle); after those, the window and the hold, no motion.
    let settled = back as usize + 2 + 1 + SenseConfig::default().motion_hold_s as usize;
    assert!(
        states[settled..].iter().all(|s| !s.motion),
        "from {settled}: {log}"
    );
    // Presence outlasts motion: nobody has been seen leaving.
    assert!(states.last().unwrap().presence, "{log}");
}
