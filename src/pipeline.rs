//! Wiring of the daemon, its delivery half (shared with `s3import`), and the ordered shutdown.
//!
//! ```text
//!  SQS ──poller──▶ readers ──GetObject──▶ ObjectParser ──▶ publish queue ──batcher──▶ output workers
//!   ▲   (per queue) (per input,            (parse, enrich)   (queue.mem.events)         │ delivered /
//!   │               ≤ workers)                                                          │ dropped
//!   └── Delete / ChangeVisibility ◀── deleter ◀── registry ◀── ack groups settle ◀──────┘
//! ```
//!
//! Shutdown order: stop polling; let the readers finish and the outputs deliver, within `shutdown_timeout`
//! (then abort: outputs stop retrying, reading stops, and what was not delivered fails its groups);
//! delete what was delivered and give back what failed; return the counters. A part that cannot go on
//! ([`Shutdown::fail`]) takes the same path at once, and the run ends with its reason. With `http.enabled`
//! a sampler per queue reads its depth beside polling, until the end, so the endpoint shows the queues
//! while the daemon drains.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::{InputSource, QueueSettings, Settings};
use crate::inputs::sqs::poller::Poller;
use crate::inputs::sqs::registry::Registry;
use crate::inputs::sqs::sampler::Sampler;
use crate::inputs::sqs::{deleter, heartbeat};
use crate::object::finalise::Finaliser;
use crate::object::reader::Readers;
use crate::ops::metrics::{HealthLimits, Metrics};
use crate::ops::monitor;
use crate::ops::supervise;
use crate::outputs::{self, Output, SetupError};
use crate::queue::{self, BatchSettings, QueueSender};
use crate::shutdown::Shutdown;

/// The run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The output could not be set up.
    #[error("{0}")]
    Output(#[from] SetupError),
    /// The monitoring endpoint cannot listen.
    #[error("{0}")]
    Http(String),
    /// An input's AWS clients could not be made (no region, no credentials).
    #[error("s3logsbeat.inputs.{input}: {error}")]
    Aws {
        /// The input's position.
        input: usize,
        /// What is missing.
        error: crate::aws::StartupError,
    },
}

/// How the run ended.
#[derive(Debug)]
pub struct RunSummary {
    /// The counters.
    pub metrics: Arc<Metrics>,
    /// Messages still in flight at the end (made visible again).
    pub returned: u64,
    /// Messages given back after a failure and not seen deleted since.
    pub unresolved: u64,
    /// Why the pipeline stopped on its own, if it did.
    pub failure: Option<String>,
}

impl RunSummary {
    /// Every message received was deleted in the end, and every log group read was delivered (the
    /// `--once` success condition).
    pub fn complete(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let m = &self.metrics;
        self.failure.is_none()
            && m.sqs_messages_kept.load(Relaxed) == 0
            && m.sqs_delete_errors.load(Relaxed) == 0
            && m.cloudwatch_reads_failed.load(Relaxed) == 0
            && m.s3_poll_objects_failed.load(Relaxed) == 0
            && m.s3_poll_objects_given_up.load(Relaxed) == 0
            && self.returned == 0
            && self.unresolved == 0
    }
}

