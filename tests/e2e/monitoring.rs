//! The monitoring endpoint over HTTP against a running daemon (moto, the Elasticsearch double): `/`,
//! `/stats`, `/metrics` and `/health`, which turns 503 while Elasticsearch is unreachable and back to 200
//! when it returns; each queue's depth and lag (an idle queue, a delayed message, a backlog whose lag grows
//! while the reader is held by a slow output and falls to 0 once it drains), and a failing
//! GetQueueAttributes counted and logged once; a port in use is a start-up error. `/metrics` in the
//! format `Accept` asks for: the text format passes `promtool check metrics`, OpenMetrics a real
//! Prometheus scrape (Prometheus asks for it first and parses it strictly); both tools are required, never
//! skipped (`make tools`). Then the endpoint alone (`monitor::serve` in the test's runtime) under clients
//! that hold connections open: idle sockets and slowloris writers cannot make `/health` wait; a HEAD gets
//! the headers and no body.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use s3logsbeat::ops::metrics::{HealthLimits, Metrics};
use s3logsbeat::ops::monitor;
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
    moto.put("bkt", "first.log.gz", gzip(&sample("alb-aws-docs.log")))
        .await;

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
    // The queue's depth was sampled at start (queue_metrics_interval: 15s by default).
    let queue = &s["sqs_queues"][&q];
    assert!(
        queue["visible"].is_u64() && queue["oldest_message_age_seconds"].is_number(),
        "{s}"
    );

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
        "# HELP s3logsbeat_sqs_messages_deleted_total Messages deleted after every event was delivered.\n",
        "s3logsbeat_queue_events 0",
        "s3logsbeat_sqs_messages_in_flight 0",
        &format!("s3logsbeat_sqs_oldest_message_age_seconds{{queue=\"{q}\"}} "),
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
    let input = "    - type: sqs\n      queues_url: [\"http://127.0.0.1:1/000000000000/q\"]\n      log_format: alb\n      wait_time: 1s\n      queue_metrics_interval: 1s\n".to_string();
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
    // The queue's depth cannot be read either: counted every second, its series absent, its lag 0 (no
    // sample ever saw a message), and /health says nothing of it (the metrics are not the pipeline).
    let (_, stats) = get_until(&format!("{base}/stats"), Duration::from_secs(30), |_, b| {
        let s: Value = serde_json::from_str(b).unwrap();
        s["counters"]["sqs_queue_attributes_errors"].as_u64() >= Some(4)
    })
    .await;
    let s: Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(
        s["sqs_queues"]["http://127.0.0.1:1/000000000000/q"],
        json!({"oldest_message_age_seconds": 0.0}),
        "{s}"
    );
    let (_, health) = get(&format!("{base}/health")).await;
    assert!(!health.contains("GetQueueAttributes"), "{health}");

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
    let stderr = expect_success(child, LONG).await;
    // Logged when the failures began, not once a second.
    let logged = stderr.matches("GetQueueAttributes failed").count();
    assert_eq!(logged, 1, "{stderr}");
}

/// `promtool check metrics` on `text`: its verdict (exit status 0 and nothing to say) and what it said.
/// A missing promtool fails the test: `make tools` (a prerequisite of `make test`) installs it.
fn promtool_check(text: &str) -> (bool, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run promtool ({e}): `make tools` installs it (Debian package prometheus)"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && said.trim().is_empty(), said)
}

/// GET `url` with `accept` (none: no Accept header): status, Content-Type, body.
async fn get_metrics(url: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    let r = req.send().await.unwrap();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status().as_u16(), kind, r.text().await.unwrap())
}

