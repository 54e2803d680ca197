//! `s3logsbeat s3import` (also `s3imports`, the original's name): the `type: s3` inputs, once.
//!
//! Listers page through `ListObjectsV2` for each `s3://bucket/prefix` and keep objects whose LastModified
//! is in `[since, to)` ([`crate::inputs::s3_list`]); each object becomes a job for the same readers,
//! outputs and `_id`s as the daemon ([`crate::object::reader`]), with an ack group of its own whose settlement
//! counts it done or failed. So importing what the daemon already shipped, or importing twice, adds no
//! document, and nothing is held per object once it is delivered. The run ends when every object was
//! read and every event acknowledged; it succeeds only then.
//!
//! `--dry-run` lists and reads nothing. `--to-queue URL` sends one S3 event notification per object to an
//! SQS queue instead of reading it, so every daemon on that queue shares the backfill.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::ack::{AckGroup, Outcome};
use crate::config::{InputSource, Settings};
use crate::inputs::s3_list::{self, Listed};
use crate::inputs::sqs::batch;
use crate::object::finalise::Finaliser;
use crate::object::reader::{Job, Readers};
use crate::object::ObjectRef;
use crate::ops::metrics::Metrics;
use crate::ops::supervise;
use crate::percent;
use crate::pipeline::{self, StartError};
use crate::shutdown::Shutdown;

/// What to do with the listed objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportMode {
    /// Read them and ship their events.
    Read,
    /// List them only.
    DryRun,
    /// Send one S3 notification per object to this queue.
    ToQueue(String),
}

/// How the import ended.
#[derive(Debug)]
pub struct ImportSummary {
    /// The counters.
    pub metrics: Arc<Metrics>,
    /// Seconds.
    pub elapsed: Duration,
    /// Why the pipeline stopped on its own, if it did.
    pub failure: Option<String>,
}

impl ImportSummary {
    /// Everything listed was read and every event acknowledged (or every notification sent).
    pub fn complete(&self, mode: &ImportMode) -> bool {
        let m = &self.metrics;
        let r = Ordering::Relaxed;
        if m.s3_list_errors.load(r) > 0 || self.failure.is_some() {
            return false;
        }
        match mode {
            ImportMode::DryRun => true,
            ImportMode::ToQueue(_) => {
                m.sqs_notifications_sent.load(r) == m.s3_objects_listed.load(r)
            }
            ImportMode::Read => {
                m.import_objects_failed.load(r) == 0
                    && m.import_objects_done.load(r) == m.s3_objects_listed.load(r)
            }
        }
    }

    /// One line of counters.
    pub fn line(&self) -> String {
        let r = Ordering::Relaxed;
        let m = &self.metrics;
        // Notifications are spoken of only where some were sent (`--to-queue`).
        let sent = match m.sqs_notifications_sent.load(r) {
            0 => String::new(),
            n => format!(" notifications_sent={n}"),
        };
        format!(
            "objects_listed={} bytes_listed={} objects_outside_window={} list_errors={}{sent} seconds={:.1} {}",
            m.s3_objects_listed.load(r),
            m.s3_listed_bytes.load(r),
            m.s3_objects_outside_window.load(r),
            m.s3_list_errors.load(r),
            self.elapsed.as_secs_f64(),
            m.summary()
        )
    }
}

