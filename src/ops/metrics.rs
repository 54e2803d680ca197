//! Counters of the pipeline: one place where every stage counts what it did, read by the periodic log line,
//! the end-of-run summary and the monitoring endpoint. [`Live`] adds what a counter cannot say: gauges,
//! latency histograms, each watched SQS queue's depth and lag ([`QueueGauges`]) and the state `/health`
//! judges (last good poll, output failing since, AWS access refused, a task that died). Everything here is
//! written with atomics or short locks: counting never waits on a reader of the counts.
//!
//! A queue's lag (the age of its oldest message still waiting) has no SQS attribute, so it is made of what
//! this process knows, at the moment it is read, the larger of:
//! - the age of the oldest message it received from the queue and has not deleted yet (from its
//!   SentTimestamp): its events are not all delivered, it is still waiting;
//! - while the last depth sample saw visible messages: the time since the latest moment they can have
//!   been sent after, as far as this process can tell: the newest SentTimestamp its receives from the
//!   queue got (SQS hands out messages roughly oldest first, so what is still visible came after), or
//!   the last time a receive or a sample found no visible message, whichever is later; before any of
//!   these, since the sample that saw them. This is the oldest visible message's age when the backlog
//!   is continuous, and more when it is not (by at most the time between two samples once the queue was
//!   seen empty).
//!
//! Both grow while readers are busy (no receive) instead of freezing at the last receive, and each queue
//! has its own.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use prometheus_client::metrics::histogram::Histogram;

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident),* $(,)?) => {
        /// The pipeline's counters.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $($(#[doc = $doc])* pub $name: AtomicU64,)*
            /// Gauges, histograms and health state.
            pub live: Live,
        }

        impl Metrics {
            /// Every counter with its name, in declaration order.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name.load(Ordering::Relaxed)),)*]
            }

            /// What a counter counts (its documentation), for `/metrics`.
            pub fn help(name: &str) -> &'static str {
                match name {
                    $(stringify!($name) => concat!($($doc),*).trim_ascii(),)*
                    _ => "",
                }
            }
        }
    };
}

