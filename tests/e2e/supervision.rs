//! Acknowledgement by ownership and supervision, shown with the test-only fault hooks (`fault-hooks`
//! feature, `S3LOGSBEAT_FAULTS`): a panic in a reader or in an output fails only the message it concerned,
//! which comes back at once and is delivered, while the other messages keep flowing; the panic is logged
//! with the queue, message and object; an output that keeps panicking stops the daemon with a non-zero
//! exit instead of polling for ever; a queue sampler that panics stops the daemon at once, naming its
//! queue; `s3import` reports a reader panic and exits non-zero.
//!
//! Real parts: moto's S3 and SQS, the `s3logsbeat` binary, the file output.

use std::time::Duration;

use crate::common::*;

const LONG: Duration = Duration::from_secs(120);

/// Three objects of the ELB sample (4 lines each), announced by moto; returns the queue URL.
async fn three_objects(moto: &Moto) -> String {
    let q = moto.bucket_with_notifications("bkt", "q").await;
    for k in ["a.log", "poison.log", "c.log"] {
        moto.put("bkt", k, sample("elb-logstash-patterns.log"))
            .await;
    }
    q
}

fn file_config(moto: &Moto, queue: &str, out: &std::path::Path) -> String {
    let input = format!(
        "    - type: sqs\n      queues_url: [\"{queue}\"]\n      log_format: elb\n      wait_time: 1s\n"
    );
    let output = format!(
        "output.file:\n  path: {}\n  filename: events\n",
        out.display()
    );
    config_text(Some(&moto.endpoint), &[input], &output, "")
}

