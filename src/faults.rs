//! Fault hooks for the tests, compiled only with the `fault-hooks` feature (`make test` enables it; a
//! release build has none of this). They make a reader or an output panic on chosen objects, or a queue
//! sampler on a chosen queue, so the tests can show that a panic fails only its own work, that the message
//! comes back, and that an output that keeps panicking, or a long-lived task that dies, stops the daemon.
//!
//! `S3LOGSBEAT_FAULTS` holds comma-separated `hook=substring` pairs; a hook fires when the object path (for
//! a reader), an event's document (for an output) or the queue URL (for a sampler) contains the substring:
//! - `reader_panic_once`: the first read of a matching object panics;
//! - `output_panic_once`: the first batch holding a matching event panics;
//! - `output_panic`: every batch holding a matching event panics;
//! - `sampler_panic`: the queue sampler of a matching queue URL panics at its first sample.

use crate::queue::Batch;

#[cfg(feature = "fault-hooks")]
mod hooks {
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The substring of `hook`, if it is set.
    pub fn armed(hook: &str) -> Option<String> {
        let all = std::env::var("S3LOGSBEAT_FAULTS").ok()?;
        all.split(',').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim() == hook).then(|| v.to_string())
        })
    }

    pub static READER_FIRED: AtomicBool = AtomicBool::new(false);
    pub static OUTPUT_FIRED: AtomicBool = AtomicBool::new(false);

    /// True the first time only.
    pub fn first(flag: &AtomicBool) -> bool {
        !flag.swap(true, Ordering::SeqCst)
    }
}

/// Called by a reader before it reads `path`.
#[inline]
pub fn reader(path: &str) {
    #[cfg(feature = "fault-hooks")]
    if let Some(s) = hooks::armed("reader_panic_once") {
        if path.contains(&s) && hooks::first(&hooks::READER_FIRED) {
            panic!("fault hook: reader_panic_once on {path}");
        }
    }
    let _ = path;
}

/// Called by a queue sampler before it samples `queue`.
#[inline]
pub fn sampler(queue: &str) {
    #[cfg(feature = "fault-hooks")]
    if let Some(s) = hooks::armed("sampler_panic") {
        if queue.contains(&s) {
            panic!("fault hook: sampler_panic on {queue}");
        }
    }
    let _ = queue;
}

/// Called by an output worker before it delivers `batch`.
#[inline]
pub fn output(batch: &Batch) {
    #[cfg(feature = "fault-hooks")]
    {
        let matches = |s: &str| batch.events().any(|e| e.doc.contains(s));
        if let Some(s) = hooks::armed("output_panic_once") {
            if matches(&s) && hooks::first(&hooks::OUTPUT_FIRED) {
                panic!("fault hook: output_panic_once on a batch with {s:?}");
            }
        }
        if let Some(s) = hooks::armed("output_panic") {
            if matches(&s) {
                panic!("fault hook: output_panic on a batch with {s:?}");
            }
        }
    }
    let _ = batch;
}