/// Runs the `type: sqs` inputs until `shutdown` stops them (or, with `once`, until every queue is empty
/// and everything read is delivered).
pub async fn run(
    settings: Settings,
    once: bool,
    shutdown: Shutdown,
) -> Result<RunSummary, StartError> {
    let metrics = Arc::new(Metrics::default());
    // Bound first: a port in use is a start-up error, before anything is read.
    let listener = match &settings.http {
        Some(h) => Some(monitor::bind(h.addr).await.map_err(StartError::Http)?),
        None => None,
    };
    let (queue_tx, delivery) = start_delivery(&settings, metrics.clone(), shutdown.clone())?;
    let registry = Arc::new(Registry::default());
    metrics.live.add_gauge(
        "queue_events",
        "Events in the publish queue: published by readers, not yet delivered",
        queue_tx.fill_gauge(),
    );
    let capacity = settings.queue.events as i64;
    metrics.live.add_gauge(
        "queue_capacity",
        "queue.mem.events: the most events the publish queue holds",
        move || capacity,
    );
    let in_flight = registry.clone();
    metrics.live.add_gauge(
        "sqs_messages_in_flight",
        "SQS messages received and not yet deleted or given back",
        move || in_flight.len() as i64,
    );
    let in_flight = registry.clone();
    metrics
        .live
        .set_in_flight_sent(move || in_flight.oldest_sent_by_queue());
    let (monitor_stop, monitor_rx) = tokio::sync::watch::channel(false);
    let server = listener.map(|l| {
        let state = monitor::State {
            metrics: metrics.clone(),
            limits: health_limits(&settings),
            identity: monitor::Identity {
                name: settings.beat_name.clone(),
                hostname: settings.hostname.clone(),
            },
        };
        tokio::spawn(monitor::serve(l, Arc::new(state), monitor_rx))
    });
    let deleter = tokio::spawn(deleter::run(
        registry.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));
    let (hb_stop, hb_rx) = tokio::sync::watch::channel(false);
    let heartbeat = tokio::spawn(heartbeat::run(registry.clone(), metrics.clone(), hb_rx));
    let reporter = tokio::spawn(report(
        metrics.clone(),
        settings.logging.metrics_period,
        shutdown.clone(),
    ));

    let mut pollers = JoinSet::new();
    let mut readers = Vec::new();
    let (finaliser, finaliser_task) = Finaliser::start(metrics.clone());
    // A queue's depth is read only for the monitoring endpoint, once per queue however many inputs name
    // it, beside polling until the end of the run.
    let (samplers_stop, samplers_rx) = tokio::sync::watch::channel(false);
    let mut samplers = JoinSet::new();
    let mut sampled: HashMap<tokio::task::Id, String> = HashMap::new();
    let paces = Arc::new(crate::inputs::cloudwatch::Paces::default());
    let mut lags = Vec::new();
    let mut poll_lags: Vec<Arc<std::sync::atomic::AtomicU64>> = Vec::new();
    for input in &settings.inputs {
        if let InputSource::CloudwatchLogs(c) = &input.source {
            let task = cloudwatch_input(
                &settings,
                input,
                c,
                CloudwatchShared {
                    paces: paces.clone(),
                    queue: queue_tx.clone(),
                    metrics: metrics.clone(),
                    shutdown: shutdown.clone(),
                    once,
                },
            )
            .await?;
            lags.push(task.lag_ms.clone());
            let (metrics, shutdown) = (metrics.clone(), shutdown.clone());
            pollers.spawn(async move {
                if let Err(why) = task.run().await {
                    metrics.live.task_died(&why);
                    shutdown.fail(why);
                }
            });
            continue;
        }
        if let InputSource::S3Poll(poll) = &input.source {
            let (clients, pool, task) =
                input_readers(input, None, (&queue_tx, &metrics, &shutdown, &finaliser)).await?;
            let store = state_store(&settings, &clients);
            readers.push((input.index, task));
            for prefix in &poll.prefixes {
                let lag = Arc::new(std::sync::atomic::AtomicU64::new(0));
                poll_lags.push(lag.clone());
                let task = crate::inputs::s3_poll::Prefix {
                    input: Arc::new(input.clone()),
                    poll: poll.clone(),
                    prefix: prefix.clone(),
                    s3: clients.s3.clone(),
                    readers: pool.clone(),
                    store: store.clone(),
                    state: settings.state.clone(),
                    metrics: metrics.clone(),
                    shutdown: shutdown.clone(),
                    once,
                    lag_s: lag,
                };
                let (metrics, shutdown) = (metrics.clone(), shutdown.clone());
                pollers.spawn(async move {
                    if let Err(why) = task.run().await {
                        metrics.live.task_died(&why);
                        shutdown.fail(why);
                    }
                });
            }
            continue;
        }
        let InputSource::Sqs(s) = &input.source else {
            continue;
        };
        let (clients, pool, task) = input_readers(
            input,
            s.queues.first().map(String::as_str),
            (&queue_tx, &metrics, &shutdown, &finaliser),
        )
        .await?;
        readers.push((input.index, task));
        let poller = Poller {
            settings: s.clone(),
            sqs: clients.sqs.clone(),
            readers: pool,
            registry: registry.clone(),
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            once,
        };
        for q in &s.queues {
            pollers.spawn(poller.clone().run(q.clone()));
        }
        if let Some(interval) = s.queue_metrics_interval.filter(|_| settings.http.is_some()) {
            for q in &s.queues {
                if sampled.values().any(|v| v == q) {
                    continue;
                }
                let sampler = Sampler {
                    sqs: clients.sqs.clone(),
                    queue_url: q.clone(),
                    interval,
                    metrics: metrics.clone(),
                };
                let task = samplers.spawn(sampler.run(samplers_rx.clone()));
                sampled.insert(task.id(), q.clone());
            }
        }
    }
    let samplers = tokio::spawn(supervise_samplers(
        samplers,
        sampled,
        metrics.clone(),
        shutdown.clone(),
    ));
    if !lags.is_empty() {
        metrics.live.add_gauge(
            "cloudwatch_lag_seconds",
            "Seconds since the checkpoint of the longest-waiting CloudWatch Logs group, at its last read",
            move || {
                let ms = lags
                    .iter()
                    .map(|l| l.load(std::sync::atomic::Ordering::Relaxed))
                    .max()
                    .unwrap_or(0);
                (ms / 1000) as i64
            },
        );
    }
    if !poll_lags.is_empty() {
        metrics.live.add_gauge(
            "s3_poll_lag_seconds",
            "Age of the oldest object a polled prefix found and has not delivered yet (0: none waiting)",
            move || {
                poll_lags
                    .iter()
                    .map(|l| l.load(std::sync::atomic::Ordering::Relaxed))
                    .max()
                    .unwrap_or(0) as i64
            },
        );
    }
    // Only the readers (and the cloudwatch_logs inputs) hold the queue now, so it closes when the last
    // one ends.
    drop(queue_tx);
    while let Some(r) = pollers.join_next().await {
        if let Some(why) = supervise::join_error(r) {
            Metrics::add(&metrics.task_panics, 1);
            metrics.live.task_died(&format!("a poller {why}"));
            shutdown.fail(format!("a poller {why}"));
        }
    }
    for (i, task) in readers {
        supervise::expect_clean_end(
            task,
            &format!("the readers of input {i}"),
            &metrics,
            &shutdown,
        )
        .await;
    }
    if shutdown.is_aborted() {
        tracing::info!("all pollers stopped; what was not delivered goes back to the queue");
    } else if shutdown.is_stopping() {
        tracing::info!("all pollers stopped; delivering what was read (within shutdown_timeout)");
    } else {
        tracing::info!("all pollers stopped; delivering what was read");
    }
    delivery.finish(&metrics, &shutdown).await;
    // Every event is delivered or given up: the last backups and deletes run, then their groups settle.
    drop(finaliser);
    supervise::expect_clean_end(
        finaliser_task,
        "the backups and deletes after delivery",
        &metrics,
        &shutdown,
    )
    .await;
    // Every ack group has settled now: the deleter handles the last ones and ends.
    registry.close();
    supervise::expect_clean_end(deleter, "the SQS deleter", &metrics, &shutdown).await;
    let _ = hb_stop.send(true);
    supervise::expect_clean_end(heartbeat, "the visibility heartbeat", &metrics, &shutdown).await;
    let _ = samplers_stop.send(true);
    supervise::expect_clean_end(
        samplers,
        "the queue samplers' supervisor",
        &metrics,
        &shutdown,
    )
    .await;
    reporter.abort();
    let _ = reporter.await;
    let _ = monitor_stop.send(true);
    if let Some(server) = server {
        supervise::expect_clean_end(server, "the monitoring endpoint", &metrics, &shutdown).await;
    }
    let left = registry.drain();
    let returned = left.len() as u64;
    if returned > 0 {
        deleter::return_now(left, &metrics).await;
    }
    // One count of what went back: the groups that failed at the abort and what was still in flight.
    let given_back = metrics
        .sqs_messages_returned
        .load(std::sync::atomic::Ordering::Relaxed);
    if given_back > 0 && shutdown.is_stopping() {
        tracing::info!(
            messages = given_back,
            "shutdown: messages made visible again; they will be read again"
        );
    }
    Ok(RunSummary {
        metrics,
        returned,
        unresolved: registry.unresolved() as u64,
        failure: shutdown.failure(),
    })
}

