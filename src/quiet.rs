//! What `wdp run` shows of the dora CLI's output: the nodes' own lines and the runtime's
//! warnings and errors, not its DEBUG/INFO stream (the full output goes to the run's log file).
//!
//! The dora CLI (1.1, `--log-format pretty`) prints on stdout:
//! - a node's stdout and stderr lines as `HH:MM:SS stdout NODE: TEXT`;
//! - the runtime's records as `HH:MM:SS LEVEL  NODE: TARGET MESSAGE` (`[dora]` for the
//!   runtime itself), `NODE: LEVEL  MESSAGE` while building, or as the daemon's `tracing` lines
//!   `YYYY-MM-DDTHH:MM:SS.ffffffZ LEVEL TARGET: MESSAGE` (ANSI-coloured); a record may go on
//!   over the next lines (a failed node's stderr between dashed lines);
//!
//! and on stderr, when the dataflow fails, a report that repeats the failed node's stderr and
//! ends with the CLI's own source location and backtrace.

use std::collections::{HashMap, HashSet};

/// Which of the dora CLI's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Its stdout: every node's lines and the runtime's log.
    Out,
    /// Its stderr: the failure report.
    Err,
}

/// `line` without ANSI escape sequences (the daemon's `tracing` lines are coloured).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, then one final byte in 0x40..=0x7e.
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

const LEVELS: [&str; 5] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

/// One line of the dora CLI's stdout, parsed.
#[derive(Debug, PartialEq)]
enum Line {
    /// A node's own output line.
    Node { node: String, text: String },
    /// A runtime record: its level and the rest of the line (`NODE: ...` or `TARGET: ...`).
    Runtime { level: &'static str, rest: String },
    /// Anything else: the continuation of the previous record, or a line of unknown form.
    Other,
}

fn is_clock(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 8
        && b[2] == b':'
        && b[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit())
}

fn level(token: &str) -> Option<&'static str> {
    LEVELS.iter().copied().find(|l| *l == token)
}

/// `NODE: TEXT` (or `NODE:` alone): the node id (no white space) and the text.
fn node_and_text(s: &str) -> Option<(&str, &str)> {
    let (node, text) = s.split_once(':')?;
    if node.is_empty() || node.contains(char::is_whitespace) {
        return None;
    }
    Some((node, text.strip_prefix(' ').unwrap_or(text)))
}

fn parse(line: &str) -> Line {
    // `HH:MM:SS stdout NODE: TEXT` or `HH:MM:SS LEVEL  REST`
    if let Some(rest) = line
        .get(..9)
        .filter(|head| is_clock(&head[..8]) && head.ends_with(' '))
        .map(|_| &line[9..])
    {
        let (token, after) = rest.split_once(' ').unwrap_or((rest, ""));
        if token == "stdout" || token == "stderr" {
            if let Some((node, text)) = node_and_text(after) {
                return Line::Node {
                    node: node.to_owned(),
                    text: text.to_owned(),
                };
            }
        }
        if let Some(level) = level(token) {
            return Line::Runtime {
                level,
                rest: after.trim_start().to_owned(),
            };
        }
        return Line::Other;
    }
    // `2026-01-02T03:04:05.123456Z  LEVEL TARGET: MESSAGE` (the daemon's tracing)
    let mut words = line.splitn(2, char::is_whitespace);
    if let (Some(stamp), Some(after)) = (words.next(), words.next()) {
        let b = stamp.as_bytes();
        if b.len() > 20 && b[4] == b'-' && b[10] == b'T' && stamp.ends_with('Z') {
            let after = after.trim_start();
            let (token, rest) = after.split_once(' ').unwrap_or((after, ""));
            if let Some(level) = level(token) {
                return Line::Runtime {
                    level,
                    rest: rest.trim_start().to_owned(),
                };
            }
        }
    }
    // `NODE: LEVEL    MESSAGE` (while building)
    if let Some((node, text)) = node_and_text(line) {
        let (token, msg) = text.split_once(' ').unwrap_or((text, ""));
        if let Some(level) = level(token) {
            return Line::Runtime {
                level,
                rest: format!("{node}: {}", msg.trim_start()),
            };
        }
    }
    Line::Other
}

/// The node a runtime record is about: `NODE: ...`, or `node_id=NODE` in a tracing line.
fn record_node(rest: &str) -> Option<&str> {
    if let Some(i) = rest.find("node_id=") {
        return rest[i + "node_id=".len()..].split_whitespace().next();
    }
    node_and_text(rest).map(|(node, _)| node)
}

/// Warnings are cut to this many characters (the log has them whole).
const WARNING_CHARS: usize = 160;

