//! `type: cloudwatch_logs`: log groups polled with `FilterLogEvents`, with checkpoints that move only
//! past delivered events. The input's settings in, events on the publish queue and checkpoints in the
//! state store out.
//!
//! Every `scan_frequency` the input takes (or renews) its lease, finds its groups again (names as given,
//! prefixes through `DescribeLogGroups`: a new group is read from `start_position`, a deleted one is
//! dropped), and reads each group, the longest-waiting first, `number_of_workers` at a time, from its
//! checkpoint less `latency` up to now ([`read`]). When a read is delivered the group's checkpoint moves
//! to just past the window and is written to the state store ([`checkpoints`]); the ids delivered inside
//! the `latency` window are remembered, so an event CloudWatch made visible late is sent once and an event
//! read again is not sent twice (after a restart the memory is gone; events of the last `latency` are sent
//! again with the same `_id`, which Elasticsearch takes as the same document).
//!
//! What must stay true: a checkpoint never moves past an event that was not delivered; only the holder of
//! the input's lease reads; every call waits its turn in the region's [`pace::Pace`]; nothing loops without
//! a wait.

pub mod checkpoints;
pub mod pace;
pub mod read;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::{CloudwatchLogsSettings, InputSettings, StateSettings};
use crate::ops::metrics::Metrics;
use crate::queue::QueueSender;
use crate::shutdown::Shutdown;
use crate::state::lease::{now_ms, Lease, Taken};
use crate::state::Store;
use checkpoints::Checkpoints;
use pace::Pace;
use read::{ReadEnd, Reader};

/// A log group: its region (`None`: the input's) and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupRef {
    /// Its region.
    pub region: Option<String>,
    /// Its name.
    pub name: String,
}

