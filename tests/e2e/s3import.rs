//! `s3import` against moto and the Elasticsearch double: the time window, keys with spaces and `+`, a
//! prefix without a trailing slash, reruns that add no document, `--dry-run`, and `--to-queue` feeding the
//! daemon.

use std::time::Duration;

use crate::common::*;

const LONG: Duration = Duration::from_secs(120);

fn import_config(moto: &Moto, es: &EsDouble, bucket_uri: &str, window: &str) -> String {
    format!(
        "s3logsbeat:\n  aws:\n    endpoint: {}\n    region: {REGION}\n  inputs:\n    - type: s3\n      buckets: [\"{bucket_uri}\"]\n      log_format: elb\n{window}output.elasticsearch:\n  hosts: [\"{}\"]\n  index: imported\n  backoff.init: 100ms\n",
        moto.endpoint, es.url
    )
}

async fn upload_two_generations(moto: &Moto) -> String {
    moto.create_bucket("imp-bkt").await;
    let elb = sample("elb-logstash-patterns.log");
    moto.put("imp-bkt", "logs/old.log", elb.clone()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t1 = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    moto.put("imp-bkt", "logs/a b+c.log", elb.clone()).await;
    moto.put("imp-bkt", "logs/new.log.gz", gzip(&elb)).await;
    moto.put("imp-bkt", "logsother/x.log", elb.clone()).await;
    moto.put("imp-bkt", "other/skip.log", elb).await;
    t1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_the_window_once_and_reruns_add_nothing() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("import");
    let t1 = upload_two_generations(&moto).await;
    // A prefix without a trailing slash matches `logs/...` and `logsother/...`, as S3 prefixes do.
    let cfg = write_config(
        &dir,
        &import_config(
            &moto,
            &es,
            "s3://imp-bkt/logs",
            &format!("      since: \"{t1}\"\n"),
        ),
    );
    let run = run_to_end(daemon(&cfg, &["s3import"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let docs = es.docs("imported").await;
    assert_eq!(docs.len(), 12, "3 objects × 4 lines");
    let paths: std::collections::BTreeSet<String> = docs
        .iter()
        .map(|d| {
            d["_source"]["log"]["file"]["path"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let want: std::collections::BTreeSet<String> = [
        "s3://imp-bkt/logs/a b+c.log",
        "s3://imp-bkt/logs/new.log.gz",
        "s3://imp-bkt/logsother/x.log",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(paths, want);
    assert!(
        run.stderr.contains("objects_listed=3") && run.stderr.contains("objects_outside_window=1"),
        "{}",
        run.stderr
    );

    // Again, under the original's command name: no new document, every create is a 409.
    let run = run_to_end(daemon(&cfg, &["s3imports"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(es.docs("imported").await.len(), 12);
    assert_eq!(es.stats().await["items"]["conflict_409"], 12);

    // `to` is exclusive and bounds from above; --dry-run lists and reads nothing.
    let cfg = write_config(
        &dir,
        &import_config(
            &moto,
            &es,
            "s3://imp-bkt/",
            &format!("      to: \"{t1}\"\n"),
        ),
    );
    let run = run_to_end(daemon(&cfg, &["s3import", "--dry-run"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // Issue 23: each object with the format a real run reads it as (or why it would not be read).
    assert_eq!(
        run.stdout.trim(),
        format!(
            "s3://imp-bkt/logs/old.log\t{}\telb",
            sample("elb-logstash-patterns.log").len()
        )
    );
    assert!(
        !run.stderr.contains("notification"),
        "an import without --to-queue speaks of no notification: {}",
        run.stderr
    );
    assert_eq!(
        es.stats().await["bulk_requests"],
        2,
        "the dry run sent nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_queue_shares_the_backfill_with_the_daemons() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("toqueue");
    upload_two_generations(&moto).await;
    let q = moto.create_queue("backfill").await;
    let cfg = write_config(&dir, &import_config(&moto, &es, "s3://imp-bkt/logs/", ""));
    let run = run_to_end(daemon(&cfg, &["s3import", "--to-queue", &q]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("notifications_sent=3"),
        "{}",
        run.stderr
    );
    assert_eq!(moto.queue_counts(&q).await, (3, 0));
    assert!(
        es.docs("imported").await.is_empty(),
        "nothing read by s3import itself"
    );

    // A daemon on that queue reads them, with the same ids an import would have given.
    let daemon_cfg = format!(
        "s3logsbeat:\n  aws:\n    endpoint: {}\n    region: {REGION}\n  inputs:\n    - type: sqs\n      queues_url: [\"{q}\"]\n      log_format: elb\n      wait_time: 1s\noutput.elasticsearch:\n  hosts: [\"{}\"]\n  index: imported\n",
        moto.endpoint, es.url
    );
    let dcfg = write_config(&dir, &daemon_cfg);
    let run = run_to_end(daemon(&dcfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(es.docs("imported").await.len(), 12);
    assert_eq!(moto.queue_counts(&q).await, (0, 0));
    let cfg = write_config(&dir, &import_config(&moto, &es, "s3://imp-bkt/logs/", ""));
    let run = run_to_end(daemon(&cfg, &["s3import"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        es.docs("imported").await.len(),
        12,
        "importing what the daemon shipped adds nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_logged_when_not_on_a_terminal() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("progress");
    moto.create_bucket("imp-bkt").await;
    for i in 0..4 {
        moto.put(
            "imp-bkt",
            &format!("p/{i}.log"),
            sample("elb-logstash-patterns.log"),
        )
        .await;
    }
    // Each bulk answer takes 2 s, so the import lasts long enough for the 5-second progress line.
    es.faults(serde_json::json!({"latency_ms": 2000})).await;
    let text = import_config(&moto, &es, "s3://imp-bkt/p/", "      workers: 1\n")
        + "queue.mem.flush.min_events: 4\nqueue.mem.flush.timeout: 10ms\n";
    let cfg = write_config(&dir, &text);
    let run = run_to_end(daemon(&cfg, &["s3import"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("s3import: ") && l.contains(" objects, "))
        .unwrap_or_else(|| panic!("no progress line: {}", run.stderr));
    assert!(
        line.contains("/4 objects") && line.contains("events delivered") && line.contains("ETA"),
        "{line}"
    );
    assert!(
        run.stderr.contains("s3import: done: objects_listed=4"),
        "{}",
        run.stderr
    );
    assert_eq!(es.docs("imported").await.len(), 16);
}