/// What every `cloudwatch_logs` input of the run shares.
struct CloudwatchShared {
    paces: Arc<crate::inputs::cloudwatch::Paces>,
    queue: QueueSender,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
    once: bool,
}

/// A `cloudwatch_logs` input ready to run: its clients (in the region of its groups when the input's
/// AWS settings name none) and its state store (`state.s3`, else files under `path.data`).
async fn cloudwatch_input(
    settings: &Settings,
    input: &crate::config::InputSettings,
    c: &crate::config::CloudwatchLogsSettings,
    shared: CloudwatchShared,
) -> Result<crate::inputs::cloudwatch::Input, StartError> {
    let mut aws = input.aws.clone();
    if aws.region.is_none() {
        aws.region = c
            .region
            .clone()
            .or_else(|| c.names.iter().find_map(|(r, _)| r.clone()));
    }
    let clients = crate::aws::clients(&aws, None)
        .await
        .map_err(|error| StartError::Aws {
            input: input.index,
            error,
        })?;
    let store = state_store(settings, &clients);
    Ok(crate::inputs::cloudwatch::Input {
        input: input.clone(),
        cw: c.clone(),
        clients: Arc::new(clients),
        store,
        state: settings.state.clone(),
        paces: shared.paces,
        queue: shared.queue,
        metrics: shared.metrics,
        shutdown: shared.shutdown,
        once: shared.once,
        lag_ms: Arc::new(std::sync::atomic::AtomicU64::new(0)),
    })
}