const TEXT_004: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// What Prometheus 2.x sends by default.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool_in_the_format_asked_for_and_a_prometheus_scrape() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("monitoring-promtool");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    moto.put("bkt", "first.log.gz", gzip(&sample("alb-aws-docs.log")))
        .await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let input = format!(
        "    - type: sqs\n      queues_url: [\"{q}\"]\n      log_format: alb\n      wait_time: 1s\n"
    );
    let output = format!(
        "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"mon\"\n",
        es.url
    );
    let extra = format!("http:\n  enabled: true\n  port: {port}\n");
    let cfg = write_config(
        &dir,
        &config_text(Some(&moto.endpoint), &[input], &output, &extra),
    );
    let child = daemon(&cfg, &[]).spawn().unwrap();
    // Every kind of series has a value: counters, labelled counters, gauges, histogram buckets. The
    // double holds the documents before the daemon has read its answer and counted them: both.
    eventually(LONG, "4 events delivered and counted", || async {
        es.docs("mon").await.len() == 4
            && get_metrics(&url, None)
                .await
                .2
                .contains("s3logsbeat_events_total{outcome=\"delivered\"} 4\n")
    })
    .await;

    // The text format 0.0.4 unless OpenMetrics is asked for: promtool (and older scrapers) read only it.
    for accept in [
        None,
        Some("text/plain;version=0.0.4"),
        Some("text/plain"),
        Some("*/*"),
        Some("application/openmetrics-text;q=0,text/plain;q=0.5"),
    ] {
        let (code, kind, text) = get_metrics(&url, accept).await;
        assert_eq!((code, kind.as_str()), (200, TEXT_004), "Accept {accept:?}");
        assert!(!text.contains("# EOF"), "Accept {accept:?}:\n{text}");
        let (ok, said) = promtool_check(&text);
        assert!(
            ok,
            "promtool check metrics (Accept {accept:?}):\n{said}\n{text}"
        );
        for want in [
            "# TYPE s3logsbeat_sqs_messages_received_total counter\n",
            "s3logsbeat_events_total{outcome=\"delivered\"} 4\n",
            &format!(
                "s3logsbeat_build_info{{version=\"{}\"}} 1\n",
                env!("CARGO_PKG_VERSION")
            ),
            "# TYPE process_cpu_seconds_total counter\n",
            "process_resident_memory_bytes ",
            "process_virtual_memory_bytes ",
            "process_open_fds ",
            "process_max_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(
                text.contains(want),
                "{want} in (Accept {accept:?}):\n{text}"
            );
        }
    }
    // OpenMetrics when asked for first, as Prometheus does.
    for accept in [
        "application/openmetrics-text; version=1.0.0",
        "application/openmetrics-text",
        PROMETHEUS_ACCEPT,
    ] {
        let (code, kind, text) = get_metrics(&url, Some(accept)).await;
        assert_eq!(
            (code, kind.as_str()),
            (200, OPENMETRICS),
            "Accept {accept:?}"
        );
        assert!(text.ends_with("# EOF\n"), "Accept {accept:?}:\n{text}");
        assert!(
            text.contains("# TYPE s3logsbeat_sqs_messages_received counter\n"),
            "{text}"
        );
    }
    // No help text ends in two full stops, in either format.
    for accept in [None, Some(PROMETHEUS_ACCEPT)] {
        let text = get_metrics(&url, accept).await.2;
        let doubled: Vec<_> = text
            .lines()
            .filter(|l| l.starts_with("# HELP") && l.ends_with(".."))
            .collect();
        assert!(doubled.is_empty(), "{doubled:#?}");
    }

    // A real Prometheus scrapes it (asking for OpenMetrics, which it parses strictly): the target is up
    // and the series are stored.
    let prom = Prometheus::start(&dir, port).await;
    let up = prom
        .query_until("up{job=\"s3logsbeat\"}", Duration::from_secs(30), |r| {
            r.first().map(|s| s["value"][1] == "1").unwrap_or(false)
        })
        .await;
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
    let delivered = prom
        .query_until(
            "s3logsbeat_events_total{outcome=\"delivered\"}",
            Duration::from_secs(10),
            |r| !r.is_empty(),
        )
        .await;
    assert_eq!(delivered[0]["value"][1], "4", "{delivered:?}");
    let info = prom
        .query_until("s3logsbeat_build_info", Duration::from_secs(10), |r| {
            !r.is_empty()
        })
        .await;
    assert_eq!(
        info[0]["metric"]["version"],
        env!("CARGO_PKG_VERSION"),
        "{info:?}"
    );
    drop(prom);

    terminate(&child);
    expect_success(child, LONG).await;
}

