//! The monitoring endpoint (`http.enabled`): HTTP GET (and HEAD) requests in, the pipeline's counters,
//! gauges, histograms and health out. `/` says who is running, `/stats` gives JSON totals, `/metrics` the
//! Prometheus text, `/health` 200 `ok` or 503 with the reasons.
//!
//! `/metrics` speaks the format its client asks for in `Accept`: OpenMetrics 1.0.0 when the client
//! prefers it (Prometheus asks for it first), else the Prometheus text format 0.0.4, which `promtool`,
//! older scrapers and a bare `curl` read. Both are encoded from one registry, so they hold the same series.
//!
//! It only reads [`Metrics`]: nothing here can slow or stop delivery. Connections are short: one request,
//! then `Connection: close`; a HEAD gets the GET's headers (its `Content-Length` too) and no body.
//!
//! A liveness probe must be answered however many clients hold connections open, so no client can make
//! a newcomer wait. The accept loop never waits on the connection count: every connection is accepted at
//! once and gets a task of its own. A connection has [`HEAD_TIMEOUT`] to send its request head and then
//! [`WRITE_TIMEOUT`] to take the answer, two budgets so that a slow sender cannot eat into the answer's
//! time nor a slow reader into the head's. At most [`MAX_CONNECTIONS`] are open: when full, the oldest
//! connection still reading its head is closed to make room (an idle socket or a slowloris writer, never
//! the newcomer, which has just arrived); when every open connection is being answered, the oldest of
//! them is. There is no bound per client address: probes and the clients that crowd them often share
//! one (127.0.0.1, a node's address). Every connection task is joined and its end looked at: one closed
//! to make room or at the end is expected, a panic is logged. When the daemon stops, connections still
//! reading their head are closed and the answers being written are finished.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinError, JoinSet};

use crate::ops::metrics::{HealthLimits, Metrics};

/// Connections open at once; a new one beyond closes the oldest still reading its request head.
pub const MAX_CONNECTIONS: usize = 256;
/// Longest request head read.
const MAX_REQUEST_BYTES: usize = 8192;
/// Time a client has, from its accept, to send its request head: a probe sends it at once.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// Time a client has to take the answer once its request is read.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Who is running, for `/`.
#[derive(Clone, Debug)]
pub struct Identity {
    /// `name` (the beat name).
    pub name: String,
    /// The host name.
    pub hostname: String,
}

/// Everything a request may read.
#[derive(Debug)]
pub struct State {
    /// The pipeline's metrics.
    pub metrics: Arc<Metrics>,
    /// When `/health` answers 503.
    pub limits: HealthLimits,
    /// For `/`.
    pub identity: Identity,
}

/// Binds `addr`; an address in use or not ours is a start-up error naming it.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("http: cannot listen on {addr} (http.host, http.port): {e}"))
}

// Where a connection is, shared by its task and the accept loop. Both move it only by a compare-and-swap
// from READING, so a connection is either closed while reading its head or answered, never cut in the
// middle of its answer to make room while another is still reading.
/// Reading the request head: may be closed to make room.
const READING: u8 = 0;
/// The head is read: answered, closed to make room only when every open connection is answering.
const ANSWERING: u8 = 1;
/// Closed to make room or at the end, while reading.
const EVICTED: u8 = 2;

/// An open connection, in the order of its accept.
struct Open {
    id: tokio::task::Id,
    abort: AbortHandle,
    phase: Arc<AtomicU8>,
}

/// Serves until `stop` turns true (the end of the run: the endpoint still answers while the daemon
/// drains), then waits for the answers being written.
pub async fn serve(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    if let Ok(a) = listener.local_addr() {
        tracing::info!("monitoring endpoint on http://{a} (/, /stats, /metrics, /health)");
    }
    let mut conns = JoinSet::new();
    let mut open = VecDeque::with_capacity(MAX_CONNECTIONS);
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    if open.len() >= MAX_CONNECTIONS {
                        make_room(&mut open);
                    }
                    let phase = Arc::new(AtomicU8::new(READING));
                    let abort = conns.spawn(connection(stream, state.clone(), phase.clone()));
                    open.push_back(Open { id: abort.id(), abort, phase });
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "monitoring endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            // Reaped as they end, so `open` counts only live connections and a panic is seen at once.
            Some(r) = conns.join_next_with_id(), if !conns.is_empty() => ended(r, &mut open),
            // Told to stop, or the run is gone.
            _ = stop.changed() => break,
        }
    }
    // A connection still reading its head has asked nothing yet: closed, so that an idle client cannot
    // hold up the end of the run.
    for c in &open {
        if c.phase
            .compare_exchange(READING, EVICTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            c.abort.abort();
        }
    }
    while let Some(r) = conns.join_next_with_id().await {
        ended(r, &mut open);
    }
}

