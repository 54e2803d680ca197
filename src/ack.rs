//! End-to-end acknowledgement: an SQS message is deleted only when every object it names was read to its
//! end and every event from them was delivered (or dead-lettered).
//!
//! One [`AckGroup`] per message counts what is still pending: one token per object until the object is
//! read to its end, plus one per event until the output reports it delivered. The reader adds an object's
//! events to the count *before* it publishes them, so the count cannot reach zero while an object is still
//! being read. When it reaches zero the group reports a [`Completion`] to the deleter, which deletes the
//! message only if no object failed; a failed message is left alone and comes back after its visibility
//! timeout (and, with a redrive policy, ends in the queue's dead-letter queue).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

/// The SQS message an ack group stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRef {
    /// The queue it came from.
    pub queue_url: String,
    /// Its id (for logs).
    pub message_id: String,
    /// The handle to delete it or change its visibility.
    pub receipt_handle: String,
}

/// Reported once per group, when nothing is pending any more.
#[derive(Clone, Debug)]
pub struct Completion {
    /// The message, if the group stands for one (`s3import` groups do not).
    pub message: Option<MessageRef>,
    /// Some object could not be read: keep the message.
    pub failed: bool,
}

/// Pending work of one message (or one imported object).
#[derive(Debug)]
pub struct AckGroup {
    pending: AtomicI64,
    failed: AtomicBool,
    message: Option<MessageRef>,
    done: UnboundedSender<Completion>,
}

impl AckGroup {
    /// A group for `objects` objects (each holds a token until [`AckGroup::object_done`]).
    pub fn new(
        objects: usize,
        message: Option<MessageRef>,
        done: UnboundedSender<Completion>,
    ) -> Arc<AckGroup> {
        Arc::new(AckGroup {
            pending: AtomicI64::new(objects as i64),
            failed: AtomicBool::new(false),
            message,
            done,
        })
    }

    /// `n` events are about to be published.
    pub fn add_events(&self, n: usize) {
        self.pending.fetch_add(n as i64, Ordering::AcqRel);
    }

    /// `n` events were delivered (or dead-lettered, or dropped by the user's policy).
    pub fn events_done(&self, n: usize) {
        self.release(n as i64);
    }

    /// An object is finished: read to its end (`ok`), or not.
    pub fn object_done(&self, ok: bool) {
        if !ok {
            self.failed.store(true, Ordering::Release);
        }
        self.release(1);
    }

    fn release(&self, n: i64) {
        let before = self.pending.fetch_sub(n, Ordering::AcqRel);
        debug_assert!(before >= n, "ack group released more than it held");
        if before == n {
            // Nobody listening means the pipeline is shutting down; the message is then handled by the
            // in-flight registry (made visible again).
            let _ = self.done.send(Completion {
                message: self.message.clone(),
                failed: self.failed.load(Ordering::Acquire),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_once_after_the_last_object_and_event() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let g = AckGroup::new(2, None, tx);
        g.add_events(3);
        g.object_done(true);
        g.events_done(2);
        assert!(
            rx.try_recv().is_err(),
            "one object still reading, one event pending"
        );
        g.add_events(1);
        g.object_done(true);
        g.events_done(1);
        assert!(rx.try_recv().is_err(), "one event still pending");
        g.events_done(1);
        let c = rx.try_recv().unwrap();
        assert!(!c.failed);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_failed_object_marks_the_group() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let g = AckGroup::new(2, None, tx);
        g.object_done(false);
        g.object_done(true);
        assert!(rx.try_recv().unwrap().failed);
    }
}