/// The value of the series `series` (name and labels, as written) in a text answer; `None` without it.
fn series(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_depth_and_lag_per_queue_the_lag_growing_while_readers_are_busy() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("monitoring-queues");
    moto.create_bucket("bkt").await;
    let idle = moto.create_queue("idle").await;
    let busy = moto.create_queue("busy").await;
    let later = moto.create_queue("later").await;
    // 140 events per object: the smallest publish queue the config accepts (min_events + one 512-event
    // chunk) holds under four objects, so with one reader and a slow output most messages wait.
    let body = sample("elb-logstash-patterns.log").repeat(35);
    for i in 0..8 {
        let key = format!("k{i}.log");
        moto.put("bkt", &key, body.clone()).await;
        moto.send_message(
            &busy,
            &format!("{{\"Records\":[{}]}}", s3_record("bkt", &key)),
        )
        .await;
    }
    // Every message of the busy queue was sent before this.
    let sent = Instant::now();
    // A message delayed for longer than the test: not waiting for a reader yet.
    moto.sqs()
        .send_message()
        .queue_url(&later)
        .message_body(format!("{{\"Records\":[{}]}}", s3_record("bkt", "k0.log")))
        .delay_seconds(900)
        .send()
        .await
        .unwrap();
    es.faults(json!({"latency_ms": 8000})).await;

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let input = format!(
        "    - type: sqs\n      queues_url: [\"{idle}\", \"{busy}\", \"{later}\"]\n      log_format: elb\n      wait_time: 1s\n      workers: 1\n      max_number_of_messages: 1\n      queue_metrics_interval: 1s\n"
    );
    let output = format!(
        "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"q\"\n  bulk_max_size: 140\n",
        es.url
    );
    let extra = format!(
        "http:\n  enabled: true\n  port: {port}\nqueue.mem:\n  events: 516\n  flush.min_events: 4\n  flush.timeout: 50ms\n"
    );
    let cfg = write_config(
        &dir,
        &config_text(Some(&moto.endpoint), &[input], &output, &extra),
    );
    let child = daemon(&cfg, &[]).spawn().unwrap();

    let visible =
        |q: &str| format!("s3logsbeat_sqs_queue_messages{{queue=\"{q}\",state=\"visible\"}}");
    let in_flight =
        |q: &str| format!("s3logsbeat_sqs_queue_messages{{queue=\"{q}\",state=\"in_flight\"}}");
    let delayed =
        |q: &str| format!("s3logsbeat_sqs_queue_messages{{queue=\"{q}\",state=\"delayed\"}}");
    let age = |q: &str| format!("s3logsbeat_sqs_oldest_message_age_seconds{{queue=\"{q}\"}}");

    // The busy queue: messages waiting behind the one reader, some in flight.
    let (_, text) = get_until(
        &format!("{base}/metrics"),
        Duration::from_secs(30),
        |_, t| series(t, &visible(&busy)) >= Some(2.0) && series(t, &in_flight(&busy)) >= Some(1.0),
    )
    .await;
    let (ok, said) = promtool_check(&text);
    assert!(ok, "promtool check metrics:\n{said}\n{text}");
    for (q, want) in [(&idle, [0.0, 0.0, 0.0]), (&later, [0.0, 0.0, 1.0])] {
        let got = [
            series(&text, &visible(q)),
            series(&text, &in_flight(q)),
            series(&text, &delayed(q)),
        ];
        assert_eq!(got, want.map(Some), "{q}:\n{text}");
        // Nothing waits for a reader there, whatever waits on the busy queue.
        assert_eq!(series(&text, &age(q)), Some(0.0), "{q}:\n{text}");
    }

    // While the reader is held by the slow output (no receive), the busy queue's lag keeps growing.
    let first = series(&text, &age(&busy)).expect("the busy queue's age");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, text) = get(&format!("{base}/metrics")).await;
    let second = series(&text, &age(&busy)).expect("the busy queue's age");
    assert!(
        second >= first + 2.0,
        "the age went from {first} to {second} in 3 s:\n{text}"
    );
    assert!(series(&text, &visible(&busy)) >= Some(1.0), "{text}");
    // /stats holds the same, by queue URL.
    let (_, body) = get(&format!("{base}/stats")).await;
    let stats: Value = serde_json::from_str(&body).unwrap();
    let q = &stats["sqs_queues"][&busy];
    assert!(q["visible"].as_u64() >= Some(1), "{stats}");
    assert!(
        q["oldest_message_age_seconds"].as_f64() >= Some(second),
        "{stats}"
    );
    assert_eq!(
        stats["sqs_queues"][&idle]["oldest_message_age_seconds"].as_f64(),
        Some(0.0),
        "{stats}"
    );

    // Once the output keeps up the backlog drains. While messages are still visible the lag is the
    // backlog's (every message was sent before `sent`), not the time since the last receive, even between
    // two messages when none is in flight; it is 0 once nothing waits.
    es.faults(json!({"latency_ms": 0})).await;
    let deadline = Instant::now() + LONG;
    let mut draining = 0;
    loop {
        let (_, t) = get(&format!("{base}/metrics")).await;
        let lag = series(&t, &age(&busy));
        if series(&t, &visible(&busy)) >= Some(1.0) {
            let floor = sent.elapsed().as_secs_f64() - 1.0;
            assert!(
                lag >= Some(floor),
                "lag {lag:?} while draining, at least {floor}:\n{t}"
            );
            draining += 1;
        } else if series(&t, &in_flight(&busy)) == Some(0.0) && lag == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the busy queue did not drain:\n{t}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(draining >= 3, "the drain was seen {draining} times");
    assert_eq!(es.docs("q").await.len(), 8 * 140);

    terminate(&child);
    let stderr = expect_success(child, LONG).await;
    assert!(!stderr.contains("GetQueueAttributes failed"), "{stderr}");
}

