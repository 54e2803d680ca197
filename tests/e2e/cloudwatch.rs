//! `type: cloudwatch_logs` against moto's CloudWatch Logs: groups found by prefix (and a group created
//! while running), every event delivered once with its fields, checkpoints that survive a restart, an
//! event made visible late within `latency` delivered once, two instances sharing a lease in S3 (the
//! survivor takes over when the holder is killed), and state that is not ours refused by name.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::common::{
    config_text, counter, daemon, eventually, file_events as events, run_to_end, terminate,
    EsDouble, Moto, TempDir, ThrottleProxy,
};

const LONG: Duration = Duration::from_secs(90);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn input(extra: &str) -> String {
    format!(
        "    - type: cloudwatch_logs\n      log_group_name_prefix: /app/\n      scan_frequency: 1s\n{extra}"
    )
}

fn config(moto: &Moto, dir: &TempDir, inputs: &[String], extra: &str) -> String {
    let out = dir.0.join("out");
    config_text(
        Some(&moto.endpoint),
        inputs,
        &format!(
            "output.file:\n  path: {}\n  filename: events\n",
            out.display()
        ),
        &format!("path.data: {}\n{extra}", dir.0.join("data").display()),
    )
}

fn ids(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["@metadata"]["_id"].as_str().unwrap().to_string())
        .collect()
}