impl GroupRef {
    /// `region/name` (`name` alone in the input's region): its key in the checkpoints.
    pub fn key(&self) -> String {
        match &self.region {
            Some(r) => format!("{r}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// The paces of the process, one per region, shared by every cloudwatch_logs input.
#[derive(Debug, Default)]
pub struct Paces(Mutex<HashMap<String, Arc<Pace>>>);

impl Paces {
    /// The pace of `region`.
    pub fn of(&self, region: &str) -> Arc<Pace> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(region.to_string())
            .or_insert_with(|| Arc::new(Pace::new(pace::QUOTA)))
            .clone()
    }
}

/// Most delivered ids remembered per group (those inside its `latency` window): past this the oldest are
/// forgotten, and an event read again is sent again, with the same `_id`.
const MAX_SEEN: usize = 200_000;

/// A group's state between reads.
#[derive(Debug, Default)]
struct Group {
    /// Delivered ids inside the latency window, with their times.
    seen: HashMap<String, u64>,
}

/// One running `cloudwatch_logs` input.
#[derive(Debug)]
pub struct Input {
    /// Its settings.
    pub input: InputSettings,
    /// Its cloudwatch_logs settings.
    pub cw: CloudwatchLogsSettings,
    /// Its AWS clients (for the input's region).
    pub clients: Arc<crate::aws::Clients>,
    /// Where checkpoints and leases live.
    pub store: Store,
    /// `state`.
    pub state: StateSettings,
    /// The process's paces.
    pub paces: Arc<Paces>,
    /// The publish queue.
    pub queue: QueueSender,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The run's state.
    pub shutdown: Shutdown,
    /// `--once`: read every group up to now − latency, then end.
    pub once: bool,
    /// The lag of its longest-waiting group (now less its checkpoint), in milliseconds: a gauge.
    pub lag_ms: Arc<std::sync::atomic::AtomicU64>,
}

/// A stable name of an input, from what it reads: its checkpoint document and lease are named after it,
/// so reordering inputs in the file keeps them.
pub fn input_id(cw: &CloudwatchLogsSettings) -> String {
    let mut h = blake3::Hasher::new();
    for (r, n) in &cw.names {
        h.update(format!("name:{}:{n}\n", r.as_deref().unwrap_or("")).as_bytes());
    }
    for p in &cw.prefixes {
        h.update(format!("prefix:{p}\n").as_bytes());
    }
    h.update(format!("region:{}\n", cw.region.as_deref().unwrap_or("")).as_bytes());
    format!("cloudwatch_logs.{}", &h.finalize().to_hex()[..12])
}

impl Input {
    fn region(&self, g: &GroupRef) -> String {
        g.region
            .clone()
            .or_else(|| self.clients.region())
            .unwrap_or_default()
    }

    /// Runs until shutdown (or, with `once`, one pass). `Err`: the input cannot go on (its state is not
    /// readable, access is denied to every group); the message names what.
    pub async fn run(self) -> Result<(), String> {
        let id = input_id(&self.cw);
        let key = format!("s3logsbeat.inputs.{}", self.input.index);
        let mut cps = Checkpoints::load(self.store.clone(), &id)
            .await
            .map_err(|e| format!("{key}: its checkpoints cannot be read: {e}"))?;
        let holder = crate::state::lease::instance_name();
        let mut lease = Lease::new(self.store.clone(), &id, &holder, self.state.lease_duration);
        let reader = Reader {
            spec: self.input.formats.all()[0].clone(),
            input: self.input.clone(),
            streams: self.cw.streams.clone(),
            stream_prefix: self.cw.stream_prefix.clone(),
            api_timeout: self.cw.api_timeout,
            queue: self.queue.clone(),
            metrics: self.metrics.clone(),
            shutdown: self.shutdown.clone(),
        };
        let mut groups: BTreeMap<GroupRef, Group> = BTreeMap::new();
        let mut busy_logged = None;
        let mut once_busy_since: Option<std::time::Instant> = None;
        tracing::info!(input = %key, checkpoints = %cps.describe(), instance = %holder, "reading CloudWatch Logs");
        loop {
            if self.shutdown.is_stopping() {
                break;
            }
            match lease.try_take(now_ms()).await {
                Ok(Taken::Held { until_ms }) => {
                    self.metrics.live.lease(&key, &holder, true, until_ms);
                    if busy_logged.take().is_some() {
                        tracing::info!(input = %key, lease = %lease.describe(), "lease taken over: reading");
                    }
                }
                Ok(Taken::Busy { holder, until_ms }) => {
                    self.metrics.live.lease(&key, &holder, false, until_ms);
                    if busy_logged.as_ref() != Some(&holder) {
                        tracing::info!(input = %key, %holder, lease = %lease.describe(), "another instance holds the lease; waiting to take over");
                        busy_logged = Some(holder.clone());
                    }
                    // `--once` waits for a lease left by an instance that died (it expires), but not
                    // for ever behind one that is alive and renewing.
                    let waited = *once_busy_since.get_or_insert_with(std::time::Instant::now);
                    if self.once && waited.elapsed() > self.state.lease_duration * 2 {
                        return Err(format!(
                            "{key}: another instance ({holder}) holds the lease ({}) and keeps it: --once has nothing to read",
                            lease.describe()
                        ));
                    }
                    let wait = Duration::from_millis(until_ms.saturating_sub(now_ms()))
                        .clamp(Duration::from_secs(1), self.cw.scan_frequency);
                    if !self.shutdown.sleep(wait).await {
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(input = %key, error = %e, "lease: cannot be read or written; trying again");
                    if self.once || !self.shutdown.sleep(self.cw.scan_frequency).await {
                        return Err(format!("{key}: lease: {e}"));
                    }
                    continue;
                }
            }
            let found = self.discover().await;
            let found = match found {
                Ok(f) => f,
                Err(why) => {
                    tracing::warn!(input = %key, error = %why, "log groups could not be listed; trying again");
                    if self.once {
                        return Err(format!("{key}: {why}"));
                    }
                    if !self.shutdown.sleep(self.cw.scan_frequency).await {
                        break;
                    }
                    continue;
                }
            };
            groups.retain(|g, _| found.contains(g));
            for g in &found {
                groups.entry(g.clone()).or_default();
            }
            let now = now_ms();
            let latency = self.cw.latency.as_millis() as u64;
            let to = if self.once {
                now.saturating_sub(latency)
            } else {
                now
            };
            // The longest-waiting first.
            let mut order: Vec<(u64, GroupRef)> = groups
                .keys()
                .map(|g| {
                    let cp = cps
                        .get(&g.key())
                        .unwrap_or_else(|| self.cw.start.first_ms(now));
                    (cp, g.clone())
                })
                .collect();
            order.sort();
            let lag = order.first().map_or(0, |(cp, _)| now.saturating_sub(*cp));
            self.lag_ms.store(lag, std::sync::atomic::Ordering::Relaxed);
            for batch in order.chunks(self.cw.workers) {
                if self.shutdown.is_stopping() {
                    break;
                }
                if !lease.renew(now_ms()).await.unwrap_or(false) {
                    tracing::warn!(input = %key, lease = %lease.describe(), "the lease was lost: another instance reads now");
                    break;
                }
                let reads = batch.iter().map(|(cp, g)| {
                    let from = cp.saturating_sub(latency);
                    let seen = &groups[g].seen;
                    let logs = self.clients.logs_for(g.region.as_deref());
                    let region = self.region(g);
                    let pace = self.paces.of(&region);
                    let reader = &reader;
                    async move {
                        if from > to {
                            return (g.clone(), None);
                        }
                        let r = reader
                            .read(&logs, (&region, &pace), g, (from, to), seen)
                            .await;
                        (g.clone(), Some(r))
                    }
                });
                for (g, r) in futures_util::future::join_all(reads).await {
                    let Some(r) = r else { continue };
                    match r.end {
                        ReadEnd::Delivered => {
                            Metrics::add(&self.metrics.cloudwatch_reads_done, 1);
                            let next = to + 1;
                            let state = groups.get_mut(&g).expect("a group read is known");
                            state.seen.extend(r.ids);
                            let floor = next.saturating_sub(latency);
                            state.seen.retain(|_, t| *t >= floor);
                            if state.seen.len() > MAX_SEEN {
                                let mut times: Vec<u64> = state.seen.values().copied().collect();
                                times.sort_unstable();
                                let cut = times[state.seen.len() - MAX_SEEN];
                                state.seen.retain(|_, t| *t >= cut);
                            }
                            match cps.advance(&g.key(), next).await {
                                Ok(conflicts) => {
                                    Metrics::add(&self.metrics.state_writes, 1);
                                    Metrics::add(&self.metrics.state_conflicts, conflicts);
                                }
                                Err(e) => {
                                    tracing::error!(input = %key, error = %e, "checkpoint not saved: the window will be read again");
                                }
                            }
                        }
                        ReadEnd::Gone => {
                            tracing::info!(input = %key, group = %g.key(), "log group not found: dropped until it exists again");
                            groups.remove(&g);
                        }
                        ReadEnd::NotDelivered(why) => {
                            Metrics::add(&self.metrics.cloudwatch_reads_failed, 1);
                            tracing::warn!(input = %key, group = %g.key(), reason = %why, "read not delivered: its window will be read again");
                        }
                    }
                }
            }
            if self.once {
                break;
            }
            if !self.shutdown.sleep(self.cw.scan_frequency).await {
                break;
            }
        }
        if let Err(e) = lease.release().await {
            tracing::warn!(input = %key, error = %e, "lease not given up: another instance takes over when it expires");
        }
        Ok(())
    }

    /// The groups to read now: those named, and those whose names start with a prefix.
    async fn discover(&self) -> Result<Vec<GroupRef>, String> {
        let mut out: Vec<GroupRef> = self
            .cw
            .names
            .iter()
            .map(|(r, n)| GroupRef {
                region: r.clone().or_else(|| self.cw.region.clone()),
                name: n.clone(),
            })
            .collect();
        for prefix in &self.cw.prefixes {
            let region = self.cw.region.clone();
            let logs = self.clients.logs_for(region.as_deref());
            let pace = self.paces.of(&region
                .clone()
                .or_else(|| self.clients.region())
                .unwrap_or_default());
            let mut token = None;
            loop {
                pace.turn().await;
                Metrics::add(&self.metrics.cloudwatch_api_calls, 1);
                let call = logs
                    .describe_log_groups()
                    .log_group_name_prefix(prefix)
                    .set_next_token(token.take());
                let page = match tokio::time::timeout(self.cw.api_timeout, call.send()).await {
                    Ok(Ok(p)) => {
                        pace.success();
                        p
                    }
                    Ok(Err(e)) => {
                        use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
                        if e.code() == Some("ThrottlingException") {
                            Metrics::add(&self.metrics.cloudwatch_throttles, 1);
                            pace.throttled();
                            continue;
                        }
                        Metrics::add(&self.metrics.cloudwatch_api_errors, 1);
                        return Err(format!(
                            "DescribeLogGroups (prefix {prefix:?}): {}",
                            crate::error::chain(&e)
                        ));
                    }
                    Err(_) => {
                        Metrics::add(&self.metrics.cloudwatch_api_errors, 1);
                        return Err(format!(
                            "DescribeLogGroups (prefix {prefix:?}) did not answer within {:?}",
                            self.cw.api_timeout
                        ));
                    }
                };
                for g in page.log_groups() {
                    if let Some(n) = g.log_group_name() {
                        out.push(GroupRef {
                            region: region.clone(),
                            name: n.to_string(),
                        });
                    }
                }
                match page.next_token() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