/// Prometheus (the Debian package's `prometheus`) scraping `127.0.0.1:<target>` every second as job
/// `s3logsbeat`; killed on drop.
struct Prometheus {
    /// Held for its kill on drop.
    _child: tokio::process::Child,
    api: String,
}

impl Prometheus {
    async fn start(dir: &TempDir, target: u16) -> Prometheus {
        let port = free_port();
        let config = dir.0.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: s3logsbeat\n    static_configs:\n      - targets: [\"127.0.0.1:{target}\"]\n"
            ),
        )
        .unwrap();
        let child = tokio::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.0.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run prometheus ({e}): `make tools` installs it (Debian package prometheus)")
            });
        Prometheus {
            _child: child,
            api: format!("http://127.0.0.1:{port}/api/v1"),
        }
    }

    /// Runs the instant query `q` every 200 ms until `done` accepts its result vector; panics after
    /// `limit` with the last answer.
    async fn query_until(
        &self,
        q: &str,
        limit: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        let client = reqwest::Client::new();
        loop {
            let url = url::Url::parse_with_params(&format!("{}/query", self.api), [("query", q)])
                .unwrap();
            let last = match client.get(url).send().await {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(e) => e.to_string(),
            };
            if let Ok(v) = serde_json::from_str::<Value>(&last) {
                let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
                if done(&result) {
                    return result;
                }
            }
            assert!(Instant::now() < deadline, "{q}: last answer {last}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
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
