//! Security: secrets never appear in the logs, even at debug level; TLS to Elasticsearch against the
//! double serving HTTPS (a CA file, the three verification modes, a client certificate, a wrong host
//! name refused by `full`); and the actions in `iam-policy.json` are exactly the AWS calls the code makes.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::*;

const LONG: Duration = Duration::from_secs(120);

fn input(queue: &str) -> String {
    format!(
        "    - type: sqs\n      queues_url: [\"{queue}\"]\n      log_format: elb\n      wait_time: 1s\n      visibility_timeout: 5s\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_the_logs() {
    use base64::Engine;
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("secrets");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    let password = "Pa55-w0rd-ONLY-in-the-config";
    let api_secret = "api-SECRET-0123456789";
    let b64 = base64::engine::general_purpose::STANDARD;
    let forbidden = [
        password.to_string(),
        api_secret.to_string(),
        b64.encode(format!("writer:{password}")),
        b64.encode(format!("key-id:{api_secret}")),
    ];
    // Wrong credentials first (401s are logged), then right ones; the password also through ${VAR}.
    es.faults(serde_json::json!({"auth": {"basic": ["writer", password]}}))
        .await;
    for (run, (auth, ok)) in [
        (
            "  username: writer\n  password: wrong-password\n".to_string(),
            false,
        ),
        (
            "  username: writer\n  password: ${S3LB_ES_PASSWORD}\n".to_string(),
            true,
        ),
        (
            "  api_key: \"key-id:${S3LB_API_SECRET}\"\n".to_string(),
            false,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        // An object per run: a delivered one would leave the next run nothing to send. The last run's
        // abandoned long poll (1 s) may still take a message at moto: let it end first.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        moto.put(
            "bkt",
            &format!("run{run}.log"),
            sample("elb-logstash-patterns.log"),
        )
        .await;
        let output = format!(
            "output.elasticsearch:\n  hosts: [\"{}\"]\n  backoff.init: 100ms\n  backoff.max: 200ms\n{auth}",
            es.url
        );
        let extra = "logging.level: debug\n";
        let cfg = write_config(
            &dir,
            &config_text(Some(&moto.endpoint), &[input(&q)], &output, extra),
        );
        let mut cmd = daemon(&cfg, &["-d", "*"]);
        cmd.env("S3LB_ES_PASSWORD", password)
            .env("S3LB_API_SECRET", api_secret);
        let before = es.stats().await;
        let child = cmd.spawn().unwrap();
        // Until Elasticsearch has answered this run: a 401 for the wrong credentials, a bulk for the right.
        let seen = |s: &serde_json::Value| {
            s["requests_401"].as_u64().unwrap_or(0) + s["bulk_requests"].as_u64().unwrap_or(0)
        };
        let answered = tokio::time::timeout(Duration::from_secs(60), async {
            while seen(&es.stats().await) <= seen(&before) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        terminate(&child);
        let out = tokio::time::timeout(LONG, child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let not_debug = || {
            text.lines()
                .filter(|l| !l.contains("DEBUG"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(
            answered.is_ok(),
            "run {run}: Elasticsearch never heard of it: {}",
            not_debug()
        );
        assert!(text.contains("DEBUG"), "debug logging was on");
        if !ok {
            assert!(
                text.contains("401") || text.contains("HTTP"),
                "the failure is logged: {text}"
            );
        }
        for f in &forbidden {
            assert!(!text.contains(f.as_str()), "{f:?} in the output:\n{text}");
        }
        // `test config` and its errors never print them either.
        let tc = std::process::Command::new(env!("CARGO_BIN_EXE_s3logsbeat"))
            .args(["test", "config", "-c"])
            .arg(&cfg)
            .args(["-E", "output.elasticsearch.worker=0"])
            .env("S3LB_ES_PASSWORD", password)
            .env("S3LB_API_SECRET", api_secret)
            .output()
            .unwrap();
        let tc_text = String::from_utf8_lossy(&tc.stderr);
        for f in &forbidden {
            assert!(
                !tc_text.contains(f.as_str()),
                "{f:?} in test config:\n{tc_text}"
            );
        }
    }
}

/// Runs the daemon against an HTTPS double with `ssl` settings; returns whether the object's events
/// arrived within a few seconds, and the daemon's log.
async fn deliver_over_tls(
    es: &EsDouble,
    ssl: &str,
    certs: &std::path::Path,
    expected: bool,
) -> (bool, String) {
    let moto = Moto::start().await;
    let dir = TempDir::new("tls-run");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    // A key of its own per run: the same object would have the same ids, and add no document.
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let key = format!(
        "run{}.log",
        RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    moto.put("bkt", &key, sample("elb-logstash-patterns.log"))
        .await;
    let ssl = ssl.replace("CERTS", &certs.display().to_string());
    let output = format!(
        "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: tls\n  backoff.init: 200ms\n  backoff.max: 1s\n{ssl}",
        es.url
    );
    let cfg = write_config(
        &dir,
        &config_text(Some(&moto.endpoint), &[input(&q)], &output, ""),
    );
    let before = es.docs("tls").await.len();
    let child = daemon(&cfg, &[]).spawn().unwrap();
    let mut delivered = false;
    // A delivery that should happen gets 20 s; one that should not, 6 s to prove it does not.
    for _ in 0..if expected { 100 } else { 30 } {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if es.docs("tls").await.len() >= before + 4 {
            delivered = true;
            break;
        }
    }
    terminate(&child);
    let out = tokio::time::timeout(LONG, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let log = format!(
        "documents {before} -> {} {}: {}",
        es.docs("tls").await.len(),
        es.stats().await,
        String::from_utf8_lossy(&out.stderr)
    );
    (delivered, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_elasticsearch_with_a_ca_file_the_verification_modes_and_a_client_certificate() {
    let good = TempDir::new("es-tls-good");
    make_certs(&good.0, "DNS:localhost,IP:127.0.0.1");
    let es = EsDouble::start_tls(&good.0, false).await;
    let ca = "  ssl:\n    certificate_authorities: [\"CERTS/ca.pem\"]\n";
    let (ok, log) = deliver_over_tls(&es, ca, &good.0, true).await;
    assert!(ok, "full verification with the CA file: {log}");
    let (ok, log) = deliver_over_tls(&es, "", &good.0, false).await;
    assert!(
        !ok,
        "without the CA, the double's certificate is not trusted: {log}"
    );
    assert!(
        log.contains("certificate") || log.contains("Certificate"),
        "{log}"
    );
    let (ok, log) =
        deliver_over_tls(&es, "  ssl:\n    verification_mode: none\n", &good.0, true).await;
    assert!(ok, "none: {log}");

    // A certificate for another host name: refused by `full`, accepted by `certificate`.
    let other = TempDir::new("es-tls-other");
    make_certs(&other.0, "DNS:other.example");
    let es = EsDouble::start_tls(&other.0, false).await;
    let (ok, log) = deliver_over_tls(&es, ca, &other.0, false).await;
    assert!(!ok, "full refuses a certificate for another host: {log}");
    let certificate = format!("{ca}    verification_mode: certificate\n");
    let (ok, log) = deliver_over_tls(&es, &certificate, &other.0, true).await;
    assert!(ok, "certificate checks the chain only: {log}");

    // Mutual TLS: without a client certificate the handshake fails; with one it delivers.
    let mtls = TempDir::new("es-tls-mutual");
    make_certs(&mtls.0, "DNS:localhost,IP:127.0.0.1");
    let es = EsDouble::start_tls(&mtls.0, true).await;
    let (ok, _) = deliver_over_tls(&es, ca, &mtls.0, false).await;
    assert!(!ok, "a client certificate is required");
    let with_cert =
        format!("{ca}    certificate: \"CERTS/client.pem\"\n    key: \"CERTS/client.key\"\n");
    let (ok, log) = deliver_over_tls(&es, &with_cert, &mtls.0, true).await;
    assert!(ok, "with the client certificate: {log}");
}

#[test]
fn iam_policy_json_grants_exactly_the_calls_the_code_makes() {
    let policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo().join("iam-policy.json")).unwrap()).unwrap();
    let granted: BTreeSet<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    // Every `sqs.<operation>()` / `s3.<operation>()` / `logs.<operation>()` call in src/, mapped to the IAM action it needs.
    let call = regex::Regex::new(r"\b(sqs|s3|logs)\s*\.\s*([a-z_0-9]+)\s*\(\s*\)").unwrap();
    let mut used = BTreeSet::new();
    let mut files = vec![repo().join("src")];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if p.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for c in call.captures_iter(&text) {
            let action = match (&c[1], &c[2]) {
                (_, "clone") => continue,
                ("sqs", "receive_message") => "sqs:ReceiveMessage",
                ("sqs", "delete_message_batch" | "delete_message") => "sqs:DeleteMessage",
                ("sqs", "change_message_visibility_batch" | "change_message_visibility") => {
                    "sqs:ChangeMessageVisibility"
                }
                ("sqs", "send_message_batch" | "send_message") => "sqs:SendMessage",
                ("sqs", "get_queue_attributes") => "sqs:GetQueueAttributes",
                ("s3", "get_object" | "head_object") => "s3:GetObject",
                ("s3", "get_bucket_notification_configuration") => "s3:GetBucketNotification",
                ("s3", "list_objects_v2") => "s3:ListBucket",
                (
                    "s3",
                    "put_object"
                    | "copy_object"
                    | "create_multipart_upload"
                    | "upload_part_copy"
                    | "complete_multipart_upload",
                ) => "s3:PutObject",
                ("s3", "abort_multipart_upload") => "s3:AbortMultipartUpload",
                ("s3", "delete_object") => "s3:DeleteObject",
                ("logs", "filter_log_events") => "logs:FilterLogEvents",
                ("logs", "describe_log_groups") => "logs:DescribeLogGroups",
                (svc, op) => panic!(
                    "{}: {svc}.{op}() is not in this test's map: add it and to iam-policy.json",
                    p.display()
                ),
            };
            used.insert(action.to_string());
        }
    }
    assert_eq!(
        used, granted,
        "iam-policy.json must grant exactly what the code calls"
    );
}
