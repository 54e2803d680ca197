//! The SQS input: long-poll the queues, read the objects each message names, delete a message only when
//! every event from it is delivered.
//!
//! Tasks, per input and queue:
//! - a **poller** per queue: `ReceiveMessage` with long polling, asking only for as many messages as there
//!   are free workers (so a full publish queue, which keeps workers busy, stops polling), backing off
//!   exponentially on errors so a deleted queue or bad credentials never make a tight loop;
//! - a **worker** task per message (at most `workers` at once): parse the body, read the objects in order;
//! - shared by all inputs: the **heartbeat**, which extends the visibility of every message still in flight
//!   (so a large object is never processed twice), and the **deleter**, which deletes completed messages in
//!   batches of up to 10, and at shutdown makes what is left visible again at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::ack::{AckGroup, Completion, MessageRef};
use crate::config::{InputSettings, SqsSettings};
use crate::fetch::{chain, read_object, FetchError};
use crate::inputs::notification::{self, Notification};
use crate::metrics::Metrics;
use crate::queue::QueueSender;
use crate::shutdown::Shutdown;

/// A message received and not yet deleted or given back.
#[derive(Debug, Clone)]
struct Entry {
    message: MessageRef,
    sqs: aws_sdk_sqs::Client,
    visibility: Duration,
    extended: Instant,
}

/// Messages in flight, by receipt handle: what the heartbeat extends and shutdown gives back.
#[derive(Debug, Default)]
pub struct InFlight {
    entries: Mutex<HashMap<String, Entry>>,
}

impl InFlight {
    fn insert(&self, e: Entry) {
        self.entries
            .lock()
            .expect("in-flight lock")
            .insert(e.message.receipt_handle.clone(), e);
    }

    fn remove(&self, receipt: &str) -> Option<Entry> {
        self.entries.lock().expect("in-flight lock").remove(receipt)
    }

    /// Messages in flight.
    pub fn len(&self) -> usize {
        self.entries.lock().expect("in-flight lock").len()
    }

