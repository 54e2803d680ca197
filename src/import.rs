//! `s3logsbeat s3import` (also `s3imports`, the original's name): the `type: s3` inputs, once.
//!
//! Listers page through `ListObjectsV2` for each `s3://bucket/prefix` and keep objects whose LastModified
//! is in `[since, to)`; readers (`workers` per input) read them through the same parser, outputs and `_id`s
//! as the daemon, so importing what the daemon already shipped, or importing twice, adds no document. The
//! run ends when every object was read and every event acknowledged; it succeeds only then.
//!
//! `--dry-run` lists and reads nothing. `--to-queue URL` sends one S3 event notification per object to an
//! SQS queue instead of reading it, so every daemon on that queue shares the backfill.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::ack::AckGroup;
use crate::config::values::S3Uri;
use crate::config::{InputSettings, InputSource, Settings};
use crate::fetch::{chain, read_object, FetchError};
use crate::inputs::notification::ObjectRef;
use crate::metrics::Metrics;
use crate::outputs::SetupError;
use crate::pipeline;
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

/// A listed object.
#[derive(Clone, Debug)]
struct Listed {
    object: ObjectRef,
    size: u64,
}

/// Progress counters (on top of [`Metrics`]).
#[derive(Debug, Default)]
pub struct Progress {
    /// Objects listed inside the time window.
    pub objects_listed: AtomicU64,
    /// Their bytes.
    pub bytes_listed: AtomicU64,
    /// Objects outside the window.
    pub objects_skipped: AtomicU64,
    /// Objects finished (read, missing or failed).
    pub objects_done: AtomicU64,
    /// Listing errors.
    pub list_errors: AtomicU64,
    /// Notifications sent (`--to-queue`).
    pub notifications_sent: AtomicU64,
    /// All listing is finished.
    pub listing_done: AtomicBool,
}

/// How the import ended.
#[derive(Debug)]
pub struct ImportSummary {
    /// Pipeline counters.
    pub metrics: Arc<Metrics>,
    /// Import counters.
    pub progress: Arc<Progress>,
    /// Seconds.
    pub elapsed: Duration,
}

impl ImportSummary {
    /// Everything listed was read and every event acknowledged (or every notification sent).
    pub fn complete(&self, mode: &ImportMode) -> bool {
        let m = &self.metrics;
        let p = &self.progress;
        let r = Ordering::Relaxed;
        if p.list_errors.load(r) > 0 {
            return false;
        }
        match mode {
            ImportMode::DryRun => true,
            ImportMode::ToQueue(_) => p.notifications_sent.load(r) == p.objects_listed.load(r),
            ImportMode::Read => {
                m.s3_objects_failed.load(r) == 0
                    && p.objects_done.load(r) == p.objects_listed.load(r)
                    && m.events_published.load(r) == m.events_delivered.load(r)
            }
        }
    }

    /// One line of counters.
    pub fn line(&self) -> String {
        let r = Ordering::Relaxed;
        let p = &self.progress;
        format!(
            "objects_listed={} bytes_listed={} objects_outside_window={} list_errors={} notifications_sent={} seconds={:.1} {}",
            p.objects_listed.load(r),
            p.bytes_listed.load(r),
            p.objects_skipped.load(r),
            p.list_errors.load(r),
            p.notifications_sent.load(r),
            self.elapsed.as_secs_f64(),
            self.metrics.summary()
        )
    }
}