/// A warning without what it names (`quoted` names, numbers): the same warning about other
/// nodes or inputs has the same form.
fn warning_form(rest: &str) -> String {
    let mut form = String::new();
    let mut quoted = false;
    for c in rest.chars().take(WARNING_CHARS) {
        if c == '`' {
            quoted = !quoted;
            form.push(c);
        } else if !quoted && !c.is_ascii_digit() {
            form.push(c);
        }
    }
    form
}

fn is_rule(line: &str) -> bool {
    line.len() >= 10 && line.chars().all(|c| c == '-')
}

/// The filter: feed it every line in order ([`Filter::line`]), then [`Filter::finish`].
#[derive(Debug, Default)]
pub struct Filter {
    /// Every text a node printed (trimmed): a runtime record or the failure report that
    /// repeats it is not shown twice.
    seen: HashSet<String>,
    /// Whether the lines continuing the last runtime record are shown (`None`: no record open).
    continued: Option<bool>,
    /// Nodes inside a `Stack backtrace:` of their own (shown in the log only).
    backtrace: HashSet<String>,
    /// A node's "node exited with error: .." (the daemon's tracing line) held back until the
    /// runtime says it in its own words (a failure) or calls it the planned stop (no failure).
    held: HashMap<String, String>,
    /// Warnings shown, by their form ([`warning_form`]), and how many more of each form were
    /// not shown.
    warnings: HashMap<String, usize>,
    /// Inside a dashed block of the failure report.
    report_block: bool,
    /// Past the failure report's own part (the CLI's source location and backtrace follow).
    report_done: bool,
}

impl Filter {
    /// The lines to show for one line of the dora CLI (on the same stream).
    pub fn line(&mut self, stream: Stream, raw: &str) -> Vec<String> {
        let line = strip_ansi(raw);
        match stream {
            Stream::Out => self.out_line(&line),
            Stream::Err => self.err_line(&line),
        }
    }

    /// The lines still held back at the end of the output, and how many warnings were like one
    /// shown.
    pub fn finish(&mut self) -> Vec<String> {
        let mut held: Vec<(String, String)> = self.held.drain().collect();
        held.sort();
        let mut out: Vec<String> = held.into_iter().map(|(_, line)| line).collect();
        let more: usize = self.warnings.values().sum();
        if more > 0 {
            out.push(format!(
                "WARN  {more} more warning(s) like those above (in the log)"
            ));
        }
        out
    }

    fn out_line(&mut self, line: &str) -> Vec<String> {
        match parse(line) {
            Line::Node { node, text } => {
                self.continued = None;
                self.node_line(node, text)
            }
            Line::Runtime { level, rest } => self.runtime_line(level, rest),
            Line::Other => match self.continued {
                Some(true) => {
                    let t = line.trim();
                    if t.is_empty() || is_rule(t) || self.seen.contains(t) {
                        Vec::new()
                    } else {
                        vec![line.to_owned()]
                    }
                }
                Some(false) => Vec::new(),
                // A line of unknown form: shown rather than lost.
                None if line.trim().is_empty() => Vec::new(),
                None => vec![line.to_owned()],
            },
        }
    }

    fn node_line(&mut self, node: String, text: String) -> Vec<String> {
        let t = text.trim();
        if !t.is_empty() {
            self.seen.insert(t.to_owned());
        }
        if self.backtrace.contains(&node) {
            if t.is_empty() {
                self.backtrace.remove(&node);
            }
            return Vec::new();
        }
        if t.is_empty() {
            return Vec::new();
        }
        if t == "Stack backtrace:" {
            self.backtrace.insert(node.clone());
            return vec![format!("{node}: Stack backtrace: (in the log)")];
        }
        // Our nodes start their lines with their own name.
        if text.starts_with(&format!("{node}:")) {
            vec![text]
        } else {
            vec![format!("{node}: {text}")]
        }
    }