    /// True if no message is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the tasks of one input share.
#[derive(Clone)]
pub struct Context {
    /// The input.
    pub input: Arc<InputSettings>,
    /// Its SQS settings.
    pub sqs_settings: SqsSettings,
    /// SQS client.
    pub sqs: aws_sdk_sqs::Client,
    /// S3 client.
    pub s3: aws_sdk_s3::Client,
    /// The publish queue.
    pub queue: QueueSender,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Shutdown.
    pub shutdown: Shutdown,
    /// In-flight registry.
    pub inflight: Arc<InFlight>,
    /// Where ack groups report.
    pub completions: UnboundedSender<Completion>,
    /// `--once`: stop a queue's poller at its first empty receive.
    pub once: bool,
}

/// Polls one queue until stopped (or, with `--once`, until it is empty) and waits for its workers.
pub async fn poll_queue(ctx: Context, queue_url: String, workers: Arc<Semaphore>) {
    let s = ctx.sqs_settings.clone();
    let mut shutdown = ctx.shutdown.clone();
    let mut tasks = JoinSet::new();
    let mut backoff = Duration::from_secs(1);
    // In --once mode a short wait is enough to tell an empty queue (long polling asks every server).
    let wait = if ctx.once {
        s.wait_time.min(Duration::from_secs(2))
    } else {
        s.wait_time
    };
    tracing::info!(queue = %queue_url, "polling");
    loop {
        while tasks.try_join_next().is_some() {}
        if shutdown.is_stopping() {
            break;
        }
        let first = tokio::select! {
            p = workers.clone().acquire_owned() => p.expect("the worker semaphore is never closed"),
            _ = shutdown.stopping() => break,
        };
        let mut permits = vec![first];
        while permits.len() < s.max_messages as usize {
            match workers.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        let call = ctx
            .sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(permits.len() as i32)
            .wait_time_seconds(wait.as_secs() as i32)
            .visibility_timeout(s.visibility_timeout.as_secs() as i32)
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
                Metrics::add(&ctx.metrics.sqs_receive_errors, 1);
                tracing::error!(queue = %queue_url, error = %chain(&e), "ReceiveMessage failed; retrying in {:?}", backoff);
                drop(permits);
                if !ctx.shutdown.sleep(backoff).await || ctx.shutdown.is_stopping() {
                    break;
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        backoff = Duration::from_secs(1);
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            drop(permits);
            if ctx.once {
                tracing::info!(queue = %queue_url, "queue is empty (--once)");
                break;
            }
            if !s.poll_frequency.is_zero() && !ctx.shutdown.sleep(s.poll_frequency).await {
                break;
            }
            continue;
        }
        Metrics::add(&ctx.metrics.sqs_messages_received, messages.len() as u64);
        permits.truncate(messages.len());
        for (m, permit) in messages.into_iter().zip(permits) {
            let (Some(receipt), Some(id)) = (m.receipt_handle.clone(), m.message_id.clone()) else {
                tracing::error!(queue = %queue_url, "SQS returned a message without id or receipt handle");
                continue;
            };
            let message = MessageRef {
                queue_url: queue_url.clone(),
                message_id: id,
                receipt_handle: receipt,
            };
            ctx.inflight.insert(Entry {
                message: message.clone(),
                sqs: ctx.sqs.clone(),
                visibility: s.visibility_timeout,
                extended: Instant::now(),
            });
            let body = m.body.unwrap_or_default();
            tasks.spawn(process_message(ctx.clone(), message, body, permit));
        }
    }
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    tracing::info!(queue = %queue_url, "poller stopped");
}

/// Handles one message; the worker permit is held until its objects are read (not until delivered).
async fn process_message(
    ctx: Context,
    message: MessageRef,
    body: String,
    _permit: OwnedSemaphorePermit,
) {
    match notification::parse(&body) {
        Notification::Objects(objects) => {
            tracing::debug!(target: "s3logsbeat::sqs", message_id = %message.message_id, objects = objects.len(), "message received");
            let ack = AckGroup::new(
                objects.len(),
                Some(message.clone()),
                ctx.completions.clone(),
            );
            for obj in objects {
                let r = read_object(
                    &ctx.s3,
                    &obj,
                    &ctx.input,
                    &ctx.queue,
                    &ack,
                    &ctx.metrics,
                    &ctx.shutdown,
                )
                .await;
                match r {
                    Ok(stats) => {
                        Metrics::add(&ctx.metrics.s3_objects_read, 1);
                        tracing::debug!(target: "s3logsbeat::s3", object = %obj.path(), events = stats.events, lines = stats.lines, "object read");
                        ack.object_done(true);
                    }
                    Err(FetchError::Missing(path)) => {
                        Metrics::add(&ctx.metrics.s3_objects_missing, 1);
                        tracing::warn!(object = %path, message_id = %message.message_id,
                            "object does not exist (NoSuchKey): nothing to read; its message will be deleted");
                        ack.object_done(true);
                    }
                    Err(FetchError::Aborted) => {
                        ack.object_done(false);
                        break;
                    }
                    Err(e) => {
                        Metrics::add(&ctx.metrics.s3_objects_failed, 1);
                        tracing::error!(error = %e, message_id = %message.message_id, queue = %message.queue_url,
                            "object could not be read; its message is kept and returns after its visibility timeout");
                        ack.object_done(false);
                    }
                }
            }
        }
        Notification::Nothing(reason) => {
            Metrics::add(&ctx.metrics.sqs_messages_empty, 1);
            tracing::debug!(target: "s3logsbeat::sqs", message_id = %message.message_id, %reason, "message announces no object; deleting it");
            let _ = ctx.completions.send(Completion {
                message: Some(message),
                failed: false,
            });
        }
        Notification::Invalid(reason) => {
            Metrics::add(&ctx.metrics.sqs_messages_invalid, 1);
            let snippet: String = body.chars().take(200).collect();
            tracing::warn!(message_id = %message.message_id, queue = %message.queue_url, %reason, body = %snippet,
                "message is not an S3 notification; deleting it");
            let _ = ctx.completions.send(Completion {
                message: Some(message),
                failed: false,
            });
        }
    }
}

/// Deletes completed messages in batches of up to 10 per queue, until every completion sender is gone.
pub async fn run_deleter(
    mut rx: UnboundedReceiver<Completion>,
    inflight: Arc<InFlight>,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) {
    let mut pending: HashMap<String, (aws_sdk_sqs::Client, Vec<MessageRef>)> = HashMap::new();
    loop {
        let next = if pending.is_empty() {
            rx.recv().await
        } else {
            // Gather what is already there, then flush.
            match tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
                Ok(c) => c,
                Err(_) => {
                    flush_deletes(&mut pending, &metrics).await;
                    continue;
                }
            }
        };
        let Some(c) = next else { break };
        let Some(message) = c.message else { continue };
        let Some(entry) = inflight.remove(&message.receipt_handle) else {
            continue;
        };
        if c.failed {
            Metrics::add(&metrics.sqs_messages_kept, 1);
            if shutdown.is_stopping() {
                give_back(&entry.sqs, std::slice::from_ref(&message), &metrics).await;
            }
            continue;
        }
        let slot = pending
            .entry(message.queue_url.clone())
            .or_insert_with(|| (entry.sqs.clone(), Vec::new()));
        slot.1.push(message);
        if slot.1.len() >= 10 {
            flush_deletes(&mut pending, &metrics).await;
        }
    }
    flush_deletes(&mut pending, &metrics).await;
}

async fn flush_deletes(
    pending: &mut HashMap<String, (aws_sdk_sqs::Client, Vec<MessageRef>)>,
    metrics: &Metrics,
) {
    for (queue, (sqs, messages)) in pending.drain() {
        for batch in messages.chunks(10) {
            let mut attempt = 0;
            loop {
                let mut req = sqs.delete_message_batch().queue_url(&queue);
                for (i, m) in batch.iter().enumerate() {
                    req = req.entries(
                        aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(&m.receipt_handle)
                            .build()
                            .expect("id and receipt handle are set"),
                    );
                }
                match req.send().await {
                    Ok(out) => {
                        Metrics::add(&metrics.sqs_messages_deleted, out.successful().len() as u64);
                        for f in out.failed() {
                            Metrics::add(&metrics.sqs_delete_errors, 1);
                            let m = f.id().parse::<usize>().ok().and_then(|i| batch.get(i));
                            tracing::error!(queue = %queue, message_id = ?m.map(|m| &m.message_id), code = %f.code(),
                                reason = ?f.message(), "DeleteMessage failed: the message will be delivered again (its events are deduplicated by _id)");
                        }
                        break;
                    }
                    Err(e) if attempt < 3 => {
                        attempt += 1;
                        tracing::warn!(queue = %queue, error = %chain(&e), "DeleteMessageBatch failed; retrying");
                        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    }
                    Err(e) => {
                        Metrics::add(&metrics.sqs_delete_errors, batch.len() as u64);
                        tracing::error!(queue = %queue, error = %chain(&e), messages = batch.len(),
                            "DeleteMessageBatch failed: these messages will be delivered again (their events are deduplicated by _id)");
                        break;
                    }
                }
            }
        }
    }
}

/// Makes messages visible again now (visibility 0), for another consumer.
async fn give_back(sqs: &aws_sdk_sqs::Client, messages: &[MessageRef], metrics: &Metrics) {
    let Some(first) = messages.first() else {
        return;
    };
    for batch in messages.chunks(10) {
        let mut req = sqs
            .change_message_visibility_batch()
            .queue_url(&first.queue_url);
        for (i, m) in batch.iter().enumerate() {
            req = req.entries(
                aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt_handle)
                    .visibility_timeout(0)
                    .build()
                    .expect("id and receipt handle are set"),
            );
        }
        match req.send().await {
            Ok(out) => Metrics::add(
                &metrics.sqs_messages_returned,
                out.successful().len() as u64,
            ),
            Err(e) => tracing::warn!(queue = %first.queue_url, error = %chain(&e),
                "could not make messages visible again; they return after their visibility timeout"),
        }
    }
}

