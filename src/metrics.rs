//! Counters of the pipeline: one place where every stage counts what it did, read by the periodic log line,
//! the end-of-run summary and the monitoring endpoint. [`Live`] adds what a counter cannot say: gauges,
//! latency histograms and the state `/health` judges (last good poll, output failing since, AWS access
//! refused, a task that died). Everything here is written with atomics or short locks: counting never
//! waits on a reader of the counts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// Age of the oldest message of the last non-empty receive, from its SentTimestamp, in ms.
    pub sqs_oldest_message_age_ms: AtomicU64,
    /// AWS calls refused for credentials or access, by what they concerned (`sqs <queue>`, `s3 <bucket>`).
    aws_refused: Mutex<BTreeMap<String, String>>,
    /// A task that died, with why.
    task_died: Mutex<Option<String>>,
    /// Seconds from the start of reading an object to its last event published.
    pub object_seconds: Histogram,
    /// Seconds of one output request (bulk request or Logstash window) on the wire.
    pub request_seconds: Histogram,
    gauges: Mutex<Vec<GaugeSource>>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            started: Instant::now(),
            last_poll_ok: AtomicU64::new(0),
            pollers_waiting: AtomicI64::new(0),
            output_failing_since: AtomicU64::new(0),
            output_error: Mutex::new(String::new()),
            sqs_oldest_message_age_ms: AtomicU64::new(0),
            aws_refused: Mutex::new(BTreeMap::new()),
            task_died: Mutex::new(None),
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
            "sqs_oldest_message_age_seconds",
            "Age of the oldest message of the last non-empty receive (from its SentTimestamp): the SQS lag",
            (self.sqs_oldest_message_age_ms.load(Ordering::Relaxed) / 1000) as i64,
        ));
        out.push((
            "uptime_seconds",
            "Seconds since start",
            self.uptime().as_secs() as i64,
        ));
        out
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
