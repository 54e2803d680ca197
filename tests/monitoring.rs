//! The monitoring endpoint over HTTP against a running daemon (moto, the Elasticsearch double): `/`,
//! `/stats`, `/metrics` and `/health`, which turns 503 while Elasticsearch is unreachable and back to 200
//! when it returns; the SQS lag from SentTimestamp; a port in use is a start-up error. Then the endpoint
//! alone (`monitor::serve` in the test's runtime) under clients that hold connections open: idle sockets
//! and slowloris writers cannot make `/health` wait; a HEAD gets the headers and no body.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use s3logsbeat::metrics::{HealthLimits, Metrics};
use s3logsbeat::monitor;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LONG: Duration = Duration::from_secs(120);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn get(url: &str) -> (u16, String) {
    match reqwest::get(url).await {
        Ok(r) => {
            let code = r.status().as_u16();
            (code, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// GETs `url` every 100 ms until `done` accepts the answer; panics after `limit`.
async fn get_until(url: &str, limit: Duration, done: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let (code, body) = get(url).await;
        if done(code, &body) {
            return (code, body);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out on {url}; last answer {code}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn gauge(stats: &Value, name: &str) -> i64 {
    stats["gauges"][name].as_i64().unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_reports_counters_gauges_histograms_and_health() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("monitoring");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    // A message that waits 3 s before the daemon starts: the lag gauge must see it.
    moto.put("bkt", "first.log.gz", gzip(&sample("alb-aws-docs.log")))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let input = format!(
        "    - type: sqs\n      queues_url: [\"{q}\"]\n      log_format: alb\n      wait_time: 1s\n"
    );
    let output = format!(
        "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"mon\"\n  backoff.init: 100ms\n  backoff.max: 500ms\n",
        es.url
    );
    let extra = format!(
        "name: mon-test\nhttp:\n  enabled: true\n  port: {port}\n  health:\n    output_unreachable: 2s\n    missed_polls: 3\n"
    );
    let cfg = write_config(
        &dir,
        &config_text(Some(&moto.endpoint), &[input], &output, &extra),
    );
    let child = daemon(&cfg, &[]).spawn().unwrap();

    // The lag: the first receive saw a message about 3 s old.
    get_until(
        &format!("{base}/stats"),
        Duration::from_secs(30),
        |code, body| {
            code == 200
                && gauge(
                    &serde_json::from_str(body).unwrap(),
                    "sqs_oldest_message_age_seconds",
                ) >= 2
        },
    )
    .await;
    eventually(LONG, "4 events delivered", || async {
        es.docs("mon").await.len() == 4
    })
    .await;

    // setup.template.enabled (the default): installed before the first bulk request.
    eventually(Duration::from_secs(30), "the index template", || async {
        es.templates().await.get("s3logsbeat").is_some()
    })
    .await;

    let (code, body) = get(&format!("{base}/")).await;
    assert_eq!(code, 200);
    let root: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(root["beat"], "s3logsbeat");
    assert_eq!(root["name"], "mon-test");
    assert_eq!(root["version"], env!("CARGO_PKG_VERSION"));
    assert!(root["uptime"]["ms"].as_u64().unwrap() > 0);

    let (_, body) = get_until(
        &format!("{base}/stats"),
        Duration::from_secs(30),
        |_, body| {
            let s: Value = serde_json::from_str(body).unwrap();
            s["counters"]["sqs_messages_deleted"].as_u64() >= Some(1)
                && gauge(&s, "sqs_messages_in_flight") == 0
        },
    )
    .await;
    let s: Value = serde_json::from_str(&body).unwrap();
    let received = s["counters"]["sqs_messages_received"].as_u64().unwrap();
    assert_eq!(s["counters"]["events_delivered"], 4, "{s}");
    assert_eq!(s["counters"]["s3_objects_read"], 1, "{s}");
    assert_eq!(s["counters"]["lines"], 4, "{s}");
    assert_eq!(gauge(&s, "queue_events"), 0, "{s}");
    assert_eq!(gauge(&s, "queue_capacity"), 4096, "{s}");
    assert_eq!(gauge(&s, "sqs_messages_in_flight"), 0, "{s}");

    let (code, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(code, 200);
    assert!(
        text.contains(&format!(
            "s3logsbeat_sqs_messages_received_total {received}\n"
        )),
        "{text}"
    );
    for want in [
        "s3logsbeat_s3_objects_read_total 1",
        "s3logsbeat_s3_bytes_total ",
        "s3logsbeat_events_total{outcome=\"delivered\"} 4",
        "s3logsbeat_events_total{outcome=\"published\"} 4",
        "s3logsbeat_output_retries_total 0",
        "s3logsbeat_events_total{outcome=\"dead_lettered\"} 0",
        "# HELP s3logsbeat_sqs_messages_deleted Messages deleted after every event was delivered.",
        "s3logsbeat_queue_events 0",
        "s3logsbeat_sqs_messages_in_flight 0",
        "s3logsbeat_object_processing_seconds_count 1",
        "s3logsbeat_output_request_seconds_count ",
        "# TYPE s3logsbeat_output_request_seconds histogram",
    ] {
        assert!(text.contains(want), "{want} in:\n{text}");
    }
    assert!(
        !text.contains("s3logsbeat_events_delivered_total"),
        "{text}"
    );

    let (code, body) = get(&format!("{base}/health")).await;
    assert_eq!((code, body.as_str()), (200, "ok\n"));

    // Elasticsearch goes away while an object waits: 503 naming the output after 2 s, 200 once it is back.
    es.faults(json!({"down": true})).await;
    moto.put("bkt", "second.log.gz", gzip(&sample("alb-aws-docs.log")))
        .await;
    let (_, last) = get_until(
        &format!("{base}/health"),
        Duration::from_secs(60),
        |code, _| code == 503,
    )
    .await;
    assert!(last.starts_with("unhealthy\n"), "{last}");
    assert!(
        last.contains("output unreachable") && last.contains(&es.url),
        "{last}"
    );
    es.faults(json!({"down": false})).await;
    eventually(Duration::from_secs(60), "/health 200 again", || async {
        get(&format!("{base}/health")).await.0 == 200
    })
    .await;
    eventually(LONG, "8 events delivered", || async {
        es.docs("mon").await.len() == 8
    })
    .await;
    let (_, text) = get(&format!("{base}/metrics")).await;
    assert!(
        !text.contains("s3logsbeat_output_retries_total 0\n"),
        "retries were counted:\n{text}"
    );

    terminate(&child);
    let stderr = expect_success(child, LONG).await;
    assert!(
        stderr.contains(&format!("monitoring endpoint on http://127.0.0.1:{port}")),
        "{stderr}"
    );
    // Gone with the daemon.
    assert_eq!(get(&format!("{base}/")).await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_when_no_poll_succeeds_and_a_port_in_use_stops_the_start() {
    // SQS unreachable from the start (a closed port): no poll succeeds, /health names it.
    let dir = TempDir::new("monitoring-nopoll");
    let port = free_port();
    let dead = free_port();
    let input = "    - type: sqs\n      queues_url: [\"http://127.0.0.1:1/000000000000/q\"]\n      log_format: alb\n      wait_time: 1s\n".to_string();
    let extra = format!("http:\n  enabled: true\n  port: {port}\n  health:\n    missed_polls: 2\n");
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&format!("http://127.0.0.1:{dead}")),
            &[input],
            "output.console: {}\n",
            &extra,
        ),
    );
    let child = daemon(&cfg, &[]).spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let (_, last) = get_until(
        &format!("{base}/health"),
        Duration::from_secs(30),
        |code, _| code == 503,
    )
    .await;
    assert!(last.contains("no poll has succeeded since start"), "{last}");

    // A second daemon on the same port does not start.
    let run = run_to_end(daemon(&cfg, &[]), LONG).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("http: cannot listen on 127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
    terminate(&child);
    expect_success(child, LONG).await;
}

/// The endpoint served in this process, with no pipeline behind it (`/health` is 200).
struct Endpoint {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

async fn endpoint() -> Endpoint {
    let listener = monitor::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = monitor::State {
        metrics: Arc::new(Metrics::default()),
        limits: HealthLimits {
            output_unreachable: Duration::from_secs(3600),
            no_poll: None,
        },
        identity: monitor::Identity {
            name: "n".into(),
            hostname: "h".into(),
        },
    };
    let (stop, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(monitor::serve(listener, Arc::new(state), rx));
    Endpoint { addr, stop, task }
}

/// Sends `request` on a new connection and reads the answer to its end: the answer (or what went wrong)
/// and the time from the connect to the end. Gives up after 10 s, long past any bound asserted here.
async fn exchange(addr: SocketAddr, request: &str) -> (String, Duration) {
    let start = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(10), async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(request.as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    })
    .await;
    let took = start.elapsed();
    let text = match r {
        Ok(Ok(out)) => String::from_utf8_lossy(&out).into_owned(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "no answer within 10 s".into(),
    };
    (text, took)
}

const GET_HEALTH: &str = "GET /health HTTP/1.1\r\nHost: probe\r\n\r\n";
/// The 100 ms target with room for a busy two-core machine: a probe that waits for a slot takes seconds.
const PROBE_BOUND: Duration = Duration::from_secs(1);

/// `/health` answered 200 `ok` within [`PROBE_BOUND`].
async fn probe_ok(addr: SocketAddr, behind: &str) {
    let (answer, took) = exchange(addr, GET_HEALTH).await;
    assert!(
        answer.starts_with("HTTP/1.1 200 OK\r\n") && answer.ends_with("\r\n\r\nok\n"),
        "/health behind {behind}: {answer}"
    );
    assert!(took < PROBE_BOUND, "/health behind {behind} took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_at_once_behind_idle_connections() {
    let ep = endpoint().await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(ep.addr).await.unwrap());
    }
    probe_ok(ep.addr, "200 idle connections").await;
    // Beyond the bound on open connections: a newcomer closes an idle one, it is not turned away.
    while idle.len() < monitor::MAX_CONNECTIONS + 50 {
        idle.push(TcpStream::connect(ep.addr).await.unwrap());
    }
    let behind = format!("{} idle connections", idle.len());
    probe_ok(ep.addr, &behind).await;
    probe_ok(ep.addr, &behind).await;

    // The end of the run is not held up by clients that never asked anything.
    ep.stop.send(true).unwrap();
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), ep.task)
        .await
        .expect("the endpoint ends")
        .expect("without a panic");
    assert!(
        start.elapsed() < PROBE_BOUND,
        "the endpoint took {:?} to stop beside {behind}",
        start.elapsed()
    );
    // And the idle connections were closed, not left open.
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        idle.last_mut().unwrap().read(&mut buf),
    )
    .await
    .expect("closed by the endpoint");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_beside_slowloris_writers() {
    let ep = endpoint().await;
    let done = Arc::new(AtomicBool::new(false));
    // Connections the endpoint closed under a writer: each writer starts again, as an attacker would.
    let closed = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for _ in 0..20 {
        let (addr, done, closed) = (ep.addr, done.clone(), closed.clone());
        writers.push(tokio::spawn(async move {
            // A head that never ends: one byte every 200 ms.
            let head = b"GET /health HTTP/1.1\r\nX-Slow: ";
            while !done.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                let mut sent = 0usize;
                while !done.load(Ordering::Relaxed) {
                    let byte = head.get(sent).copied().unwrap_or(b'a');
                    if s.write_all(&[byte]).await.is_err() {
                        closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    sent += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..12 {
        probe_ok(ep.addr, &format!("20 slowloris writers (probe {i})")).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The writers were closed after their time for the head, not held open.
    eventually(Duration::from_secs(30), "every writer closed once", || {
        let closed = closed.clone();
        async move { closed.load(Ordering::Relaxed) >= 20 }
    })
    .await;
    done.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    ep.stop.send(true).unwrap();
    ep.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_gets_the_headers_and_no_body() {
    let ep = endpoint().await;
    let (get, _) = exchange(ep.addr, GET_HEALTH).await;
    assert_eq!(
        get,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
    );
    let (head, _) = exchange(ep.addr, "HEAD /health HTTP/1.1\r\nHost: probe\r\n\r\n").await;
    assert_eq!(head, get.strip_suffix("ok\n").unwrap());
    // Any HEAD: the length the GET's body would have, no body.
    let (get, _) = exchange(ep.addr, "GET /nope HTTP/1.1\r\n\r\n").await;
    let (head, _) = exchange(ep.addr, "HEAD /nope HTTP/1.1\r\n\r\n").await;
    let (get_head, body) = get.split_once("\r\n\r\n").unwrap();
    assert!(get.starts_with("HTTP/1.1 404 Not Found\r\n"), "{get}");
    assert!(
        get_head.contains(&format!("Content-Length: {}\r\n", body.len())),
        "{get}"
    );
    assert_eq!(head, format!("{get_head}\r\n\r\n"));
    ep.stop.send(true).unwrap();
    ep.task.await.unwrap();
}
