//! `type: s3` with `bucket_arn` (or `non_aws_bucket_name`): a bucket without notifications, listed by the
//! daemon. The input's settings in; objects to the same readers as notified ones, and each prefix's
//! cursor in the state store, out.
//!
//! Each prefix is its own unit of work with its own lease (`lease.s3_poll.<id>`) and cursor
//! ([`cursor`]): the instance holding the lease lists the prefix from its cursor every
//! `bucket_list_interval`, hands each new object to a free reader (so listing never runs ahead of reading)
//! and, as objects settle, moves the cursor over those delivered and writes it (at most every
//! [`SAVE_EVERY`], and at the end of each listing). Several instances share a bucket by prefix; a prefix
//! whose holder dies is taken over when its lease expires, from the last cursor written.
//!
//! What must stay true: an object is done only when every event of it is delivered (or dead-lettered),
//! or it is outside `start_timestamp`/`ignore_older`, or its reads failed [`cursor::MAX_ATTEMPTS`] times
//! (logged with the object and counted); only the lease's holder lists; every object handed to a reader
//! settles, and its settlement comes back on a channel that has room for every object in flight.

pub mod cursor;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::ack::{AckGroup, Outcome};
use crate::config::s3::S3PollSettings;
use crate::config::{InputSettings, StateSettings};
use crate::error::chain;
use crate::object::reader::{Job, Readers};
use crate::object::ObjectRef;
use crate::ops::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::state::lease::{now_ms, Lease, Taken};
use crate::state::Store;
use cursor::{Cursor, Status, MAX_ATTEMPTS, MAX_RECENT};

/// How often a cursor that moved is written while a listing runs.
pub const SAVE_EVERY: Duration = Duration::from_secs(5);

/// A stable name of one polled prefix: its cursor and lease are named after it, so reordering inputs in
/// the file keeps them.
pub fn prefix_id(bucket: &str, prefix: &str) -> String {
    let h = blake3::hash(format!("{bucket}\n{prefix}").as_bytes());
    format!("s3_poll.{}", &h.to_hex()[..12])
}

/// One polled prefix, ready to run.
#[derive(Debug, Clone)]
pub struct Prefix {
    /// Its input.
    pub input: Arc<InputSettings>,
    /// The input's polling settings.
    pub poll: S3PollSettings,
    /// The prefix.
    pub prefix: String,
    /// The S3 client (the input's region).
    pub s3: aws_sdk_s3::Client,
    /// The input's readers.
    pub readers: Readers,
    /// Where cursors and leases live.
    pub store: Store,
    /// `state`.
    pub state: StateSettings,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The run's state.
    pub shutdown: Shutdown,
    /// `--once`: one listing, every object found settled, then end.
    pub once: bool,
    /// The age of the oldest object found and not done, in seconds: a gauge.
    pub lag_s: Arc<AtomicU64>,
}

/// What settled, sent back by an object's group.
type Settled = (String, Outcome);

impl Prefix {
    fn label(&self) -> String {
        format!("s3://{}/{}", self.poll.bucket, self.prefix)
    }

