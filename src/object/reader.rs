//! The object stage, one for the daemon and `s3import`: jobs (objects to read, with the ack group they
//! belong to) in, events into the publish queue out, at most `workers` jobs at once per input.
//!
//! A source first takes a [`Slot`] (a free reader), then hands it a [`Job`]: the SQS poller asks for as
//! many messages as it got slots, so busy readers (a full publish queue keeps them busy) stop the polling;
//! the `s3import` lister waits for a slot per object, so listing never runs ahead of reading.
//!
//! The outcome policy, the same for both sources, per object:
//! - read to its end: counted (`s3_objects_read`);
//! - no format for its key (`file_selectors`, `log_format: auto`): not read, counted
//!   (`s3_objects_unmatched`); the group is not held back, or is kept under `unmatched: keep`;
//! - gone (NoSuchKey): nothing to retry, counted (`s3_objects_missing`), the group is not held back;
//! - could not be read (corrupt stream, access denied, network): counted (`s3_objects_failed`), logged with
//!   the object, and the group is **kept** (its SQS message returns after its visibility timeout);
//! - abandoned at shutdown, or the reader panicked: the object's obligation is dropped, the group
//!   **fails** (its message is made visible again at once). A panic is logged with the object and the
//!   group; the reader goes on with the next job.
//!
//! What must stay true: every job's task is joined and its end looked at; nothing here grows with the
//! number of objects (the job channel holds at most one job per reader).

use std::sync::Arc;

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::ack::AckGroup;
use crate::ack::Outcome;
use crate::config::{InputSettings, InputSource, Unmatched};
use crate::object::fetch::{read_object, FetchError, ObjectRead};
use crate::object::finalise::{self, Finaliser};
use crate::object::ObjectRef;
use crate::ops::metrics::Metrics;
use crate::ops::supervise;
use crate::queue::QueueSender;
use crate::shutdown::Shutdown;

/// Objects to read, in order, for one ack group.
#[derive(Debug)]
pub struct Job {
    /// The objects.
    pub objects: Vec<ObjectRef>,
    /// Their group (an SQS message, or one imported object).
    pub ack: AckGroup,
}

/// What every reader of one input shares.
#[derive(Clone, Debug)]
pub struct ReadContext {
    /// The input (format, enrichment, limits).
    pub input: Arc<InputSettings>,
    /// The input's AWS clients (S3 per bucket region).
    pub clients: Arc<crate::aws::Clients>,
    /// The publish queue.
    pub queue: QueueSender,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Shutdown.
    pub shutdown: Shutdown,
    /// Where objects go once delivered, when the input backs them up or deletes them.
    pub finaliser: Option<Finaliser>,
}

/// A free reader, taken before the work for it is fetched.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

/// The readers of one input; clone it to hand it to several sources.
#[derive(Clone, Debug)]
pub struct Readers {
    free: Arc<Semaphore>,
    jobs: mpsc::Sender<(Job, Slot)>,
}

impl Readers {
    /// Starts `workers` readers; the returned task ends when every [`Readers`] clone is dropped and
    /// every job is done.
    pub fn start(ctx: ReadContext, workers: usize) -> (Readers, tokio::task::JoinHandle<()>) {
        let workers = workers.max(1);
        let (tx, rx) = mpsc::channel(workers);
        let task = tokio::spawn(supervise_jobs(Arc::new(ctx), rx));
        (
            Readers {
                free: Arc::new(Semaphore::new(workers)),
                jobs: tx,
            },
            task,
        )
    }

    /// Starts the readers of `input` (`workers` of them).
    pub fn for_input(
        input: &InputSettings,
        clients: Arc<crate::aws::Clients>,
        queue: QueueSender,
        metrics: Arc<Metrics>,
        shutdown: Shutdown,
        finaliser: &Finaliser,
    ) -> (Readers, tokio::task::JoinHandle<()>) {
        let ctx = ReadContext {
            input: Arc::new(input.clone()),
            clients,
            queue,
            metrics,
            shutdown,
            finaliser: (!input.finalise.is_none()).then(|| finaliser.clone()),
        };
        Readers::start(ctx, input.workers)
    }

