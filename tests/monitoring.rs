//! The monitoring endpoint over HTTP against a running daemon (moto, the Elasticsearch double): `/`,
//! `/stats`, `/metrics` and `/health`, which turns 503 while Elasticsearch is unreachable and back to 200
//! when it returns; the SQS lag from SentTimestamp; a port in use is a start-up error.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

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

    // setup.template.enabled (the default): installed at start-up, beside delivery.
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
