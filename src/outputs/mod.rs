//! Outputs: a batch in, delivered (or given up at abort) out.
//!
//! Every output retries until its events are delivered; the only ways a batch is not delivered are an
//! abort at shutdown and a panic, and in both the batch is dropped undelivered, which fails its ack groups
//! (their SQS messages are made visible again). Elasticsearch's permanent per-document rejections go to a
//! dead-letter index (or are dropped when the user asked for that); both count as handled.
//!
//! What must stay true: outputs never call SQS or S3; they only say, by marking a batch delivered or
//! dropping it, what happened to its events. An output worker survives a panic in its output (the batch is
//! logged with what it held and dropped); an output that panics on [`PANICS_IN_A_ROW`] batches in a row is
//! broken, and the pipeline stops with that reason rather than poll and give back messages for ever.

pub mod compress;
pub mod console;
pub mod elasticsearch;
pub mod file;
pub mod logstash;
pub mod tls;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Mutex};

use crate::config::OutputSettings;
use crate::ops::metrics::Metrics;
use crate::ops::supervise;
use crate::queue::Batch;
use crate::shutdown::Shutdown;

/// Consecutive batches an output may panic on before the pipeline stops.
pub const PANICS_IN_A_ROW: usize = 3;

/// The batch was not delivered because of an abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aborted;

/// The configured output.
#[derive(Debug)]
pub enum Output {
    /// Elasticsearch bulk.
    Elasticsearch(elasticsearch::Elasticsearch),
    /// stdout.
    Console(console::Console),
    /// Rotating files.
    File(file::FileOutput),
    /// Logstash (lumberjack v2).
    Logstash(logstash::Logstash),
}

/// An output could not be set up (a directory that cannot be created, an HTTP client that cannot be
/// built); everything a config can get wrong was refused before, by `config`.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SetupError {
    /// The config key concerned.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl Output {
    /// Builds the output from the settings.
    pub fn new(settings: &OutputSettings, metrics: Arc<Metrics>) -> Result<Output, SetupError> {
        Ok(match settings {
            OutputSettings::Elasticsearch(es) => {
                Output::Elasticsearch(elasticsearch::Elasticsearch::new(es, metrics)?)
            }
            OutputSettings::Console(c) => Output::Console(console::Console::new(c)),
            OutputSettings::File(f) => Output::File(file::FileOutput::new(f)?),
            OutputSettings::Logstash(l) => Output::Logstash(logstash::Logstash::new(l, metrics)),
        })
    }

    /// `test output`: each target (host, directory, stdout) and what it said, or why it failed.
    pub async fn check(&self) -> Vec<(String, Result<String, String>)> {
        match self {
            Output::Elasticsearch(es) => {
                elasticsearch::setup::check(es.transport(), es.template_name()).await
            }
            Output::Logstash(l) => l.check().await,
            Output::Console(_) => vec![("stdout".into(), Ok("events are written here".into()))],
            Output::File(f) => vec![f.check()],
        }
    }

    /// Delivers a batch, retrying until it is delivered or the shutdown aborts.
    pub async fn publish(&self, batch: &Batch, shutdown: &Shutdown) -> Result<(), Aborted> {
        crate::faults::output(batch);
        match self {
            Output::Elasticsearch(es) => es.publish(batch, shutdown).await,
            Output::Console(c) => c.publish(batch, shutdown).await,
            Output::File(f) => f.publish(batch, shutdown).await,
            Output::Logstash(l) => l.publish(batch, shutdown).await,
        }
    }
}

/// Runs `workers` output workers until the batch channel closes; delivered batches are acknowledged.
pub async fn run_workers(
    output: Arc<Output>,
    workers: usize,
    batches: mpsc::Receiver<Batch>,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) {
    let batches = Arc::new(Mutex::new(batches));
    let panics_in_a_row = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let (output, batches, metrics, shutdown, panics) = (
            output.clone(),
            batches.clone(),
            metrics.clone(),
            shutdown.clone(),
            panics_in_a_row.clone(),
        );
        set.spawn(async move {
            loop {
                let next = batches.lock().await.recv().await;
                let Some(batch) = next else { return };
                let n = batch.len() as u64;
                match supervise::guard(output.publish(&batch, &shutdown)).await {
                    Ok(Ok(())) => {
                        panics.store(0, Ordering::Relaxed);
                        Metrics::add(&metrics.events_delivered, n);
                        batch.delivered();
                    }
                    Ok(Err(Aborted)) => {
                        tracing::warn!(
                            events = n,
                            "shutdown: batch not delivered; its messages return to the queue"
                        );
                        // Dropping the batch frees its queue slots and fails its groups.
                    }
                    Err(panic) => {
                        Metrics::add(&metrics.task_panics, 1);
                        let what = batch.describe();
                        tracing::error!(
                            "output panicked delivering a batch of {what}: {panic}; the batch is dropped \
                             undelivered and its messages return to the queue"
                        );
                        drop(batch);
                        if panics.fetch_add(1, Ordering::Relaxed) + 1 >= PANICS_IN_A_ROW {
                            metrics.live.task_died("the output panicked on several batches in a row");
                            shutdown.fail(format!(
                                "the output panicked on {PANICS_IN_A_ROW} batches in a row (last: {panic})"
                            ));
                        }
                    }
                }
            }
        });
    }
    while let Some(r) = set.join_next().await {
        if let Some(why) = supervise::join_error(r) {
            Metrics::add(&metrics.task_panics, 1);
            metrics.live.task_died(&format!("an output worker {why}"));
            shutdown.fail(format!("an output worker {why}"));
        }
    }
}