/// Closes one connection for a newcomer: the oldest still reading its head, else the oldest.
fn make_room(open: &mut VecDeque<Open>) {
    let reading = open.iter().position(|c| {
        c.phase
            .compare_exchange(READING, EVICTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    });
    if let Some(c) = open.remove(reading.unwrap_or(0)) {
        c.abort.abort();
    }
}

/// A connection task's end: forgotten from `open`; a panic is logged, a close by [`make_room`] or at the
/// end (a cancelled task) is expected.
fn ended(r: Result<(tokio::task::Id, ()), JoinError>, open: &mut VecDeque<Open>) {
    let id = match &r {
        Ok((id, ())) => *id,
        Err(e) => e.id(),
    };
    if let Some(i) = open.iter().position(|c| c.id == id) {
        open.remove(i);
    }
    if let Err(e) = r {
        if !e.is_cancelled() {
            if let Some(why) = crate::ops::supervise::join_error(Err(e)) {
                tracing::error!("monitoring request {why}");
            }
        }
    }
}

/// One connection: its request head within [`HEAD_TIMEOUT`], then its answer within [`WRITE_TIMEOUT`].
async fn connection(mut stream: TcpStream, state: Arc<State>, phase: Arc<AtomicU8>) {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        // Too slow, gone, or a read error: nothing to answer.
        _ => return,
    };
    if phase
        .compare_exchange(READING, ANSWERING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Closed to make room a moment ago; its abort is on the way.
        return;
    }
    let _ = tokio::time::timeout(WRITE_TIMEOUT, respond(&mut stream, head, &state)).await;
}

/// What the client asked.
enum Head {
    /// The request line's method and target, and its `Accept` header (several joined by `,`).
    Request(String, String, Option<String>),
    /// More than [`MAX_REQUEST_BYTES`] without the head's end.
    TooLarge,
}

/// Reads up to the blank line that ends the request head (or the end of the stream).
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Head> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST_BYTES {
            return Ok(Head::TooLarge);
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let mut lines = head.lines();
    let mut parts = lines.next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    // Header names are case-insensitive, and a header sent twice is one list (RFC 9110, 5.3).
    let accept: Vec<&str> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("accept"))
        .map(|(_, value)| value.trim())
        .collect();
    let accept = (!accept.is_empty()).then(|| accept.join(","));
    Ok(Head::Request(
        method.to_string(),
        target.to_string(),
        accept,
    ))
}

/// Writes the answer to `head`.
async fn respond(stream: &mut TcpStream, head: Head, state: &State) -> std::io::Result<()> {
    match head {
        Head::TooLarge => {
            write(
                stream,
                431,
                "text/plain",
                "request header too large\n",
                false,
                false,
            )
            .await
        }
        Head::Request(method, target, accept) => {
            let (status, kind, body) = route(&method, &target, accept.as_deref(), state);
            // `/metrics` differs by `Accept`: a cache in between must not give one client's format to another.
            let vary = target.split('?').next() == Some("/metrics");
            write(stream, status, kind, &body, method == "HEAD", vary).await
        }
    }
}