    /// Runs until shutdown (or, with `once`, one listing). `Err`: the prefix cannot go on (its cursor
    /// is not readable); the message names what.
    pub async fn run(self) -> Result<(), String> {
        let id = prefix_id(&self.poll.bucket, &self.prefix);
        let key = format!("s3logsbeat.inputs.{}", self.input.index);
        let label = self.label();
        let mut cursor = Cursor::load(self.store.clone(), &id)
            .await
            .map_err(|e| format!("{key}: the cursor of {label} cannot be read: {e}"))?;
        let holder = crate::state::lease::instance_name();
        let mut lease = Lease::new(self.store.clone(), &id, &holder, self.state.lease_duration);
        tracing::info!(input = %key, prefix = %label, cursor = %cursor.describe(), after = %cursor.after(), instance = %holder, "polling");
        let (tx, mut rx) = mpsc::channel::<Settled>(MAX_RECENT);
        let mut listing = 0u64;
        let mut busy_logged = None;
        let mut once_busy_since: Option<Instant> = None;
        loop {
            if self.shutdown.is_stopping() {
                break;
            }
            match lease.try_take(now_ms()).await {
                Ok(Taken::Held { until_ms }) => {
                    self.metrics.live.lease(&label, &holder, true, until_ms);
                    if busy_logged.take().is_some() {
                        tracing::info!(prefix = %label, lease = %lease.describe(), "lease taken over: listing");
                        // The holder before us wrote where it got to.
                        cursor = Cursor::load(self.store.clone(), &id).await.map_err(|e| {
                            format!("{key}: the cursor of {label} cannot be read: {e}")
                        })?;
                    }
                }
                Ok(Taken::Busy { holder, until_ms }) => {
                    self.metrics.live.lease(&label, &holder, false, until_ms);
                    if busy_logged.as_ref() != Some(&holder) {
                        tracing::info!(prefix = %label, %holder, lease = %lease.describe(), "another instance holds the lease; waiting to take over");
                        busy_logged = Some(holder.clone());
                    }
                    let waited = *once_busy_since.get_or_insert_with(Instant::now);
                    if self.once && waited.elapsed() > self.state.lease_duration * 2 {
                        return Err(format!("{key}: another instance ({holder}) holds the lease of {label} ({}) and keeps it: --once has nothing to read", lease.describe()));
                    }
                    let wait = Duration::from_millis(until_ms.saturating_sub(now_ms()))
                        .clamp(Duration::from_secs(1), self.poll.interval);
                    if !self.shutdown.sleep(wait).await {
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(prefix = %label, error = %e, "lease: cannot be read or written; trying again");
                    if self.once || !self.shutdown.sleep(self.poll.interval).await {
                        return Err(format!("{key}: lease of {label}: {e}"));
                    }
                    continue;
                }
            }
            listing += 1;
            Metrics::add(&self.metrics.s3_poll_listings, 1);
            let ended = self
                .list_once(&mut cursor, &mut lease, listing, &tx, &mut rx)
                .await;
            // `--once` (and a lost lease) waits for what it handed out; the daemon settles it as it comes.
            if self.once || ended == Ended::LeaseLost || self.shutdown.is_stopping() {
                while cursor.reading() > 0 {
                    match rx.recv().await {
                        Some(s) => self.settle(&mut cursor, s, listing),
                        None => break,
                    }
                }
            }
            if ended == Ended::Complete {
                for k in cursor.forget_gone(listing) {
                    tracing::info!(object = %format!("s3://{}/{k}", self.poll.bucket), "no longer listed: its retries end");
                }
            }
            self.save(&mut cursor, &label).await;
            if self.once {
                break;
            }
            // Between listings, settle what comes back and write the cursor as it moves.
            let next = Instant::now() + self.poll.interval;
            let mut last_save = Instant::now();
            loop {
                let left = next.saturating_duration_since(Instant::now());
                if left.is_zero() || self.shutdown.is_stopping() {
                    break;
                }
                tokio::select! {
                    Some(s) = rx.recv() => {
                        self.settle(&mut cursor, s, listing);
                        if last_save.elapsed() >= SAVE_EVERY {
                            self.save(&mut cursor, &label).await;
                            last_save = Instant::now();
                        }
                    }
                    _ = self.shutdown.sleep(left) => {}
                }
            }
            self.save(&mut cursor, &label).await;
        }
        // At shutdown, what is still being read settles as failed or delivered; the cursor keeps what it knows.
        drop(tx);
        while cursor.reading() > 0 {
            match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
                Ok(Some(s)) => self.settle(&mut cursor, s, listing),
                _ => break,
            }
        }
        self.save(&mut cursor, &label).await;
        if let Err(e) = lease.release().await {
            tracing::warn!(prefix = %label, error = %e, "lease not given up: another instance takes over when it expires");
        }
        Ok(())
    }

    /// Moves the cursor over what is done and writes it if it changed.
    async fn save(&self, cursor: &mut Cursor, label: &str) {
        cursor.advance(now_ms(), self.poll.lookback.as_millis() as u64);
        let lag = cursor
            .oldest_waiting_ms()
            .map_or(0, |t| now_ms().saturating_sub(t) / 1000);
        self.lag_s.store(lag, Ordering::Relaxed);
        if !cursor.is_dirty() {
            return;
        }
        match cursor.save().await {
            Ok(conflicts) => {
                Metrics::add(&self.metrics.state_writes, 1);
                Metrics::add(&self.metrics.state_conflicts, conflicts);
            }
            Err(e) => {
                tracing::error!(prefix = %label, error = %e, "cursor not saved: after a restart these objects are read again");
            }
        }
    }

    /// Takes in one object's settlement.
    fn settle(&self, cursor: &mut Cursor, (key, outcome): Settled, listing: u64) {
        let Some(e) = cursor.get(&key) else { return };
        match outcome {
            Outcome::Delivered => cursor.set(&key, e.modified_ms, Status::Done, listing),
            Outcome::Kept(why) | Outcome::Failed(why) => {
                let attempts = cursor.fail(&key);
                let path = format!("s3://{}/{key}", self.poll.bucket);
                if attempts >= MAX_ATTEMPTS {
                    Metrics::add(&self.metrics.s3_poll_objects_given_up, 1);
                    tracing::error!(object = %path, attempts, reason = %why, "given up: its reads failed every time; the cursor passes it (s3import reads it again once it is fixed)");
                    cursor.set(&key, e.modified_ms, Status::Done, listing);
                } else {
                    Metrics::add(&self.metrics.s3_poll_objects_failed, 1);
                    tracing::warn!(object = %path, attempts, reason = %why, "not done: read again at the next listing");
                }
            }
        }
    }