/// Extends the visibility of every in-flight message at half its timeout, until `stop` fires.
pub async fn run_heartbeat(
    inflight: Arc<InFlight>,
    metrics: Arc<Metrics>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let due: Vec<Entry> = {
            let entries = inflight.entries.lock().expect("in-flight lock");
            entries
                .values()
                .filter(|e| e.extended.elapsed() >= e.visibility / 2)
                .cloned()
                .collect()
        };
        let mut by_queue: HashMap<String, Vec<Entry>> = HashMap::new();
        for e in due {
            by_queue
                .entry(e.message.queue_url.clone())
                .or_default()
                .push(e);
        }
        for (queue, entries) in by_queue {
            for batch in entries.chunks(10) {
                let mut req = batch[0]
                    .sqs
                    .change_message_visibility_batch()
                    .queue_url(&queue);
                for (i, e) in batch.iter().enumerate() {
                    req = req.entries(
                        aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(&e.message.receipt_handle)
                            .visibility_timeout(e.visibility.as_secs() as i32)
                            .build()
                            .expect("id and receipt handle are set"),
                    );
                }
                match req.send().await {
                    Ok(out) => {
                        let mut entries = inflight.entries.lock().expect("in-flight lock");
                        for ok in out.successful() {
                            if let Some(e) =
                                ok.id().parse::<usize>().ok().and_then(|i| batch.get(i))
                            {
                                if let Some(live) = entries.get_mut(&e.message.receipt_handle) {
                                    live.extended = Instant::now();
                                }
                                Metrics::add(&metrics.sqs_visibility_extended, 1);
                            }
                        }
                        for f in out.failed() {
                            if let Some(e) = f.id().parse::<usize>().ok().and_then(|i| batch.get(i))
                            {
                                tracing::warn!(message_id = %e.message.message_id, code = %f.code(),
                                    "could not extend the visibility of a message (it may be processed twice)");
                                if let Some(live) = entries.get_mut(&e.message.receipt_handle) {
                                    live.extended = Instant::now();
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(queue = %queue, error = %chain(&e), "ChangeMessageVisibilityBatch failed; will retry")
                    }
                }
            }
        }
    }
}

/// At the end: makes every message still in flight visible again.
pub async fn return_in_flight(inflight: &InFlight, metrics: &Metrics) {
    let entries: Vec<Entry> = inflight
        .entries
        .lock()
        .expect("in-flight lock")
        .drain()
        .map(|(_, e)| e)
        .collect();
    let mut by_queue: HashMap<String, (aws_sdk_sqs::Client, Vec<MessageRef>)> = HashMap::new();
    for e in entries {
        by_queue
            .entry(e.message.queue_url.clone())
            .or_insert_with(|| (e.sqs.clone(), Vec::new()))
            .1
            .push(e.message);
    }
    for (queue, (sqs, messages)) in by_queue {
        tracing::info!(queue = %queue, messages = messages.len(), "making undelivered messages visible again");
        give_back(&sqs, &messages, metrics).await;
    }
}