    /// Waits for a free reader.
    pub async fn slot(&self) -> Slot {
        Slot {
            _permit: self
                .free
                .clone()
                .acquire_owned()
                .await
                .expect("the reader semaphore is never closed"),
        }
    }

    /// Up to `max` readers that are free right now.
    pub fn free_slots(&self, max: usize) -> Vec<Slot> {
        (0..max)
            .map_while(|_| self.free.clone().try_acquire_owned().ok())
            .map(|p| Slot { _permit: p })
            .collect()
    }

    /// Gives a job to a free reader.
    pub async fn read(&self, slot: Slot, job: Job) {
        // The channel has room for one job per reader and a job only comes with a slot, so this never
        // waits long; it fails only if the supervisor is gone, and then dropping the job fails its group.
        if let Err(e) = self.jobs.send((job, slot)).await {
            let (job, _) = e.0;
            job.ack.fail("the readers stopped before the job was read");
        }
    }
}

/// Runs each job in its own task and looks at each task's end.
async fn supervise_jobs(ctx: Arc<ReadContext>, mut rx: mpsc::Receiver<(Job, Slot)>) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            next = rx.recv() => match next {
                Some((job, slot)) => {
                    tasks.spawn(run_job(ctx.clone(), job, slot));
                }
                None => break,
            },
            Some(r) = tasks.join_next(), if !tasks.is_empty() => report(&ctx, r),
        }
    }
    while let Some(r) = tasks.join_next().await {
        report(&ctx, r);
    }
}

fn report(ctx: &ReadContext, r: Result<(), tokio::task::JoinError>) {
    // Reader panics are caught per object in `run_job`; a task ending any other way is a bug worth a line.
    if let Some(why) = supervise::join_error(r) {
        Metrics::add(&ctx.metrics.task_panics, 1);
        tracing::error!(
            "a reader task {why}; its work failed and comes back ({})",
            ctx.returns()
        );
    }
}

impl ReadContext {
    /// Where failed work goes, in the source's words.
    fn returns(&self) -> &'static str {
        match self.input.source {
            InputSource::Sqs(_) => "its message returns to the queue",
            InputSource::S3(_) => "the import counts the object as failed",
            InputSource::S3Poll(_) => "the object is listed and read again",
            InputSource::CloudwatchLogs(_) => "its log group's window is read again",
        }
    }
}

