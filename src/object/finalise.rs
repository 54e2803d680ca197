//! What becomes of an object once every event of it is delivered (or dead-lettered): a copy to the
//! backup bucket (`backup_to_bucket_arn` + `backup_to_bucket_prefix`), then a delete
//! (`delete_after_backup`, `delete_after_read`). Objects read to their end, with the ETag of the version
//! read, come in; S3 calls go out, and each object's outcome goes back to the group it belongs to (an SQS
//! message, an imported or a polled object).
//!
//! What must stay true:
//! - Nothing is finalised before every event of the object is delivered, nor an object that could not
//!   be read (the reader gives the [`Finaliser`] only objects read to their end, through a group of their
//!   own that settles `Delivered` only when their last event is).
//! - The copy names the version read (`x-amz-copy-source-if-match`) and the delete carries its ETag
//!   (`If-Match`): an object overwritten since it was read is neither copied in its new version nor
//!   deleted. Objects over 5 GiB (CopyObject's limit) are copied in parts (`UploadPartCopy`).
//! - A failed copy never leads to a delete. A failure keeps the object and its group (for `sqs`, the
//!   message returns and the object is read again, its events with the same `_id`s), and is counted.
//! - Every finalisation runs in a task joined here. The work waiting is bounded by a budget of
//!   [`WAITING`] objects, taken by the reader before it reads an object that will be finalised and given
//!   back when that object is done: readers wait (and so do the sources behind them) rather than the
//!   backlog growing, and the queue in front of the tasks, as large as the budget, is never full.

use std::sync::Arc;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::ack::Obligation;
use crate::config::s3::Finalise;
use crate::error::chain;
use crate::object::ObjectRef;
use crate::ops::metrics::Metrics;
use crate::ops::supervise;

/// CopyObject's limit: larger objects are copied in parts.
pub const COPY_LIMIT: u64 = 5 << 30;
/// The size of a copied part (S3 takes 5 MiB to 5 GiB, at most 10,000 parts).
pub const PART_BYTES: u64 = 512 << 20;
/// Objects finalised at once.
const AT_ONCE: usize = 16;
/// Objects read and not yet finalised, at most (being read, their events on their way, or waiting here).
pub const WAITING: usize = 1024;

/// One object to finalise, with the group's hold that its outcome discharges.
pub struct Job {
    /// The object.
    pub object: ObjectRef,
    /// The ETag of the version read.
    pub etag: Option<String>,
    /// Its size in bytes.
    pub size: u64,
    /// What to do.
    pub what: Finalise,
    /// The S3 client of its bucket's region.
    pub s3: aws_sdk_s3::Client,
    /// Held on the object's source group until the object is finalised.
    pub hold: Obligation,
    /// The object's share of the budget (see [`Finaliser::budget`]), given back when it is done.
    pub budget: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("object", &self.object).finish()
    }
}

/// Where readers hand objects to finalise; clone it to share it.
#[derive(Clone, Debug)]
pub struct Finaliser {
    tx: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
    budget: Arc<Semaphore>,
}

impl Finaliser {
    /// Starts the finaliser; its task ends when every [`Finaliser`] clone is dropped and every object
    /// handed to it is finalised.
    pub fn start(metrics: Arc<Metrics>) -> (Finaliser, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(WAITING);
        let task = tokio::spawn(run(rx, metrics.clone()));
        let budget = Arc::new(Semaphore::new(WAITING));
        (
            Finaliser {
                tx,
                metrics,
                budget,
            },
            task,
        )
    }

    /// A share of the budget for one object to be finalised; waits while [`WAITING`] objects are read
    /// and not yet finalised.
    pub async fn budget(&self) -> OwnedSemaphorePermit {
        self.budget
            .clone()
            .acquire_owned()
            .await
            .expect("the budget is never closed")
    }

