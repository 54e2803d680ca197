//! `output.console`: one JSON event per line on stdout (with `@metadata`), or indented with `pretty`.
//! An event counts as delivered once written and flushed; a failed write is tried again, whole, after a
//! [`Backoff`] (jittered, from `RETRY_INIT` up to `RETRY_MAX`) until it is written or shutdown aborts.

use std::io::Write;

use crate::backoff::Backoff;
use crate::config::ConsoleSettings;
use crate::queue::Batch;
use crate::shutdown::Shutdown;

use super::Aborted;

/// The first wait after a failed write: stdout is a pipe or a terminal, which comes back soon or not at
/// all.
const RETRY_INIT: std::time::Duration = std::time::Duration::from_millis(100);
/// The longest wait: a reader of the pipe that comes back is written to within seconds.
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(10);

/// The console output.
#[derive(Debug)]
pub struct Console {
    pretty: bool,
    lock: tokio::sync::Mutex<()>,
}

impl Console {
    /// From validated settings.
    pub fn new(c: &ConsoleSettings) -> Console {
        Console {
            pretty: c.pretty,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Writes the batch (on a blocking thread: stdout may be a slow pipe).
    pub async fn publish(&self, batch: &Batch, shutdown: &Shutdown) -> Result<(), Aborted> {
        let buf = std::sync::Arc::new(render(batch, self.pretty));
        let _guard = self.lock.lock().await;
        let mut backoff = Backoff::new(RETRY_INIT, RETRY_MAX);
        loop {
            let b = buf.clone();
            let r = tokio::task::spawn_blocking(move || {
                let mut out = std::io::stdout().lock();
                out.write_all(&b).and_then(|_| out.flush())
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            match r {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::error!(error = %e, "output.console: cannot write to stdout; retrying");
                    if !shutdown.sleep(backoff.next()).await {
                        return Err(Aborted);
                    }
                }
            }
        }
    }
}

/// The batch as NDJSON (or pretty JSON) with `@metadata`.
pub fn render(batch: &Batch, pretty: bool) -> Vec<u8> {
    let mut buf = Vec::with_capacity(batch.len() * 600);
    for e in batch.events() {
        if pretty {
            let mut one = Vec::new();
            e.write_with_metadata(&mut one);
            let v: serde_json::Value = serde_json::from_slice(&one).expect("events are JSON");
            let _ = serde_json::to_writer_pretty(&mut buf, &v);
        } else {
            e.write_with_metadata(&mut buf);
        }
        buf.push(b'\n');
    }
    buf
}
