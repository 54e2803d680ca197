//! `type: s3` polled by the daemon (`bucket_arn`), and what becomes of objects after delivery, against
//! moto: objects found between listings, a restart that resumes from the cursor, a key that arrives out
//! of order within the lookback, two instances sharing a bucket by prefix (the survivor takes over),
//! `kill -9` mid-object, backup then delete after delivery (for `s3`, `sqs` with a copy in parts, and
//! `s3import`), nothing deleted while Elasticsearch refuses, a truncated gzip neither backed up nor
//! deleted, an object changed since it was read kept.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::common::file_events as events;
use crate::common::*;

const LONG: Duration = Duration::from_secs(90);

fn poll_input(bucket: &str, extra: &str) -> String {
    format!(
        "    - type: s3\n      bucket_arn: \"arn:aws:s3:::{bucket}\"\n      bucket_list_prefix: logs/\n      bucket_list_interval: 1s\n      log_format: elb\n{extra}"
    )
}

fn file_config(moto: &Moto, dir: &TempDir, inputs: &[String], extra: &str) -> String {
    config_text(
        Some(&moto.endpoint),
        inputs,
        &format!(
            "output.file:\n  path: {}\n  filename: events\n",
            dir.0.join("out").display()
        ),
        &format!("path.data: {}\n{extra}", dir.0.join("data").display()),
    )
}

/// The objects whose events are in `events`.
fn paths(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["log"]["file"]["path"].as_str().unwrap().to_string())
        .collect()
}