/// Runs the import.
pub async fn run(
    settings: Settings,
    mode: ImportMode,
    shutdown: Shutdown,
) -> Result<ImportSummary, StartError> {
    let start = Instant::now();
    let metrics = Arc::new(Metrics::default());
    let listing_done = Arc::new(AtomicBool::new(false));
    let reporter = tokio::spawn(report_progress(
        metrics.clone(),
        listing_done.clone(),
        shutdown.clone(),
    ));
    let (queue_tx, delivery) = if mode == ImportMode::Read {
        let (q, d) = pipeline::start_delivery(&settings, metrics.clone(), shutdown.clone())?;
        (Some(q), Some(d))
    } else {
        (None, None)
    };
    let mut tasks = JoinSet::new();
    let mut readers = Vec::new();
    let (finaliser, finaliser_task) = Finaliser::start(metrics.clone());
    for input in &settings.inputs {
        let InputSource::S3(src) = &input.source else {
            continue;
        };
        let hint = match &mode {
            ImportMode::ToQueue(url) => Some(url.as_str()),
            _ => None,
        };
        let clients = Arc::new(
            crate::aws::clients(&input.aws, hint)
                .await
                .map_err(|error| StartError::Aws {
                    input: input.index,
                    error,
                })?,
        );
        // Small: listing only needs to stay a page or so ahead of the readers.
        let (obj_tx, obj_rx) = mpsc::channel::<Listed>(100);
        for uri in &src.buckets {
            tasks.spawn(s3_list::list(
                clients.s3.clone(),
                uri.clone(),
                src.since,
                src.to,
                obj_tx.clone(),
                metrics.clone(),
                shutdown.clone(),
            ));
        }
        drop(obj_tx);
        match &mode {
            ImportMode::DryRun => {
                tasks.spawn(print_listing(obj_rx, input.formats.clone()));
            }
            ImportMode::ToQueue(url) => {
                tasks.spawn(send_notifications(
                    clients.sqs.clone(),
                    url.clone(),
                    obj_rx,
                    metrics.clone(),
                ));
            }
            ImportMode::Read => {
                let (pool, task) = Readers::for_input(
                    input,
                    clients.clone(),
                    queue_tx.clone().expect("read mode has a queue"),
                    metrics.clone(),
                    shutdown.clone(),
                    &finaliser,
                );
                readers.push((input.index, task));
                tasks.spawn(feed_readers(
                    pool,
                    obj_rx,
                    metrics.clone(),
                    shutdown.clone(),
                ));
            }
        }
    }
    drop(queue_tx);
    while let Some(r) = tasks.join_next().await {
        if let Some(why) = supervise::join_error(r) {
            Metrics::add(&metrics.task_panics, 1);
            shutdown.fail(format!("an s3import task {why}"));
        }
    }
    listing_done.store(true, Ordering::Relaxed);
    for (i, task) in readers {
        supervise::expect_clean_end(
            task,
            &format!("the readers of input {i}"),
            &metrics,
            &shutdown,
        )
        .await;
    }
    if let Some(d) = delivery {
        d.finish(&metrics, &shutdown).await;
    }
    // The last backups and deletes; each object's group settles when its own is done.
    drop(finaliser);
    supervise::expect_clean_end(
        finaliser_task,
        "the backups and deletes after delivery",
        &metrics,
        &shutdown,
    )
    .await;
    reporter.abort();
    let _ = reporter.await;
    Ok(ImportSummary {
        metrics,
        elapsed: start.elapsed(),
        failure: shutdown.failure(),
    })
}

/// Hands each listed object to a free reader, with a group that counts it when it settles.
async fn feed_readers(
    readers: Readers,
    mut rx: mpsc::Receiver<Listed>,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) {
    while let Some(l) = rx.recv().await {
        if shutdown.is_stopping() {
            break;
        }
        let slot = readers.slot().await;
        let path = l.object.path();
        let m = metrics.clone();
        let ack = AckGroup::new(path.clone(), move |o| match o {
            Outcome::Delivered => Metrics::add(&m.import_objects_done, 1),
            Outcome::Kept(_) => Metrics::add(&m.import_objects_failed, 1),
            Outcome::Failed(reason) => {
                Metrics::add(&m.import_objects_failed, 1);
                tracing::error!(object = %path, %reason, "not imported");
            }
        });
        readers
            .read(
                slot,
                Job {
                    objects: vec![l.object],
                    ack,
                },
            )
            .await;
    }
}

