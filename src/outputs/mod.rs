//! Outputs: a batch in, delivered (or given up at abort) out.
//!
//! Every output retries until its events are delivered; the only way a batch is not delivered is an
//! abort at shutdown, in which case its events are not acknowledged and their SQS messages are made
//! visible again. Elasticsearch's permanent per-document rejections go to a dead-letter index (or are
//! dropped when the user asked for that); both count as handled.

pub mod console;
pub mod elasticsearch;
pub mod file;
pub mod logstash;
pub mod tls;

use std::sync::Arc;

use tokio::sync::{mpsc, Mutex};

use crate::config::OutputKind;
use crate::metrics::Metrics;
use crate::queue::Batch;
use crate::shutdown::Shutdown;

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

/// An output could not be set up (bad CA file, bad host URL, ...).
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
    pub fn new(kind: &OutputKind, metrics: Arc<Metrics>) -> Result<Output, SetupError> {
        Ok(match kind {
            OutputKind::Elasticsearch(es) => {
                Output::Elasticsearch(elasticsearch::Elasticsearch::new(es, metrics)?)
            }
            OutputKind::Console(c) => Output::Console(console::Console::new(c)),
            OutputKind::File(f) => Output::File(file::FileOutput::new(f)?),
            OutputKind::Logstash(l) => Output::Logstash(logstash::Logstash::new(l, metrics)?),
        })
    }

    /// Most events per batch.
    pub fn batch_size(&self) -> usize {
        match self {
            Output::Elasticsearch(es) => es.bulk_max_size(),
            Output::Logstash(l) => l.batch_size(),
            Output::Console(_) | Output::File(_) => 2048,
        }
    }

    /// Concurrent batches.
    pub fn workers(&self) -> usize {
        match self {
            Output::Elasticsearch(es) => es.workers(),
            Output::Logstash(l) => l.workers(),
            Output::Console(_) | Output::File(_) => 1,
        }
    }

    /// Delivers a batch, retrying until it is delivered or the shutdown aborts.
    pub async fn publish(&self, batch: &Batch, shutdown: &Shutdown) -> Result<(), Aborted> {
        match self {
            Output::Elasticsearch(es) => es.publish(batch, shutdown).await,
            Output::Console(c) => c.publish(batch, shutdown).await,
            Output::File(f) => f.publish(batch, shutdown).await,
            Output::Logstash(l) => l.publish(batch, shutdown).await,
        }
    }
}

/// Runs the output's workers until the batch channel closes; delivered batches are acknowledged.
pub async fn run_workers(
    output: Arc<Output>,
    batches: mpsc::Receiver<Batch>,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) {
    let batches = Arc::new(Mutex::new(batches));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..output.workers() {
        let (output, batches, metrics, shutdown) = (
            output.clone(),
            batches.clone(),
            metrics.clone(),
            shutdown.clone(),
        );
        set.spawn(async move {
            loop {
                let next = batches.lock().await.recv().await;
                let Some(batch) = next else { return };
                let n = batch.len() as u64;
                match output.publish(&batch, &shutdown).await {
                    Ok(()) => {
                        Metrics::add(&metrics.events_delivered, n);
                        batch.delivered();
                    }
                    Err(Aborted) => {
                        tracing::warn!(
                            events = n,
                            "shutdown: batch not delivered; its messages return to the queue"
                        );
                        // Dropping the batch frees the queue slots without acknowledging the events.
                    }
                }
            }
        });
    }
    while let Some(r) = set.join_next().await {
        if let Err(e) = r {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}
