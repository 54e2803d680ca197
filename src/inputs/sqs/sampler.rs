//! The queue sampler: one per watched queue (an sqs input's queues, with `http.enabled` and a
//! `queue_metrics_interval`), on a schedule of its own: GetQueueAttributes in, the queue's depth (visible,
//! in flight, delayed) out into [`Live`](crate::ops::metrics::Live), where the monitoring endpoint reads it
//! with the queue's lag. It shares nothing with polling but the SQS client, so a slow or failing call
//! never holds a receive back, and a poller waiting for a free reader never holds a sample back.
//!
//! A failed call is counted (`sqs_queue_attributes_errors`) and the queue's depth is unknown (its series
//! absent) until a call succeeds again. It is logged when the failures start, when their reason changes,
//! and every [`LOG_AGAIN`] while they go on, never once per sample. It does not make `/health` unhealthy:
//! the metrics are not the pipeline, and a role without `sqs:GetQueueAttributes` still ships every log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use tokio::sync::watch;

use crate::aws::Failure;
use crate::ops::metrics::{Metrics, QueueDepth};

/// While failures go on for the same reason, how often they are logged again.
pub const LOG_AGAIN: Duration = Duration::from_secs(15 * 60);

/// One queue's sampler.
#[derive(Debug)]
pub struct Sampler {
    /// The client of the queue's input.
    pub sqs: aws_sdk_sqs::Client,
    /// The queue.
    pub queue_url: String,
    /// Time between two samples (`queue_metrics_interval`); also the most one call may take.
    pub interval: Duration,
    /// Where the depth goes.
    pub metrics: Arc<Metrics>,
}

/// Failures in a row, as last logged.
struct Failing {
    why: String,
    count: u64,
    logged: Instant,
}

impl Sampler {
    /// Samples at once, then every `interval`, until `stop` turns true (or its sender is gone).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let live = &self.metrics.live;
        live.watch_queue(&self.queue_url);
        let mut tick = tokio::time::interval(self.interval);
        // After a call that took long, the next one waits a whole interval: never two at once, no burst.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing: Option<Failing> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            crate::faults::sampler(&self.queue_url);
            let mark = live.queue_receives(&self.queue_url);
            let result = tokio::select! {
                r = tokio::time::timeout(self.interval, depth(&self.sqs, &self.queue_url)) => r.unwrap_or_else(|_| {
                    Err(format!("no answer within {:?} (queue_metrics_interval)", self.interval))
                }),
                _ = stop.wait_for(|s| *s) => return,
            };
            match result {
                Ok(depth) => {
                    live.queue_sampled(&self.queue_url, mark, Some(depth));
                    if let Some(f) = failing.take() {
                        tracing::info!(queue = %self.queue_url, failures = f.count,
                            "GetQueueAttributes works again: the queue's depth is known again");
                    }
                }
                Err(why) => {
                    Metrics::add(&self.metrics.sqs_queue_attributes_errors, 1);
                    live.queue_sampled(&self.queue_url, mark, None);
                    self.failed(&mut failing, why);
                }
            }
        }
    }

    /// Logs a failure when the failures start, when their reason changes, and every [`LOG_AGAIN`].
    fn failed(&self, failing: &mut Option<Failing>, why: String) {
        if let Some(f) = failing.as_mut() {
            f.count += 1;
            if f.why == why && f.logged.elapsed() < LOG_AGAIN {
                return;
            }
            f.why = why;
            f.logged = Instant::now();
        } else {
            *failing = Some(Failing {
                why,
                count: 1,
                logged: Instant::now(),
            });
        }
        let f = failing.as_ref().expect("set above");
        tracing::warn!(queue = %self.queue_url, error = %f.why, failures = f.count,
            "GetQueueAttributes failed: the queue's depth is unknown until it works again \
             (needs sqs:GetQueueAttributes, see iam-policy.json; queue_metrics_interval: 0s stops these calls)");
    }
}

/// `queue_url`'s depth now (visible, in flight, delayed), in one attempt, or why it cannot be read. The
/// monitoring samples and `--once`'s test for an empty queue read it.
pub async fn depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<QueueDepth, String> {
    use QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(A::ApproximateNumberOfMessagesDelayed)
        // The caller's next call is the retry (the next sample; under `--once`, a poll that waits): one
        // attempt gives the real reason of a failure at once, rather than a timeout while the SDK backs off.
        .customize()
        .config_override(
            aws_sdk_sqs::config::Builder::default()
                .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled()),
        )
        .send()
        .await
        .map_err(|e| match crate::aws::classify(&e) {
            Failure::Permanent(why) | Failure::Transient(why) => why,
        })?;
    let attributes = out.attributes.unwrap_or_default();
    let get = |a: A| {
        let v = attributes
            .get(&a)
            .ok_or_else(|| format!("the answer has no {}", a.as_str()))?;
        v.parse::<u64>()
            .map_err(|_| format!("{} is not a count: {v:?}", a.as_str()))
    };
    Ok(QueueDepth {
        visible: get(A::ApproximateNumberOfMessages)?,
        in_flight: get(A::ApproximateNumberOfMessagesNotVisible)?,
        delayed: get(A::ApproximateNumberOfMessagesDelayed)?,
    })
}
