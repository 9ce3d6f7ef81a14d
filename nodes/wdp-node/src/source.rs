//! Nodes that produce without inputs (capture replay, simulators, radios): the same runtime,
//! driven by the source's own pace instead of by messages.

use dora_node_api::{DoraNode, Event, EventStream, TryRecvError};

use crate::runtime::Context;
use crate::{announce, Report};

/// What a source did in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It produced (or waited for) something; call again.
    Continue,
    /// It has nothing more to produce.
    Done,
}

/// A node without inputs that matter: it produces in steps until it is done or the dataflow
/// stops.
pub trait Source {
    /// Produces what is due (one message, or a short wait for one). Count what it sends with
    /// [`Context::handled`]. An error stops the node.
    fn step(&mut self, ctx: &mut Context) -> eyre::Result<Step>;

    /// The source has stopped: say what was done.
    fn finish(&mut self, _ctx: &mut Context) -> eyre::Result<()> {
        Ok(())
    }
}

/// Runs `source` until it is done or the dataflow asks the node to stop (a `Stop` event,
/// checked between steps without waiting); inputs (e.g. a `dora/timer`) are not for a source
/// and are counted as unknown. An event stream that closes without a `Stop` (dora gone, or a
/// test's events exhausted) is no longer polled: the source runs until it is done, and a send
/// to a dora that is gone fails it. Then [`Source::finish`] and the summary line, as
/// [`crate::run`].
pub fn run_source<S: Source + ?Sized>(
    name: &str,
    node: DoraNode,
    mut events: EventStream,
    source: &mut S,
) -> eyre::Result<Report> {
    let mut ctx = Context::with_telemetry(name, node);
    let mut open = true;
    'run: loop {
        while open {
            match events.try_recv() {
                Ok(Event::Stop(_)) => break 'run,
                Ok(Event::Input { id, .. }) => ctx.unknown(id.as_str()),
                Ok(_) => {}
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => open = false,
            }
        }
        if source.step(&mut ctx)? == Step::Done {
            break;
        }
    }
    source.finish(&mut ctx)?;
    announce(&ctx.summary());
    Ok(ctx.into_report())
}