async fn exists(moto: &Moto, bucket: &str, key: &str) -> bool {
    moto.s3()
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

async fn body(moto: &Moto, bucket: &str, key: &str) -> Vec<u8> {
    let o = moto
        .s3()
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("s3://{bucket}/{key}: {e:?}"));
    o.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_found_between_listings_and_a_restart_resumes_from_the_cursor() {
    let moto = Moto::start().await;
    moto.create_bucket("poll").await;
    let elb = sample("elb-logstash-patterns.log");
    for k in ["logs/2026/01/a.log", "logs/2026/01/b.log", "other/x.log"] {
        moto.put("poll", k, elb.clone()).await;
    }
    let dir = TempDir::new("poll-rounds");
    let cfg = write_config(
        &dir,
        &file_config(&moto, &dir, &[poll_input("poll", "")], ""),
    );
    let mut child = daemon(&cfg, &[]).spawn().unwrap();
    let d = dir.0.clone();
    eventually(LONG, "the first two objects read", || {
        let d = d.clone();
        async move { events(&d).len() == 8 }
    })
    .await;
    // Found at a later listing: a new key after the others, and one between them.
    moto.put("poll", "logs/2026/02/c.log.gz", gzip(&elb)).await;
    moto.put("poll", "logs/2026/01/ab.log", elb.clone()).await;
    eventually(LONG, "the objects put while running read", || {
        let d = d.clone();
        async move { events(&d).len() == 16 }
    })
    .await;
    terminate(&child);
    let _ = child.wait().await;
    let got = events(&dir.0);
    assert_eq!(
        paths(&got),
        [
            "s3://poll/logs/2026/01/a.log",
            "s3://poll/logs/2026/01/ab.log",
            "s3://poll/logs/2026/01/b.log",
            "s3://poll/logs/2026/02/c.log.gz"
        ]
        .into_iter()
        .map(String::from)
        .collect(),
        "outside the prefix nothing is read"
    );
    // A restart resumes from the cursor: nothing read again, nothing missed.
    moto.put("poll", "logs/2026/03/d.log", elb.clone()).await;
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        counter(&run.stderr, "s3_poll_objects_found"),
        1,
        "{}",
        run.stderr
    );
    let got = events(&dir.0);
    assert_eq!(got.len(), 20);
    assert!(paths(&got).contains("s3://poll/logs/2026/03/d.log"));
    // The cursor's document is small and names what it is.
    let state = std::fs::read_dir(dir.0.join("data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with("s3_poll.")
        })
        .expect("a cursor document in path.data");
    let doc: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(doc["kind"], "s3_poll_cursor", "{doc}");
    assert_eq!(
        doc["data"]["done"].as_object().unwrap().len(),
        5,
        "the keys inside the lookback are remembered: {doc}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_arrives_out_of_order_is_found_within_the_lookback_only() {
    let moto = Moto::start().await;
    moto.create_bucket("ooo").await;
    let elb = sample("elb-logstash-patterns.log");
    for k in ["logs/b.log", "logs/c.log"] {
        moto.put("ooo", k, elb.clone()).await;
    }
    let dir = TempDir::new("poll-ooo");
    let cfg = write_config(
        &dir,
        &file_config(&moto, &dir, &[poll_input("ooo", "")], ""),
    );
    // Without a lookback the cursor passes c at once, and a later `a` is never listed again: the
    // negative control.
    let dir0 = TempDir::new("poll-ooo0");
    let cfg0 = write_config(
        &dir0,
        &file_config(
            &moto,
            &dir0,
            &[poll_input("ooo", "      bucket_list_lookback: 0s\n")],
            "",
        ),
    );
    for c in [&cfg, &cfg0] {
        let run = run_to_end(daemon(c, &["--once"]), LONG).await;
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    }
    assert_eq!(events(&dir.0).len(), 8);
    assert_eq!(events(&dir0.0).len(), 8);
    // CloudTrail-like: a key before those already read appears later.
    moto.put("ooo", "logs/a.log", elb.clone()).await;
    for c in [&cfg, &cfg0] {
        let run = run_to_end(daemon(c, &["--once"]), LONG).await;
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    }
    let got = events(&dir.0);
    assert_eq!(got.len(), 12, "the late key is read, the others not again");
    assert!(paths(&got).contains("s3://ooo/logs/a.log"));
    assert_eq!(
        events(&dir0.0).len(),
        8,
        "with no lookback the late key is missed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_a_bucket_by_prefix_and_the_survivor_takes_over() {
    let moto = Moto::start().await;
    moto.create_bucket("fleet").await;
    moto.create_bucket("state").await;
    let elb = sample("elb-logstash-patterns.log");
    for k in ["east/1.log", "east/2.log", "west/1.log", "west/2.log"] {
        moto.put("fleet", k, elb.clone()).await;
    }
    let input = "    - type: s3\n      bucket_arn: \"arn:aws:s3:::fleet\"\n      bucket_list_prefix: [east/, west/]\n      bucket_list_interval: 1s\n      log_format: elb\n".to_string();
    let state = "state:\n  s3:\n    bucket: state\n  lease_duration: 10s\n";
    let (da, db) = (TempDir::new("poll-a"), TempDir::new("poll-b"));
    let cfg_a = write_config(
        &da,
        &file_config(&moto, &da, std::slice::from_ref(&input), state),
    );
    let cfg_b = write_config(&db, &file_config(&moto, &db, &[input], state));
    let mut a = daemon(&cfg_a, &[]).spawn().unwrap();
    // B starts once A holds the two leases. moto checks a conditional write and then writes, not as one
    // step (S3 does): two instances creating one lease in the same instant could both succeed there,
    // and both read the prefix (a fresh-clone run saw 24 events for 16).
    eventually(LONG, "the first instance holds both leases", || async {
        let keys = moto.keys("state").await;
        keys.iter()
            .filter(|k| k.contains("lease") && k.contains("s3_poll"))
            .count()
            == 2
    })
    .await;
    let mut b = daemon(&cfg_b, &[]).spawn().unwrap();
    let (pa, pb) = (da.0.clone(), db.0.clone());
    eventually(LONG, "the four objects read by the two", || {
        let (pa, pb) = (pa.clone(), pb.clone());
        async move { events(&pa).len() + events(&pb).len() == 16 }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (ea, eb) = (events(&da.0), events(&db.0));
    assert_eq!(ea.len() + eb.len(), 16, "no object read twice");
    let all: BTreeSet<String> = paths(&ea).union(&paths(&eb)).cloned().collect();
    assert_eq!(all.len(), 4);
    // Whoever holds east dies without giving its leases up; more objects arrive in both prefixes.
    let east_by_a = paths(&ea).contains("s3://fleet/east/1.log");
    let (dead, survivor_dir, survivor) = if east_by_a {
        (&mut a, &db, &mut b)
    } else {
        (&mut b, &da, &mut a)
    };
    dead.start_kill().unwrap();
    let _ = dead.wait().await;
    let before = events(&survivor_dir.0).len();
    moto.put("fleet", "east/3.log", elb.clone()).await;
    moto.put("fleet", "west/3.log", elb.clone()).await;
    let sd = survivor_dir.0.clone();
    eventually(LONG, "the survivor reads both prefixes", || {
        let sd = sd.clone();
        async move {
            let p = paths(&events(&sd));
            p.contains("s3://fleet/east/3.log") && p.contains("s3://fleet/west/3.log")
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // It took over from the dead one's cursor: the objects it had read were not read again.
    assert_eq!(events(&survivor_dir.0).len(), before + 8);
    terminate(survivor);
    let _ = survivor.wait().await;
}

fn es_output(es: &EsDouble) -> String {
    format!(
        "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"polled\"\n  bulk_max_size: 50\n  backoff.init: 100ms\n  backoff.max: 1s\nqueue.mem.events: 200\n",
        es.url
    )
}

async fn indexed(es: &EsDouble) -> u64 {
    es.doc_counts().await.values().sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_object_then_restarted_every_event_once_by_id() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    moto.create_bucket("big").await;
    let line = String::from_utf8(sample("elb-logstash-patterns.log")).unwrap();
    let first = line.lines().next().unwrap().to_string();
    // Identical lines are distinct events: an event's id is its object and offset.
    let many: String = (0..3000).map(|_| format!("{first}\n")).collect();
    moto.put("big", "logs/big.log.gz", gzip(many.as_bytes()))
        .await;
    let dir = TempDir::new("poll-kill");
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&moto.endpoint),
            &[poll_input("big", "")],
            &es_output(&es),
            &format!(
                "path.data: {}\nstate.lease_duration: 10s\n",
                dir.0.join("data").display()
            ),
        ),
    );
    es.faults(serde_json::json!({"latency_ms": 300})).await;
    let mut child = daemon(&cfg, &[]).spawn().unwrap();
    eventually(LONG, "part of the object indexed", || async {
        indexed(&es).await >= 200
    })
    .await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let before = indexed(&es).await;
    assert!(before < 3000, "killed mid-object: {before} indexed");
    es.faults(serde_json::json!({"latency_ms": 0})).await;
    // The killed instance's lease is in path.data: the restart takes over once it expires.
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(indexed(&es).await, 3000, "every event once, by _id");
}

fn backup(extra: &str) -> String {
    format!("      backup_to_bucket_arn: \"arn:aws:s3:::backup\"\n      backup_to_bucket_prefix: done/\n{extra}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backed_up_then_deleted_after_delivery_and_a_truncated_gzip_is_neither() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    moto.create_bucket("src").await;
    moto.create_bucket("backup").await;
    let elb = sample("elb-logstash-patterns.log");
    moto.put("src", "logs/good.log", elb.clone()).await;
    let gz = gzip(&elb);
    moto.put("src", "logs/bad.log.gz", gz[..gz.len() - 10].to_vec())
        .await;
    let dir = TempDir::new("poll-backup");
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&moto.endpoint),
            &[poll_input(
                "src",
                &backup("      delete_after_backup: true\n"),
            )],
            &es_output(&es),
            &format!("path.data: {}\n", dir.0.join("data").display()),
        ),
    );
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_ne!(
        run.code,
        Some(0),
        "a truncated object fails --once: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("s3://src/logs/bad.log.gz"),
        "{}",
        run.stderr
    );
    assert_eq!(body(&moto, "backup", "done/logs/good.log").await, elb);
    assert!(
        !exists(&moto, "src", "logs/good.log").await,
        "deleted after its backup"
    );
    assert!(exists(&moto, "src", "logs/bad.log.gz").await, "kept");
    assert!(
        !exists(&moto, "backup", "done/logs/bad.log.gz").await,
        "not backed up"
    );
    assert_eq!(
        counter(&run.stderr, "s3_objects_backed_up"),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        counter(&run.stderr, "s3_objects_deleted"),
        1,
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_deleted_while_elasticsearch_refuses() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    moto.create_bucket("refused").await;
    let elb = sample("elb-logstash-patterns.log");
    moto.put("refused", "logs/x.log", elb.clone()).await;
    es.faults(serde_json::json!({"request_status": 503, "request_count": 100000}))
        .await;
    let dir = TempDir::new("poll-refused");
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&moto.endpoint),
            &[poll_input("refused", "      delete_after_read: true\n")],
            &es_output(&es),
            &format!("path.data: {}\n", dir.0.join("data").display()),
        ),
    );
    let mut child = daemon(&cfg, &[]).spawn().unwrap();
    eventually(LONG, "bulk requests refused", || async {
        es.stats().await["bulk_requests"].as_u64().unwrap_or(0) >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        exists(&moto, "refused", "logs/x.log").await,
        "not delivered: kept"
    );
    es.faults(serde_json::json!({"request_count": 0})).await;
    eventually(LONG, "deleted once delivered", || async {
        !exists(&moto, "refused", "logs/x.log").await
    })
    .await;
    assert_eq!(indexed(&es).await, 4);
    terminate(&child);
    let _ = child.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqs_input_backs_up_a_large_object_in_parts_then_deletes_it() {
    let moto = Moto::start().await;
    let queue = moto.bucket_with_notifications("notified", "notes").await;
    moto.create_bucket("backup").await;
    // About 12 MB of ELB lines, copied in 5 MiB parts (the limit is lowered for the test).
    let line = String::from_utf8(sample("elb-logstash-patterns.log")).unwrap();
    let first = line.lines().next().unwrap().to_string();
    let mut big = String::new();
    while big.len() < 12 << 20 {
        big.push_str(&first);
        big.push('\n');
    }
    let lines = big.lines().count();
    moto.put("notified", "logs/big.log", big.clone().into_bytes())
        .await;
    let dir = TempDir::new("sqs-backup");
    let input = format!(
        "    - type: sqs\n      queues_url: [\"{queue}\"]\n      log_format: elb\n{}",
        backup("      delete_after_backup: true\n")
    );
    let cfg = write_config(&dir, &file_config(&moto, &dir, &[input], ""));
    let mut cmd = daemon(&cfg, &["--once"]);
    cmd.env("S3LOGSBEAT_COPY_PART_BYTES", (5u64 << 20).to_string());
    let run = run_to_end(cmd, LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(events(&dir.0).len(), lines);
    let copy = body(&moto, "backup", "done/logs/big.log").await;
    assert_eq!(copy.len(), big.len());
    assert!(copy == big.as_bytes(), "the copy is the object");
    let head = moto
        .s3()
        .head_object()
        .bucket("backup")
        .key("done/logs/big.log")
        .send()
        .await
        .unwrap();
    assert!(
        head.e_tag().unwrap().contains("-3"),
        "copied in 3 parts: {:?}",
        head.e_tag()
    );
    assert!(!exists(&moto, "notified", "logs/big.log").await);
    assert_eq!(moto.queue_counts(&queue).await, (0, 0), "message deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3import_backs_up_what_it_imported() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    moto.create_bucket("imp").await;
    moto.create_bucket("backup").await;
    let elb = sample("elb-logstash-patterns.log");
    moto.put("imp", "logs/a.log", elb.clone()).await;
    let dir = TempDir::new("import-backup");
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&moto.endpoint),
            &[format!(
                "    - type: s3\n      buckets: [\"s3://imp/logs/\"]\n      log_format: elb\n{}",
                backup("")
            )],
            &es_output(&es),
            "",
        ),
    );
    let run = run_to_end(daemon(&cfg, &["s3import"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(body(&moto, "backup", "done/logs/a.log").await, elb);
    assert!(exists(&moto, "imp", "logs/a.log").await, "no delete asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_changed_since_it_was_read_is_not_deleted() {
    use s3logsbeat::ack::AckGroup;
    use s3logsbeat::object::finalise::{Finaliser, Job};
    let moto = Moto::start().await;
    moto.create_bucket("chg").await;
    moto.put("chg", "logs/a.log", b"first\n".to_vec()).await;
    let read = moto
        .s3()
        .head_object()
        .bucket("chg")
        .key("logs/a.log")
        .send()
        .await
        .unwrap();
    let etag = read.e_tag().map(String::from);
    // Overwritten after it was read.
    moto.put("chg", "logs/a.log", b"second\n".to_vec()).await;
    let metrics = Arc::new(s3logsbeat::ops::metrics::Metrics::default());
    let (f, task) = Finaliser::start(metrics.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    let group = AckGroup::new("test", move |o| tx.send(o).unwrap());
    f.submit(Job {
        object: s3logsbeat::object::ObjectRef {
            bucket: "chg".into(),
            key: "logs/a.log".into(),
            region: None,
        },
        etag,
        size: 6,
        what: s3logsbeat::config::s3::Finalise {
            backup: None,
            delete: true,
        },
        s3: moto.s3(),
        hold: group.obligation("finalising"),
        budget: None,
    });
    drop(group);
    drop(f);
    task.await.unwrap();
    assert_eq!(
        rx.recv().unwrap(),
        s3logsbeat::ack::Outcome::Delivered,
        "the group settles"
    );
    assert_eq!(body(&moto, "chg", "logs/a.log").await, b"second\n");
    assert_eq!(
        metrics
            .s3_objects_changed_before_delete
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_backup_keeps_the_object_and_its_message() {
    let moto = Moto::start().await;
    let queue = moto.bucket_with_notifications("kept", "kept-notes").await;
    let elb = sample("elb-logstash-patterns.log");
    moto.put("kept", "logs/a.log", elb).await;
    let dir = TempDir::new("sqs-backup-fails");
    // The backup bucket does not exist: the copy fails.
    let input = format!(
        "    - type: sqs\n      queues_url: [\"{queue}\"]\n      log_format: elb\n      visibility_timeout: 30s\n{}",
        backup("      delete_after_backup: true\n")
    );
    let cfg = write_config(&dir, &file_config(&moto, &dir, &[input], ""));
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_ne!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        counter(&run.stderr, "s3_finalise_failures"),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        counter(&run.stderr, "s3_objects_deleted"),
        0,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("s3://kept/logs/a.log"),
        "{}",
        run.stderr
    );
    assert!(
        exists(&moto, "kept", "logs/a.log").await,
        "never deleted after a failed copy"
    );
    assert_eq!(events(&dir.0).len(), 4, "the events were delivered");
    assert_eq!(
        moto.queue_counts(&queue).await,
        (0, 1),
        "the message is kept: it returns after its visibility timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_that_keeps_failing_is_given_up_after_three_listings() {
    let moto = Moto::start().await;
    moto.create_bucket("bad").await;
    let gz = gzip(&sample("elb-logstash-patterns.log"));
    moto.put("bad", "logs/a.log.gz", gz[..gz.len() - 10].to_vec())
        .await;
    moto.put("bad", "logs/b.log", sample("elb-logstash-patterns.log"))
        .await;
    let dir = TempDir::new("poll-given-up");
    let cfg = write_config(
        &dir,
        &file_config(&moto, &dir, &[poll_input("bad", "")], ""),
    );
    let child = daemon(&cfg, &[]).spawn().unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    terminate(&child);
    let out = tokio::time::timeout(LONG, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(counter(&stderr, "s3_poll_objects_failed"), 2, "{stderr}");
    assert_eq!(counter(&stderr, "s3_poll_objects_given_up"), 1, "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("given up") && l.contains("s3://bad/logs/a.log.gz")),
        "{stderr}"
    );
    assert_eq!(events(&dir.0).len(), 4, "the good object read once");
    // The cursor passed it: a restart does not read it again.
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        counter(&run.stderr, "s3_poll_objects_found"),
        0,
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_in_the_notified_bucket_is_not_read_again() {
    let moto = Moto::start().await;
    let queue = moto.bucket_with_notifications("same", "same-notes").await;
    let elb = sample("elb-logstash-patterns.log");
    moto.put("same", "logs/a.log", elb.clone()).await;
    let dir = TempDir::new("sqs-same-bucket");
    let input = format!(
        "    - type: sqs\n      queues_url: [\"{queue}\"]\n      log_format: elb\n      backup_to_bucket_arn: \"arn:aws:s3:::same\"\n      backup_to_bucket_prefix: done/\n      delete_after_backup: true\n"
    );
    let cfg = write_config(&dir, &file_config(&moto, &dir, &[input], ""));
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // The copy's own notification comes back on the queue, during this run or after it (`--once` ends
    // when the queue is empty, not when the backups' notifications have come): a second run finds what
    // is left. It is not read as a log.
    let again = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let both = |name: &str| counter(&run.stderr, name) + counter(&again.stderr, name);
    assert_eq!(
        both("sqs_messages_deleted"),
        3,
        "S3's test event, the object's notification and its backup's: {}{}",
        run.stderr,
        again.stderr
    );
    assert_eq!(
        both("s3_objects_skipped"),
        1,
        "{}{}",
        run.stderr,
        again.stderr
    );
    assert_eq!(moto.queue_counts(&queue).await, (0, 0));
    assert_eq!(events(&dir.0).len(), 4, "read once");
    assert_eq!(body(&moto, "same", "done/logs/a.log").await, elb);
    assert!(!exists(&moto, "same", "logs/a.log").await);
    assert!(
        !exists(&moto, "same", "done/done/logs/a.log").await,
        "no backup of a backup"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_objects_than_the_finalisers_budget_are_all_deleted() {
    let moto = Moto::start().await;
    moto.create_bucket("many").await;
    let line = b"2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000086 0.001048 0.001337 200 200 0 57 \"GET https://www.example.com:443/ HTTP/1.1\" \"curl/7.38.0\" DHE-RSA-AES128-SHA TLSv1.2\n".to_vec();
    let n = s3logsbeat::object::finalise::WAITING + 200;
    let s3 = moto.s3();
    let puts = (0..n).map(|i| {
        let (s3, body) = (s3.clone(), line.clone());
        async move {
            s3.put_object()
                .bucket("many")
                .key(format!("logs/{i:05}.log"))
                .body(body.into())
                .send()
                .await
                .unwrap();
        }
    });
    futures_util::future::join_all(puts).await;
    let dir = TempDir::new("poll-many");
    let cfg = write_config(
        &dir,
        &file_config(
            &moto,
            &dir,
            &[poll_input(
                "many",
                "      delete_after_read: true\n      number_of_workers: 16\n",
            )],
            "",
        ),
    );
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        counter(&run.stderr, "s3_objects_deleted"),
        n as u64,
        "{}",
        run.stderr
    );
    assert_eq!(
        counter(&run.stderr, "s3_finalise_failures"),
        0,
        "{}",
        run.stderr
    );
    assert_eq!(moto.keys("many").await, Vec::<String>::new());
}
