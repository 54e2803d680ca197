//! Wiring of the daemon and its ordered shutdown.
//!
//! ```text
//!  SQS ──poller──▶ worker ──GetObject──▶ ObjectParser ──▶ publish queue ──batcher──▶ output workers
//!   ▲   (per queue) (≤ workers)          (parse, enrich)   (queue.mem.events)         │ delivered
//!   └──────── DeleteMessageBatch ◀── deleter ◀── ack groups (per message) ◀───────────┘
//! ```
//!
//! Shutdown order: stop polling; let the workers finish reading and the outputs deliver, within
//! `shutdown_timeout` (then abort: outputs stop retrying, reading stops); delete what was delivered; make
//! every message still in flight visible again at once; return the counters.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::config::{InputSource, Settings};
use crate::inputs::sqs::{self, Context, InFlight};
use crate::metrics::Metrics;
use crate::outputs::{self, Output, SetupError};
use crate::queue::{self, BatchSettings};
use crate::shutdown::Shutdown;

/// How the run ended.
#[derive(Debug)]
pub struct RunSummary {
    /// The counters.
    pub metrics: Arc<Metrics>,
    /// Messages still in flight at the end (made visible again).
    pub returned: u64,
}

impl RunSummary {
    /// Everything received was delivered and deleted (the `--once` success condition).
    pub fn complete(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let m = &self.metrics;
        m.sqs_messages_kept.load(Relaxed) == 0
            && m.sqs_messages_returned.load(Relaxed) == 0
            && m.sqs_delete_errors.load(Relaxed) == 0
            && self.returned == 0
            && m.events_published.load(Relaxed) == m.events_delivered.load(Relaxed)
    }
}

/// Runs the `type: sqs` inputs until `shutdown` stops them (or, with `once`, until every queue is empty
/// and everything read is delivered).
pub async fn run(
    settings: Settings,
    once: bool,
    shutdown: Shutdown,
) -> Result<RunSummary, SetupError> {
    let metrics = Arc::new(Metrics::default());
    let (queue_tx, delivery) = start_delivery(&settings, metrics.clone(), shutdown.clone())?;
    let inflight = Arc::new(InFlight::default());
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let deleter = tokio::spawn(sqs::run_deleter(
        done_rx,
        inflight.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));
    let (hb_stop, hb_rx) = tokio::sync::watch::channel(false);
    let heartbeat = tokio::spawn(sqs::run_heartbeat(inflight.clone(), metrics.clone(), hb_rx));
    let reporter = tokio::spawn(report(metrics.clone(), shutdown.clone()));

    let mut pollers = JoinSet::new();
    for input in &settings.inputs {
        let InputSource::Sqs(s) = &input.source else {
            continue;
        };
        let clients = crate::aws::clients(&input.aws).await;
        let workers = Arc::new(Semaphore::new(s.workers));
        let ctx = Context {
            input: Arc::new(input.clone()),
            sqs_settings: s.clone(),
            sqs: clients.sqs,
            s3: clients.s3,
            queue: queue_tx.clone(),
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            inflight: inflight.clone(),
            completions: done_tx.clone(),
            once,
        };
        for q in &s.queues {
            pollers.spawn(sqs::poll_queue(ctx.clone(), q.clone(), workers.clone()));
        }
    }
    // Only the tasks hold the queue and completion senders now, so both close when the last one ends.
    drop(queue_tx);
    drop(done_tx);
    while let Some(r) = pollers.join_next().await {
        if let Err(e) = r {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    tracing::info!("all pollers stopped; delivering what was read");
    delivery.finish().await;
    if let Err(e) = deleter.await {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    let _ = hb_stop.send(true);
    let _ = heartbeat.await;
    reporter.abort();
    let returned = inflight.len() as u64;
    sqs::return_in_flight(&inflight, &metrics).await;
    Ok(RunSummary { metrics, returned })
}

/// The publish queue's far side: batcher and output workers.
pub struct Delivery {
    batcher: tokio::task::JoinHandle<()>,
    workers: tokio::task::JoinHandle<()>,
}

impl Delivery {
    /// Waits until every batch was delivered (or given up at abort); call after the last
    /// [`queue::QueueSender`] is dropped.
    pub async fn finish(self) {
        for t in [self.batcher, self.workers] {
            if let Err(e) = t.await {
                if e.is_panic() {
                    std::panic::resume_unwind(e.into_panic());
                }
            }
        }
    }
}

/// Builds the output and starts the queue, batcher and output workers.
pub fn start_delivery(
    settings: &Settings,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) -> Result<(queue::QueueSender, Delivery), SetupError> {
    let output = Arc::new(Output::new(&settings.output, metrics.clone())?);
    let (queue_tx, queue_rx) = queue::channel(settings.queue.events);
    let (batch_tx, batch_rx) = mpsc::channel(output.workers());
    let batcher = tokio::spawn(queue::run_batcher(
        queue_rx,
        batch_tx,
        BatchSettings {
            max_events: output.batch_size(),
            min_events: settings.queue.flush.min_events,
            timeout: settings.queue.flush.timeout.0,
        },
    ));
    let workers = tokio::spawn(outputs::run_workers(output, batch_rx, metrics, shutdown));
    Ok((queue_tx, Delivery { batcher, workers }))
}

/// Logs the counters that changed, every 30 s, like libbeat's "Non-zero metrics" line.
pub async fn report(metrics: Arc<Metrics>, shutdown: Shutdown) {
    let mut prev = metrics.snapshot();
    loop {
        if !shutdown.sleep(Duration::from_secs(30)).await {
            return;
        }
        let d = metrics.delta(&mut prev);
        if !d.is_empty() {
            tracing::info!("metrics in the last 30s: {d}");
        }
    }
}
