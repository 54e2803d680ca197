//! End-to-end acknowledgement by ownership: a source's unit of work (an SQS message, an imported object)
//! is settled exactly once, when the last piece of work that belongs to it is gone.
//!
//! An [`AckGroup`] is shared (reference-counted) by everything doing that work: the reader of each object
//! holds an [`Obligation`] while it reads, and every published chunk of events holds one until the output
//! reports it delivered. An obligation that is discharged ([`Obligation::done`]) just goes away; one that is
//! dropped any other way (a panic unwinding a reader or an output, an aborted task, a batch given up at
//! shutdown) marks the group **failed**. When the last holder is gone, the group's `settle` callback runs
//! once with the merged [`Outcome`]: `Delivered` only if nothing failed and nothing was kept.
//!
//! This is Vector's finalizer idea (`lib/vector-core/src/event/finalization.rs`) for our two sources: there
//! is no path on which work can end without its source hearing of it, so an SQS message can neither stay
//! in flight for ever (heartbeat extending it) nor be deleted before its events are delivered.
//!
//! Outcomes, worst wins:
//! - `Delivered`: every event delivered or dead-lettered. The SQS message is deleted.
//! - `Kept`: an object could not be read (a corrupt stream, access denied, a network error). Its message
//!   is no longer extended and returns after its visibility timeout, which paces the retries until the
//!   queue's redrive policy moves it to the dead-letter queue.
//! - `Failed`: work ended unplanned (a panic, an abort, an undelivered batch). Its message is made
//!   visible again at once.

use std::sync::{Arc, Mutex};

/// How a group's work ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything delivered (or dead-lettered, or dropped by the user's policy).
    Delivered,
    /// An object could not be read; the reason names it.
    Kept(String),
    /// Work ended without finishing; the reason says what ended.
    Failed(String),
}

impl Outcome {
    fn rank(&self) -> u8 {
        match self {
            Outcome::Delivered => 0,
            Outcome::Kept(_) => 1,
            Outcome::Failed(_) => 2,
        }
    }
}

type Settle = Box<dyn FnOnce(Outcome) + Send>;

struct Inner {
    /// What the group stands for, for logs (`message 1f2e… on https://sqs…/q`, `s3://b/k`).
    label: String,
    outcome: Mutex<Outcome>,
    settle: Mutex<Option<Settle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let outcome = std::mem::replace(
            self.outcome.get_mut().unwrap_or_else(|e| e.into_inner()),
            Outcome::Delivered,
        );
        if let Some(settle) = self
            .settle
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            settle(outcome);
        }
    }
}

/// The shared state of one unit of work; clone it to hold it.
#[derive(Clone)]
pub struct AckGroup(Arc<Inner>);

impl std::fmt::Debug for AckGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckGroup")
            .field("label", &self.0.label)
            .finish()
    }
}

impl AckGroup {
    /// A group that calls `settle` once, when the last holder is gone.
    pub fn new(
        label: impl Into<String>,
        settle: impl FnOnce(Outcome) + Send + 'static,
    ) -> AckGroup {
        AckGroup(Arc::new(Inner {
            label: label.into(),
            outcome: Mutex::new(Outcome::Delivered),
            settle: Mutex::new(Some(Box::new(settle))),
        }))
    }

    /// What the group stands for.
    pub fn label(&self) -> &str {
        &self.0.label
    }

    /// Merges an outcome in: the worse one stays (and the first reason of that rank).
    pub fn record(&self, o: Outcome) {
        let mut cur = self.0.outcome.lock().unwrap_or_else(|e| e.into_inner());
        if o.rank() > cur.rank() {
            *cur = o;
        }
    }

    /// An object could not be read: keep the work for a later retry.
    pub fn keep(&self, reason: impl Into<String>) {
        self.record(Outcome::Kept(reason.into()));
    }

    /// Work ended without finishing.
    pub fn fail(&self, reason: impl Into<String>) {
        self.record(Outcome::Failed(reason.into()));
    }

    /// A piece of work that must be discharged with [`Obligation::done`], or the group fails with
    /// "`what` ended before it was done".
    pub fn obligation(&self, what: &'static str) -> Obligation {
        Obligation {
            group: Some(self.clone()),
            what,
        }
    }
}

/// A piece of a group's work in progress (an object being read, a chunk of events on its way).
#[derive(Debug)]
pub struct Obligation {
    group: Option<AckGroup>,
    what: &'static str,
}

impl Obligation {
    /// The work is done: the obligation goes away without touching the outcome.
    pub fn done(mut self) {
        self.group.take();
    }

    /// The group it belongs to.
    pub fn group(&self) -> &AckGroup {
        self.group.as_ref().expect("present until done or dropped")
    }
}

impl Drop for Obligation {
    fn drop(&mut self) {
        if let Some(g) = self.group.take() {
            g.fail(format!("{} ended before it was done", self.what));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> (AckGroup, std::sync::mpsc::Receiver<Outcome>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (
            AckGroup::new("test", move |o| {
                tx.send(o).unwrap();
            }),
            rx,
        )
    }

    #[test]
    fn settles_once_when_the_last_holder_is_gone() {
        let (g, rx) = group();
        let reading = g.obligation("reading");
        let chunk = g.obligation("a chunk");
        drop(g);
        reading.done();
        assert!(rx.try_recv().is_err(), "a chunk is still on its way");
        chunk.done();
        assert_eq!(rx.try_recv().unwrap(), Outcome::Delivered);
        assert!(rx.try_recv().is_err(), "settled once");
    }

    #[test]
    fn an_obligation_dropped_undone_fails_the_group() {
        let (g, rx) = group();
        let chunk = g.obligation("a chunk of events");
        g.obligation("reading").done();
        drop(g);
        drop(chunk);
        match rx.try_recv().unwrap() {
            Outcome::Failed(r) => assert!(r.contains("a chunk of events ended"), "{r}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_panic_unwinding_through_a_holder_fails_the_group() {
        let (g, rx) = group();
        let ob = g.obligation("reading s3://b/k");
        drop(g);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _held = ob;
            panic!("parser bug");
        }));
        assert!(r.is_err());
        assert!(matches!(rx.try_recv().unwrap(), Outcome::Failed(_)));
    }

    #[test]
    fn the_worst_outcome_wins() {
        let (g, rx) = group();
        g.keep("s3://b/a: truncated");
        g.keep("s3://b/b: truncated");
        drop(g);
        assert_eq!(
            rx.try_recv().unwrap(),
            Outcome::Kept("s3://b/a: truncated".into())
        );
        let (g, rx) = group();
        g.fail("aborted");
        g.keep("s3://b/a: truncated");
        drop(g);
        assert_eq!(rx.try_recv().unwrap(), Outcome::Failed("aborted".into()));
    }
}