/// Reads a job's objects in order; the slot is held until they are read (not until delivered).
async fn run_job(ctx: Arc<ReadContext>, job: Job, _slot: Slot) {
    let Job { objects, ack } = job;
    for obj in objects {
        let path = obj.path();
        if ctx.input.finalise.is_backup(&obj.bucket, &obj.key) {
            // The bucket notifies its own backups: reading one would index its events again under
            // another key, and back it up again.
            Metrics::add(&ctx.metrics.s3_objects_skipped, 1);
            tracing::warn!(object = %path, from = %ack.label(), "one of this input's backups (backup_to_bucket_prefix): not read; leave the backup prefix out of the bucket's notifications");
            continue;
        }
        let s3 = ctx.clients.s3_for(obj.region.as_deref());
        // An object backed up or deleted after delivery has a group of its own inside its source's,
        // which settles when its last event does.
        let (own, read) = match &ctx.finaliser {
            Some(f) => {
                // Before reading: while the finaliser is behind, the readers wait for it.
                let budget = f.budget().await;
                let (g, read) = finalising(f, &ctx, &obj, &s3, &ack, budget);
                (Some(g), Some(read))
            }
            None => (None, None),
        };
        let group = own.as_ref().unwrap_or(&ack);
        let reading = group.obligation("reading an object");
        let began = std::time::Instant::now();
        let r = supervise::guard(read_object(
            &s3,
            &obj,
            &ctx.input,
            &ctx.queue,
            group,
            &ctx.metrics,
            &ctx.shutdown,
        ))
        .await;
        let m = &ctx.metrics;
        match r {
            Ok(Ok(done)) => {
                let stats = &done.stats;
                // Objects that are not logs (a digest, a test file) are left as they are.
                if let (Some(read), false) = (&read, stats.skipped) {
                    let _ = read.set(done_info(&done));
                }
                Metrics::add(&m.s3_objects_read, 1);
                if stats.skipped {
                    Metrics::add(&m.s3_objects_skipped, 1);
                    tracing::info!(object = %path, "not a log (the load balancer's test file, a CloudTrail digest): skipped");
                }
                Metrics::add(&m.records_skipped, stats.skipped_records);
                m.live.object_seconds.observe(began.elapsed().as_secs_f64());
                tracing::debug!(target: "s3logsbeat::s3", object = %path, events = stats.events, lines = stats.lines, from = %ack.label(), "object read");
                reading.done();
            }
            Ok(Err(FetchError::Missing(_))) => {
                Metrics::add(&m.s3_objects_missing, 1);
                tracing::warn!(object = %path, from = %ack.label(), "object does not exist (NoSuchKey): nothing to read");
                reading.done();
            }
            Ok(Err(FetchError::Unmatched(_))) => {
                Metrics::add(&m.s3_objects_unmatched, 1);
                let sqs = matches!(ctx.input.source, InputSource::Sqs(_));
                match ctx.input.formats.unmatched {
                    Unmatched::Delete => {
                        let then = if sqs {
                            "its notification is deleted (unmatched: keep keeps it)"
                        } else {
                            "counted as done (unmatched: keep counts it as failed)"
                        };
                        tracing::warn!(object = %path, from = %ack.label(),
                            "no format for this key (file_selectors, log_format): not read, {then}");
                    }
                    Unmatched::Keep => {
                        let then = if sqs {
                            "its notification is kept (unmatched: keep)"
                        } else {
                            "counted as failed (unmatched: keep)"
                        };
                        tracing::warn!(object = %path, from = %ack.label(),
                            "no format for this key (file_selectors, log_format): not read, {then}");
                        group.keep(format!("{path}: no format for this key"));
                    }
                }
                reading.done();
            }
            Ok(Err(FetchError::Aborted)) => {
                // The obligation is dropped undone: the group fails, the message returns at once.
                drop(reading);
                break;
            }
            Ok(Err(e)) => {
                Metrics::add(&m.s3_objects_failed, 1);
                tracing::error!(object = %path, from = %ack.label(), error = %e, "object could not be read");
                group.keep(e.to_string());
                reading.done();
            }
            Err(panic) => {
                Metrics::add(&m.task_panics, 1);
                tracing::error!(object = %path, from = %ack.label(),
                    "reader panicked: {panic}; the object's group failed and comes back");
                group.fail(format!("the reader of {path} panicked: {panic}"));
                drop(reading);
                break;
            }
        }
    }
}

/// What a finalisation needs of the read: the version and size.
type ReadInfo = (Option<String>, u64);

fn done_info(done: &ObjectRead) -> ReadInfo {
    (done.etag.clone(), done.size)
}

/// The group of one object that is finalised after delivery: when it settles `Delivered` with the object
/// read to its end (`read` set), the object goes to the finaliser holding `source` until it is done; any
/// other outcome goes to `source` as it is.
fn finalising(
    f: &Finaliser,
    ctx: &ReadContext,
    obj: &ObjectRef,
    s3: &aws_sdk_s3::Client,
    source: &AckGroup,
    budget: tokio::sync::OwnedSemaphorePermit,
) -> (AckGroup, Arc<std::sync::OnceLock<ReadInfo>>) {
    let read: Arc<std::sync::OnceLock<ReadInfo>> = Arc::new(std::sync::OnceLock::new());
    let hold = source.obligation("backing up or deleting an object");
    let (f, what, object, s3, info) = (
        f.clone(),
        ctx.input.finalise.clone(),
        obj.clone(),
        s3.clone(),
        read.clone(),
    );
    let g = AckGroup::new(obj.path(), move |outcome| match outcome {
        Outcome::Delivered => match info.get() {
            Some((etag, size)) => f.submit(finalise::Job {
                object,
                etag: etag.clone(),
                size: *size,
                what,
                s3,
                hold,
                budget: Some(budget),
            }),
            // Not read (missing, unmatched, not a log): nothing to finalise.
            None => hold.done(),
        },
        other => {
            hold.group().record(other);
            hold.done();
        }
    });
    (g, read)
}