/// An input's AWS clients (`queue_url` lends its region when none is set) and its readers.
async fn input_readers(
    input: &crate::config::InputSettings,
    queue_url: Option<&str>,
    (queue, metrics, shutdown, finaliser): (&QueueSender, &Arc<Metrics>, &Shutdown, &Finaliser),
) -> Result<
    (
        Arc<crate::aws::Clients>,
        Readers,
        tokio::task::JoinHandle<()>,
    ),
    StartError,
> {
    let clients = crate::aws::clients(&input.aws, queue_url)
        .await
        .map_err(|error| StartError::Aws {
            input: input.index,
            error,
        })?;
    let clients = Arc::new(clients);
    let (pool, task) = Readers::for_input(
        input,
        clients.clone(),
        queue.clone(),
        metrics.clone(),
        shutdown.clone(),
        finaliser,
    );
    Ok((clients, pool, task))
}

/// The state store of the run: `state.s3`, else files under `path.data`.
fn state_store(settings: &Settings, clients: &crate::aws::Clients) -> crate::state::Store {
    match &settings.state.s3 {
        Some((bucket, key)) => crate::state::Store::S3(crate::state::s3::S3Store::new(
            clients.s3.clone(),
            bucket,
            key,
        )),
        None => crate::state::Store::File(crate::state::file::FileStore::new(
            settings.paths.data.clone(),
        )),
    }
}

/// Joins the queue samplers (`queues`: each one's queue) as they end, so that one that dies stops the
/// pipeline at once, naming its queue, rather than at the end of the run.
async fn supervise_samplers(
    mut samplers: JoinSet<()>,
    queues: HashMap<tokio::task::Id, String>,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) {
    while let Some(r) = samplers.join_next_with_id().await {
        let (id, r) = match r {
            Ok((id, ())) => (id, Ok(())),
            Err(e) => (e.id(), Err(e)),
        };
        if let Some(why) = supervise::join_error(r) {
            let what = format!(
                "the queue sampler of {} {why}",
                queues.get(&id).map_or("a queue", String::as_str)
            );
            Metrics::add(&metrics.task_panics, 1);
            metrics.live.task_died(&what);
            shutdown.fail(what);
        }
    }
}

