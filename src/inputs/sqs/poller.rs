//! A poller per queue: `ReceiveMessage` in, jobs for the readers out. It asks only for as many messages as
//! there are free readers (so a full publish queue, which keeps the readers busy, stops polling), long-polls
//! (with `--once`, short polls, an empty one confirmed by the queue's counts before the run ends), and
//! backs off exponentially on errors so a deleted queue or bad credentials never make a tight loop.
//!
//! A failing ReceiveMessage is logged every time, with what AWS said (an expired token, a queue that
//! does not exist, access denied), and retried after a [`Backoff`] from about 1 s up to 60 s, with jitter
//! so that a fleet that lost SQS together does not come back in step; with `--once`, a permanent
//! failure ends the run at once and a transient one after five in a row, both with a non-zero exit.
//!
//! Each message is registered in flight, its body decoded into the objects it announces, and handed to a
//! reader with an ack group whose settlement goes back to the registry. A body that announces nothing (a
//! test event, a removal) or is not a notification settles at once as delivered: its message is deleted.

use aws_sdk_sqs::types::MessageSystemAttributeName;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::registry::{MessageRef, Registry};
use crate::ack::AckGroup;
use crate::aws::Failure;
use crate::backoff::Backoff;
use crate::config::SqsSettings;
use crate::inputs::notification::{self, Notification};
use crate::object::reader::{Job, Readers};
use crate::ops::metrics::Metrics;
use crate::shutdown::Shutdown;

/// With `--once`, ReceiveMessage failures in a row before the run gives up.
const ONCE_ATTEMPTS: u32 = 5;

/// The first wait after a failed ReceiveMessage.
const RETRY_INIT: Duration = Duration::from_secs(1);
/// The longest: a queue that comes back is polled again within a minute, and one that is gone for good
/// (or bad credentials) costs a call a minute, not a tight loop.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// What the pollers of one input share.
#[derive(Clone, Debug)]
pub struct Poller {
    /// The input's SQS settings.
    pub settings: SqsSettings,
    /// SQS client.
    pub sqs: aws_sdk_sqs::Client,
    /// The input's readers.
    pub readers: Readers,
    /// Messages in flight.
    pub registry: Arc<Registry>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Shutdown.
    pub shutdown: Shutdown,
    /// `--once`: stop once the queue is empty.
    pub once: bool,
}

impl Poller {
    /// `--once`, after a poll found nothing: whether the queue's counts say no message is visible or
    /// delayed; `None` when they cannot be read (the reason is logged at debug: `sqs:GetQueueAttributes`
    /// is optional for `--once`).
    async fn looks_empty(&self, queue_url: &str) -> Option<bool> {
        match super::sampler::depth(&self.sqs, queue_url).await {
            Ok(d) => {
                tracing::debug!(queue = %queue_url, visible = d.visible, delayed = d.delayed,
                    "--once: a poll found nothing");
                Some(d.visible == 0 && d.delayed == 0)
            }
            Err(why) => {
                tracing::debug!(queue = %queue_url, error = %why,
                    "--once: the queue's counts cannot be read");
                None
            }
        }
    }