    /// Hands `job` over; never waits (it is called where an output acknowledges). The queue has room for
    /// every share of the budget, so it is full only for a job handed over without one (then the object is
    /// kept, read again later, and counted).
    pub fn submit(&self, job: Job) {
        if let Err(e) = self.tx.try_send(job) {
            let job = match e {
                mpsc::error::TrySendError::Full(j) | mpsc::error::TrySendError::Closed(j) => j,
            };
            Metrics::add(&self.metrics.s3_finalise_failures, 1);
            let path = job.object.path();
            tracing::error!(object = %path, "too many objects waiting for their backup or delete: kept, it is read again later");
            job.hold
                .group()
                .keep(format!("{path}: not finalised (too many waiting)"));
            job.hold.done();
        }
    }
}

async fn run(mut rx: mpsc::Receiver<Job>, metrics: Arc<Metrics>) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            next = rx.recv(), if tasks.len() < AT_ONCE => match next {
                Some(job) => {
                    tasks.spawn(one(job, metrics.clone()));
                }
                None => break,
            },
            Some(r) = tasks.join_next(), if !tasks.is_empty() => look(r, &metrics),
        }
    }
    while let Some(r) = tasks.join_next().await {
        look(r, &metrics);
    }
}

fn look(r: Result<(), tokio::task::JoinError>, metrics: &Metrics) {
    // A task ending any other way dropped its hold undone: its group failed and comes back.
    if let Some(why) = supervise::join_error(r) {
        Metrics::add(&metrics.task_panics, 1);
        tracing::error!("a backup or delete task {why}; its object's group failed and comes back");
    }
}

/// Finalises one object and discharges its hold with the outcome.
async fn one(job: Job, metrics: Arc<Metrics>) {
    let path = job.object.path();
    match finalise(&job, &metrics).await {
        Ok(()) => job.hold.done(),
        Err(why) => {
            Metrics::add(&metrics.s3_finalise_failures, 1);
            tracing::error!(object = %path, error = %why, "backup or delete after delivery failed: the object is kept and read again");
            job.hold.group().keep(format!("{path}: {why}"));
            job.hold.done();
        }
    }
}

async fn finalise(job: &Job, metrics: &Metrics) -> Result<(), String> {
    let o = &job.object;
    if let Some(b) = &job.what.backup {
        let to_key = format!("{}{}", b.prefix, o.key);
        if b.bucket == o.bucket && b.prefix.is_empty() {
            // `test config` refuses this for listed inputs; an sqs input learns the bucket here.
            return Err(format!(
                "the backup would be the object itself (backup_to_bucket_prefix is empty and s3://{} is the object's bucket): not copied, not deleted",
                b.bucket
            ));
        }
        copy(job, &b.bucket, &to_key).await?;
        Metrics::add(&metrics.s3_objects_backed_up, 1);
        tracing::debug!(target: "s3logsbeat::s3", object = %o.path(), backup = %format!("s3://{}/{to_key}", b.bucket), "backed up");
    }
    if job.what.delete {
        let mut call = job.s3.delete_object().bucket(&o.bucket).key(&o.key);
        if let Some(e) = &job.etag {
            call = call.if_match(e);
        }
        match call.send().await {
            Ok(_) => {
                Metrics::add(&metrics.s3_objects_deleted, 1);
                tracing::debug!(target: "s3logsbeat::s3", object = %o.path(), "deleted after delivery");
            }
            Err(e) if e.code() == Some("PreconditionFailed") => {
                Metrics::add(&metrics.s3_objects_changed_before_delete, 1);
                tracing::warn!(object = %o.path(), "changed since it was read (its ETag is another): not deleted; the new version is read when it is listed or notified");
            }
            Err(e) if e.code() == Some("NoSuchKey") => {
                tracing::debug!(target: "s3logsbeat::s3", object = %o.path(), "already gone");
            }
            Err(e) => return Err(format!("DeleteObject failed: {}", chain(&e))),
        }
    }
    Ok(())
}

