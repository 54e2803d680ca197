//! The Logstash output against an independent lumberjack v2 server (the `ferro-lumberjack` crate's), whose
//! behaviour each test scripts: full, partial and keep-alive ACKs, silence, dropped connections, a restart.
//! The last test runs the daemon end to end (moto → s3logsbeat → Logstash) and checks the SQS deletion.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferro_lumberjack::server::{Listener, Server, ServerConnection};
use s3logsbeat::ack::AckGroup;
use s3logsbeat::event::{Event, EventId, Timestamp};
use s3logsbeat::ops::metrics::Metrics;
use s3logsbeat::outputs::Output;
use s3logsbeat::queue::{self, Batch};
use s3logsbeat::shutdown::Shutdown;
use serde_json::Value;

/// What the scripted server does with each window.
#[derive(Clone, Copy, Debug)]
enum Script {
    /// ACK the window at once.
    Ack,
    /// Keep-alives (ACK 0) for `total`, then a partial ACK, then the full one.
    SlowWithKeepalivesAndPartial { total: Duration },
    /// Never answer the first window of the first connection; ACK afterwards.
    SilentFirstWindow,
    /// Close the first connection right after reading its first window; ACK afterwards.
    DropFirstWindow,
}

#[derive(Default)]
struct Seen {
    /// Every event payload received, in order (duplicates included).
    events: Mutex<Vec<Value>>,
    connections: AtomicUsize,
    windows: AtomicUsize,
}

async fn handle(mut conn: ServerConnection, script: Script, seen: Arc<Seen>, conn_no: usize) {
    let mut first = true;
    while let Ok(Some(w)) = conn.read_window().await {
        let n = seen.windows.fetch_add(1, Ordering::SeqCst);
        for e in &w.events {
            seen.events
                .lock()
                .unwrap()
                .push(serde_json::from_slice(&e.payload).unwrap());
        }
        match script {
            Script::Ack => {}
            Script::SlowWithKeepalivesAndPartial { total } => {
                let steps = 5;
                for _ in 0..steps {
                    tokio::time::sleep(total / steps).await;
                    if conn.send_ack(0).await.is_err() {
                        return;
                    }
                }
                let mid = w.events[w.events.len() / 2].seq;
                if conn.send_ack(mid).await.is_err() {
                    return;
                }
                tokio::time::sleep(total / steps).await;
            }
            Script::SilentFirstWindow if conn_no == 0 && first && n == 0 => {
                // Hold the connection open and say nothing.
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
            Script::DropFirstWindow if conn_no == 0 && first && n == 0 => return,
            _ => {}
        }
        first = false;
        if conn.send_ack(w.last_seq).await.is_err() {
            return;
        }
    }
}

async fn serve(listener: Listener, script: Script, seen: Arc<Seen>) {
    loop {
        // With TLS, accept() includes the handshake: a client that refuses our certificate is an error
        // for that connection only.
        let Ok(conn) = listener.accept().await else {
            continue;
        };
        let no = seen.connections.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(handle(conn, script, seen.clone(), no));
    }
}

async fn server(script: Script) -> (SocketAddr, Arc<Seen>, tokio::task::JoinHandle<()>) {
    let listener = Server::builder().bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let task = tokio::spawn(serve(listener, script, seen.clone()));
    (addr, seen, task)
}

fn output(hosts: &[String], extra: &str) -> Output {
    let extra: String = extra.lines().map(|l| format!("  {l}\n")).collect();
    let yaml = format!(
        "output.logstash:\n  hosts: {hosts:?}\n  backoff.init: 50ms\n  backoff.max: 200ms\n{extra}"
    );
    let settings =
        crate::common::output_settings(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e:?}"));
    Output::new(&settings, Arc::new(Metrics::default())).unwrap()
}

/// A batch of `n` events with distinct ids, as the queue builds them.
async fn batch(n: usize, tag: &str) -> Batch {
    let ack = AckGroup::new(format!("test batch {tag}"), |_| {});
    let (q, mut rx) = queue::channel(n.max(1));
    let events: Vec<Event> = (0..n)
        .map(|i| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&(i as u64).to_be_bytes());
            id[8] = tag.as_bytes()[0];
            Event {
                id: EventId(id),
                timestamp: Timestamp::from_millis(1_553_360_693_208),
                format: "alb",
                doc: format!(
                    "{{\"@timestamp\":\"2019-03-23T17:04:53.208Z\",\"n\":{i},\"tag\":\"{tag}\"}}"
                )
                .into(),
                parse_failure: false,
            }
        })
        .collect();
    q.send(events, &ack).await.unwrap();
    drop(q);
    let mut b = Batch::default();
    while let Some(c) = rx.recv().await {
        b.chunks.push(c);
    }
    b
}

