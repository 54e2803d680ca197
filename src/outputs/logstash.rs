//! `output.logstash`: the Beats (lumberjack v2) protocol to Logstash's beats input.
//!
//! Frames (all integers big-endian u32): `2W` + count opens a window; `2J` + seq + len + JSON is one event;
//! `2C` + len + zlib holds frames; the server answers `2A` + seq. Reference: the team's
//! `lumberjack-v2.md` notes, from go-lumber and logstash-input-beats.
//!
//! What must stay true:
//! - An event is delivered only when Logstash acknowledged it: an ACK carries the highest sequence number
//!   it has put in its queue. Sequence numbers run on for the whole connection (as pylogbeat's do), so with
//!   `pipelining` windows in flight every ACK says unambiguously which window it closes.
//! - A partial ACK is progress; `2A 0` is a keep-alive, not progress (it keeps the connection from timing
//!   out, as Logstash sends it while its pipeline is busy).
//! - On a timeout or a lost connection, every window not fully acknowledged is sent again, whole, on a new
//!   connection (to the next host without `loadbalance`): at least once, duplicates possible, which
//!   `document_id => "%{[@metadata][_id]}"` makes harmless.
//! - A window is written with one `write_all` and TCP_NODELAY (two writes cost 40 ms per window with Nagle).
//! - With `ssl`, connections are TLS (see `outputs::tls`); the host name in `hosts` is what is verified.
//! - A failed connect and an unacknowledged window wait out the batch's [`Backoff`] (`backoff.init`
//!   doubling to `backoff.max`, with jitter so that shippers that lost Logstash together do not come back
//!   in step); a connection that delivers the windows resets it, and every batch starts from `init`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backoff::Backoff;
use crate::config::{BackoffSettings, LogstashSettings};
use crate::ops::metrics::Metrics;
use crate::outputs::compress::{Compressors, Framing};
use crate::queue::Batch;
use crate::shutdown::Shutdown;

use super::Aborted;

/// Sequence numbers restart on a fresh connection; past this a connection is closed once idle, so they
/// never wrap.
const SEQ_RESET: u32 = 1 << 30;

/// A byte stream: TCP, or TLS over TCP.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

/// One connection to a Logstash host.
struct Conn {
    stream: Box<dyn Io>,
    host: usize,
    seq: u32,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("host", &self.host)
            .field("seq", &self.seq)
            .finish()
    }
}

/// The Logstash output.
#[derive(Debug)]
pub struct Logstash {
    hosts: Vec<String>,
    loadbalance: bool,
    /// zlib for the windows when `compression_level` is above 0.
    zlib: Option<Arc<Compressors>>,
    bulk_max_size: usize,
    timeout: Duration,
    pipelining: usize,
    workers: usize,
    backoff: BackoffSettings,
    /// Without loadbalance: the host in use; with it: the round-robin cursor.
    current: AtomicUsize,
    idle: tokio::sync::Mutex<Vec<Conn>>,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// `@metadata.beat`.
    index: String,
    metrics: Arc<Metrics>,
}

impl Logstash {
    /// From validated settings.
    pub fn new(s: &LogstashSettings, metrics: Arc<Metrics>) -> Logstash {
        Logstash {
            loadbalance: s.loadbalance,
            zlib: (s.compression_level > 0)
                .then(|| Arc::new(Compressors::new(Framing::Zlib, s.compression_level))),
            bulk_max_size: s.bulk_max_size,
            timeout: s.timeout,
            pipelining: s.pipelining,
            workers: s.workers,
            hosts: s.hosts.clone(),
            backoff: s.backoff,
            current: AtomicUsize::new(0),
            idle: tokio::sync::Mutex::new(Vec::new()),
            tls: s.tls.as_ref().map(super::tls::client_config),
            index: s.index.clone(),
            metrics,
        }
    }

    /// `bulk_max_size` × `pipelining`: the events one batch can keep in flight.
    pub fn batch_size(&self) -> usize {
        self.bulk_max_size * self.pipelining
    }

    /// Concurrent batches: `worker` per host with `loadbalance`, else `worker`.
    pub fn workers(&self) -> usize {
        self.workers
    }

    fn pick_host(&self) -> usize {
        if self.loadbalance {
            self.current.fetch_add(1, Ordering::Relaxed) % self.hosts.len()
        } else {
            self.current.load(Ordering::Relaxed) % self.hosts.len()
        }
    }

    async fn connection(&self) -> Result<Conn, String> {
        let host = self.pick_host();
        {
            let mut idle = self.idle.lock().await;
            if let Some(i) = idle.iter().position(|c| c.host == host) {
                return Ok(idle.swap_remove(i));
            }
        }
        self.connect(host).await
    }