counters! {
    /// SQS messages received.
    sqs_messages_received,
    /// Messages deleted after every event was delivered.
    sqs_messages_deleted,
    /// Messages kept because an object could not be read (they return after their visibility timeout).
    sqs_messages_kept,
    /// Messages whose work ended unplanned (a panic, an abort, an undelivered batch): made visible again
    /// at once.
    sqs_messages_failed,
    /// Messages that announce nothing to read (test events, removals), deleted.
    sqs_messages_empty,
    /// Messages that are not S3 notifications, deleted.
    sqs_messages_invalid,
    /// Messages made visible again at once (failed work, shutdown).
    sqs_messages_returned,
    /// Visibility extensions of in-flight messages.
    sqs_visibility_extended,
    /// ReceiveMessage errors.
    sqs_receive_errors,
    /// Delete errors.
    sqs_delete_errors,
    /// GetQueueAttributes failures (a queue's depth for the monitoring endpoint; never in the way of
    /// polling).
    sqs_queue_attributes_errors,
    /// Objects listed inside `[since, to)` (`s3import`).
    s3_objects_listed,
    /// Bytes of the objects listed inside `[since, to)` (`s3import`).
    s3_listed_bytes,
    /// Objects listed outside `[since, to)`, skipped.
    s3_objects_outside_window,
    /// ListObjectsV2 failures (a bucket/prefix not imported).
    s3_list_errors,
    /// Notifications sent with `s3import --to-queue`.
    sqs_notifications_sent,
    /// Notifications `s3import --to-queue` could not send.
    sqs_notifications_failed,
    /// Imported objects whose every event was delivered (or that no longer existed).
    import_objects_done,
    /// Imported objects that could not be read or delivered.
    import_objects_failed,
    /// Objects read to their end.
    s3_objects_read,
    /// Objects that no longer exist (NoSuchKey): logged, their message deleted.
    s3_objects_missing,
    /// Objects that could not be read (their message is kept).
    s3_objects_failed,
    /// Objects no format was chosen for (no `file_selectors` entry matched, `auto` did not know the
    /// key): not read; deleted with their message, or kept under `unmatched: keep`.
    s3_objects_unmatched,
    /// Objects that are not logs by design (ELB's test file, CloudTrail digests): read, no events.
    s3_objects_skipped,
    /// Records that are not data by design (CloudWatch Logs control messages): no events.
    records_skipped,
    /// Bytes read from S3 (as stored).
    s3_bytes,
    /// Lines read.
    lines,
    /// Lines that did not parse.
    parse_failures,
    /// JSON objects and arrays from a log (or a `decode_json_fields`) that nest deeper than a document
    /// may (20 levels, Elasticsearch's mapping depth limit), kept as their JSON text.
    json_values_capped,
    /// Events a `drop_event` processor removed (counted as done: their message can be deleted).
    events_filtered,
    /// Events published to the queue.
    events_published,
    /// Events acknowledged by the output.
    events_delivered,
    /// Events Elasticsearch rejected for good, written to the dead-letter index.
    events_dead_lettered,
    /// Events Elasticsearch rejected for good, dropped (`non_indexable_policy.drop`).
    events_dropped,
    /// Events whose dead-letter document Elasticsearch refused too: not delivered, their message is kept
    /// (it returns after its visibility timeout, and the queue's redrive policy ends in its DLQ).
    events_dead_letter_refused,
    /// Bulk (or window) requests sent.
    output_requests,
    /// Retried requests or items.
    output_retries,
    /// Panics caught in readers, outputs or other tasks.
    task_panics,
    /// CloudWatch Logs calls made (DescribeLogGroups, FilterLogEvents).
    cloudwatch_api_calls,
    /// CloudWatch Logs calls refused for the request quota (ThrottlingException): the pace halves.
    cloudwatch_throttles,
    /// CloudWatch Logs calls that failed otherwise (each retried later, or its group dropped).
    cloudwatch_api_errors,
    /// Log events read from CloudWatch Logs (before dropping those already delivered).
    cloudwatch_events_read,
    /// Log events read again inside `latency` and already delivered: not sent twice.
    cloudwatch_events_repeated,
    /// Reads of a log group whose every event was delivered: its checkpoint moved.
    cloudwatch_reads_done,
    /// Reads of a log group that did not end delivered: its checkpoint stayed, the window is read again.
    cloudwatch_reads_failed,
    /// Checkpoint documents written to the state store.
    state_writes,
    /// State writes refused because another writer changed the document first.
    state_conflicts,
    /// Listings of a polled prefix (`type: s3` with `bucket_arn`) begun.
    s3_poll_listings,
    /// Objects a polled prefix's listing found new and handed to the readers.
    s3_poll_objects_found,
    /// Reads of a polled prefix's objects that failed (read again at the next listing).
    s3_poll_objects_failed,
    /// Objects of a polled prefix that failed to be read or delivered three times: given up, logged
    /// with the object, passed by the cursor.
    s3_poll_objects_given_up,
    /// Objects copied to the backup bucket after delivery.
    s3_objects_backed_up,
    /// Objects deleted after delivery (`delete_after_backup`, `delete_after_read`).
    s3_objects_deleted,
    /// Objects not deleted because they changed since they were read (the delete's `If-Match` failed):
    /// the new version is kept.
    s3_objects_changed_before_delete,
    /// Backups or deletes that failed: the object is kept (for `sqs`, its message too) and read again.
    s3_finalise_failures,
}

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// The non-zero counters as `name=value` pairs.
    pub fn summary(&self) -> String {
        self.snapshot()
            .into_iter()
            .filter(|(_, v)| *v > 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The counters that changed since `prev`, as `name=+delta`.
    pub fn delta(&self, prev: &mut Vec<(&'static str, u64)>) -> String {
        let now = self.snapshot();
        let out = now
            .iter()
            .zip(prev.iter().map(|(_, v)| *v).chain(std::iter::repeat(0)))
            .filter(|((_, v), p)| v > p)
            .map(|((k, v), p)| format!("{k}=+{}", v - p))
            .collect::<Vec<_>>()
            .join(" ");
        *prev = now;
        out
    }
}

/// A gauge read when asked (`/stats`, `/metrics`): its name, help and how to read it.
type GaugeSource = (
    &'static str,
    &'static str,
    Box<dyn Fn() -> i64 + Send + Sync>,
);

/// When the oldest message in flight was sent, by queue URL.
type InFlightSource = Box<dyn Fn() -> HashMap<String, SystemTime> + Send + Sync>;

/// One SQS queue's depth, from GetQueueAttributes: SQS's approximate counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// ApproximateNumberOfMessages: waiting for a consumer.
    pub visible: u64,
    /// ApproximateNumberOfMessagesNotVisible: received by a consumer (this process or another) and not
    /// yet deleted.
    pub in_flight: u64,
    /// ApproximateNumberOfMessagesDelayed: sent with a delay that has not passed yet.
    pub delayed: u64,
}

/// What is known of one watched queue. Times are the wall clock's, as SentTimestamp is.
#[derive(Debug, Default)]
struct QueueWatch {
    /// The last sample's depth; `None` before the first and after one that failed.
    depth: Option<QueueDepth>,
    /// When a sample first saw visible messages, since one saw none or a receive found none.
    visible_since: Option<SystemTime>,
    /// The visible messages were sent after this, as far as is known: the newest SentTimestamp a receive
    /// got (SQS hands out messages roughly oldest first) or the last time the queue was seen with no
    /// visible message, whichever is later. An old message given back and received again does not move
    /// it back: it counts while it is in flight.
    sent_after: Option<SystemTime>,
    /// Successful receives from the queue so far.
    receives: u64,
}

impl QueueWatch {
    /// A sample taken while `mark` receives had ended gave `depth` (`None`: it failed) at `now`.
    fn sampled(&mut self, mark: u64, depth: Option<QueueDepth>, now: SystemTime) {
        self.depth = depth;
        match depth {
            // Nothing visible now: what is visible later was sent after now.
            Some(d) if d.visible == 0 => {
                self.visible_since = None;
                self.sent_after = self.sent_after.max(Some(now));
            }
            // A receive that ended while the sample was taken may have taken what it counted, or found
            // the queue empty since: only a sample with no receive across it says messages wait.
            Some(_) if mark == self.receives => {
                self.visible_since.get_or_insert(now);
            }
            // A failed sample says nothing: what was seen waiting waits until a receive or a sample
            // says otherwise.
            _ => {}
        }
    }

    /// A receive from the queue ended at `now` with messages, the newest sent at `newest_sent`, or
    /// (`None`) with none.
    fn received(&mut self, newest_sent: Option<SystemTime>, now: SystemTime) {
        self.receives += 1;
        match newest_sent {
            Some(t) => self.sent_after = self.sent_after.max(Some(t)),
            None => {
                self.sent_after = self.sent_after.max(Some(now));
                self.visible_since = None;
            }
        }
    }

    /// The lag at `now`, with `in_flight` when the oldest message in flight from the queue was sent.
    fn age(&self, now: SystemTime, in_flight: Option<SystemTime>) -> Duration {
        // A clock behind SQS's makes a message look sent in the future: its age is then 0.
        let since = |t: SystemTime| now.duration_since(t).unwrap_or_default();
        // Before any receive, only the sample's own time bounds the wait.
        let visible = self
            .visible_since
            .map(|seen| since(seen).max(self.sent_after.map_or(Duration::ZERO, since)));
        in_flight.map(since).max(visible).unwrap_or_default()
    }
}

/// One watched queue's gauges, as read.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueGauges {
    /// Its URL.
    pub queue: String,
    /// Its depth at the last sample; `None` before the first and after one that failed.
    pub depth: Option<QueueDepth>,
    /// The age of its oldest message still waiting, as far as this process can tell (the module's doc).
    pub oldest_message_age: Duration,
}