/// Runs the import.
pub async fn run(
    settings: Settings,
    mode: ImportMode,
    shutdown: Shutdown,
) -> Result<ImportSummary, SetupError> {
    let start = Instant::now();
    let metrics = Arc::new(Metrics::default());
    let progress = Arc::new(Progress::default());
    let reporter = tokio::spawn(report_progress(
        metrics.clone(),
        progress.clone(),
        shutdown.clone(),
    ));
    let (queue_tx, delivery) = if mode == ImportMode::Read {
        let (q, d) = pipeline::start_delivery(&settings, metrics.clone(), shutdown.clone())?;
        (Some(q), Some(d))
    } else {
        (None, None)
    };
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    for input in &settings.inputs {
        let InputSource::S3 { buckets, since, to } = &input.source else {
            continue;
        };
        let clients = crate::aws::clients(&input.aws).await;
        let input = Arc::new(input.clone());
        let (obj_tx, obj_rx) = mpsc::channel::<Listed>(1000);
        for uri in buckets {
            tasks.spawn(list(
                clients.s3.clone(),
                uri.clone(),
                *since,
                *to,
                obj_tx.clone(),
                progress.clone(),
                shutdown.clone(),
            ));
        }
        drop(obj_tx);
        let workers = input_workers(&input);
        match &mode {
            ImportMode::DryRun => {
                tasks.spawn(print_listing(obj_rx));
            }
            ImportMode::ToQueue(url) => {
                tasks.spawn(send_notifications(
                    clients.sqs.clone(),
                    url.clone(),
                    obj_rx,
                    progress.clone(),
                ));
            }
            ImportMode::Read => {
                let ctx = ReadCtx {
                    s3: clients.s3.clone(),
                    input: input.clone(),
                    queue: queue_tx.clone().expect("read mode has a queue"),
                    metrics: metrics.clone(),
                    progress: progress.clone(),
                    shutdown: shutdown.clone(),
                    done: done_tx.clone(),
                };
                tasks.spawn(read_all(ctx, obj_rx, workers));
            }
        }
    }
    drop(queue_tx);
    drop(done_tx);
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    progress.listing_done.store(true, Ordering::Relaxed);
    if let Some(d) = delivery {
        d.finish().await;
    }
    while done_rx.recv().await.is_some() {}
    reporter.abort();
    let _ = reporter.await;
    Ok(ImportSummary {
        metrics,
        progress,
        elapsed: start.elapsed(),
    })
}

fn input_workers(input: &InputSettings) -> usize {
    input.workers.max(1)
}

/// Lists one `s3://bucket/prefix`, keeping objects with LastModified in `[since, to)`.
async fn list(
    s3: aws_sdk_s3::Client,
    uri: S3Uri,
    since: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    out: mpsc::Sender<Listed>,
    progress: Arc<Progress>,
    shutdown: Shutdown,
) {
    let mut pages = s3
        .list_objects_v2()
        .bucket(&uri.bucket)
        .prefix(&uri.prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        if shutdown.is_stopping() {
            return;
        }
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                progress.list_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(uri = %uri, error = %chain(&e), "ListObjectsV2 failed; this bucket/prefix is not imported");
                return;
            }
        };
        for o in page.contents() {
            let Some(key) = o.key() else { continue };
            if key.ends_with('/') && o.size().unwrap_or(0) == 0 {
                continue; // a "folder" placeholder
            }
            let lm = o
                .last_modified()
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()));
            let inside = match lm {
                None => true,
                Some(t) => since.is_none_or(|s| t >= s) && to.is_none_or(|u| t < u),
            };
            if !inside {
                progress.objects_skipped.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(target: "s3logsbeat::s3", object = %format!("s3://{}/{key}", uri.bucket), last_modified = ?lm, "outside since/to");
                continue;
            }
            let size = o.size().unwrap_or(0).max(0) as u64;
            progress.objects_listed.fetch_add(1, Ordering::Relaxed);
            progress.bytes_listed.fetch_add(size, Ordering::Relaxed);
            let listed = Listed {
                object: ObjectRef {
                    bucket: uri.bucket.clone(),
                    key: key.to_string(),
                },
                size,
            };
            if out.send(listed).await.is_err() {
                return;
            }
        }
    }
}

async fn print_listing(mut rx: mpsc::Receiver<Listed>) {
    use std::io::Write;
    while let Some(l) = rx.recv().await {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}\t{}", l.object.path(), l.size);
    }
}

