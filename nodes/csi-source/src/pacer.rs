//! Pacing of replayed frames.

use std::time::{Duration, Instant};

/// Replays at the recorded timing: sleeps until a frame's offset from the first frame,
/// divided by the speed, has elapsed. Gaps and clock jumps are capped so that a wrapped or
/// reset radio clock never stalls the replay.
pub struct Pacer {
    speed: Option<f64>,
    start: Option<(Instant, i64)>,
    last_ns: i64,
}

impl Pacer {
    const MAX_GAP_NS: i64 = 1_000_000_000;

    pub fn new(speed: Option<f64>) -> Self {
        Self {
            speed,
            start: None,
            last_ns: 0,
        }
    }

    pub fn restart(&mut self) {
        self.start = None;
    }

    pub fn wait(&mut self, t_ns: i64) {
        let Some(speed) = self.speed else { return };
        let Some((wall, base)) = self.start else {
            self.start = Some((Instant::now(), t_ns));
            self.last_ns = t_ns;
            return;
        };
        let step = t_ns - self.last_ns;
        if !(0..=Self::MAX_GAP_NS).contains(&step) {
            // Re-anchor on a clock jump instead of waiting for it.
            self.start = Some((Instant::now(), t_ns));
            self.last_ns = t_ns;
            return;
        }
        self.last_ns = t_ns;
        let due = Duration::from_nanos(((t_ns - base) as f64 / speed) as u64);
        if let Some(remaining) = due.checked_sub(wall.elapsed()) {
            std::thread::sleep(remaining);
        }
    }
}
