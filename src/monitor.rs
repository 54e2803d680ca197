//! The monitoring endpoint (`http.enabled`): HTTP GET requests in, the pipeline's counters, gauges,
//! histograms and health out. `/` says who is running, `/stats` gives JSON totals, `/metrics` the
//! Prometheus (OpenMetrics) text, `/health` 200 `ok` or 503 with the reasons.
//!
//! It only reads [`Metrics`]: nothing here can slow or stop delivery. Connections are few and short
//! (one request, then `Connection: close`), at most [`MAX_CONNECTIONS`] at once, each bounded in size and
//! time, each task joined; the server ends with the daemon.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::metrics::{HealthLimits, Metrics};

/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 16;
/// Longest request head read.
const MAX_REQUEST_BYTES: usize = 8192;
/// Time a client has to send its request and read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

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

/// Serves until `stop` turns true (the end of the run: the endpoint still answers while the daemon
/// drains), then waits for the requests being answered.
pub async fn serve(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    if let Ok(a) = listener.local_addr() {
        tracing::info!("monitoring endpoint on http://{a} (/, /stats, /metrics, /health)");
    }
    let mut conns = JoinSet::new();
    loop {
        // Reap finished connections; a panic in one is reported, never lost.
        while let Some(r) = conns.try_join_next() {
            if let Some(why) = crate::supervise::join_error(r) {
                tracing::error!("monitoring request {why}");
            }
        }
        if conns.len() >= MAX_CONNECTIONS {
            if let Some(r) = conns.join_next().await {
                if let Some(why) = crate::supervise::join_error(r) {
                    tracing::error!("monitoring request {why}");
                }
            }
            continue;
        }
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "monitoring endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            // Told to stop, or the run is gone.
            _ = stop.changed() => break,
        };
        let state = state.clone();
        conns.spawn(async move {
            let _ = tokio::time::timeout(IO_TIMEOUT, answer(stream, &state)).await;
        });
    }
    while let Some(r) = conns.join_next().await {
        if let Some(why) = crate::supervise::join_error(r) {
            tracing::error!("monitoring request {why}");
        }
    }
}

/// Reads one request and writes its answer.
async fn answer(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST_BYTES {
            return write(&mut stream, 431, "text/plain", "request header too large\n").await;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, kind, body) = route(method, target, state);
    write(&mut stream, status, kind, &body).await
}

/// The answer to `method target`: status, content type, body.
pub fn route(method: &str, target: &str, state: &State) -> (u16, &'static str, String) {
    const JSON: &str = "application/json";
    const TEXT: &str = "text/plain; charset=utf-8";
    if method != "GET" && method != "HEAD" {
        return (405, TEXT, "only GET is served\n".into());
    }
    let path = target.split('?').next().unwrap_or("");
    match path {
        "/" => (200, JSON, root(state) + "\n"),
        "/stats" => (200, JSON, stats(&state.metrics) + "\n"),
        "/metrics" => (
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            prometheus(&state.metrics),
        ),
        "/health" => {
            let reasons = state.metrics.live.unhealthy(&state.limits);
            if reasons.is_empty() {
                (200, TEXT, "ok\n".into())
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

async fn write(stream: &mut TcpStream, status: u16, kind: &str, body: &str) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
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
    // Histograms are in `/metrics` only: their buckets mean little as JSON totals.
    json!({"counters": counters, "gauges": gauges}).to_string()
}

/// Events by outcome: the counters that are one metric with an `outcome` label.
const EVENT_OUTCOMES: [(&str, &str); 5] = [
    ("events_published", "published"),
    ("events_delivered", "delivered"),
    ("events_dead_lettered", "dead_lettered"),
    ("events_dropped", "dropped"),
    ("events_filtered", "filtered"),
];

/// `/metrics`: the Prometheus text, `s3logsbeat_` names.
pub fn prometheus(m: &Metrics) -> String {
    let mut reg = Registry::with_prefix("s3logsbeat");
    let events =
        Family::<Vec<(String, String)>, prometheus_client::metrics::counter::Counter>::default();
    for (name, v) in m.snapshot() {
        if let Some((_, outcome)) = EVENT_OUTCOMES.iter().find(|(n, _)| *n == name) {
            events
                .get_or_create(&vec![("outcome".to_string(), outcome.to_string())])
                .inc_by(v);
            continue;
        }
        reg.register(name, Metrics::help(name), ConstCounter::new(v));
    }
    reg.register("events", "Events by outcome: published to the queue, delivered, dead-lettered, dropped by policy, filtered by a processor", events);
    for (name, h, v) in m.live.gauges() {
        reg.register(name, h, ConstGauge::new(v));
    }
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
    let _ = encode(&mut out, &reg);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn prometheus_text_has_counters_outcomes_gauges_and_histograms() {
        let s = state();
        Metrics::add(&s.metrics.sqs_messages_received, 3);
        Metrics::add(&s.metrics.events_delivered, 7);
        s.metrics.live.request_seconds.observe(0.02);
        s.metrics
            .live
            .add_gauge("queue_events", "Events in the queue", || 42);
        let t = prometheus(&s.metrics);
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
    fn health_turns_503_with_its_reasons_and_back() {
        let s = state();
        assert_eq!(route("GET", "/health", &s).0, 200);
        s.metrics.live.output_failed("es:9200: connection refused");
        let (code, _, body) = route("GET", "/health", &s);
        assert_eq!(code, 503);
        assert!(
            body.contains("output unreachable") && body.contains("connection refused"),
            "{body}"
        );
        s.metrics.live.output_ok();
        assert_eq!(route("GET", "/health", &s).0, 200);
        s.metrics.live.aws_access("sqs q", Some("access denied"));
        assert!(route("GET", "/health", &s)
            .2
            .contains("AWS refuses sqs q: access denied"));
        s.metrics.live.aws_access("sqs q", None);
        assert_eq!(route("GET", "/health", &s).0, 200);
        s.metrics.live.task_died("the batcher panicked: boom");
        assert!(route("GET", "/health", &s)
            .2
            .contains("a task died: the batcher panicked: boom"));
        assert_eq!(route("POST", "/health", &s).0, 405);
        assert_eq!(route("GET", "/nope", &s).0, 404);
    }
}