/// `--dry-run`: each listed object, its size, and what a real run would do with it: the format it would
/// be read as, or why not (no format for its key, not a log).
async fn print_listing(mut rx: mpsc::Receiver<Listed>, formats: crate::config::Formats) {
    use std::io::Write;
    while let Some(l) = rx.recv().await {
        let o = &l.object;
        let what = match formats.choose(&o.bucket, &o.key) {
            None => {
                "unmatched: no format for this key (file_selectors, log_format), not read".into()
            }
            Some(spec) => match spec.descriptor().not_a_log.and_then(|f| f(&o.key)) {
                Some(why) => format!("skipped: {why}"),
                None => spec.format().name().to_string(),
            },
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}\t{}\t{what}", o.path(), l.size);
    }
}

/// `--to-queue`: one S3 notification per object, in batches of 10.
async fn send_notifications(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    mut rx: mpsc::Receiver<Listed>,
    metrics: Arc<Metrics>,
) {
    let mut pending: Vec<Listed> = Vec::with_capacity(batch::MAX_ENTRIES);
    loop {
        let next = rx.recv().await;
        let end = next.is_none();
        pending.extend(next);
        if pending.len() == batch::MAX_ENTRIES || (end && !pending.is_empty()) {
            let bodies: Vec<String> = pending
                .iter()
                .map(|l| notification_body(&l.object, l.size))
                .collect();
            for (l, r) in pending
                .iter()
                .zip(batch::send(&sqs, &queue_url, &bodies).await)
            {
                match r {
                    Ok(()) => Metrics::add(&metrics.sqs_notifications_sent, 1),
                    Err(why) => {
                        Metrics::add(&metrics.sqs_notifications_failed, 1);
                        tracing::error!(queue = %queue_url, object = %l.object.path(), error = %why, "SendMessage failed for one object");
                    }
                }
            }
            pending.clear();
        }
        if end {
            return;
        }
    }
}

/// The S3 event notification S3 itself would send for an object (key URL-encoded, space as `+`).
pub fn notification_body(o: &ObjectRef, size: u64) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "s3logsbeat-s3import"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "s3logsbeat-s3import",
               "bucket": {"name": o.bucket, "arn": format!("arn:aws:s3:::{}", o.bucket)},
               "object": {"key": percent::encode(&o.key, percent::Set::NotificationKey), "size": size}}
    }]})
    .to_string()
}

/// A progress bar on a terminal, else a log line every 5 s.
async fn report_progress(metrics: Arc<Metrics>, listing_done: Arc<AtomicBool>, shutdown: Shutdown) {
    let tty = std::io::stderr().is_terminal();
    let start = Instant::now();
    let every = if tty {
        Duration::from_millis(250)
    } else {
        Duration::from_secs(5)
    };
    loop {
        if !shutdown.sleep(every).await {
            return;
        }
        let r = Ordering::Relaxed;
        let m = &metrics;
        let (listed, done) = (
            m.s3_objects_listed.load(r),
            m.import_objects_done.load(r) + m.import_objects_failed.load(r),
        );
        let (total, read) = (m.s3_listed_bytes.load(r), m.s3_bytes.load(r));
        let events = m.events_delivered.load(r);
        let secs = start.elapsed().as_secs_f64().max(0.001);
        let rate = read as f64 / secs;
        let eta = if listing_done.load(r) && rate > 0.0 && total >= read {
            format!("{:.0}s", (total - read) as f64 / rate)
        } else {
            "?".into()
        };
        if tty {
            let frac = if total > 0 {
                read as f64 / total as f64
            } else {
                0.0
            };
            let filled = ((frac.min(1.0)) * 30.0) as usize;
            let _ = write!(
                std::io::stderr(),
                "\r[{}{}] {done}/{listed} objects, {:.1}/{:.1} MB, {events} events, {:.1} MB/s, ETA {eta}   ",
                "#".repeat(filled),
                "-".repeat(30 - filled),
                read as f64 / 1e6,
                total as f64 / 1e6,
                rate / 1e6
            );
        } else {
            tracing::info!(
                "s3import: {done}/{listed} objects, {read}/{total} bytes, {events} events delivered, {:.1} MB/s, ETA {eta}",
                rate / 1e6
            );
        }
    }
}