fn messages(prefix: &str, n: usize, first_ms: i64) -> Vec<(i64, String)> {
    (0..n)
        .map(|i| (first_ms + i as i64 * 1000, format!("{prefix} line {i}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_by_prefix_each_event_once_and_checkpoints_survive_a_restart() {
    let moto = Moto::start().await;
    let dir = TempDir::new("cw-once");
    let t0 = now_ms() - 600_000;
    moto.put_log_events("/app/a", "s1", &messages("a1", 30, t0))
        .await;
    moto.put_log_events("/app/a", "s2", &messages("a2", 20, t0 + 500))
        .await;
    moto.put_log_events("/app/b", "s1", &messages("b1", 10, t0))
        .await;
    moto.put_log_events("/other/c", "s1", &messages("c1", 5, t0))
        .await;
    let cfg = dir.0.join("s3logsbeat.yml");
    std::fs::write(
        &cfg,
        config(
            &moto,
            &dir,
            &[input("      latency: 2s\n      tags: [cw]\n")],
            "",
        ),
    )
    .unwrap();
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let first = events(&dir.0);
    assert_eq!(
        first.len(),
        60,
        "every event of /app/a and /app/b, none of /other/c"
    );
    assert_eq!(ids(&first).len(), 60, "one id per event");
    let e = first
        .iter()
        .find(|e| e["message"] == "a2 line 3")
        .expect("a2 line 3 delivered");
    assert_eq!(e["@metadata"]["format"], "plain");
    assert_eq!(e["aws"]["cloudwatch"]["log_group"], "/app/a");
    assert_eq!(e["aws"]["cloudwatch"]["log_stream"], "s2");
    assert!(e["aws"]["cloudwatch"]["ingestion_time"].is_string(), "{e}");
    assert!(
        e["event"]["id"].as_str().is_some_and(|s| !s.is_empty()),
        "{e}"
    );
    assert_eq!(e["log"]["file"]["path"], "/app/a/s2");
    assert_eq!(e["tags"], serde_json::json!(["cw"]));
    let ts = chrono::DateTime::parse_from_rfc3339(e["@timestamp"].as_str().unwrap()).unwrap();
    assert_eq!(
        ts.timestamp_millis(),
        t0 + 500 + 3000,
        "the event's own time"
    );

    // The checkpoints are in path.data, in a document that says what it is.
    let data: Vec<_> = std::fs::read_dir(dir.0.join("data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let doc = data
        .iter()
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("cloudwatch_logs.") && name.ends_with(".json")
        })
        .expect("a checkpoint document");
    let doc: Value = serde_json::from_slice(&std::fs::read(doc).unwrap()).unwrap();
    assert_eq!(doc["kind"], "cloudwatch_logs_checkpoints");
    assert!(
        doc["data"]["groups"]["/app/a"]["checkpoint_ms"]
            .as_u64()
            .unwrap()
            > t0 as u64
    );

    // New events (written now, so after the checkpoint), and a group created since: the second run
    // reads only what is new. It reads up to now less latency, so it starts once that has passed.
    let t1 = now_ms() - 500;
    let new: Vec<(i64, String)> = (0..4)
        .map(|i| (t1 + i * 10, format!("a1-new {i}")))
        .collect();
    moto.put_log_events("/app/a", "s1", &new).await;
    moto.put_log_events("/app/new", "x", &messages("new", 3, t1 - 100_000))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let all = events(&dir.0);
    assert_eq!(all.len(), 67, "7 new events, nothing read twice");
    assert_eq!(ids(&all).len(), 67);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_event_within_latency_and_a_group_created_while_running_arrive_once() {
    let moto = Moto::start().await;
    let dir = TempDir::new("cw-late");
    let now = now_ms();
    moto.put_log_events("/app/a", "s1", &messages("early", 5, now - 20_000))
        .await;
    let cfg = dir.0.join("s3logsbeat.yml");
    std::fs::write(
        &cfg,
        config(&moto, &dir, &[input("      latency: 60s\n")], ""),
    )
    .unwrap();
    let mut child = daemon(&cfg, &[]).spawn().unwrap();
    let d = dir.0.clone();
    eventually(LONG, "the first events", || {
        let d = d.clone();
        async move { events(&d).len() == 5 }
    })
    .await;
    // CloudWatch makes an event visible late: its time is before the checkpoint, within latency.
    moto.put_log_events("/app/a", "s2", &[(now - 30_000, "late".to_string())])
        .await;
    eventually(LONG, "the late event", || {
        let d = d.clone();
        async move { events(&d).iter().any(|e| e["message"] == "late") }
    })
    .await;
    // A group created while running is found at the next scan.
    moto.put_log_events(
        "/app/created-later",
        "x",
        &messages("later", 2, now_ms() - 1000),
    )
    .await;
    eventually(LONG, "the new group's events", || {
        let d = d.clone();
        async move {
            events(&d)
                .iter()
                .filter(|e| e["aws"]["cloudwatch"]["log_group"] == "/app/created-later")
                .count()
                == 2
        }
    })
    .await;
    // Several more reads of the same windows send nothing again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let all = events(&dir.0);
    assert_eq!(all.len(), 8, "{all:?}");
    assert_eq!(ids(&all).len(), 8);
    let _ = child.start_kill();
    let _ = child.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_a_lease_in_s3_and_the_survivor_takes_over() {
    let moto = Moto::start().await;
    moto.create_bucket("state").await;
    let dir_a = TempDir::new("cw-a");
    let dir_b = TempDir::new("cw-b");
    let now = now_ms();
    moto.put_log_events("/app/a", "s1", &messages("one", 10, now - 300_000))
        .await;
    let state =
        "state:\n  s3:\n    bucket: state\n    key: fleet/state.json\n  lease_duration: 10s\n";
    let cfg_a = dir_a.0.join("s3logsbeat.yml");
    std::fs::write(
        &cfg_a,
        config(&moto, &dir_a, &[input("      latency: 5s\n")], state),
    )
    .unwrap();
    let cfg_b = dir_b.0.join("s3logsbeat.yml");
    std::fs::write(
        &cfg_b,
        config(&moto, &dir_b, &[input("      latency: 5s\n")], state),
    )
    .unwrap();
    let mut a = daemon(&cfg_a, &[]).spawn().unwrap();
    let da = dir_a.0.clone();
    eventually(LONG, "the holder reads", || {
        let d = da.clone();
        async move { events(&d).len() == 10 }
    })
    .await;
    let mut b = daemon(&cfg_b, &[]).spawn().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(events(&dir_b.0).is_empty(), "only the lease holder reads");
    // The holder dies without giving the lease up; more events arrive.
    a.start_kill().unwrap();
    let _ = a.wait().await;
    let t = now_ms();
    let two: Vec<(i64, String)> = (0..5).map(|i| (t + i, format!("two {i}"))).collect();
    moto.put_log_events("/app/a", "s1", &two).await;
    let db = dir_b.0.clone();
    eventually(LONG, "the survivor takes over", || {
        let d = db.clone();
        async move {
            events(&d)
                .iter()
                .filter(|e| e["message"].as_str().unwrap_or("").starts_with("two"))
                .count()
                == 5
        }
    })
    .await;
    // It started from the holder's checkpoint in S3: the first ten were not read again.
    let survivor = events(&dir_b.0);
    assert!(
        survivor
            .iter()
            .all(|e| !e["message"].as_str().unwrap().starts_with("one")),
        "{survivor:?}"
    );
    let _ = b.start_kill();
    let _ = b.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_that_is_not_ours_stops_the_start_with_its_name() {
    let moto = Moto::start().await;
    moto.create_bucket("state").await;
    moto.put_log_events("/app/a", "s1", &messages("x", 1, now_ms() - 60_000))
        .await;
    let dir = TempDir::new("cw-foreign");
    let cfg = dir.0.join("s3logsbeat.yml");
    std::fs::write(
        &cfg,
        config(
            &moto,
            &dir,
            &[input("")],
            "state:\n  s3:\n    bucket: state\n    key: other.json\n",
        ),
    )
    .unwrap();
    // Run once to learn the input's document name, then put another program's JSON there.
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let key = moto
        .keys("state")
        .await
        .into_iter()
        .find(|k| k.starts_with("other.json.cloudwatch_logs.") && !k.contains(".lease."))
        .expect("the checkpoint object");
    moto.put("state", &key, br#"{"registry": {"offsets": [1]}}"#.to_vec())
        .await;
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_ne!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("s3://state/{key}")) && run.stderr.contains("not written by"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_calls_slow_the_pace_and_nothing_is_lost() {
    let moto = Moto::start().await;
    let proxy = ThrottleProxy::start(&moto, 4).await;
    let t0 = now_ms() - 120_000;
    moto.put_log_events("/app/a", "s1", &messages("a", 20, t0))
        .await;
    moto.put_log_events("/app/b", "s1", &messages("b", 20, t0))
        .await;
    let dir = TempDir::new("cw-throttle");
    let out = dir.0.join("out");
    let cfg = dir.0.join("s3logsbeat.yml");
    // Every call goes through the proxy: the first four FilterLogEvents are refused as over quota.
    std::fs::write(
        &cfg,
        config_text(
            Some(&proxy.endpoint),
            &[input("      latency: 2s\n")],
            &format!(
                "output.file:\n  path: {}\n  filename: events\n",
                out.display()
            ),
            &format!("path.data: {}\n", dir.0.join("data").display()),
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let all = events(&dir.0);
    assert_eq!(all.len(), 40, "every event, once");
    assert_eq!(ids(&all).len(), 40);
    let stats = proxy.stats().await;
    assert_eq!(stats["refused"], 4, "{stats}");
    assert_eq!(
        counter(&run.stderr, "cloudwatch_throttles"),
        4,
        "{}",
        run.stderr
    );
    // Four halvings from 5 calls/s: the retries waited 0.4, 0.8, 1.6 and 3.2 s, so the run cannot have
    // been a tight loop.
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Elasticsearch output for these tests: one index, quick retries, small bulks.
fn es_output(es: &EsDouble) -> String {
    format!(
        "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"cw\"\n  bulk_max_size: 100\n  backoff.init: 100ms\n  backoff.max: 1s\nqueue.mem.events: 400\n",
        es.url
    )
}

async fn indexed(es: &EsDouble) -> u64 {
    es.doc_counts().await.values().sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_group_then_restarted_every_event_once_by_id_none_missing() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let t0 = now_ms() - 600_000;
    let many: Vec<(i64, String)> = (0..3000).map(|i| (t0 + i, format!("event {i}"))).collect();
    moto.put_log_events("/app/a", "s1", &many).await;
    let dir = TempDir::new("cw-kill");
    let cfg = dir.0.join("s3logsbeat.yml");
    std::fs::write(
        &cfg,
        config_text(
            Some(&moto.endpoint),
            &[input("      latency: 2s\n")],
            &es_output(&es),
            &format!(
                "path.data: {}\nstate.lease_duration: 10s\n",
                dir.0.join("data").display()
            ),
        ),
    )
    .unwrap();
    // Slow bulks, so the group is still being delivered when the process is killed.
    es.faults(serde_json::json!({"latency_ms": 300})).await;
    let mut child = daemon(&cfg, &[]).spawn().unwrap();
    eventually(LONG, "part of the group indexed", || async {
        indexed(&es).await >= 300
    })
    .await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let before = indexed(&es).await;
    assert!(before < 3000, "killed mid-group: {before} indexed");
    // No checkpoint moved: the group's read was not delivered whole.
    es.faults(serde_json::json!({"latency_ms": 0})).await;
    // The killed instance's lease is still in path.data: the restart takes it over once it expires.
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // Every event is in the index once: the restart sent the group again, and the events indexed before
    // the kill came back with the same _id (409, already there).
    assert_eq!(indexed(&es).await, 3000);
    let docs = es.docs("cw").await;
    let messages: BTreeSet<&str> = docs
        .iter()
        .filter_map(|d| d["_source"]["message"].as_str())
        .collect();
    assert_eq!(messages.len(), 3000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_meet_without_losing_or_doubling_the_boundary_millisecond() {
    let moto = Moto::start().await;
    let dir = TempDir::new("cw-boundary");
    // One event every millisecond for the next 4 seconds: with no latency window, each read ends at its
    // "now", somewhere inside this run of milliseconds, and the next starts one past it.
    let t0 = now_ms() + 500;
    let ms: Vec<(i64, String)> = (0..4000).map(|i| (t0 + i, format!("ms {i}"))).collect();
    moto.put_log_events("/app/a", "s1", &ms).await;
    let cfg = dir.0.join("s3logsbeat.yml");
    std::fs::write(
        &cfg,
        config(&moto, &dir, &[input("      latency: 0s\n")], ""),
    )
    .unwrap();
    let child = daemon(&cfg, &[]).spawn().unwrap();
    let d = dir.0.clone();
    eventually(LONG, "every millisecond's event", || {
        let d = d.clone();
        async move { events(&d).len() >= 4000 }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    terminate(&child);
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = events(&dir.0);
    assert_eq!(all.len(), 4000, "none twice");
    assert_eq!(ids(&all).len(), 4000);
    // The run of milliseconds was cut into several windows, so boundaries fell inside it.
    assert!(counter(&stderr, "cloudwatch_reads_done") >= 3, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_down_then_back_the_checkpoint_waits_for_delivery() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    moto.put_log_events("/app/a", "s1", &messages("a", 50, now_ms() - 60_000))
        .await;
    let dir = TempDir::new("cw-es-down");
    let cfg = dir.0.join("s3logsbeat.yml");
    std::fs::write(
        &cfg,
        config_text(
            Some(&moto.endpoint),
            &[input("      latency: 2s\n")],
            &es_output(&es),
            &format!("path.data: {}\n", dir.0.join("data").display()),
        ),
    )
    .unwrap();
    es.faults(serde_json::json!({"down": true})).await;
    let child = daemon(&cfg, &[]).spawn().unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let checkpoint = || {
        std::fs::read_dir(dir.0.join("data"))
            .map(|rd| {
                rd.filter_map(|e| e.ok()).any(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("cloudwatch_logs.")
                })
            })
            .unwrap_or(false)
    };
    assert!(!checkpoint(), "no checkpoint while nothing is delivered");
    es.faults(serde_json::json!({"down": false})).await;
    eventually(
        LONG,
        "every event indexed once Elasticsearch is back",
        || async { indexed(&es).await == 50 },
    )
    .await;
    eventually(LONG, "the checkpoint written after delivery", || async {
        checkpoint()
    })
    .await;
    terminate(&child);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_turns_health_to_503_naming_the_group() {
    let moto = Moto::start().await;
    let proxy = ThrottleProxy::refusing(&moto, 1_000_000, "AccessDeniedException").await;
    moto.put_log_events("/app/a", "s1", &messages("a", 3, now_ms() - 60_000))
        .await;
    let dir = TempDir::new("cw-denied");
    let cfg = dir.0.join("s3logsbeat.yml");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &cfg,
        config_text(
            Some(&proxy.endpoint),
            &[input("      latency: 2s\n")],
            &format!("output.file:\n  path: {}\n", dir.0.join("out").display()),
            &format!(
                "path.data: {}\nhttp.enabled: true\nhttp.port: {port}\n",
                dir.0.join("data").display()
            ),
        ),
    )
    .unwrap();
    let child = daemon(&cfg, &[]).spawn().unwrap();
    let health = format!("http://127.0.0.1:{port}/health");
    eventually(LONG, "/health failing on access denied", || {
        let health = health.clone();
        async move {
            match reqwest::get(&health).await {
                Ok(r) if r.status() == 503 => r
                    .text()
                    .await
                    .is_ok_and(|t| t.contains("AWS refuses log group /app/a")),
                _ => false,
            }
        }
    })
    .await;
    terminate(&child);
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("read not delivered") && stderr.contains("AccessDenied"),
        "{stderr}"
    );
}
