//! Hold times: a reported value changes only after a new value has lasted long enough.

use std::collections::VecDeque;

const NS_PER_S: f64 = 1e9;

/// Seconds to nanoseconds.
pub(crate) fn ns(seconds: f64) -> i64 {
    (seconds * NS_PER_S).round() as i64
}

/// A reported value that follows its input only once the input has kept a new value for the
/// hold time (measured on the input's clock).
#[derive(Debug, Clone)]
pub struct Hold<T> {
    value: T,
    candidate: Option<(T, i64)>,
}

impl<T: Copy + PartialEq> Hold<T> {
    /// Starts at `value`.
    pub fn new(value: T) -> Self {
        Self {
            value,
            candidate: None,
        }
    }

    /// The reported value.
    pub fn value(&self) -> T {
        self.value
    }

    /// The input is `input` at `t_ns`; a change is reported once the same new input has been
    /// seen since at least `hold_ns` ago. Returns the new value when it changed.
    pub fn update(&mut self, t_ns: i64, input: T, hold_ns: i64) -> Option<T> {
        if input == self.value {
            self.candidate = None;
            return None;
        }
        let since = match self.candidate {
            Some((c, since)) if c == input => since,
            _ => {
                self.candidate = Some((input, t_ns));
                t_ns
            }
        };
        if t_ns - since >= hold_ns {
            self.value = input;
            self.candidate = None;
            return Some(input);
        }
        None
    }

    /// Sets the value at once (a source went stale).
    pub fn reset(&mut self, value: T) {
        self.value = value;
        self.candidate = None;
    }
}

/// The per-frame people counts of the last `window_ns`, summarised.
#[derive(Debug, Clone, Default)]
pub struct CountWindow {
    frames: VecDeque<(i64, u32)>,
}

impl CountWindow {
    /// Adds a frame's count and forgets frames older than `window_ns` before it.
    pub fn push(&mut self, t_ns: i64, count: u32, window_ns: i64) {
        self.frames.push_back((t_ns, count));
        while self
            .frames
            .front()
            .is_some_and(|&(t, _)| t_ns - t > window_ns)
        {
            self.frames.pop_front();
        }
    }

    /// The most frequent count; a tie goes to `prefer` when it is among the tied, else to the
    /// smallest (fewer people is the cautious answer).
    pub fn mode(&self, prefer: u32) -> u32 {
        let mut counts: Vec<(u32, usize)> = Vec::new();
        for &(_, c) in &self.frames {
            match counts.iter_mut().find(|(v, _)| *v == c) {
                Some((_, n)) => *n += 1,
                None => counts.push((c, 1)),
            }
        }
        let best = counts.iter().map(|&(_, n)| n).max().unwrap_or(0);
        let tied = counts.iter().filter(|&&(_, n)| n == best).map(|&(v, _)| v);
        let mut smallest = None;
        for v in tied {
            if v == prefer {
                return v;
            }
            smallest = Some(smallest.map_or(v, |s: u32| s.min(v)));
        }
        smallest.unwrap_or(prefer)
    }

    /// Share of the frames with somebody (0 without frames).
    pub fn occupied_share(&self) -> f64 {
        if self.frames.is_empty() {
            return 0.0;
        }
        let n = self.frames.iter().filter(|&&(_, c)| c > 0).count();
        n as f64 / self.frames.len() as f64
    }

    /// Forgets every frame.
    pub fn clear(&mut self) {
        self.frames.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_value_must_last_the_hold() {
        let mut h = Hold::new(0u32);
        assert_eq!(h.update(0, 2, 100), None);
        assert_eq!(h.update(50, 2, 100), None);
        // Back to the reported value: the candidate is forgotten.
        assert_eq!(h.update(60, 0, 100), None);
        assert_eq!(h.update(70, 2, 100), None);
        assert_eq!(h.update(160, 2, 100), None);
        assert_eq!(h.update(170, 2, 100), Some(2));
        assert_eq!(h.value(), 2);
        // Another candidate restarts the clock.
        assert_eq!(h.update(200, 3, 100), None);
        assert_eq!(h.update(250, 1, 100), None);
        assert_eq!(h.update(340, 1, 100), None);
        assert_eq!(h.update(350, 1, 100), Some(1));
        // A zero hold follows at once.
        assert_eq!(h.update(351, 4, 0), Some(4));
    }

    #[test]
    fn mode_prefers_the_held_value_then_fewer_people() {
        let mut w = CountWindow::default();
        for (t, c) in [(0, 1), (1, 2), (2, 2), (3, 1)] {
            w.push(t, c, 10);
        }
        assert_eq!(w.mode(2), 2);
        assert_eq!(w.mode(1), 1);
        assert_eq!(w.mode(0), 1);
        assert_eq!(w.occupied_share(), 1.0);
        // Frames older than the window go.
        w.push(20, 0, 10);
        assert_eq!(w.mode(3), 0);
        assert_eq!(w.occupied_share(), 0.0);
    }
}
