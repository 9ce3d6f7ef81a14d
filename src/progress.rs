//! Progress bars of the long commands: on stderr, with rate and ETA, and hidden when stderr is
//! not a terminal (CI, tests, logs), so captured output stays clean. Nothing goes to stdout.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::fmt::Write;
use std::io::IsTerminal;
use std::time::Duration;

/// A bar of `len` steps drawn by `template` (indicatif's keys, plus `{secs}`/`{len_secs}`:
/// position and length in seconds when a step is a millisecond, `{speedup}`: seconds of
/// position per second of wall time, `{rate}`: steps per second); hidden when stderr is not a
/// terminal.
pub fn bar(len: u64, template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("secs", |s: &ProgressState, w: &mut dyn Write| {
            let _ = write!(w, "{:.1}", s.pos() as f64 / 1e3);
        })
        .with_key("len_secs", |s: &ProgressState, w: &mut dyn Write| {
            let _ = write!(w, "{:.1}", s.len().unwrap_or(0) as f64 / 1e3);
        })
        .with_key("rate", |s: &ProgressState, w: &mut dyn Write| {
            let wall = s.elapsed().as_secs_f64().max(1e-3);
            let _ = write!(w, "{:.1}/s", s.pos() as f64 / wall);
        })
        .with_key("speedup", |s: &ProgressState, w: &mut dyn Write| {
            let wall = s.elapsed().as_secs_f64().max(1e-3);
            let _ = write!(w, "{:.1}x", s.pos() as f64 / 1e3 / wall);
        })
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