fn counts(seen: &Seen) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in seen.events.lock().unwrap().iter() {
        *m.entry(e["@metadata"]["_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    m
}

async fn publish(out: &Output, b: &Batch) {
    tokio::time::timeout(Duration::from_secs(30), out.publish(b, &Shutdown::never()))
        .await
        .expect("publish finished")
        .expect("delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_are_acknowledged_and_carry_the_metadata() {
    for level in [3, 0] {
        let (addr, seen, task) = server(Script::Ack).await;
        let out = output(
            &[addr.to_string()],
            &format!("bulk_max_size: 1000\npipelining: 2\ncompression_level: {level}\n"),
        );
        let b = batch(5000, "a").await;
        publish(&out, &b).await;
        let c = counts(&seen);
        assert_eq!(c.len(), 5000, "level {level}");
        assert!(c.values().all(|n| *n == 1), "each event exactly once");
        assert_eq!(seen.windows.load(Ordering::SeqCst), 5);
        let e = seen.events.lock().unwrap()[0].clone();
        assert_eq!(e["@metadata"]["beat"], "s3logsbeat");
        assert_eq!(e["@metadata"]["type"], "doc");
        assert_eq!(e["@metadata"]["version"], s3logsbeat::VERSION);
        assert_eq!(e["@metadata"]["format"], "alb");
        assert_eq!(e["@metadata"]["_id"].as_str().unwrap().len(), 32);
        assert_eq!(e["tag"], "a");
        // The next batch reuses the connection.
        publish(&out, &batch(10, "b").await).await;
        assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_acks_with_keepalives_and_partial_acks_are_waited_for() {
    let (addr, seen, task) = server(Script::SlowWithKeepalivesAndPartial {
        total: Duration::from_millis(2500),
    })
    .await;
    // The timeout (1 s) is shorter than the whole wait: keep-alives and the partial ACK keep it alive.
    let out = output(
        &[addr.to_string()],
        "timeout: 1s\nbulk_max_size: 100\npipelining: 1\n",
    );
    publish(&out, &batch(200, "s").await).await;
    let c = counts(&seen);
    assert_eq!(c.len(), 200);
    assert!(c.values().all(|n| *n == 1), "nothing was resent");
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out_and_gets_the_whole_window_again() {
    let (addr, seen, task) = server(Script::SilentFirstWindow).await;
    let out = output(
        &[addr.to_string()],
        "timeout: 500ms\nbulk_max_size: 50\npipelining: 1\n",
    );
    publish(&out, &batch(100, "t").await).await;
    let c = counts(&seen);
    assert_eq!(c.len(), 100, "every event delivered");
    let twice = c.values().filter(|n| **n == 2).count();
    assert_eq!(twice, 50, "the unacknowledged window was sent again, whole");
    assert!(seen.connections.load(Ordering::SeqCst) >= 2);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_window_is_resent() {
    let (addr, seen, task) = server(Script::DropFirstWindow).await;
    let out = output(&[addr.to_string()], "bulk_max_size: 30\npipelining: 2\n");
    publish(&out, &batch(90, "d").await).await;
    let c = counts(&seen);
    assert_eq!(c.len(), 90);
    assert!(
        c.values().filter(|n| **n == 2).count() >= 30,
        "the dropped window came again"
    );
    assert!(seen.connections.load(Ordering::SeqCst) >= 2);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_restarts_gets_everything() {
    let listener = Server::builder().bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // First life: read one window, then the whole server goes away without acknowledging it.
    let first = tokio::spawn(async move {
        let mut conn = listener.accept().await.unwrap();
        let w = conn.read_window().await.unwrap().unwrap();
        w.events.len()
    });
    let out = output(&[addr.to_string()], "timeout: 2s\nbulk_max_size: 40\n");
    let b = batch(40, "r").await;
    let publishing = tokio::spawn(async move {
        publish(&out, &b).await;
    });
    assert_eq!(first.await.unwrap(), 40);
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Second life, same port.
    let listener = Server::builder().bind(addr).await.unwrap();
    let seen = Arc::new(Seen::default());
    let task = tokio::spawn(serve(listener, Script::Ack, seen.clone()));
    tokio::time::timeout(Duration::from_secs(30), publishing)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        counts(&seen).len(),
        40,
        "the window was delivered after the restart"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadbalance_spreads_batches_and_failover_skips_a_dead_host() {
    let (a, seen_a, ta) = server(Script::Ack).await;
    let (b, seen_b, tb) = server(Script::Ack).await;
    let out = output(&[a.to_string(), b.to_string()], "loadbalance: true\n");
    for i in 0..4 {
        publish(&out, &batch(10, &format!("{i}")).await).await;
    }
    assert!(
        seen_a.windows.load(Ordering::SeqCst) >= 1 && seen_b.windows.load(Ordering::SeqCst) >= 1
    );
    assert_eq!(counts(&seen_a).len() + counts(&seen_b).len(), 40);

    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = output(&[dead.to_string(), a.to_string()], "");
    publish(&out, &batch(10, "f").await).await;
    assert_eq!(
        counts(&seen_a)
            .keys()
            .filter(|k| k.as_bytes()[16] == b'6')
            .count(),
        10,
        "delivered to the live host"
    );
    ta.abort();
    tb.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_deletes_a_message_only_after_logstash_acknowledged_it() {
    use crate::common::*;
    let moto = Moto::start().await;
    let dir = TempDir::new("logstash");
    let q = moto.bucket_with_notifications("ls-bkt", "q").await;
    moto.put("ls-bkt", "alb.log.gz", gzip(&sample("alb-aws-docs.log")))
        .await;
    let (addr, seen, task) = server(Script::SlowWithKeepalivesAndPartial {
        total: Duration::from_secs(3),
    })
    .await;
    let cfg = write_config(
        &dir,
        &format!(
            "s3logsbeat:\n  aws:\n    endpoint: {}\n    region: {REGION}\n  inputs:\n    - type: sqs\n      queues_url: [\"{q}\"]\n      log_format: alb\n      wait_time: 1s\noutput.logstash:\n  hosts: [\"{addr}\"]\n  timeout: 2s\n",
            moto.endpoint
        ),
    );
    let child = daemon(&cfg, &["--once"]).spawn().unwrap();
    eventually(
        Duration::from_secs(30),
        "events received by Logstash",
        || async { seen.events.lock().unwrap().len() == 4 },
    )
    .await;
    assert_eq!(
        moto.queue_counts(&q).await,
        (0, 1),
        "not deleted before the ACK"
    );
    expect_success(child, Duration::from_secs(60)).await;
    assert_eq!(moto.queue_counts(&q).await, (0, 0), "deleted after the ACK");
    let ids: std::collections::BTreeSet<String> = seen
        .events
        .lock()
        .unwrap()
        .iter()
        .map(|e| e["@metadata"]["_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4);
    task.abort();
}

async fn tls_server(dir: &std::path::Path) -> (SocketAddr, Arc<Seen>, tokio::task::JoinHandle<()>) {
    // This test binary links both of rustls's crypto providers (ferro-lumberjack brings ring): choose one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let tls = ferro_lumberjack::tls::ServerTlsConfig::builder()
        .cert_pem_file(dir.join("server.pem"))
        .unwrap()
        .key_pem_file(dir.join("server.key"))
        .unwrap()
        .build()
        .unwrap();
    let listener = Server::builder()
        .tls(tls)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let task = tokio::spawn(serve(listener, Script::Ack, seen.clone()));
    (addr, seen, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_ca_and_the_verification_modes() {
    let good = crate::common::TempDir::new("tls-good");
    crate::common::make_certs(&good.0, "DNS:localhost,IP:127.0.0.1");
    let (addr, seen, task) = tls_server(&good.0).await;
    let ca = good.0.join("ca.pem").display().to_string();
    let host = format!("localhost:{}", addr.port());
    // Full verification against the CA.
    let out = output(
        std::slice::from_ref(&host),
        &format!("ssl:\n  certificate_authorities: [\"{ca}\"]\n"),
    );
    publish(&out, &batch(20, "1").await).await;
    assert_eq!(counts(&seen).len(), 20);
    // `none` needs no CA.
    let out = output(
        std::slice::from_ref(&host),
        "ssl:\n  verification_mode: none\n",
    );
    publish(&out, &batch(20, "2").await).await;
    assert_eq!(counts(&seen).len(), 40);
    task.abort();

    // A certificate for another name: `full` refuses it (and keeps retrying), `certificate` accepts it.
    let other = crate::common::TempDir::new("tls-other");
    crate::common::make_certs(&other.0, "DNS:other.example");
    let (addr, seen, task) = tls_server(&other.0).await;
    let ca = other.0.join("ca.pem").display().to_string();
    let host = format!("localhost:{}", addr.port());
    let strict = output(
        std::slice::from_ref(&host),
        &format!("ssl:\n  certificate_authorities: [\"{ca}\"]\n"),
    );
    let b = batch(5, "3").await;
    let r = tokio::time::timeout(
        Duration::from_secs(2),
        strict.publish(&b, &Shutdown::never()),
    )
    .await;
    assert!(
        r.is_err(),
        "a certificate for another host name is not accepted"
    );
    assert!(counts(&seen).is_empty());
    let relaxed = output(
        &[host],
        &format!("ssl:\n  certificate_authorities: [\"{ca}\"]\n  verification_mode: certificate\n"),
    );
    publish(&relaxed, &batch(5, "4").await).await;
    assert_eq!(counts(&seen).len(), 5);
    task.abort();

    // A missing CA file is a configuration error naming the key and its line.
    let errs = crate::common::output_settings(
        "output.logstash:\n  hosts: [\"localhost:5044\"]\n  ssl:\n    certificate_authorities: [/nonexistent/ca.pem]\n",
    )
    .unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("s3logsbeat.yml:7: output.logstash.ssl.certificate_authorities: cannot read /nonexistent/ca.pem"),
        "{errs:?}"
    );
}