    fn runtime_line(&mut self, level: &'static str, rest: String) -> Vec<String> {
        let node = record_node(&rest).map(str::to_owned);
        // A node the runtime stopped with a signal because it was still busy at the planned
        // stop: said once, plainly, not as an error.
        if rest.contains("during planned stop") {
            if let Some(node) = &node {
                self.held.remove(node);
            }
            self.continued = Some(true);
            return vec![format!(
                "{level:<5} {}",
                rest.replacen(": daemon ", ": ", 1)
            )];
        }
        if level == "ERROR" && rest.contains("node exited with error:") {
            if let Some(node) = &node {
                self.held.insert(node.clone(), format!("{level:<5} {rest}"));
                self.continued = Some(false);
                return Vec::new();
            }
        }
        let keep = level == "WARN" || level == "ERROR";
        self.continued = Some(keep);
        if !keep {
            return Vec::new();
        }
        if level == "WARN" {
            // A warning said again about other nodes (the same form) is counted, not shown.
            match self.warnings.entry(warning_form(&rest)) {
                std::collections::hash_map::Entry::Occupied(mut more) => {
                    *more.get_mut() += 1;
                    self.continued = Some(false);
                    return Vec::new();
                }
                std::collections::hash_map::Entry::Vacant(first) => {
                    first.insert(0);
                }
            }
        }
        // A node's exit said again in the runtime's own words replaces the held line.
        let held = node.and_then(|n| self.held.remove(&n));
        let mut out: Vec<String> = held
            .filter(|_| !(level == "ERROR" && rest.contains("exited with")))
            .into_iter()
            .collect();
        let mut text = rest.replace(" with stderr output:", " (its output is above)");
        if level == "WARN" && text.chars().count() > WARNING_CHARS {
            text = text.chars().take(WARNING_CHARS).collect::<String>() + " ... (in the log)";
        }
        out.push(format!("{level:<5} {text}"));
        out
    }