/// What the monitoring endpoint reads besides the counters.
pub struct Live {
    started: Instant,
    /// Milliseconds since `started` of the last successful ReceiveMessage, +1; 0 before the first.
    last_poll_ok: AtomicU64,
    /// Pollers waiting for a free reader (backpressure, not a failure to poll).
    pollers_waiting: AtomicI64,
    /// Milliseconds since `started` when the output began failing, +1; 0 while it delivers.
    output_failing_since: AtomicU64,
    /// The output's last failure.
    output_error: Mutex<String>,
    /// The watched queues, by URL.
    queues: Mutex<BTreeMap<String, QueueWatch>>,
    /// When the oldest message in flight from each queue was sent.
    in_flight_sent: Mutex<Option<InFlightSource>>,
    /// AWS calls refused for credentials or access, by what they concerned (`sqs <queue>`, `s3 <bucket>`).
    aws_refused: Mutex<BTreeMap<String, String>>,
    /// A task that died, with why.
    task_died: Mutex<Option<String>>,
    /// Leases on inputs without a queue, by input: who holds each, and until when.
    leases: Mutex<BTreeMap<String, LeaseView>>,
    /// Since when CloudWatch Logs calls in each region have been throttled without a success between.
    throttled: Mutex<BTreeMap<String, Instant>>,
    /// Seconds from the start of reading an object to its last event published.
    pub object_seconds: Histogram,
    /// Seconds of one output request (bulk request or Logstash window) on the wire.
    pub request_seconds: Histogram,
    gauges: Mutex<Vec<GaugeSource>>,
}

