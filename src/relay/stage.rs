//! The per-direction hook of a relay: what happens to each chunk between
//! its read and its write.

use std::future::Future;

use bytes::Bytes;
use tokio::time::Instant;

/// One thing a direction does, in order, before it reads its next chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes to the other side.
    Write(Bytes),
    /// Wait until this instant (a latency, a bandwidth's pacing).
    Until(Instant),
    /// Close the whole connection (both sides get a FIN).
    Close,
    /// Reset the whole connection (the caller closes with SO_LINGER 0).
    Reset,
}

/// What a direction does with the chunks it reads. A stage runs in its
/// direction's task, so the time its steps take holds up that direction's
/// reads (back-pressure), never the other direction's.
pub trait Stage: Send {
    /// A chunk read at `arrived`: push the steps that deliver (or drop) it.
    fn chunk(&mut self, data: Bytes, arrived: Instant, steps: &mut Vec<Step>);

    /// The reader reached EOF: push steps to run before the writer is shut
    /// down (slow_close waits here).
    fn eof(&mut self, steps: &mut Vec<Step>) {
        let _ = steps;
    }

    /// Resolves when the stage has something to do without a chunk: a
    /// deadline (timeout, reset_peer) or a change of its settings.
    fn wake(&mut self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }

    /// Called after [`wake`](Self::wake) resolved: push the steps it wants.
    fn woken(&mut self, steps: &mut Vec<Step>) {
        let _ = steps;
    }
}

/// The stage that writes every chunk as it came.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pass;

impl Stage for Pass {
    fn chunk(&mut self, data: Bytes, _arrived: Instant, steps: &mut Vec<Step>) {
        steps.push(Step::Write(data));
    }
}

impl<S: Stage + ?Sized> Stage for Box<S>
where
    Box<S>: Send,
{
    fn chunk(&mut self, data: Bytes, arrived: Instant, steps: &mut Vec<Step>) {
        (**self).chunk(data, arrived, steps);
    }
    fn eof(&mut self, steps: &mut Vec<Step>) {
        (**self).eof(steps);
    }
    fn wake(&mut self) -> impl Future<Output = ()> + Send {
        (**self).wake()
    }
    fn woken(&mut self, steps: &mut Vec<Step>) {
        (**self).woken(steps);
    }
}
