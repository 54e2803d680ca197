//! Supervision: every task's end is looked at. A future run under [`guard`] turns a panic into an error
//! that carries the panic's message, so the caller can log it with what the task was working on (the
//! queue, the message, the object) and decide: go on (a reader: its work is failed and comes back) or
//! stop the pipeline ([`Shutdown::fail`](crate::shutdown::Shutdown::fail)).
//!
//! What must stay true: no `JoinHandle` or `JoinSet` result is dropped unread; a long-lived task that
//! ends by a panic, or ends early, stops the pipeline with a reason and a non-zero exit.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use tokio::task::JoinError;

use crate::ops::metrics::Metrics;
use crate::shutdown::Shutdown;

/// The message of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

/// Runs `fut`; a panic inside it comes back as `Err(message)` instead of unwinding further. Whatever
/// the future held is dropped while unwinding, so the obligations it held fail their groups.
pub async fn guard<F: Future>(fut: F) -> Result<F::Output, String> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|p| panic_message(p.as_ref()))
}

/// What a finished task's `JoinError` says, or `None` for a task that returned.
pub fn join_error(r: Result<(), JoinError>) -> Option<String> {
    match r {
        Ok(()) => None,
        Err(e) if e.is_panic() => Some(format!(
            "panicked: {}",
            panic_message(e.into_panic().as_ref())
        )),
        Err(e) if e.is_cancelled() => Some("was cancelled".into()),
        Err(e) => Some(e.to_string()),
    }
}

/// Waits for a long-lived task whose end the pipeline depends on (a poller, the batcher, the deleter);
/// a panic stops the pipeline with `what` in the reason.
pub async fn expect_clean_end(
    handle: tokio::task::JoinHandle<()>,
    what: &str,
    metrics: &Metrics,
    shutdown: &Shutdown,
) {
    if let Some(why) = join_error(handle.await) {
        Metrics::add(&metrics.task_panics, 1);
        metrics.live.task_died(&format!("{what} {why}"));
        shutdown.fail(format!("{what} {why}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_an_error_with_its_message() {
        let r = guard(async { panic!("bad line {}", 7) }).await;
        assert_eq!(r.unwrap_err(), "bad line 7");
        assert_eq!(guard(async { 5 }).await.unwrap(), 5);
    }

    #[tokio::test]
    async fn a_long_lived_task_that_panics_fails_the_pipeline() {
        let m = Metrics::default();
        let s = Shutdown::new();
        let h = tokio::spawn(async { panic!("deleter bug") });
        expect_clean_end(h, "the deleter", &m, &s).await;
        assert!(s.is_aborted());
        assert_eq!(s.failure().unwrap(), "the deleter panicked: deleter bug");
        assert_eq!(m.task_panics.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}