/// `bucket/key` for `x-amz-copy-source`, the key percent-encoded (its `/` kept).
fn copy_source(o: &ObjectRef) -> String {
    format!(
        "{}/{}",
        o.bucket,
        crate::percent::encode(&o.key, crate::percent::Set::Path)
    )
}

/// Copies the object to `bucket/key`: in one CopyObject up to [`COPY_LIMIT`], in parts above it.
async fn copy(job: &Job, bucket: &str, key: &str) -> Result<(), String> {
    let (limit, part) = limits();
    if job.size <= limit {
        let mut call = job
            .s3
            .copy_object()
            .copy_source(copy_source(&job.object))
            .bucket(bucket)
            .key(key);
        if let Some(e) = &job.etag {
            call = call.copy_source_if_match(e);
        }
        return call
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("CopyObject to s3://{bucket}/{key} failed: {}", chain(&e)));
    }
    let created = job
        .s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            format!(
                "CreateMultipartUpload of s3://{bucket}/{key} failed: {}",
                chain(&e)
            )
        })?;
    let Some(upload) = created.upload_id().map(String::from) else {
        return Err(format!(
            "CreateMultipartUpload of s3://{bucket}/{key} gave no upload id"
        ));
    };
    let copied = copy_parts(job, bucket, key, &upload, part).await;
    match copied {
        Ok(parts) => job
            .s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "CompleteMultipartUpload of s3://{bucket}/{key} failed: {}",
                    chain(&e)
                )
            }),
        Err(why) => {
            // The parts copied so far would be billed until a lifecycle rule removes them.
            if let Err(e) = job
                .s3
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload)
                .send()
                .await
            {
                tracing::warn!(backup = %format!("s3://{bucket}/{key}"), error = %chain(&e), "the unfinished multipart copy could not be aborted");
            }
            Err(why)
        }
    }
}

async fn copy_parts(
    job: &Job,
    bucket: &str,
    key: &str,
    upload: &str,
    part: u64,
) -> Result<Vec<CompletedPart>, String> {
    // At most 10,000 parts: a larger object takes larger parts.
    let part = part.max(job.size.div_ceil(10_000));
    let mut parts = Vec::new();
    let mut start = 0u64;
    let mut n = 1i32;
    while start < job.size {
        let end = (start + part).min(job.size) - 1;
        let mut call = job
            .s3
            .upload_part_copy()
            .bucket(bucket)
            .key(key)
            .upload_id(upload)
            .part_number(n)
            .copy_source(copy_source(&job.object))
            .copy_source_range(format!("bytes={start}-{end}"));
        if let Some(e) = &job.etag {
            call = call.copy_source_if_match(e);
        }
        let out = call.send().await.map_err(|e| {
            format!(
                "UploadPartCopy {n} to s3://{bucket}/{key} failed: {}",
                chain(&e)
            )
        })?;
        let etag = out
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .map(String::from);
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(etag)
                .build(),
        );
        start = end + 1;
        n += 1;
    }
    Ok(parts)
}

/// The copy limit and part size: [`COPY_LIMIT`] and [`PART_BYTES`]; under the `fault-hooks` feature
/// (`make test`), `S3LOGSBEAT_COPY_PART_BYTES` sets both, so a test copies a small object in parts.
fn limits() -> (u64, u64) {
    #[cfg(feature = "fault-hooks")]
    if let Some(n) = std::env::var("S3LOGSBEAT_COPY_PART_BYTES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return (n, n);
    }
    (COPY_LIMIT, PART_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_encode_the_key_and_keep_its_slashes() {
        let o = ObjectRef {
            bucket: "b".into(),
            key: "AWSLogs/1/a b+c=é.log".into(),
            region: None,
        };
        assert_eq!(copy_source(&o), "b/AWSLogs/1/a%20b%2Bc%3D%C3%A9.log");
    }
}
