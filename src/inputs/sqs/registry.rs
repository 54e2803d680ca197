//! Messages in flight: received and not yet deleted or given back. The poller registers each message it
//! receives; its ack group settles it here; the deleter takes settled messages out, the heartbeat extends
//! the visibility of those still being worked on, and at the end whatever is left is given back.
//!
//! What must stay true: a settled message is never extended again (a failed one must come back, not be
//! held), and the registry holds at most the messages in flight, each until it is settled and taken.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;

use crate::ack::Outcome;

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

/// A message in flight.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The message.
    pub message: MessageRef,
    /// The client of its queue.
    pub sqs: aws_sdk_sqs::Client,
    /// Its visibility timeout.
    pub visibility: Duration,
    /// When its visibility was last set.
    pub extended: Instant,
    /// When it was sent (its SentTimestamp): its age is the queue's lag while it is in flight.
    pub sent: SystemTime,
    /// How its work ended, once it has.
    pub settled: Option<Outcome>,
}

/// Entries grouped by their queue (SQS batch calls are per queue).
pub fn by_queue(entries: impl IntoIterator<Item = Entry>) -> HashMap<String, Vec<Entry>> {
    let mut m: HashMap<String, Vec<Entry>> = HashMap::new();
    for e in entries {
        m.entry(e.message.queue_url.clone()).or_default().push(e);
    }
    m
}

/// Messages in flight, by receipt handle.
#[derive(Debug, Default)]
pub struct Registry {
    entries: Mutex<HashMap<String, Entry>>,
    /// Wakes the deleter when a message settles or the registry closes.
    wake: Notify,
    /// No more messages will be registered.
    closed: AtomicBool,
    /// Ids of messages given back after a failure and not deleted since (`--once` ends incomplete while
    /// any is left). At most one per distinct message.
    unresolved: Mutex<HashSet<String>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A message sent at `sent` was received.
    pub fn register(
        &self,
        message: MessageRef,
        sqs: aws_sdk_sqs::Client,
        visibility: Duration,
        sent: SystemTime,
    ) {
        self.lock().insert(
            message.receipt_handle.clone(),
            Entry {
                message,
                sqs,
                visibility,
                extended: Instant::now(),
                sent,
                settled: None,
            },
        );
    }

    /// By queue, when the oldest message in flight was sent (settled ones too: they are not deleted yet).
    pub fn oldest_sent_by_queue(&self) -> HashMap<String, SystemTime> {
        let mut out: HashMap<String, SystemTime> = HashMap::new();
        for e in self.lock().values() {
            out.entry(e.message.queue_url.clone())
                .and_modify(|t| *t = (*t).min(e.sent))
                .or_insert(e.sent);
        }
        out
    }

    /// A message's work ended.
    pub fn settle(&self, receipt: &str, outcome: Outcome) {
        if let Some(e) = self.lock().get_mut(receipt) {
            e.settled = Some(outcome);
        }
        self.wake.notify_one();
    }

    /// Takes the settled messages out.
    pub fn take_settled(&self) -> Vec<(Entry, Outcome)> {
        let mut map = self.lock();
        let done: Vec<String> = map
            .iter()
            .filter(|(_, e)| e.settled.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        done.into_iter()
            .filter_map(|k| map.remove(&k))
            .map(|mut e| {
                let o = e.settled.take().expect("filtered on settled");
                (e, o)
            })
            .collect()
    }

    /// Unsettled messages whose visibility is half gone.
    pub fn due_for_extension(&self) -> Vec<Entry> {
        self.lock()
            .values()
            .filter(|e| e.settled.is_none() && e.extended.elapsed() >= e.visibility / 2)
            .cloned()
            .collect()
    }

    /// The visibility of `receipt` was just set (or could not be, and is not retried before the next
    /// half-period).
    pub fn mark_extended(&self, receipt: &str) {
        if let Some(e) = self.lock().get_mut(receipt) {
            e.extended = Instant::now();
        }
    }

    /// Takes every message out (the end of the run).
    pub fn drain(&self) -> Vec<Entry> {
        self.lock().drain().map(|(_, e)| e).collect()
    }

    /// Messages in flight.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True if none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// No more messages will be registered or settled: the deleter may finish once it has taken the rest.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// See [`Registry::close`].
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// A message was given back after a failure; or (`returned == false`) deleted.
    pub fn note(&self, message_id: &str, returned: bool) {
        let mut u = self.unresolved.lock().unwrap_or_else(|e| e.into_inner());
        if returned {
            u.insert(message_id.to_string());
        } else {
            u.remove(message_id);
        }
    }

    /// Messages given back after a failure and not deleted since.
    pub fn unresolved(&self) -> usize {
        self.unresolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Waits until something settles or the registry closes.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }
}
