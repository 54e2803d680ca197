//! Shutdown, in two steps that every task can watch: *stop* (no new work: pollers stop receiving,
//! listers stop listing) and *abort* (give up: outputs stop retrying, readers stop reading). `run` stops on
//! SIGINT/SIGTERM and aborts when `shutdown_timeout` has passed; `--once` stops when the queues are empty.
//!
//! A third way in is [`Shutdown::fail`]: a part of the pipeline that cannot go on (an output that keeps
//! panicking, a task that died) stops and aborts everything at once and records why, so the process
//! exits non-zero instead of polling and extending visibility while nothing can be delivered.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const ABORTED: u8 = 2;

#[derive(Debug)]
struct Shared {
    state: watch::Sender<u8>,
    failure: Mutex<Option<String>>,
}

/// The shutdown state: cheap to clone; every clone can watch it and move it on.
#[derive(Clone, Debug)]
pub struct Shutdown {
    shared: Arc<Shared>,
    rx: watch::Receiver<u8>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A running state.
    pub fn new() -> Shutdown {
        let (tx, rx) = watch::channel(RUNNING);
        Shutdown {
            shared: Arc::new(Shared {
                state: tx,
                failure: Mutex::new(None),
            }),
            rx,
        }
    }

    /// A state nobody moves on (tools and tests).
    pub fn never() -> Shutdown {
        Shutdown::new()
    }

    /// No new work.
    pub fn stop(&self) {
        self.shared.state.send_if_modified(|s| {
            let changed = *s < STOPPING;
            *s = (*s).max(STOPPING);
            changed
        });
    }

    /// Give up on what is in flight.
    pub fn abort(&self) {
        self.shared.state.send_replace(ABORTED);
    }

    /// Something the pipeline needs is broken: stop and abort now; the first reason is kept for the exit.
    pub fn fail(&self, reason: impl Into<String>) {
        let reason = reason.into();
        {
            let mut f = self
                .shared
                .failure
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if f.is_none() {
                tracing::error!("stopping: {reason}");
                *f = Some(reason);
            }
        }
        self.abort();
    }

    /// Why the pipeline failed, if it did.
    pub fn failure(&self) -> Option<String> {
        self.shared
            .failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stop was requested.
    pub fn is_stopping(&self) -> bool {
        *self.rx.borrow() >= STOPPING
    }

    /// Abort was requested.
    pub fn is_aborted(&self) -> bool {
        *self.rx.borrow() >= ABORTED
    }

    /// Waits until stop is requested.
    pub async fn stopping(&mut self) {
        let _ = self.rx.wait_for(|s| *s >= STOPPING).await;
    }

    /// Waits until abort is requested.
    pub async fn aborted(&mut self) {
        let _ = self.rx.wait_for(|s| *s >= ABORTED).await;
    }

    /// Runs `work` unless abort comes first; `None` if aborted (the work is dropped where it was).
    pub async fn unless_aborted<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        let mut me = self.clone();
        tokio::select! {
            r = work => Some(r),
            _ = me.aborted() => None,
        }
    }

    /// Sleeps for `d` unless abort comes first; returns false if aborted.
    pub async fn sleep(&self, d: std::time::Duration) -> bool {
        self.unless_aborted(tokio::time::sleep(d)).await.is_some()
    }

    /// Sleeps for `d` unless stop comes first; returns false if stopping.
    pub async fn sleep_unless_stopping(&self, d: std::time::Duration) -> bool {
        let mut me = self.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.is_stopping(),
            _ = me.stopping() => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stop_then_abort_and_a_failure_is_kept() {
        let s = Shutdown::new();
        let mut w = s.clone();
        assert!(!w.is_stopping());
        s.stop();
        w.stopping().await;
        assert!(w.is_stopping() && !w.is_aborted());
        assert!(w.failure().is_none());
        w.fail("output keeps panicking");
        w.fail("second reason");
        s.clone().aborted().await;
        assert_eq!(s.failure().as_deref(), Some("output keeps panicking"));
    }
}