/// A lease as `/stats` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseView {
    /// The instance holding it.
    pub holder: String,
    /// This instance holds it.
    pub here: bool,
    /// Its expiry, in milliseconds since the epoch.
    pub until_ms: u64,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            started: Instant::now(),
            last_poll_ok: AtomicU64::new(0),
            pollers_waiting: AtomicI64::new(0),
            output_failing_since: AtomicU64::new(0),
            output_error: Mutex::new(String::new()),
            queues: Mutex::new(BTreeMap::new()),
            in_flight_sent: Mutex::new(None),
            aws_refused: Mutex::new(BTreeMap::new()),
            task_died: Mutex::new(None),
            leases: Mutex::new(BTreeMap::new()),
            throttled: Mutex::new(BTreeMap::new()),
            object_seconds: Histogram::new([
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
            request_seconds: Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            gauges: Mutex::new(Vec::new()),
        }
    }
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("uptime", &self.uptime())
            .finish_non_exhaustive()
    }
}

/// When `/health` says unhealthy.
#[derive(Clone, Copy, Debug)]
pub struct HealthLimits {
    /// The output has failed every request for this long.
    pub output_unreachable: Duration,
    /// No poll succeeded for this long (while some poller was free to poll); `None` without sqs inputs.
    pub no_poll: Option<Duration>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Live {
    /// Time since start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    fn now_mark(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + 1
    }

    /// A ReceiveMessage succeeded.
    pub fn poll_ok(&self) {
        self.last_poll_ok.store(self.now_mark(), Ordering::Relaxed);
    }

    /// A poller starts (`+1`) or stops (`-1`) waiting for a free reader.
    pub fn poller_waiting(&self, delta: i64) {
        self.pollers_waiting.fetch_add(delta, Ordering::Relaxed);
    }

    /// The output delivered (or answered, even with a rejection: it is reachable).
    pub fn output_ok(&self) {
        self.output_failing_since.store(0, Ordering::Relaxed);
    }

