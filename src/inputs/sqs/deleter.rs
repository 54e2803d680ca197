//! The deleter: settled messages in, SQS calls out. It is the only place that ends a message's life:
//! - delivered: DeleteMessageBatch, up to ten at a time per queue;
//! - kept (an object could not be read): left alone, so it returns after its visibility timeout (the
//!   retry pace, until the queue's redrive policy moves it to its dead-letter queue); at shutdown it is
//!   given back at once instead;
//! - failed (a panic, an abort, an undelivered batch): given back at once (visibility 0).
//!
//! It never waits on an output: polling and delivery go on while it works, as in Vector's SQS source.

use std::sync::Arc;
use std::time::Duration;

use super::batch;
use super::registry::{by_queue, Entry, Registry};
use crate::ack::Outcome;
use crate::ops::metrics::Metrics;
use crate::shutdown::Shutdown;

/// Runs until the registry is closed and every settled message is handled.
pub async fn run(registry: Arc<Registry>, metrics: Arc<Metrics>, shutdown: Shutdown) {
    loop {
        let closed = registry.is_closed();
        let settled = registry.take_settled();
        if settled.is_empty() {
            if closed {
                return;
            }
            registry.changed().await;
            // Let a few more settle, so deletes go out in batches.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let mut delete: Vec<Entry> = Vec::new();
        let mut give_back: Vec<Entry> = Vec::new();
        for (e, outcome) in settled {
            match outcome {
                Outcome::Delivered => delete.push(e),
                Outcome::Kept(reason) => {
                    Metrics::add(&metrics.sqs_messages_kept, 1);
                    tracing::warn!(queue = %e.message.queue_url, message_id = %e.message.message_id, %reason,
                        "message kept: it returns after its visibility timeout ({}s)", e.visibility.as_secs());
                    if shutdown.is_stopping() {
                        give_back.push(e);
                    }
                }
                Outcome::Failed(reason) => {
                    Metrics::add(&metrics.sqs_messages_failed, 1);
                    if shutdown.is_aborted() {
                        // Expected at an abort; the run's end says how many in one line.
                        tracing::debug!(queue = %e.message.queue_url, message_id = %e.message.message_id, %reason,
                            "shutdown: message not delivered: making it visible again now");
                    } else {
                        tracing::warn!(queue = %e.message.queue_url, message_id = %e.message.message_id, %reason,
                            "message not delivered: making it visible again now");
                    }
                    registry.note(&e.message.message_id, true);
                    give_back.push(e);
                }
            }
        }
        for (queue, entries) in by_queue(delete) {
            let receipts: Vec<&str> = entries
                .iter()
                .map(|e| e.message.receipt_handle.as_str())
                .collect();
            let results = batch::delete(&entries[0].sqs, &queue, &receipts).await;
            for (e, r) in entries.iter().zip(results) {
                match r {
                    Ok(()) => {
                        Metrics::add(&metrics.sqs_messages_deleted, 1);
                        registry.note(&e.message.message_id, false);
                    }
                    Err(why) => {
                        Metrics::add(&metrics.sqs_delete_errors, 1);
                        tracing::error!(queue = %queue, message_id = %e.message.message_id, error = %why,
                            "DeleteMessage failed: the message will be delivered again (its events are deduplicated by _id)");
                    }
                }
            }
        }
        return_now(give_back, &metrics).await;
    }
}

/// Makes messages visible again now (visibility 0), for this or another consumer.
pub async fn return_now(entries: Vec<Entry>, metrics: &Metrics) {
    for (queue, entries) in by_queue(entries) {
        let changes: Vec<(&str, i32)> = entries
            .iter()
            .map(|e| (e.message.receipt_handle.as_str(), 0))
            .collect();
        let results = batch::change_visibility(&entries[0].sqs, &queue, &changes).await;
        for (e, r) in entries.iter().zip(results) {
            match r {
                Ok(()) => Metrics::add(&metrics.sqs_messages_returned, 1),
                Err(why) => {
                    tracing::warn!(queue = %queue, message_id = %e.message.message_id, error = %why,
                    "could not make a message visible again; it returns after its visibility timeout")
                }
            }
        }
    }
}
