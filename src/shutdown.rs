//! Shutdown, in two steps that every task can watch: *stop* (no new work: pollers stop receiving) and
//! *abort* (give up: outputs stop retrying, readers stop reading). `run` stops on SIGINT/SIGTERM and aborts
//! when `shutdown_timeout` has passed; `--once` stops when the queues are empty.

use tokio::sync::watch;

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const ABORTED: u8 = 2;

/// Sets the shutdown state.
#[derive(Debug)]
pub struct Trigger(watch::Sender<u8>);

/// Watches the shutdown state; cheap to clone.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<u8>);

/// A trigger and its first watcher.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(RUNNING);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    /// No new work.
    pub fn stop(&self) {
        self.0.send_if_modified(|s| {
            let changed = *s < STOPPING;
            *s = (*s).max(STOPPING);
            changed
        });
    }

    /// Give up on what is in flight.
    pub fn abort(&self) {
        self.0.send_replace(ABORTED);
    }
}

impl Shutdown {
    /// A watcher that never fires (tools and tests).
    pub fn never() -> Shutdown {
        let (tx, rx) = watch::channel(RUNNING);
        std::mem::forget(tx);
        Shutdown(rx)
    }

    /// Stop was requested.
    pub fn is_stopping(&self) -> bool {
        *self.0.borrow() >= STOPPING
    }

    /// Abort was requested.
    pub fn is_aborted(&self) -> bool {
        *self.0.borrow() >= ABORTED
    }

    /// Waits until stop is requested.
    pub async fn stopping(&mut self) {
        let _ = self.0.wait_for(|s| *s >= STOPPING).await;
    }

    /// Waits until abort is requested.
    pub async fn aborted(&mut self) {
        let _ = self.0.wait_for(|s| *s >= ABORTED).await;
    }

    /// Sleeps for `d` unless abort comes first; returns false if aborted.
    pub async fn sleep(&self, d: std::time::Duration) -> bool {
        let mut me = self.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = me.aborted() => false,
        }
    }
}