/// The exposition formats `/metrics` serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The format an `Accept` header asks for: OpenMetrics when it names `application/openmetrics-text`
/// (version 1.0.0, 0.0.1 or none) with a quality at least that of the text format; else the text format,
/// which is also the answer to no `Accept`, to `*/*` and to what neither matches. A wildcard never
/// chooses OpenMetrics: a client that did not name it may not parse it.
pub fn negotiate(accept: Option<&str>) -> Format {
    let (mut open, mut text) = (0.0f32, 0.0f32);
    for range in accept.unwrap_or("").split(',') {
        let mut params = range.split(';').map(str::trim);
        let kind = params.next().unwrap_or("").to_ascii_lowercase();
        let (mut q, mut version) = (1.0f32, None);
        for p in params {
            if let Some((k, v)) = p.split_once('=') {
                let v = v.trim().trim_matches('"');
                match k.trim().to_ascii_lowercase().as_str() {
                    "q" => q = v.parse().unwrap_or(0.0),
                    "version" => version = Some(v.to_string()),
                    _ => {}
                }
            }
        }
        match kind.as_str() {
            "application/openmetrics-text"
                if matches!(version.as_deref(), None | Some("1.0.0" | "0.0.1")) =>
            {
                open = open.max(q)
            }
            "text/plain" if matches!(version.as_deref(), None | Some("0.0.4")) => {
                text = text.max(q)
            }
            "text/*" | "*/*" => text = text.max(q),
            _ => {}
        }
    }
    if open > 0.0 && open >= text {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// The answer to `method target` with this `Accept`: status, content type, body (a HEAD's is counted,
/// not sent).
pub fn route(
    method: &str,
    target: &str,
    accept: Option<&str>,
    state: &State,
) -> (u16, &'static str, String) {
    const JSON: &str = "application/json";
    const TEXT: &str = "text/plain; charset=utf-8";
    if method != "GET" && method != "HEAD" {
        return (405, TEXT, "only GET and HEAD are served\n".into());
    }
    let path = target.split('?').next().unwrap_or("");
    match path {
        "/" => (200, JSON, root(state) + "\n"),
        "/stats" => (200, JSON, stats(&state.metrics) + "\n"),
        "/metrics" => {
            let format = negotiate(accept);
            (
                200,
                format.content_type(),
                prometheus(&state.metrics, format),
            )
        }
        "/health" => {
            let reasons = state.metrics.live.unhealthy(&state.limits);
            let degraded = state.metrics.live.degraded(DEGRADED_AFTER);
            if reasons.is_empty() && degraded.is_empty() {
                (200, TEXT, "ok\n".into())
            } else if reasons.is_empty() {
                let mut body = String::from("degraded\n");
                for r in degraded {
                    let _ = writeln!(body, "- {r}");
                }
                (200, TEXT, body)
            } else {
                let mut body = String::from("unhealthy\n");
                for r in reasons {
                    let _ = writeln!(body, "- {r}");
                }
                (503, TEXT, body)
            }
        }
        _ => (
            404,
            TEXT,
            "not found: try /, /stats, /metrics or /health\n".into(),
        ),
    }
}

/// The status line and headers (`Vary: Accept` when `vary`), then the body unless `head_only` (a HEAD:
/// same headers, no body).
async fn write(
    stream: &mut TcpStream,
    status: u16,
    kind: &str,
    body: &str,
    head_only: bool,
    vary: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    };
    let vary = if vary { "Vary: Accept\r\n" } else { "" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{vary}Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}

fn root(state: &State) -> String {
    json!({
        "beat": "s3logsbeat",
        "name": state.identity.name,
        "hostname": state.identity.hostname,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime": {"ms": state.metrics.live.uptime().as_millis() as u64},
    })
    .to_string()
}

/// How long CloudWatch Logs calls must be throttled without a success before `/health` says
/// "degraded" (still 200: events flow, slower).
pub const DEGRADED_AFTER: Duration = Duration::from_secs(300);

/// `/stats`: every counter (total since start) and gauge, as numbers.
pub fn stats(m: &Metrics) -> String {
    let counters: serde_json::Map<String, serde_json::Value> = m
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    let gauges: serde_json::Map<String, serde_json::Value> = m
        .live
        .gauges()
        .into_iter()
        .map(|(k, _, v)| (k.to_string(), v.into()))
        .collect();
    // By queue URL: the depth at the last sample (absent while unknown), and the lag now.
    let queues: serde_json::Map<String, serde_json::Value> = m
        .live
        .queues()
        .into_iter()
        .map(|q| {
            let mut v = json!({"oldest_message_age_seconds": seconds(q.oldest_message_age)});
            if let Some(d) = q.depth {
                v["visible"] = d.visible.into();
                v["in_flight"] = d.in_flight.into();
                v["delayed"] = d.delayed.into();
            }
            (q.queue, v)
        })
        .collect();
    // Histograms are in `/metrics` only: their buckets mean little as JSON totals.
    // Inputs without a queue: who holds each one's lease.
    let leases: serde_json::Map<String, serde_json::Value> = m
        .live
        .leases()
        .into_iter()
        .map(|(input, l)| {
            (
                input,
                json!({"holder": l.holder, "held_here": l.here, "expires_at_ms": l.until_ms}),
            )
        })
        .collect();
    json!({"counters": counters, "gauges": gauges, "sqs_queues": queues, "leases": leases})
        .to_string()
}

/// Seconds to the millisecond: a lag finer than that means nothing.
fn seconds(d: Duration) -> f64 {
    d.as_millis() as f64 / 1000.0
}

/// Events by outcome: the counters that are one metric with an `outcome` label.
const EVENT_OUTCOMES: [(&str, &str); 5] = [
    ("events_published", "published"),
    ("events_delivered", "delivered"),
    ("events_dead_lettered", "dead_lettered"),
    ("events_dropped", "dropped"),
    ("events_filtered", "filtered"),
];

/// A help text as the registry wants it: the registry ends every help text with a full stop of its own.
fn help(text: &str) -> &str {
    text.strip_suffix('.').unwrap_or(text)
}

/// `/metrics`: the pipeline's series under `s3logsbeat_` names, and the process's under `process_`, in
/// `format`.
pub fn prometheus(m: &Metrics, format: Format) -> String {
    let mut root = Registry::default();
    process_metrics(&mut root);
    let reg = root.sub_registry_with_prefix("s3logsbeat");
    reg.register(
        "build",
        "The running version of s3logsbeat",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
    );
    let events =
        Family::<Vec<(String, String)>, prometheus_client::metrics::counter::Counter>::default();
    for (name, v) in m.snapshot() {
        if let Some((_, outcome)) = EVENT_OUTCOMES.iter().find(|(n, _)| *n == name) {
            events
                .get_or_create(&vec![("outcome".to_string(), outcome.to_string())])
                .inc_by(v);
            continue;
        }
        reg.register(name, help(Metrics::help(name)), ConstCounter::new(v));
    }
    reg.register("events", "Events by outcome: published to the queue, delivered, dead-lettered, dropped by policy, filtered by a processor", events);
    for (name, h, v) in m.live.gauges() {
        reg.register(name, help(h), ConstGauge::new(v));
    }
    queue_metrics(reg, m);
    reg.register(
        "object_processing_seconds",
        "Seconds from the start of reading an object to its last event published",
        m.live.object_seconds.clone(),
    );
    reg.register(
        "output_request_seconds",
        "Seconds of one output request (an Elasticsearch bulk request, a Logstash window exchange)",
        m.live.request_seconds.clone(),
    );
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, &root),
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &root),
    };
    out
}