    /// An output request failed as a whole (connection, 5xx, auth).
    pub fn output_failed(&self, why: &str) {
        let _ = self.output_failing_since.compare_exchange(
            0,
            self.now_mark(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        *lock(&self.output_error) = why.to_string();
    }

    /// An AWS call about `what` was refused (credentials, access) with `why`, or (`None`) succeeded.
    pub fn aws_access(&self, what: &str, why: Option<&str>) {
        let mut m = lock(&self.aws_refused);
        match why {
            Some(w) => {
                m.insert(what.to_string(), w.to_string());
            }
            None => {
                if !m.is_empty() {
                    m.remove(what);
                }
            }
        }
    }

    /// The lease of `input` was seen held by `holder` until `until_ms` (ms since the epoch); `here`: by
    /// this instance.
    pub fn lease(&self, input: &str, holder: &str, here: bool, until_ms: u64) {
        lock(&self.leases).insert(
            input.to_string(),
            LeaseView {
                holder: holder.to_string(),
                here,
                until_ms,
            },
        );
    }

    /// Every lease seen, by input.
    pub fn leases(&self) -> BTreeMap<String, LeaseView> {
        lock(&self.leases).clone()
    }

    /// CloudWatch Logs calls in `region` were throttled (`true`) or succeeded (`false`).
    pub fn throttled(&self, region: &str, throttled: bool) {
        let mut m = lock(&self.throttled);
        if throttled {
            m.entry(region.to_string()).or_insert_with(Instant::now);
        } else if !m.is_empty() {
            m.remove(region);
        }
    }

    /// What is wrong without stopping delivery (`/health` says "degraded", still 200): calls throttled
    /// without a success for `limit` or longer.
    pub fn degraded(&self, limit: Duration) -> Vec<String> {
        lock(&self.throttled)
            .iter()
            .filter(|(_, since)| since.elapsed() >= limit)
            .map(|(region, since)| {
                format!(
                    "CloudWatch Logs calls in {region} throttled for {}s without a success: reading is slowed",
                    since.elapsed().as_secs()
                )
            })
            .collect()
    }

    /// A task died: the daemon is stopping or limping.
    pub fn task_died(&self, why: &str) {
        lock(&self.task_died).get_or_insert_with(|| why.to_string());
    }

    /// Adds a gauge read on demand.
    pub fn add_gauge(
        &self,
        name: &'static str,
        help: &'static str,
        read: impl Fn() -> i64 + Send + Sync + 'static,
    ) {
        lock(&self.gauges).push((name, help, Box::new(read)));
    }

    /// Every gauge: name, help, value (the ones added, then the built-in ones).
    pub fn gauges(&self) -> Vec<(&'static str, &'static str, i64)> {
        let mut out: Vec<_> = lock(&self.gauges)
            .iter()
            .map(|(n, h, f)| (*n, *h, f()))
            .collect();
        out.push((
            "uptime_seconds",
            "Seconds since start",
            self.uptime().as_secs() as i64,
        ));
        out
    }

    /// Watches `queue`: its gauges are served from now on (its depth after its first sample).
    pub fn watch_queue(&self, queue: &str) {
        lock(&self.queues).entry(queue.to_string()).or_default();
    }

    /// How to learn when the oldest message in flight from each queue was sent (the registry's view).
    pub fn set_in_flight_sent(
        &self,
        read: impl Fn() -> HashMap<String, SystemTime> + Send + Sync + 'static,
    ) {
        *lock(&self.in_flight_sent) = Some(Box::new(read));
    }

    /// Receives from `queue` that have ended so far: taken before a sample, given back with it.
    pub fn queue_receives(&self, queue: &str) -> u64 {
        lock(&self.queues).get(queue).map_or(0, |w| w.receives)
    }

    /// A depth sample of `queue`, taken after `mark` receives had ended ([`Live::queue_receives`]), gave
    /// `depth`; `None`: it failed.
    pub fn queue_sampled(&self, queue: &str, mark: u64, depth: Option<QueueDepth>) {
        if let Some(w) = lock(&self.queues).get_mut(queue) {
            w.sampled(mark, depth, SystemTime::now());
        }
    }

    /// A receive from `queue` succeeded: with messages, the newest sent at `newest_sent`, or (`None`)
    /// with none.
    pub fn queue_received(&self, queue: &str, newest_sent: Option<SystemTime>) {
        if let Some(w) = lock(&self.queues).get_mut(queue) {
            w.received(newest_sent, SystemTime::now());
        }
    }

    /// Every watched queue's gauges, now.
    pub fn queues(&self) -> Vec<QueueGauges> {
        // Read before the queues' lock: the registry has a lock of its own, never taken inside this one.
        let sent = lock(&self.in_flight_sent)
            .as_ref()
            .map(|read| read())
            .unwrap_or_default();
        let now = SystemTime::now();
        lock(&self.queues)
            .iter()
            .map(|(queue, w)| QueueGauges {
                queue: queue.clone(),
                depth: w.depth,
                oldest_message_age: w.age(now, sent.get(queue).copied()),
            })
            .collect()
    }

    /// Why the daemon is unhealthy; empty when it is healthy.
    pub fn unhealthy(&self, limits: &HealthLimits) -> Vec<String> {
        let now = self.now_mark();
        let mut out = Vec::new();
        let since = self.output_failing_since.load(Ordering::Relaxed);
        if since != 0 {
            let down = Duration::from_millis(now.saturating_sub(since));
            if down >= limits.output_unreachable {
                out.push(format!(
                    "output unreachable for {}s (limit {}s): {}",
                    down.as_secs(),
                    limits.output_unreachable.as_secs(),
                    lock(&self.output_error)
                ));
            }
        }
        for (what, why) in lock(&self.aws_refused).iter() {
            out.push(format!("AWS refuses {what}: {why}"));
        }
        if let Some(why) = lock(&self.task_died).as_ref() {
            out.push(format!("a task died: {why}"));
        }
        if let Some(limit) = limits.no_poll {
            let last = self.last_poll_ok.load(Ordering::Relaxed);
            let quiet = Duration::from_millis(now.saturating_sub(last.max(1)));
            if quiet >= limit && self.pollers_waiting.load(Ordering::Relaxed) <= 0 {
                out.push(if last == 0 {
                    format!(
                        "no poll has succeeded since start ({}s ago)",
                        quiet.as_secs()
                    )
                } else {
                    format!(
                        "no poll has succeeded for {}s (limit {}s)",
                        quiet.as_secs(),
                        limit.as_secs()
                    )
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn throttling_without_a_success_is_degraded_until_a_call_succeeds() {
        let m = Metrics::default();
        assert!(m.live.degraded(Duration::ZERO).is_empty());
        m.live.throttled("eu-west-1", true);
        m.live.throttled("eu-west-1", true);
        let d = m.live.degraded(Duration::ZERO);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("eu-west-1"), "{d:?}");
        assert!(m.live.degraded(secs(3600)).is_empty(), "not for long yet");
        m.live.throttled("eu-west-1", false);
        assert!(m.live.degraded(Duration::ZERO).is_empty());
    }

    #[test]
    fn leases_are_kept_by_input() {
        let m = Metrics::default();
        m.live.lease("s3logsbeat.inputs.0", "host-a/1/ab", false, 5);
        m.live.lease("s3logsbeat.inputs.0", "host-b/2/cd", true, 9);
        let l = m.live.leases();
        assert_eq!(l.len(), 1);
        assert_eq!(
            l["s3logsbeat.inputs.0"],
            LeaseView {
                holder: "host-b/2/cd".into(),
                here: true,
                until_ms: 9
            }
        );
    }

    fn visible(n: u64) -> Option<QueueDepth> {
        Some(QueueDepth {
            visible: n,
            ..Default::default()
        })
    }

    #[test]
    fn a_queue_lag_is_its_oldest_message_in_flight_or_the_age_of_what_waits_visible() {
        let at = |n: u64| SystemTime::UNIX_EPOCH + secs(1_000_000 + n);
        let mut w = QueueWatch::default();
        assert_eq!(w.age(at(0), None), Duration::ZERO, "nothing known waits");
        assert_eq!(w.age(at(10), Some(at(3))), secs(7), "a message in flight");

        // Before any receive, a sample that sees messages waiting: the wait counts from that sample;
        // later samples do not start it again.
        w.sampled(0, visible(3), at(10));
        assert_eq!(w.age(at(25), None), secs(15));
        w.sampled(0, visible(5), at(20));
        assert_eq!(w.age(at(25), None), secs(15));
        assert_eq!(w.age(at(25), Some(at(0))), secs(25), "the older of the two");

        // A receive takes messages of the backlog, the newest sent at 4: the visible ones were sent after
        // it, and their age grows while no receive follows (readers busy), never frozen.
        w.received(Some(at(4)), at(26));
        assert_eq!(w.age(at(30), None), secs(26));
        assert_eq!(w.age(at(40), None), secs(36));
        // A failed sample forgets the depth, not the wait.
        w.sampled(w.receives, None, at(41));
        assert_eq!(w.depth, None);
        assert_eq!(w.age(at(41), None), secs(37));

        // A sample that sees the queue empty ends the wait; what is seen waiting later was sent after it.
        w.sampled(w.receives, visible(0), at(42));
        assert_eq!(w.age(at(50), None), Duration::ZERO);
        w.sampled(w.receives, visible(1), at(45));
        assert_eq!(w.age(at(50), None), secs(8));
        // So does a receive that finds none.
        w.received(None, at(51));
        assert_eq!(w.age(at(60), None), Duration::ZERO);

        // A sample across which a receive ended does not say messages wait (it may count what was
        // received)...
        let mark = w.receives;
        w.received(Some(at(52)), at(53));
        w.sampled(mark, visible(2), at(54));
        assert_eq!(w.age(at(60), None), Duration::ZERO);
        // ...the next one does.
        w.sampled(w.receives, visible(2), at(55));
        assert_eq!(w.age(at(60), None), secs(8));
        // An old message given back and received again counts while in flight, not as the visible
        // ones' age once it is gone.
        w.received(Some(at(1)), at(56));
        assert_eq!(w.age(at(60), Some(at(1))), secs(59));
        w.sampled(w.receives, visible(2), at(57));
        assert_eq!(w.age(at(60), None), secs(8));
        // A clock behind SQS's: a message sent "later" than now is 0 old, not a panic.
        assert_eq!(w.age(at(50), Some(at(70))), secs(0));
    }

    #[test]
    fn each_queue_has_its_own_gauges() {
        let live = Live::default();
        let (a, b, unwatched) = ("https://sqs/a", "https://sqs/b", "https://sqs/c");
        live.watch_queue(a);
        live.watch_queue(b);
        let sent = SystemTime::now() - secs(60);
        live.set_in_flight_sent(move || HashMap::from([(b.to_string(), sent)]));
        let mark = live.queue_receives(a);
        live.queue_sampled(a, mark, visible(0));
        live.queue_sampled(b, live.queue_receives(b), visible(60));
        // Another queue's receive and empty sample touch nothing of b's.
        live.queue_received(a, None);
        live.queue_sampled(a, live.queue_receives(a), visible(0));
        live.queue_sampled(unwatched, 0, visible(9));
        live.queue_received(unwatched, None);

        let q = live.queues();
        assert_eq!(q.len(), 2, "{q:?}");
        assert_eq!((q[0].queue.as_str(), q[0].depth), (a, visible(0)));
        assert_eq!(q[0].oldest_message_age, Duration::ZERO);
        assert_eq!((q[1].queue.as_str(), q[1].depth), (b, visible(60)));
        let age = q[1].oldest_message_age;
        assert!(age >= secs(60) && age < secs(70), "{age:?}");
    }

    #[test]
    fn a_unit_ends_the_name_it_is_in() {
        // Prometheus's naming: the unit last, then `_total` (added by the encoder) for a counter.
        let m = Metrics::default();
        let names = m
            .snapshot()
            .into_iter()
            .map(|(n, _)| n)
            .chain(m.live.gauges().into_iter().map(|(n, _, _)| n));
        for name in names {
            for unit in ["bytes", "seconds"] {
                assert!(
                    !name.contains(unit) || name.ends_with(unit),
                    "{name}: its unit ({unit}) must come last"
                );
            }
        }
    }
}
