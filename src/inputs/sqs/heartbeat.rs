//! The visibility heartbeat: messages still being worked on in, their visibility extended out, every half
//! visibility timeout, so a large object (or a slow output) never lets a message reappear and be
//! processed twice. Settled messages are never extended: a failed one must come back.

use std::sync::Arc;
use std::time::Duration;

use super::batch;
use super::registry::{by_queue, Registry};
use crate::ops::metrics::Metrics;

/// Extends due messages every 500 ms until `stop` fires.
pub async fn run(
    registry: Arc<Registry>,
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
        for (queue, entries) in by_queue(registry.due_for_extension()) {
            let changes: Vec<(&str, i32)> = entries
                .iter()
                .map(|e| {
                    (
                        e.message.receipt_handle.as_str(),
                        e.visibility.as_secs() as i32,
                    )
                })
                .collect();
            let results = batch::change_visibility(&entries[0].sqs, &queue, &changes).await;
            for (e, r) in entries.iter().zip(results) {
                // A failure is not retried before the next half-period: no tight loop on a bad handle.
                registry.mark_extended(&e.message.receipt_handle);
                match r {
                    Ok(()) => Metrics::add(&metrics.sqs_visibility_extended, 1),
                    Err(why) => {
                        tracing::warn!(queue = %queue, message_id = %e.message.message_id, error = %why,
                        "could not extend the visibility of a message (it may be processed twice)")
                    }
                }
            }
        }
    }
}
