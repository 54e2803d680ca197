//! Counters of the pipeline: one place where every stage counts what it did, read by the periodic log line
//! and the end-of-run summary.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// The pipeline's counters.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $($(#[$doc])* pub $name: AtomicU64,)*
        }

        impl Metrics {
            /// Every counter with its name, in declaration order.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($name), self.$name.load(Ordering::Relaxed)),)*]
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
    /// Their bytes.
    s3_bytes_listed,
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
    /// Bytes read from S3 (as stored).
    s3_bytes,
    /// Lines read.
    lines,
    /// Lines that did not parse.
    parse_failures,
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