    /// One listing from the cursor: new objects to the readers, settlements taken in as they come.
    async fn list_once(
        &self,
        cursor: &mut Cursor,
        lease: &mut Lease,
        listing: u64,
        tx: &mpsc::Sender<Settled>,
        rx: &mut mpsc::Receiver<Settled>,
    ) -> Ended {
        let label = self.label();
        let after = cursor.after().to_string();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.poll.bucket)
            .prefix(&self.prefix)
            .set_start_after((!after.is_empty()).then_some(after))
            .into_paginator()
            .send();
        let mut renewed = Instant::now();
        let mut saved = Instant::now();
        let renew_every = self.state.lease_duration / 3;
        while let Some(page) = pages.next().await {
            if self.shutdown.is_stopping() {
                return Ended::Stopped;
            }
            let page = match page {
                Ok(p) => {
                    self.metrics
                        .live
                        .aws_access(&format!("s3 {}", self.poll.bucket), None);
                    p
                }
                Err(e) => {
                    Metrics::add(&self.metrics.s3_list_errors, 1);
                    if let crate::aws::Failure::Permanent(why) = crate::aws::classify_code(
                        aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
                        String::new,
                    ) {
                        self.metrics
                            .live
                            .aws_access(&format!("s3 {}", self.poll.bucket), Some(&why));
                    }
                    tracing::error!(prefix = %label, error = %chain(&e), "ListObjectsV2 failed; listed again at the next interval");
                    return Ended::Failed;
                }
            };
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                if key.ends_with('/') && o.size().unwrap_or(0) == 0 {
                    continue; // a "folder" placeholder
                }
                let modified_ms = o
                    .last_modified()
                    .and_then(|t| t.to_millis().ok())
                    .map_or(0, |t| t.max(0) as u64);
                match cursor.get(key).map(|e| e.status) {
                    // Failed keys listed again are read again, and so marked seen; only theirs is looked at.
                    Some(Status::Done) | Some(Status::Reading) => continue,
                    Some(Status::Failed) | None => {}
                }
                if !self.inside(modified_ms) {
                    Metrics::add(&self.metrics.s3_objects_outside_window, 1);
                    tracing::debug!(target: "s3logsbeat::s3", object = %format!("s3://{}/{key}", self.poll.bucket), "older than start_timestamp or ignore_older: not read");
                    cursor.set(key, modified_ms, Status::Done, listing);
                    continue;
                }
                // Room in what is remembered, and a free reader; settlements are taken in meanwhile.
                while cursor.len() >= MAX_RECENT {
                    cursor.advance(now_ms(), self.poll.lookback.as_millis() as u64);
                    if cursor.len() < MAX_RECENT {
                        break;
                    }
                    // The head is a key that failed and waits for the next listing: nothing settles
                    // before then.
                    if cursor.reading() == 0 {
                        tracing::warn!(prefix = %label, "{MAX_RECENT} keys remembered behind one that failed: the listing stops here until it is read again");
                        return Ended::Full;
                    }
                    match rx.recv().await {
                        Some(s) => self.settle(cursor, s, listing),
                        None => return Ended::Stopped,
                    }
                }
                let slot = loop {
                    tokio::select! {
                        slot = self.readers.slot() => break slot,
                        Some(s) = rx.recv() => self.settle(cursor, s, listing),
                    }
                };
                if self.shutdown.is_stopping() {
                    return Ended::Stopped;
                }
                if renewed.elapsed() >= renew_every {
                    if !lease.renew(now_ms()).await.unwrap_or(false) {
                        tracing::warn!(prefix = %label, lease = %lease.describe(), "the lease was lost: another instance lists now");
                        return Ended::LeaseLost;
                    }
                    renewed = Instant::now();
                }
                let size = o.size().unwrap_or(0).max(0) as u64;
                Metrics::add(&self.metrics.s3_poll_objects_found, 1);
                Metrics::add(&self.metrics.s3_objects_listed, 1);
                Metrics::add(&self.metrics.s3_listed_bytes, size);
                cursor.set(key, modified_ms, Status::Reading, listing);
                let (k, tx) = (key.to_string(), tx.clone());
                let object = ObjectRef {
                    bucket: self.poll.bucket.clone(),
                    key: key.to_string(),
                    region: None,
                };
                // The channel has room for every key remembered, and only remembered keys are read, so
                // this never finds it full.
                let ack = AckGroup::new(object.path(), move |o| {
                    let _ = tx.try_send((k, o));
                });
                self.readers
                    .read(
                        slot,
                        Job {
                            objects: vec![object],
                            ack,
                        },
                    )
                    .await;
                if saved.elapsed() >= SAVE_EVERY {
                    self.save(cursor, &label).await;
                    saved = Instant::now();
                }
            }
        }
        Ended::Complete
    }

    /// Inside `start_timestamp` and `ignore_older`.
    fn inside(&self, modified_ms: u64) -> bool {
        let after_start = self
            .poll
            .start
            .is_none_or(|s| modified_ms as i64 >= s.timestamp_millis());
        let young = self
            .poll
            .ignore_older
            .is_none_or(|d| modified_ms.saturating_add(d.as_millis() as u64) >= now_ms());
        after_start && young
    }
}

/// How a listing ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    /// It ran to the end of the prefix.
    Complete,
    /// ListObjectsV2 failed.
    Failed,
    /// Another instance took the lease.
    LeaseLost,
    /// [`MAX_RECENT`] keys remembered behind a failed one.
    Full,
    /// Shutdown.
    Stopped,
}