/// `--to-queue`: one S3 notification per object, in batches of 10.
async fn send_notifications(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    mut rx: mpsc::Receiver<Listed>,
    progress: Arc<Progress>,
) {
    let mut batch: Vec<Listed> = Vec::with_capacity(10);
    loop {
        let next = rx.recv().await;
        let end = next.is_none();
        if let Some(l) = next {
            batch.push(l);
        }
        if batch.len() == 10 || (end && !batch.is_empty()) {
            let mut req = sqs.send_message_batch().queue_url(&queue_url);
            for (i, l) in batch.iter().enumerate() {
                req = req.entries(
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(notification_body(&l.object, l.size))
                        .build()
                        .expect("id and body are set"),
                );
            }
            match req.send().await {
                Ok(out) => {
                    progress
                        .notifications_sent
                        .fetch_add(out.successful().len() as u64, Ordering::Relaxed);
                    for f in out.failed() {
                        tracing::error!(queue = %queue_url, code = %f.code(), "SendMessage failed for one object");
                    }
                }
                Err(e) => {
                    tracing::error!(queue = %queue_url, error = %chain(&e), objects = batch.len(), "SendMessageBatch failed")
                }
            }
            batch.clear();
        }
        if end {
            return;
        }
    }
}

/// The S3 event notification S3 itself would send for an object (key URL-encoded, space as `+`).
pub fn notification_body(o: &ObjectRef, size: u64) -> String {
    let mut key = String::new();
    for b in o.key.bytes() {
        match b {
            b' ' => key.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => {
                key.push(b as char)
            }
            _ => key.push_str(&format!("%{b:02X}")),
        }
    }
    serde_json::json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "s3logsbeat-s3import"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "s3logsbeat-s3import",
               "bucket": {"name": o.bucket, "arn": format!("arn:aws:s3:::{}", o.bucket)},
               "object": {"key": key, "size": size}}
    }]})
    .to_string()
}

#[derive(Clone)]
struct ReadCtx {
    s3: aws_sdk_s3::Client,
    input: Arc<InputSettings>,
    queue: crate::queue::QueueSender,
    metrics: Arc<Metrics>,
    progress: Arc<Progress>,
    shutdown: Shutdown,
    done: mpsc::UnboundedSender<crate::ack::Completion>,
}

/// Reads listed objects, at most `workers` at once.
async fn read_all(ctx: ReadCtx, mut rx: mpsc::Receiver<Listed>, workers: usize) {
    let sem = Arc::new(Semaphore::new(workers));
    let mut set = JoinSet::new();
    while let Some(l) = rx.recv().await {
        if ctx.shutdown.is_stopping() {
            break;
        }
        let permit = sem.clone().acquire_owned().await.expect("never closed");
        let ctx = ctx.clone();
        set.spawn(async move {
            let _permit = permit;
            let ack = AckGroup::new(1, None, ctx.done.clone());
            let r = read_object(&ctx.s3, &l.object, &ctx.input, &ctx.queue, &ack, &ctx.metrics, &ctx.shutdown).await;
            match r {
                Ok(_) => {
                    Metrics::add(&ctx.metrics.s3_objects_read, 1);
                    ack.object_done(true);
                }
                Err(FetchError::Missing(path)) => {
                    Metrics::add(&ctx.metrics.s3_objects_missing, 1);
                    tracing::warn!(object = %path, "listed object disappeared before it was read (NoSuchKey)");
                    ack.object_done(true);
                }
                Err(FetchError::Aborted) => ack.object_done(false),
                Err(e) => {
                    Metrics::add(&ctx.metrics.s3_objects_failed, 1);
                    tracing::error!(error = %e, "object could not be read; it is not imported");
                    ack.object_done(false);
                }
            }
            ctx.progress.objects_done.fetch_add(1, Ordering::Relaxed);
        });
        while set.try_join_next().is_some() {}
    }
    while let Some(r) = set.join_next().await {
        if let Err(e) = r {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}

/// A progress bar on a terminal, else a log line every 5 s.
async fn report_progress(metrics: Arc<Metrics>, progress: Arc<Progress>, shutdown: Shutdown) {
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
        let (listed, done) = (
            progress.objects_listed.load(r),
            progress.objects_done.load(r),
        );
        let (total, read) = (progress.bytes_listed.load(r), metrics.s3_bytes.load(r));
        let events = metrics.events_delivered.load(r);
        let secs = start.elapsed().as_secs_f64().max(0.001);
        let rate = read as f64 / secs;
        let eta = if progress.listing_done.load(r) && rate > 0.0 && total >= read {
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
            eprint!(
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