/// `_id`s written by the file output, with how often each was written.
fn ids_written(out: &std::path::Path) -> std::collections::BTreeMap<String, usize> {
    let mut ids = std::collections::BTreeMap::new();
    for f in std::fs::read_dir(out).into_iter().flatten() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        for l in text.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            *ids.entry(v["@metadata"]["_id"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    ids
}

/// Runs the daemon with `faults` until every event of the three objects is written and the queue is
/// empty, then stops it; returns its stderr.
async fn run_until_drained(moto: &Moto, q: &str, dir: &TempDir, faults: &str) -> String {
    let out = dir.0.join("out");
    let cfg = write_config(dir, &file_config(moto, q, &out));
    let mut cmd = daemon(&cfg, &[]);
    cmd.env("S3LOGSBEAT_FAULTS", faults);
    let child = cmd.spawn().unwrap();
    eventually(LONG, "12 events written and the queue empty", || async {
        ids_written(&out).len() == 12 && moto.queue_counts(q).await == (0, 0)
    })
    .await;
    terminate(&child);
    expect_success(child, LONG).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_panic_fails_only_its_message_which_comes_back_at_once() {
    let moto = Moto::start().await;
    let dir = TempDir::new("reader-panic");
    let q = three_objects(&moto).await;
    let stderr = run_until_drained(&moto, &q, &dir, "reader_panic_once=poison").await;
    let panic_line = stderr
        .lines()
        .find(|l| l.contains("reader panicked"))
        .unwrap_or_else(|| panic!("no panic line in {stderr}"));
    for want in [
        "s3://bkt/poison.log",
        "message ",
        &q,
        "fault hook: reader_panic_once",
    ] {
        assert!(panic_line.contains(want), "{want:?} in {panic_line}");
    }
    assert!(
        stderr.contains("message not delivered: making it visible again now"),
        "{stderr}"
    );
    let summary = stderr
        .lines()
        .rev()
        .find(|l| l.contains("stopped:"))
        .unwrap();
    assert_eq!(counter(&stderr, "task_panics"), 1, "{summary}");
    assert_eq!(counter(&stderr, "sqs_messages_failed"), 1, "{summary}");
    assert_eq!(counter(&stderr, "sqs_messages_returned"), 1, "{summary}");
    assert_eq!(
        counter(&stderr, "sqs_messages_deleted"),
        4,
        "test event + 3 objects: {summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_panic_drops_its_batch_and_its_messages_come_back() {
    let moto = Moto::start().await;
    let dir = TempDir::new("output-panic");
    let q = three_objects(&moto).await;
    let stderr = run_until_drained(&moto, &q, &dir, "output_panic_once=poison.log").await;
    let panic_line = stderr
        .lines()
        .find(|l| l.contains("output panicked delivering a batch of"))
        .unwrap_or_else(|| panic!("no panic line in {stderr}"));
    for want in ["message ", &q, "fault hook: output_panic_once"] {
        assert!(panic_line.contains(want), "{want:?} in {panic_line}");
    }
    assert_eq!(counter(&stderr, "task_panics"), 1);
    assert!(counter(&stderr, "sqs_messages_failed") >= 1, "{stderr}");
    // The events of the dropped batch were written again after the message came back, once each.
    let ids = ids_written(&dir.0.join("out"));
    assert!(ids.values().all(|n| *n == 1), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_that_keeps_panicking_stops_the_daemon_and_gives_the_message_back() {
    let moto = Moto::start().await;
    let dir = TempDir::new("output-broken");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    moto.put("bkt", "poison.log", sample("elb-logstash-patterns.log"))
        .await;
    let out = dir.0.join("out");
    let cfg = write_config(&dir, &file_config(&moto, &q, &out));
    let mut cmd = daemon(&cfg, &[]);
    cmd.env("S3LOGSBEAT_FAULTS", "output_panic=poison.log");
    let run = run_to_end(cmd, LONG).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("stopping: the output panicked on 3 batches in a row"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("s3logsbeat stopped on a failure"),
        "{}",
        run.stderr
    );
    assert_eq!(counter(&run.stderr, "task_panics"), 3);
    // Not held in flight by a heartbeat: visible again for another consumer.
    assert_eq!(moto.queue_counts(&q).await, (1, 0));
    assert!(ids_written(&out).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_sampler_that_panics_stops_the_daemon_at_once_naming_its_queue() {
    let moto = Moto::start().await;
    let dir = TempDir::new("sampler-panic");
    let calm = moto.create_queue("calm").await;
    let q = moto.create_queue("q").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let input = format!(
        "    - type: sqs\n      queues_url: [\"{calm}\", \"{q}\"]\n      log_format: elb\n      wait_time: 1s\n      queue_metrics_interval: 1s\n"
    );
    let extra = format!("http:\n  enabled: true\n  port: {port}\n");
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&moto.endpoint),
            &[input],
            "output.console: {}\n",
            &extra,
        ),
    );
    let mut cmd = daemon(&cfg, &[]);
    cmd.env("S3LOGSBEAT_FAULTS", "sampler_panic=/q");
    // No signal: the panic alone ends the run.
    let run = run_to_end(cmd, LONG).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "stopping: the queue sampler of {q} panicked: fault hook: sampler_panic on {q}"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(counter(&run.stderr, "task_panics"), 1, "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3import_reports_a_reader_panic_and_exits_non_zero() {
    let moto = Moto::start().await;
    let dir = TempDir::new("import-panic");
    moto.create_bucket("bkt").await;
    for k in ["a.log", "poison.log", "c.log"] {
        moto.put("bkt", k, sample("elb-logstash-patterns.log"))
            .await;
    }
    let out = dir.0.join("out");
    let input =
        "    - type: s3\n      buckets: [\"s3://bkt\"]\n      log_format: elb\n".to_string();
    let output = format!(
        "output.file:\n  path: {}\n  filename: events\n",
        out.display()
    );
    let cfg = write_config(
        &dir,
        &config_text(Some(&moto.endpoint), &[input], &output, ""),
    );
    let mut cmd = daemon(&cfg, &["s3import"]);
    cmd.env("S3LOGSBEAT_FAULTS", "reader_panic_once=poison");
    let run = run_to_end(cmd, LONG).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("s3import: not everything was imported"),
        "{}",
        run.stderr
    );
    let panic_line = run
        .stderr
        .lines()
        .find(|l| l.contains("reader panicked"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(panic_line.contains("s3://bkt/poison.log"), "{panic_line}");
    assert!(
        run.stderr.contains("not imported") && run.stderr.contains("import_objects_failed=1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("import_objects_done=2"),
        "{}",
        run.stderr
    );
    assert_eq!(ids_written(&out).len(), 8, "the two other objects");
}
