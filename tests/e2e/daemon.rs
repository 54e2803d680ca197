//! The daemon end to end: moto's S3 and SQS (notifications sent by moto itself), the `s3logsbeat` binary,
//! and the Elasticsearch double with fault injection. Each test asserts what reached Elasticsearch and
//! what is left in the queue.

use std::time::Duration;

use crate::common::*;
use serde_json::json;

const LONG: Duration = Duration::from_secs(120);

fn es_output(es: &EsDouble) -> String {
    format!(
        "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"test-%{{[fields][format]}}\"\n  backoff.init: 100ms\n  backoff.max: 1s\n",
        es.url
    )
}

/// The file output into `dir/events`.
fn file_output(dir: &std::path::Path) -> String {
    format!(
        "output.file:\n  path: {}\n  filename: events\n",
        dir.display()
    )
}

fn sqs_input(queue: &str, format: &str, extra: &str) -> String {
    format!(
        "    - type: sqs\n      queues_url: [\"{queue}\"]\n      log_format: {format}\n      wait_time: 1s\n      fields: {{format: {format}}}\n{extra}"
    )
}

fn config(moto: &Moto, inputs: &[String], output: &str, extra: &str) -> String {
    config_text(Some(&moto.endpoint), inputs, output, extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_format_end_to_end() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("formats");
    let mut inputs = Vec::new();
    let samples: &[(&str, &str, &[&str], bool)] = &[
        ("alb", "alb", &["alb-aws-docs.log"], true),
        ("elb", "elb", &["elb-logstash-patterns.log"], false),
        (
            "cloudfront",
            "cloudfront",
            &[
                "cloudfront-aws-docs.log",
                "cloudfront-logstash-patterns.log",
            ],
            true,
        ),
        ("waf", "waf", &["waf-aws-docs.ndjson"], true),
    ];
    for (name, format, _, _) in samples {
        let q = moto
            .bucket_with_notifications(&format!("{name}-logs"), &format!("{name}-q"))
            .await;
        inputs.push(sqs_input(&q, format, ""));
    }
    for (name, _, files, gz) in samples {
        for f in *files {
            let body = if *gz { gzip(&sample(f)) } else { sample(f) };
            moto.put(
                &format!("{name}-logs"),
                &format!(
                    "AWSLogs/123456789012/{name}/{f}{}",
                    if *gz { ".gz" } else { "" }
                ),
                body,
            )
            .await;
        }
    }
    let cfg = write_config(&dir, &config(&moto, &inputs, &es_output(&es), ""));
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    let counts = es.doc_counts().await;
    assert_eq!(counts.get("test-alb"), Some(&4), "{counts:?}");
    assert_eq!(counts.get("test-elb"), Some(&4), "{counts:?}");
    assert_eq!(counts.get("test-cloudfront"), Some(&8), "{counts:?}");
    assert_eq!(counts.get("test-waf"), Some(&6), "{counts:?}");
    let alb = es.docs("test-alb").await;
    let first = &alb[0]["_source"];
    assert_eq!(first["client_ip"], "192.168.131.39");
    assert_eq!(
        first["log"]["file"]["path"],
        "s3://alb-logs/AWSLogs/123456789012/alb/alb-aws-docs.log.gz"
    );
    assert_eq!(alb[0]["_id"].as_str().unwrap().len(), 32);
    let waf = es.docs("test-waf").await;
    assert!(
        waf.iter()
            .all(|d| d["_source"].get("timestamp").is_none()
                && d["_source"]["@timestamp"].is_string())
    );
    // Every message (4 test events + 5 objects) is deleted.
    for (name, ..) in samples {
        let q = format!("{}/123456789012/{name}-q", moto.endpoint);
        assert_eq!(moto.queue_counts(&q).await, (0, 0), "{name} queue is empty");
    }
    assert_eq!(
        counter(&run.stderr, "sqs_messages_deleted"),
        9,
        "{}",
        run.stderr
    );
    assert_eq!(
        counter(&run.stderr, "sqs_messages_empty"),
        4,
        "the 4 s3:TestEvent messages"
    );
    assert_eq!(counter(&run.stderr, "events_delivered"), 22);
    let stats = es.stats().await;
    assert!(
        stats["gzip_requests"].as_u64().unwrap() > 0,
        "bulk bodies are gzip-compressed by default"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_naming_many_objects_and_every_body_shape() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("many");
    moto.create_bucket("bkt").await;
    let q = moto.create_queue("q").await;
    let line = String::from_utf8(sample("elb-logstash-patterns.log")).unwrap();
    let mut records = Vec::new();
    // 20 objects in one message: the original deadlocked from 16 on.
    for i in 0..20 {
        let key = format!("many/obj {i}+x.log");
        moto.put("bkt", &key, line.clone().into_bytes()).await;
        records.push(s3_record("bkt", &key));
    }
    moto.send_message(&q, &format!("{{\"Records\":[{}]}}", records.join(",")))
        .await;
    // SNS-wrapped and EventBridge bodies.
    moto.put("bkt", "sns/one.log", line.clone().into_bytes())
        .await;
    let inner = format!("{{\"Records\":[{}]}}", s3_record("bkt", "sns/one.log"));
    moto.send_message(&q, &json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": inner}).to_string()).await;
    moto.put("bkt", "eb/one two.log", line.clone().into_bytes())
        .await;
    let eb = json!({"version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
        "time": "2026-11-22T00:00:00Z", "region": REGION, "resources": [],
        "detail": {"version": "0", "bucket": {"name": "bkt"}, "object": {"key": "eb/one two.log", "size": 1}, "reason": "PutObject"}});
    moto.send_message(&q, &eb.to_string()).await;
    // A removal, garbage, and an object that no longer exists: all deleted, counted.
    let removal = s3_record("bkt", "x").replace("ObjectCreated:Put", "ObjectRemoved:Delete");
    moto.send_message(&q, &format!("{{\"Records\":[{removal}]}}"))
        .await;
    moto.send_message(&q, "this is not json").await;
    moto.send_message(
        &q,
        &format!("{{\"Records\":[{}]}}", s3_record("bkt", "gone.log")),
    )
    .await;

    let cfg = write_config(
        &dir,
        &config(&moto, &[sqs_input(&q, "elb", "")], &es_output(&es), ""),
    );
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let docs = es.docs("test-elb").await;
    assert_eq!(
        docs.len(),
        22 * 4,
        "20 + SNS + EventBridge objects, 4 lines each"
    );
    let paths: std::collections::BTreeSet<String> = docs
        .iter()
        .map(|d| {
            d["_source"]["log"]["file"]["path"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(paths.contains("s3://bkt/many/obj 7+x.log"), "{paths:?}");
    assert!(paths.contains("s3://bkt/eb/one two.log"));
    assert_eq!(moto.queue_counts(&q).await, (0, 0));
    assert_eq!(
        counter(&run.stderr, "s3_objects_missing"),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(counter(&run.stderr, "sqs_messages_invalid"), 1);
    assert_eq!(counter(&run.stderr, "sqs_messages_empty"), 1);
    assert_eq!(counter(&run.stderr, "sqs_messages_deleted"), 6);
    assert!(
        run.stderr
            .contains("s3://bkt/gone.log: object does not exist (NoSuchKey)")
            || run.stderr.contains("object=s3://bkt/gone.log"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_deleted_only_after_its_last_event_is_acknowledged() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("ack");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    moto.put("bkt", "one.log", sample("elb-logstash-patterns.log"))
        .await;
    es.faults(json!({"latency_ms": 3000})).await;
    let cfg = write_config(
        &dir,
        &config(&moto, &[sqs_input(&q, "elb", "")], &es_output(&es), ""),
    );
    let child = daemon(&cfg, &["--once"]).spawn().unwrap();
    // The documents are indexed, but Elasticsearch has not answered yet: the message must still be there.
    eventually(Duration::from_secs(30), "documents indexed", || async {
        es.docs("test-elb").await.len() == 4
    })
    .await;
    let (visible, in_flight) = moto.queue_counts(&q).await;
    assert_eq!(
        (visible, in_flight),
        (0, 1),
        "not deleted before the bulk response"
    );
    expect_success(child, LONG).await;
    assert_eq!(
        moto.queue_counts(&q).await,
        (0, 0),
        "deleted after the acknowledgement"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_output_stops_the_polling() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("slow");
    moto.create_bucket("bkt").await;
    let q = moto.create_queue("q").await;
    // 140 events per object: the smallest queue the config accepts (min_events + one 512-event publish
    // chunk) holds under four objects.
    let body = sample("elb-logstash-patterns.log").repeat(35);
    for i in 0..30 {
        moto.put("bkt", &format!("k{i}.log"), body.clone()).await;
        moto.send_message(
            &q,
            &format!(
                "{{\"Records\":[{}]}}",
                s3_record("bkt", &format!("k{i}.log"))
            ),
        )
        .await;
    }
    es.faults(json!({"latency_ms": 700})).await;
    let extra = "queue.mem:\n  events: 516\n  flush.min_events: 4\n  flush.timeout: 50ms\n";
    let output = es_output(&es) + "  bulk_max_size: 140\n";
    let cfg = write_config(
        &dir,
        &config(
            &moto,
            &[sqs_input(
                &q,
                "elb",
                "      workers: 2\n      max_number_of_messages: 2\n",
            )],
            &output,
            extra,
        ),
    );
    let child = daemon(&cfg, &["--once"]).spawn().unwrap();
    // With 516 queue slots (under 4 objects) and 2 readers, at most a handful of messages can be in
    // flight; the rest must wait in the queue while Elasticsearch is slow.
    let mut max_in_flight = 0;
    let mut waited_visible = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (visible, in_flight) = moto.queue_counts(&q).await;
        max_in_flight = max_in_flight.max(in_flight);
        waited_visible |= visible >= 15 && in_flight > 0;
    }
    assert!(
        max_in_flight <= 8,
        "in flight peaked at {max_in_flight}: polling did not stop"
    );
    assert!(
        waited_visible,
        "most messages stayed in the queue while the output was slow"
    );
    expect_success(child, LONG).await;
    assert_eq!(es.docs("test-elb").await.len(), 30 * 140);
    assert_eq!(moto.queue_counts(&q).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_down_then_up_loses_nothing_and_duplicates_nothing() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("down");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    for i in 0..3 {
        moto.put(
            "bkt",
            &format!("k{i}.log.gz"),
            gzip(&sample("alb-aws-docs.log")),
        )
        .await;
    }
    es.faults(json!({"down": true})).await;
    let cfg = write_config(
        &dir,
        &config(&moto, &[sqs_input(&q, "alb", "")], &es_output(&es), ""),
    );
    let child = daemon(&cfg, &["--once"]).spawn().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(es.docs("test-alb").await.is_empty());
    assert_eq!(
        moto.queue_counts(&q).await.1,
        3,
        "the 3 object messages stay in flight while ES is down"
    );
    // Back up, but flaky: whole-request 503s, per-item 429s, and a connection dropped after indexing
    // (the retry then meets 409 conflicts, which count as delivered).
    es.faults(json!({"down": false, "request_status": 503, "request_count": 2, "item_429": 3, "drop_after_index": 1})).await;
    expect_success(child, LONG).await;
    let docs = es.docs("test-alb").await;
    assert_eq!(docs.len(), 12, "every event exactly once");
    let ids: std::collections::BTreeSet<&str> =
        docs.iter().map(|d| d["_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 12);
    assert!(
        docs.iter().all(|d| d["_version"] == 1),
        "no document was overwritten"
    );
    let stats = es.stats().await;
    assert!(
        stats["items"]["rejected_429"].as_u64().unwrap() >= 3,
        "{stats}"
    );
    assert!(
        stats["dropped_connections"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    // Issue 23: events were indexed before the template (its retry had backed off further than the
    // bulk requests'), so that day's indices kept dynamic mappings. The template goes first.
    assert_eq!(stats["bulk_requests_before_template"], 0, "{stats}");
    assert_eq!(
        es.templates().await["s3logsbeat"]["index_patterns"],
        json!(["test-*"]),
        "the template follows the index"
    );
    assert_eq!(moto.queue_counts(&q).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_documents_go_to_the_dead_letter_index_and_413_splits() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("dlq");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    // `n` is a number in the first document and an object in the second: a mapping conflict (400).
    let mut body = String::new();
    body.push_str("{\"ts\":1553360693208,\"n\":1}\n{\"ts\":1553360693209,\"n\":{\"a\":1}}\n");
    for i in 0..40 {
        body.push_str(&format!(
            "{{\"ts\":{},\"n\":{i},\"pad\":\"{}\"}}\n",
            1553360693210u64 + i,
            "x".repeat(200)
        ));
    }
    moto.put("bkt", "app.log", body.into_bytes()).await;
    es.faults(json!({"max_content_length": 4000})).await;
    let input = sqs_input(
        &q,
        "json",
        "      log_format_options: {timestamp_field: ts, timestamp_format: timeUnixMilliseconds}\n",
    );
    let output = es_output(&es) + "  compression_level: 0\n";
    let cfg = write_config(&dir, &config(&moto, &[input], &output, ""));
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(es.docs("test-json").await.len(), 41);
    let dead = es.docs("s3logsbeat-deadletter").await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let d = &dead[0]["_source"];
    assert_eq!(d["error"]["status"], 400);
    assert!(d["message"].as_str().unwrap().contains("\"n\":{\"a\":1}"));
    assert_eq!(d["index"], "test-json");
    assert!(
        es.stats().await["requests_413"].as_u64().unwrap() >= 1,
        "bulk requests were split after 413"
    );
    assert_eq!(counter(&run.stderr, "events_dead_lettered"), 1);
    assert_eq!(
        moto.queue_counts(&q).await,
        (0, 0),
        "a dead-lettered event counts as handled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_failure_keeps_the_message_and_the_visibility_is_extended() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("keep");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    let gz = gzip(&sample("alb-aws-docs.log").repeat(50));
    moto.put("bkt", "cut.log.gz", gz[..gz.len() / 2].to_vec())
        .await;
    moto.put("bkt", "good.log.gz", gzip(&sample("alb-aws-docs.log")))
        .await;
    // Elasticsearch answers after 3 s, longer than the 2 s visibility timeout: the heartbeat must keep the
    // good object's message invisible, or it would be received and processed a second time.
    es.faults(json!({"latency_ms": 3000})).await;
    let cfg = write_config(
        &dir,
        &config(
            &moto,
            &[sqs_input(&q, "alb", "      visibility_timeout: 2s\n")],
            &es_output(&es),
            "",
        ),
    );
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(
        run.code,
        Some(1),
        "--once reports what was not delivered: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("s3://bkt/cut.log.gz: gzip stream is truncated"),
        "{}",
        run.stderr
    );
    assert_eq!(counter(&run.stderr, "s3_objects_failed"), 1);
    assert_eq!(counter(&run.stderr, "sqs_messages_kept"), 1);
    assert!(
        counter(&run.stderr, "sqs_visibility_extended") >= 1,
        "{}",
        run.stderr
    );
    let stats = es.stats().await;
    assert_eq!(
        stats["items"]["conflict_409"], 0,
        "the good object was processed once: {stats}"
    );
    assert_eq!(
        counter(&run.stderr, "sqs_messages_received"),
        3,
        "test event + 2 objects, none twice"
    );
    // The kept message comes back after its visibility timeout.
    eventually(
        Duration::from_secs(10),
        "kept message visible again",
        || async { moto.queue_counts(&q).await.0 == 1 },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_stream_returns_undelivered_messages_at_once() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("shutdown");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    moto.put("bkt", "one.log", sample("elb-logstash-patterns.log"))
        .await;
    es.faults(json!({"latency_ms": 20000})).await;
    let extra = "";
    let cfg = write_config(
        &dir,
        &config(&moto, &[sqs_input(&q, "elb", "")], &es_output(&es), extra)
            .replace("  aws:", "  shutdown_timeout: 1s\n  aws:"),
    );
    let mut child = daemon(&cfg, &[]).spawn().unwrap();
    eventually(Duration::from_secs(30), "bulk request sent", || async {
        es.docs("test-elb").await.len() == 4
    })
    .await;
    assert_eq!(moto.queue_counts(&q).await, (0, 1));
    let t0 = std::time::Instant::now();
    terminate(&child);
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit 0 after SIGTERM");
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "stopped within shutdown_timeout: {:?}",
        t0.elapsed()
    );
    // Visible again now, not after the 300 s visibility timeout.
    assert_eq!(moto.queue_counts(&q).await, (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_and_console_outputs_and_basic_auth() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("outputs");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    moto.put("bkt", "w.ndjson.gz", gzip(&sample("waf-aws-docs.ndjson")))
        .await;
    let out_dir = dir.0.join("out");
    let file_out = file_output(&out_dir);
    let cfg = write_config(
        &dir,
        &config(&moto, &[sqs_input(&q, "waf", "")], &file_out, ""),
    );
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let text = std::fs::read_to_string(out_dir.join("events")).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 6);
    assert_eq!(events[0]["@metadata"]["format"], "waf");
    assert_eq!(events[0]["@metadata"]["_id"].as_str().unwrap().len(), 32);

    // Same object again, to the console: same ids.
    moto.put("bkt", "w.ndjson.gz", gzip(&sample("waf-aws-docs.ndjson")))
        .await;
    let cfg = write_config(
        &dir,
        &config(
            &moto,
            &[sqs_input(&q, "waf", "")],
            "output.console: {}\n",
            "",
        ),
    );
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(ids(&ndjson(&run.stdout)), ids(&events));

    // Elasticsearch with basic auth: wrong password retries (never drops), right one delivers.
    es.faults(json!({"auth": {"basic": ["writer", "s3cret"]}}))
        .await;
    moto.put("bkt", "w.ndjson.gz", gzip(&sample("waf-aws-docs.ndjson")))
        .await;
    let out = es_output(&es) + "  username: writer\n  password: ${ES_TEST_PASSWORD}\n";
    let cfg = write_config(&dir, &config(&moto, &[sqs_input(&q, "waf", "")], &out, ""));
    let mut cmd = daemon(&cfg, &["--once"]);
    cmd.env("ES_TEST_PASSWORD", "s3cret");
    let run = run_to_end(cmd, LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(es.docs("test-waf").await.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_errors_back_off_instead_of_looping() {
    let moto = Moto::start().await;
    let dir = TempDir::new("backoff");
    let missing = format!("{}/123456789012/no-such-queue", moto.endpoint);
    let cfg = write_config(
        &dir,
        &config(
            &moto,
            &[sqs_input(&missing, "alb", "")],
            "output.console: {}\n",
            "",
        )
        .replace("  aws:", "  shutdown_timeout: 1s\n  aws:"),
    );
    let child = daemon(&cfg, &[]).spawn().unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    terminate(&child);
    let out = tokio::time::timeout(Duration::from_secs(15), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let errors = counter(&stderr, "sqs_receive_errors");
    // Backoff 1 s, 2 s, 4 s (±25 %): about 3 attempts in 6 s, where a tight loop would make hundreds.
    // At least one: on a loaded machine the first ReceiveMessage alone can take seconds.
    assert!(
        (1..=5).contains(&errors),
        "{errors} receive errors in 6 s: {stderr}"
    );
    assert!(
        stderr.contains("no-such-queue") && stderr.contains("ReceiveMessage failed"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_api_key_drop_policy_and_endpoint_from_the_environment() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("failover");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    let mut body =
        String::from("{\"ts\":1553360693208,\"n\":1}\n{\"ts\":1553360693209,\"n\":{\"a\":1}}\n");
    body.push_str("{\"ts\":1553360693210,\"n\":2}\n");
    moto.put("bkt", "app.log", body.into_bytes()).await;
    es.faults(json!({"auth": {"api_key": "key-id:key-secret"}}))
        .await;
    // The first host refuses connections: the output fails over to the second.
    let output = format!(
        "output.elasticsearch:\n  hosts: [\"127.0.0.1:1\", \"{}\"]\n  index: \"test-%{{[fields][format]}}\"\n  api_key: \"key-id:key-secret\"\n  backoff.init: 100ms\n  non_indexable_policy.drop: {{}}\n",
        es.url
    );
    let input = sqs_input(
        &q,
        "json",
        "      log_format_options: {timestamp_field: ts, timestamp_format: timeUnixMilliseconds}\n",
    );
    // No endpoint in the config: AWS_ENDPOINT_URL points the SDK at moto (and makes S3 path-style).
    let text = format!("s3logsbeat:\n  inputs:\n{input}{output}");
    let cfg = write_config(&dir, &text);
    let mut cmd = daemon(&cfg, &["--once"]);
    cmd.env("AWS_ENDPOINT_URL", &moto.endpoint);
    let run = run_to_end(cmd, LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(es.docs("test-json").await.len(), 2);
    assert!(
        es.docs("s3logsbeat-deadletter").await.is_empty(),
        "drop policy: no dead-letter index"
    );
    assert_eq!(counter(&run.stderr, "events_dropped"), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("127.0.0.1:1"),
        "the failed host is named in the log"
    );
    assert_eq!(moto.queue_counts(&q).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_without_the_field_its_index_names_is_dead_lettered_not_misplaced() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("index-field");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    let body = "{\"ts\":1553360693208,\"env\":\"Prod\"}\n{\"ts\":1553360693209}\n{\"ts\":1553360693210,\"env\":\"prod\"}\n";
    moto.put("bkt", "app.log", body.as_bytes().to_vec()).await;
    let input = sqs_input(
        &q,
        "json",
        "      log_format_options: {timestamp_field: ts, timestamp_format: timeUnixMilliseconds}\n",
    );
    let output = format!(
        "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"logs-%{{[env]}}\"\n",
        es.url
    );
    let cfg = write_config(&dir, &config(&moto, &[input], &output, ""));
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(es.docs("logs-prod").await.len(), 2);
    assert!(
        es.docs("logs-").await.is_empty(),
        "never an index with an empty part"
    );
    let dead = es.docs("s3logsbeat-deadletter").await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0]["_source"]["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("%{[env]} has no value in this event"),
        "{dead:?}"
    );
    assert_eq!(counter(&run.stderr, "events_dead_lettered"), 1);
    assert_eq!(moto.queue_counts(&q).await, (0, 0));
}

/// ALB lines that gzip poorly (random hex in the URL), so that a few thousand make a large object.
fn noisy_alb(lines: usize, seed: u64) -> Vec<u8> {
    let template = String::from_utf8(sample("alb-aws-docs.log")).unwrap();
    let first = template.lines().next().unwrap().to_string();
    let mut x = seed;
    let mut out = String::new();
    for _ in 0..lines {
        let mut hex = String::with_capacity(160);
        for _ in 0..10 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            hex.push_str(&format!("{:016x}", x));
        }
        out.push_str(&first.replace(
            "www.example.com:80/ ",
            &format!("www.example.com:80/{hex} "),
        ));
        out.push('\n');
    }
    out.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_gzip_object_is_inflated_on_its_own_thread_with_the_same_events() {
    let moto = Moto::start().await;
    let dir = TempDir::new("inflate");
    let q = moto.bucket_with_notifications("bucket", "q").await;
    // Two gzip members, over the 1 MiB above which a gzip object is inflated on its own thread.
    let text = noisy_alb(16_000, 7);
    let half = text.len() / 2 + 300;
    let cut = half + text[half..].iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut big = gzip(&text[..cut]);
    big.extend(gzip(&text[cut..]));
    assert!(
        big.len() as u64 >= s3logsbeat::object::inflate::THREAD_MIN_BYTES,
        "{}",
        big.len()
    );
    moto.put("bucket", "big.log.gz", big.clone()).await;
    // The same size again, cut short: the truncation is the object's failure, its message kept.
    let other = gzip(&noisy_alb(16_000, 8));
    moto.put("bucket", "cut.log.gz", other[..other.len() - 1000].to_vec())
        .await;
    let out_dir = dir.0.join("out");
    let file_out = format!(
        "output.file:\n  path: {}\n  filename: events\n  rotate_every_kb: 1000000\n",
        out_dir.display()
    );
    let cfg = write_config(
        &dir,
        // One object at a time: an object gets a thread only while fewer are read than there are cores.
        &config(
            &moto,
            &[sqs_input(&q, "alb", "      workers: 1\n")],
            &file_out,
            "",
        ),
    );
    let run = run_to_end(daemon(&cfg, &["--once", "-d", "fetch"]), LONG).await;
    assert_eq!(
        run.code,
        Some(1),
        "the cut object is not delivered: {}",
        run.stderr
    );
    for key in ["big", "cut"] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains("inflating on a thread of its own")
                    && l.contains(&format!("s3://bucket/{key}.log.gz"))),
            "{key}: {}",
            run.stderr
        );
    }
    assert!(
        run.stderr
            .contains("s3://bucket/cut.log.gz: gzip stream is truncated"),
        "{}",
        run.stderr
    );
    assert_eq!(counter(&run.stderr, "s3_objects_failed"), 1);
    assert_eq!(counter(&run.stderr, "sqs_messages_kept"), 1);
    assert_eq!(
        counter(&run.stderr, "sqs_messages_deleted"),
        2,
        "test event + big"
    );

    // Every line of the big object, with the ids and fields the in-line decoder gives.
    let written = std::fs::read_to_string(out_dir.join("events")).unwrap();
    let delivered: Vec<serde_json::Value> = ndjson(&written)
        .into_iter()
        .filter(|e| e["log"]["file"]["path"] == "s3://bucket/big.log.gz")
        .collect();
    let inline = parse_object(
        &spec("alb"),
        &s3logsbeat::config::EnrichSettings::new("n", "h"),
        "big.log.gz",
        &big,
        64 * 1024,
        s3logsbeat::object::DEFAULT_MAX_LINE_BYTES,
    );
    assert_eq!(inline.result.unwrap().lines, 16_000);
    let expected: Vec<serde_json::Value> = inline.events.iter().map(|e| e.doc_json()).collect();
    assert_eq!(delivered.len(), expected.len());
    assert_eq!(ids(&delivered), ids_of(&inline.events));
    for (d, e) in delivered.iter().zip(&expected) {
        assert_eq!(d["message"], e["message"]);
        assert_eq!(d["@timestamp"], e["@timestamp"]);
        assert_eq!(d["log"]["offset"], e["log"]["offset"]);
    }
}

fn ids_of(events: &[s3logsbeat::event::Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let mut hex = Vec::new();
            e.id.write_hex(&mut hex);
            String::from_utf8(hex).unwrap()
        })
        .collect()
}

/// G1 (fuzz findings of 2026-12-07, main at 46c0a7c): one 1.3 KB CloudWatch object whose message is
/// JSON nested 127 deep made the Elasticsearch output panic rendering a `%{[field]}` index; after three
/// panics the daemon exited, and every redelivery did it again. Now both events are indexed, the deep
/// one within Elasticsearch's mapping depth, nothing panics, and the queue drains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g1_one_deeply_nested_object_is_indexed_and_the_queue_drains() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("g1");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    let g1 = std::fs::read(
        repo().join("tests/data/fuzz-findings/G1_cloudwatch_deep_json.cloudwatch.json"),
    )
    .unwrap();
    // Sent three times, as three objects: three batches, where three panics stopped the daemon.
    for k in ["a", "b", "c"] {
        moto.put("bkt", &format!("cw/{k}.json"), g1.clone()).await;
    }
    let input = sqs_input(
        &q,
        "cloudwatch",
        "      log_format_options: {decode_json: true}\n",
    );
    let output = format!(
        "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"logs-%{{[fields][format]}}-%{{[@metadata][format]}}-%{{+yyyy.MM.dd}}\"\n  bulk_max_size: 2\n",
        es.url
    );
    let cfg = write_config(&dir, &config(&moto, &[input], &output, ""));
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(counter(&run.stderr, "task_panics"), 0, "{}", run.stderr);
    assert_eq!(counter(&run.stderr, "json_values_capped"), 3);
    let docs = es.docs("logs-cloudwatch-cloudwatch-2024.01.02").await;
    assert_eq!(docs.len(), 6, "{docs:?}");
    for d in &docs {
        let text = d["_source"].to_string();
        let depth = s3logsbeat::event::json_depth(&text);
        assert!(depth <= s3logsbeat::event::MAX_DOC_DEPTH, "{depth}: {text}");
    }
    assert!(es.docs("s3logsbeat-deadletter").await.is_empty());
    assert_eq!(moto.queue_counts(&q).await, (0, 0));
}

/// A document refused for good goes to the dead-letter index; when that index refuses it too (here the
/// user may not write it), the event is not delivered and never dropped silently: counted, logged with
/// its message, and its message kept, to return after its visibility timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_dead_letter_write_keeps_the_message() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("dl-refused");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    // `n` is a number in the first document and an object in the second: a mapping conflict (400).
    let body = "{\"ts\":1553360693208,\"n\":1}\n{\"ts\":1553360693209,\"n\":{\"a\":1}}\n";
    moto.put("bkt", "app.log", body.as_bytes().to_vec()).await;
    es.faults(json!({"auth": {"basic": ["u", "p"], "write_indices": ["test-*"]}}))
        .await;
    let input = sqs_input(
        &q,
        "json",
        "      visibility_timeout: 2s\n      log_format_options: {timestamp_field: ts, timestamp_format: timeUnixMilliseconds}\n",
    );
    let output = es_output(&es) + "  username: u\n  password: p\n";
    let cfg = write_config(&dir, &config(&moto, &[input], &output, ""));
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(
        run.code,
        Some(1),
        "--once reports what was not delivered: {}",
        run.stderr
    );
    assert_eq!(es.docs("test-json").await.len(), 1);
    assert_eq!(
        counter(&run.stderr, "events_dead_letter_refused"),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(counter(&run.stderr, "events_dropped"), 0);
    assert_eq!(counter(&run.stderr, "sqs_messages_kept"), 1);
    assert!(
        run.stderr
            .contains("dead-letter index s3logsbeat-deadletter refused"),
        "{}",
        run.stderr
    );
    eventually(
        Duration::from_secs(10),
        "kept message visible again",
        || async { moto.queue_counts(&q).await.0 == 1 },
    )
    .await;
}

/// Issue 23: a publish queue under 513 events was refused at start-up; libbeat accepts small queues.
/// A queue of 4 events still delivers three objects of four events each, batch after batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_publish_queue_delivers_everything() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("small-queue");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    for i in 0..3 {
        moto.put("bkt", &format!("k{i}.log"), sample("alb-aws-docs.log"))
            .await;
    }
    let cfg = write_config(
        &dir,
        &config(
            &moto,
            &[sqs_input(&q, "alb", "")],
            &es_output(&es),
            "queue.mem.events: 4\n",
        ),
    );
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(es.docs("test-alb").await.len(), 12);
    assert_eq!(moto.queue_counts(&q).await, (0, 0));
}

/// `--once` short-polls, and a short poll that finds nothing ends the run only when the queue's counts
/// agree: a notification delayed past the first poll (SQS's DelaySeconds, as a short poll missing a
/// message on the servers it did not ask would look) is still read. Only the counts tell the two apart;
/// without them the run would end with the message unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_reads_a_message_the_first_short_poll_does_not_see() {
    let moto = Moto::start().await;
    let dir = TempDir::new("once-delayed");
    moto.create_bucket("bkt").await;
    let q = moto.create_queue("q").await;
    moto.put("bkt", "w.ndjson.gz", gzip(&sample("waf-aws-docs.ndjson")))
        .await;
    let body = format!("{{\"Records\":[{}]}}", s3_record("bkt", "w.ndjson.gz"));
    moto.sqs()
        .send_message()
        .queue_url(&q)
        .message_body(body)
        .delay_seconds(1)
        .send()
        .await
        .unwrap();
    let out_dir = dir.0.join("out");
    let file_out = file_output(&out_dir);
    let cfg = write_config(
        &dir,
        &config(&moto, &[sqs_input(&q, "waf", "")], &file_out, ""),
    );
    let run = run_to_end(daemon(&cfg, &["--once", "-d", "*"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("a poll found nothing") && run.stderr.contains("delayed=1"),
        "the first poll came before the message was visible: {}",
        run.stderr
    );
    let text = std::fs::read_to_string(out_dir.join("events")).unwrap_or_default();
    assert_eq!(
        text.lines().count(),
        6,
        "the delayed message's six events: {}",
        run.stderr
    );
    assert_eq!(moto.queue_counts(&q).await, (0, 0), "and it was deleted");
}