    /// Polls `queue_url` until stopped (or, with `--once`, until it is empty).
    pub async fn run(self, queue_url: String) {
        let s = &self.settings;
        let mut shutdown = self.shutdown.clone();
        let mut backoff = Backoff::new(RETRY_INIT, RETRY_MAX);
        let mut failures = 0u32;
        // With --once, short polls (no wait): an empty answer is then confirmed by the queue's counts
        // ([`Poller::looks_empty`]), so an empty queue ends the run in two calls instead of a long poll.
        // Where the counts say otherwise (a delayed message, or one on servers a short poll did not ask)
        // the polls after it wait, 1 to 2 s, until the counts agree; where they cannot be read, an empty
        // one of those waiting polls ends the run.
        let mut wait = if self.once {
            Duration::ZERO
        } else {
            s.wait_time
        };
        tracing::info!(queue = %queue_url, "polling");
        loop {
            if shutdown.is_stopping() {
                break;
            }
            // Waiting for a free reader is backpressure, not a failure to poll: `/health` knows.
            self.metrics.live.poller_waiting(1);
            let first = tokio::select! {
                slot = self.readers.slot() => slot,
                _ = shutdown.stopping() => {
                    self.metrics.live.poller_waiting(-1);
                    break;
                }
            };
            self.metrics.live.poller_waiting(-1);
            let mut slots = vec![first];
            slots.extend(self.readers.free_slots(s.max_messages as usize - 1));
            let call = self
                .sqs
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(slots.len() as i32)
                .wait_time_seconds(wait.as_secs() as i32)
                .visibility_timeout(s.visibility_timeout.as_secs() as i32)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .send();
            let resp = tokio::select! {
                r = call => r,
                // A receive abandoned here may have taken messages: they return after their visibility
                // timeout, nothing is lost.
                _ = shutdown.stopping() => break,
            };
            let out = match resp {
                Ok(o) => o,
                Err(e) => {
                    Metrics::add(&self.metrics.sqs_receive_errors, 1);
                    drop(slots);
                    failures += 1;
                    let (permanent, why) = match crate::aws::classify(&e) {
                        Failure::Permanent(why) => (true, why),
                        Failure::Transient(why) => (false, why),
                    };
                    if permanent {
                        self.metrics
                            .live
                            .aws_access(&format!("sqs {queue_url}"), Some(&why));
                    }
                    // --once must end: a queue that does not exist or refuses us will not change, and
                    // a network that fails five times running is given up on (non-zero exit).
                    if self.once && (permanent || failures >= ONCE_ATTEMPTS) {
                        self.shutdown
                            .fail(format!("queue {queue_url}: ReceiveMessage failed: {why}"));
                        break;
                    }
                    let delay = backoff.next();
                    tracing::error!(queue = %queue_url, error = %why, attempt = failures,
                        "ReceiveMessage failed; retrying in {:?}", delay);
                    if !self.shutdown.sleep_unless_stopping(delay).await {
                        break;
                    }
                    continue;
                }
            };
            failures = 0;
            backoff.reset();
            self.metrics.live.poll_ok();
            self.metrics
                .live
                .aws_access(&format!("sqs {queue_url}"), None);
            let messages = out.messages.unwrap_or_default();
            // The visible messages left were sent after the newest taken (SQS's order is roughly oldest
            // first), or, when none was taken, after now.
            self.metrics
                .live
                .queue_received(&queue_url, messages.iter().map(sent_at).max());
            if messages.is_empty() {
                drop(slots);
                if self.once {
                    // Empty when the counts say so; while they show messages (delayed, or on servers a
                    // short poll did not ask) poll on, waiting; without counts, an empty wait ends it.
                    let empty = match self.looks_empty(&queue_url).await {
                        Some(empty) => empty,
                        None => !wait.is_zero(),
                    };
                    if !empty {
                        wait = s
                            .wait_time
                            .clamp(Duration::from_secs(1), Duration::from_secs(2));
                        continue;
                    }
                    tracing::info!(queue = %queue_url, "queue is empty (--once)");
                    break;
                }
                if !s.poll_frequency.is_zero()
                    && !self.shutdown.sleep_unless_stopping(s.poll_frequency).await
                {
                    break;
                }
                continue;
            }
            Metrics::add(&self.metrics.sqs_messages_received, messages.len() as u64);
            for (m, slot) in messages.into_iter().zip(slots) {
                let sent = sent_at(&m);
                let (Some(receipt), Some(id)) = (m.receipt_handle, m.message_id) else {
                    tracing::error!(queue = %queue_url, "SQS returned a message without id or receipt handle");
                    continue;
                };
                let message = MessageRef {
                    queue_url: queue_url.clone(),
                    message_id: id,
                    receipt_handle: receipt,
                };
                self.registry.register(
                    message.clone(),
                    self.sqs.clone(),
                    s.visibility_timeout,
                    sent,
                );
                let body = m.body.unwrap_or_default();
                let label = format!("message {} on {}", message.message_id, message.queue_url);
                let registry = self.registry.clone();
                let receipt = message.receipt_handle.clone();
                let ack = AckGroup::new(label, move |o| registry.settle(&receipt, o));
                match notification::parse(&body) {
                    Notification::Objects(objects) => {
                        tracing::debug!(target: "s3logsbeat::sqs", message_id = %message.message_id, objects = objects.len(), "message received");
                        self.readers.read(slot, Job { objects, ack }).await;
                    }
                    Notification::Nothing(reason) => {
                        Metrics::add(&self.metrics.sqs_messages_empty, 1);
                        tracing::debug!(target: "s3logsbeat::sqs", message_id = %message.message_id, %reason, "message announces no object; deleting it");
                        // Dropping the group with nothing pending settles it as delivered.
                        drop(ack);
                    }
                    Notification::Invalid(reason) => {
                        Metrics::add(&self.metrics.sqs_messages_invalid, 1);
                        let snippet: String = body.chars().take(200).collect();
                        tracing::warn!(message_id = %message.message_id, queue = %message.queue_url, %reason, body = %snippet,
                            "message is not an S3 notification; deleting it");
                    }
                }
            }
        }
        tracing::info!(queue = %queue_url, "poller stopped");
    }
}

/// When `m` was sent, from its SentTimestamp (epoch milliseconds); without one (SQS always sends it when
/// asked), now: the age it gives is then a lower bound, never an invented lag.
fn sent_at(m: &aws_sdk_sqs::types::Message) -> SystemTime {
    m.attributes
        .as_ref()
        .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
        .and_then(|t| t.parse::<u64>().ok())
        .map_or_else(SystemTime::now, |ms| {
            SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
        })
}