    fn err_line(&mut self, line: &str) -> Vec<String> {
        let t = line.trim();
        if self.report_done {
            return Vec::new();
        }
        if is_rule(t) {
            self.report_block = !self.report_block;
            return Vec::new();
        }
        if !self.report_block && (t == "Location:" || t == "Stack backtrace:") {
            self.report_done = true;
            return Vec::new();
        }
        if t.is_empty() || self.seen.contains(t) {
            return Vec::new();
        }
        vec![line.replace(" with stderr output:", " (its output is above)")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(out: &str, err: &str) -> (Vec<String>, Vec<String>) {
        let mut f = Filter::default();
        let mut shown: Vec<String> = out.lines().flat_map(|l| f.line(Stream::Out, l)).collect();
        let shown_err = err.lines().flat_map(|l| f.line(Stream::Err, l)).collect();
        shown.extend(f.finish());
        (shown, shown_err)
    }

    const ESC: &str = "\u{1b}";

    #[test]
    fn ansi_is_stripped() {
        let l = format!("{ESC}[2m2026-12-06T16:46:16.431340Z{ESC}[0m {ESC}[32m INFO{ESC}[0m x");
        assert_eq!(strip_ansi(&l), "2026-12-06T16:46:16.431340Z  INFO x");
    }

    #[test]
    fn a_run_shows_node_lines_and_warnings_only() {
        let long = "a long warning ".repeat(20);
        let out = format!(
            "csi-source: DEBUG    building node
16:45:46 DEBUG  csi-source: daemon::spawner spawning node

16:45:46 INFO   [dora]: dora daemon finished building nodes, spawning...

16:45:46 INFO   csi-source: spawner spawning `/x/csi-source` in `/x`
16:45:48 stdout encoder: encoder: loaded lite.safetensors (encoder)
{ESC}[2m2026-12-06T16:46:16.431340Z{ESC}[0m {ESC}[32m INFO{ESC}[0m {ESC}[2mdora_daemon{ESC}[0m{ESC}[2m:{ESC}[0m stop-after timeout reached (30s)
{ESC}[2m2026-12-06T16:46:16.431876Z{ESC}[0m {ESC}[33m WARN{ESC}[0m {ESC}[1mrun_inner{ESC}[0m: {ESC}[2mdora_daemon::local_delivery{ESC}[0m{ESC}[2m:{ESC}[0m dropping `a/b` to `c`
{ESC}[2m2026-12-06T16:46:16.431877Z{ESC}[0m {ESC}[33m WARN{ESC}[0m {ESC}[1mrun_inner{ESC}[0m: {ESC}[2mdora_daemon::local_delivery{ESC}[0m{ESC}[2m:{ESC}[0m dropping `a/d` to `e`
16:46:16 WARN   encoder: {long}
16:46:16 stdout pose-sink: pose-sink: 65 frames, 2.4 frames/s; end to end p50 13249.4 ms
16:46:16 stdout pose-sink: pose-sink:   preprocess: p50 0.12 ms, p99 0.17 ms
{ESC}[2m2026-12-06T16:46:26.450907Z{ESC}[0m {ESC}[31mERROR{ESC}[0m {ESC}[1mnode_failure{ESC}[0m: {ESC}[2mdora_daemon::spawn::prepared{ESC}[0m{ESC}[2m:{ESC}[0m node exited with error: Signal(15) {ESC}[2m{ESC}[3mnode_id{ESC}[0m{ESC}[2m={ESC}[0mdensepose {ESC}[3mdataflow_id{ESC}[0m{ESC}[2m={ESC}[0m01a2{ESC}[0m
16:46:26 DEBUG  densepose: daemon handling node stop with exit status Signal(15) (restart: false, restart_count: 0)
16:46:26 INFO   densepose: daemon `densepose` exited with Signal(15) during planned stop; treating as clean
16:46:26 INFO   densepose: daemon densepose finished successfully
16:46:26 INFO   [dora]: daemon dataflow finished on machine `01a2`
"
        );
        let (shown, err) = run(&out, "");
        assert_eq!(
            shown,
            [
                "encoder: loaded lite.safetensors (encoder)",
                "WARN  run_inner: dora_daemon::local_delivery: dropping `a/b` to `c`",
                &format!(
                    "WARN  {} ... (in the log)",
                    &format!("encoder: {long}")[..160]
                ),
                "pose-sink: 65 frames, 2.4 frames/s; end to end p50 13249.4 ms",
                "pose-sink:   preprocess: p50 0.12 ms, p99 0.17 ms",
                "INFO  densepose: `densepose` exited with Signal(15) during planned stop; \
                 treating as clean",
                "WARN  1 more warning(s) like those above (in the log)",
            ]
        );
        assert!(err.is_empty());
    }

    const FAILED_OUT: &str = "16:46:39 stdout csi-source: Error: csi-source configuration
16:46:39 stdout csi-source: 
16:46:39 stdout csi-source: Caused by:
16:46:39 stdout csi-source:     SCENE=x: unknown room preset `x`
16:46:39 stdout csi-source: 
16:46:39 stdout csi-source: Stack backtrace:
16:46:39 stdout csi-source:    0: core::ops::function::Fn::call
16:46:39 stdout csi-source:    1: csi_source::main
16:46:39 stdout csi-source: 
16:46:39 stdout csi-recorder: csi-recorder: 0 messages handled
2026-12-06T16:46:39.915614Z ERROR node_failure: dora_daemon::spawn::prepared: node exited with error: ExitCode(1) node_id=csi-source dataflow_id=01
16:46:39 DEBUG  csi-source: daemon handling node stop with exit status ExitCode(1)
16:46:39 ERROR  csi-source: daemon exited with code 1 with stderr output:
---------------------------------------------------------------------------------
Error: csi-source configuration

Caused by:
    SCENE=x: unknown room preset `x`

Stack backtrace:
   0: core::ops::function::Fn::call
   1: csi_source::main
---------------------------------------------------------------------------------

16:46:39 WARN   csi-source: daemon::pending node exited before initializing dora connection
16:46:40 INFO   [dora]: daemon all nodes are ready, starting dataflow
";

    const FAILED_ERR: &str = "

[ERROR]
Dataflow failed:

Node `csi-source` failed: exited with code 1 with stderr output:
---------------------------------------------------------------------------------
Error: csi-source configuration

Caused by:
    SCENE=x: unknown room preset `x`
---------------------------------------------------------------------------------

There is 1 more consequential error. Check the `out/01a2` folder for full details.

Location:
    binaries/cli/src/common.rs:55:17

Stack backtrace:
   0: <unknown>
";

    #[test]
    fn a_failed_node_shows_its_error_once_and_the_report_without_the_cli_backtrace() {
        let (shown, err) = run(FAILED_OUT, FAILED_ERR);
        assert_eq!(
            shown,
            [
                "csi-source: Error: csi-source configuration",
                "csi-source: Caused by:",
                "csi-source:     SCENE=x: unknown room preset `x`",
                "csi-source: Stack backtrace: (in the log)",
                "csi-recorder: 0 messages handled",
                "ERROR csi-source: daemon exited with code 1 (its output is above)",
                "WARN  csi-source: daemon::pending node exited before initializing dora \
                 connection",
            ]
        );
        assert_eq!(
            err,
            [
                "[ERROR]",
                "Dataflow failed:",
                "Node `csi-source` failed: exited with code 1 (its output is above)",
                "There is 1 more consequential error. Check the `out/01a2` folder for full \
                 details.",
            ]
        );
    }

    #[test]
    fn a_signal_that_was_no_planned_stop_is_shown_at_the_end() {
        let out = "2026-12-06T16:46:26.450907Z ERROR node_failure: dora_daemon::spawn::prepared: \
                   node exited with error: Signal(9) node_id=encoder dataflow_id=01
16:46:26 DEBUG  encoder: daemon handling node stop with exit status Signal(9)
";
        let (shown, _) = run(out, "");
        assert_eq!(
            shown,
            [
                "ERROR node_failure: dora_daemon::spawn::prepared: node exited with error: \
              Signal(9) node_id=encoder dataflow_id=01"
            ]
        );
    }

    #[test]
    fn lines_of_unknown_form_are_kept() {
        let (shown, _) = run("something the CLI says\n\n", "");
        assert_eq!(shown, ["something the CLI says"]);
    }
}