/// Each watched SQS queue's depth and lag, labelled by its URL.
fn queue_metrics(reg: &mut Registry, m: &Metrics) {
    let queues = m.live.queues();
    if queues.is_empty() {
        return;
    }
    type Labels = Vec<(&'static str, String)>;
    let depth = Family::<Labels, Gauge>::default();
    let age = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    for q in queues {
        if let Some(d) = q.depth {
            for (state, n) in [
                ("visible", d.visible),
                ("in_flight", d.in_flight),
                ("delayed", d.delayed),
            ] {
                depth
                    .get_or_create(&vec![("queue", q.queue.clone()), ("state", state.into())])
                    .set(n as i64);
            }
        }
        age.get_or_create(&vec![("queue", q.queue.clone())])
            .set(seconds(q.oldest_message_age));
    }
    reg.register(
        "sqs_queue_messages",
        "Messages in the SQS queue by state, from GetQueueAttributes every queue_metrics_interval (SQS's \
         approximate counts): visible (waiting for a consumer), in_flight (received by a consumer, this \
         process or another, not yet deleted), delayed (not deliverable yet). Absent while unknown",
        depth,
    );
    reg.register(
        "sqs_oldest_message_age_seconds",
        "Age of the SQS queue's oldest message still waiting for delivery, as this process can tell: the \
         larger of the age of the oldest message it received and has not deleted yet (from its \
         SentTimestamp) and, while the last sample saw visible messages, the time since the newest message \
         it received was sent or since the queue was last seen with none visible, whichever is later (SQS \
         hands out messages roughly oldest first); 0 when the queue has no visible message and this \
         process holds none of it",
        age,
    );
}

/// The `process_*` series of every Prometheus client library, where the system tells them
/// ([`crate::ops::process::read`]).
fn process_metrics(reg: &mut Registry) {
    let Some(u) = crate::ops::process::read() else {
        return;
    };
    reg.register(
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds",
        ConstCounter::new(u.cpu_seconds),
    );
    reg.register(
        "process_resident_memory_bytes",
        "Resident memory size in bytes",
        ConstGauge::new(u.resident_bytes as i64),
    );
    reg.register(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes",
        ConstGauge::new(u.virtual_bytes as i64),
    );
    reg.register(
        "process_open_fds",
        "Number of open file descriptors",
        ConstGauge::new(u.open_fds as i64),
    );
    if let Some(max) = u.max_fds {
        reg.register(
            "process_max_fds",
            "Maximum number of open file descriptors",
            ConstGauge::new(max as i64),
        );
    }
    reg.register(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds",
        ConstGauge::new(u.start_time_seconds),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_say_who_holds_each_lease() {
        let m = Metrics::default();
        m.live.lease("s3logsbeat.inputs.0", "host-b/2/cd", true, 9);
        let stats: serde_json::Value = serde_json::from_str(&stats(&m)).unwrap();
        assert_eq!(
            stats["leases"]["s3logsbeat.inputs.0"],
            json!({"holder": "host-b/2/cd", "held_here": true, "expires_at_ms": 9})
        );
    }

    fn state() -> State {
        State {
            metrics: Arc::new(Metrics::default()),
            limits: HealthLimits {
                output_unreachable: Duration::from_millis(0),
                no_poll: None,
            },
            identity: Identity {
                name: "n".into(),
                hostname: "h".into(),
            },
        }
    }

    #[tokio::test]
    async fn room_is_made_by_closing_the_oldest_still_reading() {
        let mut set = JoinSet::new();
        let mut open = VecDeque::new();
        for phase in [ANSWERING, READING, READING] {
            let abort = set.spawn(std::future::pending::<()>());
            let phase = Arc::new(AtomicU8::new(phase));
            open.push_back(Open {
                id: abort.id(),
                abort,
                phase,
            });
        }
        let ids: Vec<_> = open.iter().map(|c| c.id).collect();
        let left = |open: &VecDeque<Open>| open.iter().map(|c| c.id).collect::<Vec<_>>();

        // The one being answered stays; the oldest still reading goes, and its end is a cancel.
        make_room(&mut open);
        assert_eq!(left(&open), [ids[0], ids[2]]);
        let e = set.join_next_with_id().await.unwrap().unwrap_err();
        assert!(e.is_cancelled() && e.id() == ids[1], "{e}");

        // A connection that read its head meanwhile is not cut to make room while another still reads.
        open[0].phase.store(ANSWERING, Ordering::Release);
        open[1].phase.store(ANSWERING, Ordering::Release);
        make_room(&mut open);
        // Every one answering: the oldest goes.
        assert_eq!(left(&open), [ids[2]]);
        let e = set.join_next_with_id().await.unwrap().unwrap_err();
        assert!(e.is_cancelled() && e.id() == ids[0], "{e}");
        set.abort_all();
    }

    #[test]
    fn prometheus_text_has_counters_outcomes_gauges_and_histograms() {
        let s = state();
        Metrics::add(&s.metrics.sqs_messages_received, 3);
        Metrics::add(&s.metrics.events_delivered, 7);
        s.metrics.live.request_seconds.observe(0.02);
        s.metrics
            .live
            .add_gauge("queue_events", "Events in the queue", || 42);
        let t = prometheus(&s.metrics, Format::OpenMetrics);
        assert!(
            t.contains("s3logsbeat_sqs_messages_received_total 3"),
            "{t}"
        );
        assert!(
            t.contains("s3logsbeat_events_total{outcome=\"delivered\"} 7"),
            "{t}"
        );
        assert!(t.contains("s3logsbeat_queue_events 42"), "{t}");
        assert!(
            t.contains("# TYPE s3logsbeat_output_request_seconds histogram"),
            "{t}"
        );
        assert!(
            t.contains("s3logsbeat_output_request_seconds_bucket{le=\"0.025\"} 1"),
            "{t}"
        );
        assert!(t.trim_end().ends_with("# EOF"), "{t}");
    }

    #[test]
    fn the_format_is_negotiated_on_accept() {
        use Format::{OpenMetrics, Text};
        for (accept, want) in [
            (None, Text),
            (Some(""), Text),
            (Some("*/*"), Text),
            (Some("text/plain"), Text),
            (Some("text/plain;version=0.0.4"), Text),
            (Some("application/json"), Text),
            (Some("application/openmetrics-text"), OpenMetrics),
            (Some("Application/OpenMetrics-Text; Version=1.0.0"), OpenMetrics),
            (Some("application/openmetrics-text;version=0.0.1"), OpenMetrics),
            // A version this endpoint does not write is not chosen.
            (Some("application/openmetrics-text;version=2.0.0"), Text),
            // Prometheus 2.x by default, and with text first (`scrape_protocols`).
            (
                Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
                OpenMetrics,
            ),
            (
                Some("text/plain;version=0.0.4,application/openmetrics-text;version=1.0.0;q=0.5"),
                Text,
            ),
            (Some("application/openmetrics-text;q=0,*/*"), Text),
            (Some("application/openmetrics-text;q=0.2,text/plain;q=0.9"), Text),
            (Some("text/plain;q=0.2,application/openmetrics-text;q=0.9"), OpenMetrics),
        ] {
            assert_eq!(negotiate(accept), want, "Accept: {accept:?}");
        }
        let s = state();
        let (_, kind, body) = route("GET", "/metrics", None, &s);
        assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
        assert!(!body.contains("# EOF"), "{body}");
        assert!(
            body.contains("# TYPE s3logsbeat_sqs_messages_received_total counter\n"),
            "{body}"
        );
        let (_, kind, body) = route(
            "GET",
            "/metrics",
            Some("application/openmetrics-text; version=1.0.0"),
            &s,
        );
        assert_eq!(
            kind,
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");
    }

    #[test]
    fn help_texts_end_in_one_full_stop() {
        let s = state();
        s.metrics.live.add_gauge("g", "A gauge.", || 1);
        for format in [Format::Text, Format::OpenMetrics] {
            let t = prometheus(&s.metrics, format);
            let helps: Vec<_> = t.lines().filter(|l| l.starts_with("# HELP ")).collect();
            assert!(helps.len() > 30, "{t}");
            for h in helps {
                assert!(h.ends_with('.') && !h.ends_with(".."), "{format:?}: {h}");
            }
        }
    }

    #[test]
    fn build_and_process_series_are_served() {
        let t = prometheus(&state().metrics, Format::Text);
        let build = format!(
            "s3logsbeat_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        );
        assert!(t.contains(&build), "{t}");
        if cfg!(target_os = "linux") {
            for name in [
                "process_cpu_seconds_total",
                "process_resident_memory_bytes",
                "process_virtual_memory_bytes",
                "process_open_fds",
                "process_max_fds",
                "process_start_time_seconds",
            ] {
                assert!(t.contains(&format!("\n{name} ")), "{name} in {t}");
            }
        }
    }

    #[test]
    fn health_turns_503_with_its_reasons_and_back() {
        let s = state();
        assert_eq!(route("GET", "/health", None, &s).0, 200);
        s.metrics.live.output_failed("es:9200: connection refused");
        let (code, _, body) = route("GET", "/health", None, &s);
        assert_eq!(code, 503);
        assert!(
            body.contains("output unreachable") && body.contains("connection refused"),
            "{body}"
        );
        s.metrics.live.output_ok();
        assert_eq!(route("GET", "/health", None, &s).0, 200);
        s.metrics.live.aws_access("sqs q", Some("access denied"));
        assert!(route("GET", "/health", None, &s)
            .2
            .contains("AWS refuses sqs q: access denied"));
        s.metrics.live.aws_access("sqs q", None);
        assert_eq!(route("GET", "/health", None, &s).0, 200);
        s.metrics.live.task_died("the batcher panicked: boom");
        assert!(route("GET", "/health", None, &s)
            .2
            .contains("a task died: the batcher panicked: boom"));
        assert_eq!(route("POST", "/health", None, &s).0, 405);
        assert_eq!(route("GET", "/nope", None, &s).0, 404);
    }
}