    /// Opens a connection to host number `host` (TCP, then TLS when configured).
    async fn connect(&self, host: usize) -> Result<Conn, String> {
        let addr = &self.hosts[host];
        let stream = tokio::time::timeout(self.timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("{addr}: connect timed out"))?
            .map_err(|e| format!("{addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let stream: Box<dyn Io> = match &self.tls {
            None => Box::new(stream),
            Some(tls) => {
                let name = super::tls::server_name(addr)?;
                let connector = tokio_rustls::TlsConnector::from(tls.clone());
                let s = tokio::time::timeout(self.timeout, connector.connect(name, stream))
                    .await
                    .map_err(|_| format!("{addr}: TLS handshake timed out"))?
                    .map_err(|e| format!("{addr}: TLS handshake failed: {e}"))?;
                Box::new(s)
            }
        };
        tracing::debug!(target: "s3logsbeat::logstash", host = %addr, tls = self.tls.is_some(), "connected");
        Ok(Conn {
            stream,
            host,
            seq: 0,
        })
    }

    /// `test output`: connects to every host (TCP and, when configured, the TLS handshake). Lumberjack
    /// has no greeting, so a connection that opens is all Logstash can say before events are sent.
    pub async fn check(&self) -> Vec<(String, Result<String, String>)> {
        let mut out = Vec::new();
        for (i, h) in self.hosts.iter().enumerate() {
            let r = self.connect(i).await.map(|_| {
                if self.tls.is_some() {
                    "connected, TLS handshake OK".to_string()
                } else {
                    "connected".to_string()
                }
            });
            out.push((h.clone(), r));
        }
        out
    }

    /// Delivers a batch: windows of `bulk_max_size` events, `pipelining` in flight.
    pub async fn publish(&self, batch: &Batch, shutdown: &Shutdown) -> Result<(), Aborted> {
        // Windows are shared, so one can be compressed on a blocking thread without copying it.
        let mut windows: Vec<Arc<Vec<Vec<u8>>>> = Vec::new();
        let mut window = Vec::with_capacity(self.bulk_max_size.min(batch.len()));
        for e in batch.events() {
            let mut v = Vec::with_capacity(e.doc.len() + 160);
            e.write_with_metadata_as(&mut v, &self.index);
            window.push(v);
            if window.len() == self.bulk_max_size {
                windows.push(Arc::new(std::mem::take(&mut window)));
            }
        }
        if !window.is_empty() {
            windows.push(Arc::new(window));
        }
        let mut next = 0;
        let mut backoff = Backoff::from(self.backoff);
        while next < windows.len() {
            if shutdown.is_aborted() {
                return Err(Aborted);
            }
            let mut conn = match self.connection().await {
                Ok(c) => c,
                Err(e) => {
                    self.metrics.live.output_failed(&e);
                    let wait = backoff.next();
                    tracing::warn!(error = %e, "logstash: cannot connect; retrying in {:?}", wait);
                    self.fail_over();
                    if !shutdown.sleep(wait).await {
                        return Err(Aborted);
                    }
                    continue;
                }
            };
            let began = std::time::Instant::now();
            let Some(r) = shutdown
                .unless_aborted(self.send_windows(&mut conn, &windows[next..]))
                .await
            else {
                return Err(Aborted);
            };
            self.metrics
                .live
                .request_seconds
                .observe(began.elapsed().as_secs_f64());
            match r {
                Ok(done) => {
                    self.metrics.live.output_ok();
                    next += done;
                    backoff.reset();
                    if conn.seq < SEQ_RESET {
                        self.idle.lock().await.push(conn);
                    }
                }
                Err((done, e)) => {
                    self.metrics
                        .live
                        .output_failed(&format!("{}: {e}", self.hosts[conn.host]));
                    next += done;
                    Metrics::add(&self.metrics.output_retries, (windows.len() - next) as u64);
                    let wait = backoff.next();
                    tracing::warn!(host = %self.hosts[conn.host], error = %e,
                        "logstash: windows not acknowledged; resending them on a new connection in {:?}", wait);
                    self.fail_over();
                    if !shutdown.sleep(wait).await {
                        return Err(Aborted);
                    }
                }
            }
        }
        Ok(())
    }

    /// Without loadbalance, the next attempt goes to the next host.
    fn fail_over(&self) {
        if !self.loadbalance && self.hosts.len() > 1 {
            self.current.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends the windows on one connection, keeping up to `pipelining` unacknowledged. Returns how many
    /// windows were fully acknowledged, and the error that stopped it, if any.
    async fn send_windows(
        &self,
        conn: &mut Conn,
        windows: &[Arc<Vec<Vec<u8>>>],
    ) -> Result<usize, (usize, String)> {
        let mut in_flight: VecDeque<(u32, u32)> = VecDeque::new();
        let mut sent = 0;
        let mut done = 0;
        loop {
            while in_flight.len() < self.pipelining && sent < windows.len() {
                let first = conn.seq + 1;
                // zlib over a window of a few MB is too long to run on an async worker.
                let events = windows[sent].clone();
                let zlib = self.zlib.clone();
                let bytes = match tokio::task::spawn_blocking(move || {
                    encode_window(first, &events, zlib.as_deref())
                })
                .await
                {
                    Ok(Ok(b)) => b,
                    Ok(Err(e)) => return Err((done, format!("compressing the window: {e}"))),
                    Err(e) => return Err((done, format!("encoding the window: {e}"))),
                };
                conn.seq += windows[sent].len() as u32;
                Metrics::add(&self.metrics.output_requests, 1);
                match tokio::time::timeout(self.timeout, conn.stream.write_all(&bytes)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err((done, format!("write: {e}"))),
                    Err(_) => return Err((done, "write timed out".into())),
                }
                in_flight.push_back((first, conn.seq));
                sent += 1;
            }
            let Some(&(first, last)) = in_flight.front() else {
                return Ok(done);
            };
            let mut ack = [0u8; 6];
            match tokio::time::timeout(self.timeout, conn.stream.read_exact(&mut ack)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    return Err((
                        done,
                        format!(
                            "connection lost waiting for the ACK of events {first}..={last}: {e}"
                        ),
                    ))
                }
                Err(_) => {
                    return Err((
                        done,
                        format!(
                            "no ACK within {:?} for events {first}..={last}",
                            self.timeout
                        ),
                    ))
                }
            }
            if ack[0] != b'2' || ack[1] != b'A' {
                return Err((
                    done,
                    format!("protocol error: expected an ACK frame, got {:?}", &ack[..2]),
                ));
            }
            let seq = u32::from_be_bytes([ack[2], ack[3], ack[4], ack[5]]);
            if seq == 0 {
                // Keep-alive: the server is busy with the window. Not progress; the read timeout restarts.
                continue;
            }
            if seq > conn.seq {
                return Err((
                    done,
                    format!(
                        "protocol error: ACK {seq} beyond the last sequence number sent ({})",
                        conn.seq
                    ),
                ));
            }
            while let Some(&(_, l)) = in_flight.front() {
                if seq >= l {
                    in_flight.pop_front();
                    done += 1;
                } else {
                    break;
                }
            }
            // seq inside the front window: a partial ACK; wait for the rest.
        }
    }
}

/// `2W` + count, then the events as `2J` frames, zlib-compressed in one `2C` frame when `zlib` is given.
///
/// Compressed, the frames are written to the compressor in slices of about 64 KiB as they are made: the
/// whole uncompressed window (2.5 MB for 2,048 ALB events) is never held.
pub fn encode_window(
    first_seq: u32,
    events: &[Vec<u8>],
    zlib: Option<&Compressors>,
) -> std::io::Result<Vec<u8>> {
    const SLICE_BYTES: usize = 64 * 1024;
    fn frame(out: &mut Vec<u8>, seq: u32, e: &[u8]) {
        out.extend_from_slice(b"2J");
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&(e.len() as u32).to_be_bytes());
        out.extend_from_slice(e);
    }
    let Some(zlib) = zlib else {
        let mut out = Vec::with_capacity(events.iter().map(|e| e.len() + 10).sum::<usize>() + 6);
        out.extend_from_slice(b"2W");
        out.extend_from_slice(&(events.len() as u32).to_be_bytes());
        for (i, e) in events.iter().enumerate() {
            frame(&mut out, first_seq + i as u32, e);
        }
        return Ok(out);
    };
    let raw: usize = events.iter().map(|e| e.len() + 10).sum();
    let mut stream = zlib.stream(raw);
    let mut slice = Vec::with_capacity(SLICE_BYTES + SLICE_BYTES / 4);
    for (i, e) in events.iter().enumerate() {
        frame(&mut slice, first_seq + i as u32, e);
        if slice.len() >= SLICE_BYTES {
            stream.write(&slice)?;
            slice.clear();
        }
    }
    stream.write(&slice)?;
    let compressed = stream.finish()?;
    let mut out = Vec::with_capacity(compressed.len() + 12);
    out.extend_from_slice(b"2W");
    out.extend_from_slice(&(events.len() as u32).to_be_bytes());
    out.extend_from_slice(b"2C");
    out.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
    out.extend_from_slice(&compressed);
    Ok(out)
}