/// The publish queue's far side: batcher and output workers.
pub struct Delivery {
    batcher: tokio::task::JoinHandle<()>,
    workers: tokio::task::JoinHandle<()>,
}

impl Delivery {
    /// Waits until every batch was delivered (or given up at abort); call after the last
    /// [`QueueSender`] is dropped.
    pub async fn finish(self, metrics: &Metrics, shutdown: &Shutdown) {
        supervise::expect_clean_end(self.batcher, "the batcher", metrics, shutdown).await;
        supervise::expect_clean_end(self.workers, "the output workers", metrics, shutdown).await;
    }
}

/// Builds the output and starts the queue, batcher and output workers.
pub fn start_delivery(
    settings: &Settings,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) -> Result<(QueueSender, Delivery), SetupError> {
    let mut output = Output::new(&settings.output, metrics.clone())?;
    // Elasticsearch: the index template (`setup.template.*`) before the first bulk request.
    if let Output::Elasticsearch(es) = &mut output {
        let t = &settings.template;
        if t.enabled {
            let formats = crate::outputs::elasticsearch::template::formats_in_use(&settings.inputs);
            es.install_template_first(
                &t.name,
                crate::outputs::elasticsearch::template::template(&formats, t),
                t.overwrite,
            );
            if let Some(ism) = &t.ism {
                es.install_ism_with_template(
                    &ism.name,
                    crate::outputs::elasticsearch::template::ism_policy(ism, &t.pattern),
                    ism.overwrite,
                );
            }
        }
    }
    let output = Arc::new(output);
    let workers = settings.output.workers();
    let QueueSettings {
        events,
        flush_min_events,
        flush_timeout,
    } = settings.queue;
    let (queue_tx, queue_rx) = queue::channel(events);
    let (batch_tx, batch_rx) = mpsc::channel(workers);
    let batcher = tokio::spawn(queue::run_batcher(
        queue_rx,
        batch_tx,
        BatchSettings {
            max_events: settings.output.batch_size(),
            min_events: flush_min_events,
            timeout: flush_timeout,
        },
    ));
    let workers = tokio::spawn(outputs::run_workers(
        output, workers, batch_rx, metrics, shutdown,
    ));
    Ok((queue_tx, Delivery { batcher, workers }))
}

/// Every `period` (`logging.metrics.period`, 30 s by default; `None`: never), logs what changed and the
/// totals, like libbeat's "Non-zero metrics" line; quiet periods log nothing.
pub async fn report(metrics: Arc<Metrics>, period: Option<Duration>, shutdown: Shutdown) {
    let Some(period) = period else {
        return;
    };
    let mut prev = metrics.snapshot();
    loop {
        if !shutdown.sleep(period).await {
            return;
        }
        let d = metrics.delta(&mut prev);
        if !d.is_empty() {
            tracing::info!(
                "metrics in the last {}: {d} | totals: {}",
                crate::config::values::format_duration(period),
                metrics.summary()
            );
        }
    }
}

/// When `/health` turns 503: the configured output limit, and `missed_polls` long-poll rounds (wait plus
/// pause) of the slowest sqs input without a successful poll.
fn health_limits(settings: &Settings) -> HealthLimits {
    let (output_unreachable, missed) = settings
        .http
        .as_ref()
        .map_or((Duration::from_secs(300), 3), |h| {
            (h.output_unreachable, h.missed_polls)
        });
    let round = settings
        .inputs
        .iter()
        .filter_map(|i| match &i.source {
            InputSource::Sqs(s) => Some(s.wait_time + s.poll_frequency),
            InputSource::S3(_) | InputSource::S3Poll(_) | InputSource::CloudwatchLogs(_) => None,
        })
        .max();
    HealthLimits {
        output_unreachable,
        no_poll: round.map(|r| r.max(Duration::from_secs(1)) * missed.max(1)),
    }
}
