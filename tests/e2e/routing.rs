//! Routing end to end: one queue receiving the logs of several AWS services, `log_format: auto` plus
//! `file_selectors`, against moto and the Elasticsearch double; and what `unmatched` does with an object
//! no format was chosen for.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::*;

const LONG: Duration = Duration::from_secs(120);

/// One index per format, named from `@metadata.format`.
fn output(es: &EsDouble) -> String {
    format!(
        "output.elasticsearch:\n  hosts: [\"{}\"]\n  index: \"routed-%{{[@metadata][format]}}\"\n  backoff.init: 100ms\n  backoff.max: 1s\n",
        es.url
    )
}

fn input(queue: &str, extra: &str) -> String {
    format!(
        "    - type: sqs\n      queues_url: [\"{queue}\"]\n      wait_time: 1s\n      visibility_timeout: 60s\n{extra}"
    )
}

const ACCOUNT: &str = "AWSLogs/123456789012";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_and_file_selectors_pick_each_objects_format() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("routing");
    let q = moto.bucket_with_notifications("mixed", "mixed-q").await;
    let lb = format!("{ACCOUNT}/elasticloadbalancing/us-east-1/2024/01/01");
    let objects: Vec<(String, Vec<u8>)> = vec![
        (
            format!("{lb}/123456789012_elasticloadbalancing_us-east-1_app.my-lb.50dc6c495c0c9188_20240101T0000Z_10.0.0.1_abc.log.gz"),
            gzip(&sample("alb-aws-docs.log")),
        ),
        (
            format!("{lb}/123456789012_elasticloadbalancing_us-east-1_my-classic-lb_20240101T0000Z_10.0.0.1_abc.log"),
            sample("elb-logstash-patterns.log"),
        ),
        (
            format!("{ACCOUNT}/CloudTrail/us-east-1/2024/01/01/123456789012_CloudTrail_us-east-1_20240101T0000Z_abcdefabcdefabcd.json.gz"),
            gzip(&sample("cloudtrail-aws-docs-example-07-AwsCloudTrailInsight.json")),
        ),
        (
            format!("{ACCOUNT}/CloudTrail-Digest/us-east-1/2024/01/01/123456789012_CloudTrail-Digest_us-east-1_t_us-east-1_20240101T000000Z.json.gz"),
            gzip(&sample("cloudtrail-aws-docs-digest-example-line28.json")),
        ),
        (
            format!("{ACCOUNT}/WAFLogs/us-east-1/acl/2024/01/01/00/00/123456789012_waflogs_us-east-1_acl_20240101T0000Z_abc.log.gz"),
            gzip(&sample("waf-aws-docs.ndjson")),
        ),
        (
            "cf/E2QWRUHAPOMQZL.2019-12-13-21.9d8c7b6a.gz".to_string(),
            gzip(&sample("cloudfront-aws-docs.log")),
        ),
        (
            "firehose/cw/2024/01/01/00/stream-1-2024-01-01-00-00-00-uuid".to_string(),
            gzip(&gzip(&sample("cloudwatch-aws-docs-decoded-subscription-data-line165.json"))),
        ),
        ("apps/legacy/app.log".to_string(), b"2024-01-02T03:04:05Z WARN 503 upstream down\n".to_vec()),
        ("misc/readme.txt".to_string(), b"not a log\n".to_vec()),
    ];
    for (key, body) in &objects {
        moto.put("mixed", key, body.clone()).await;
    }
    let selectors = concat!(
        "      log_format: auto\n",
        "      file_selectors:\n",
        "        - regex: '^firehose/cw/'\n",
        "          log_format: cloudwatch\n",
        "        - regex: '^apps/legacy/'\n",
        "          log_format: custom\n",
        "          log_format_options:\n",
        "            pattern: '^(?P<time>\\S+) (?P<level>\\w+) (?P<status>\\d+) (?P<message>.*)$'\n",
        "            timestamp_field: time\n",
        "            timestamp_format: timeISO8601\n",
        "            types: {status: integer}\n",
    );
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&moto.endpoint),
            &[input(&q, selectors)],
            &output(&es),
            "",
        ),
    );
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    let counts = es.doc_counts().await;
    let want: BTreeMap<String, u64> = [
        ("alb", 4),
        ("cloudfront", 6),
        ("cloudtrail", 2),
        ("cloudwatch", 3),
        ("custom", 1),
        ("elb", 4),
        ("waf", 6),
    ]
    .iter()
    .map(|(f, n)| (format!("routed-{f}"), *n))
    .collect();
    assert_eq!(counts, want, "{}", run.stderr);
    let mut by_format: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    for f in ["alb", "cloudtrail", "cloudwatch", "custom", "waf"] {
        let docs = es.docs(&format!("routed-{f}")).await;
        by_format.insert(f, docs.into_iter().map(|d| d["_source"].clone()).collect());
    }
    // Each was parsed as its format, not merely shipped.
    assert!(by_format["alb"]
        .iter()
        .all(|d| d["elb"].is_string() && d.get("tags").is_none()));
    assert!(by_format["cloudtrail"]
        .iter()
        .all(|d| d["eventCategory"] == "Insight"));
    assert!(by_format["cloudwatch"]
        .iter()
        .all(|d| d["log_group"] == "CloudTrail/logs"));
    assert_eq!(by_format["custom"][0]["status"], 503);
    assert!(by_format["waf"]
        .iter()
        .all(|d| d["httpRequest"].is_object()));
    assert_eq!(counter(&run.stderr, "parse_failures"), 0, "{}", run.stderr);
    assert_eq!(
        counter(&run.stderr, "s3_objects_unmatched"),
        1,
        "misc/readme.txt"
    );
    assert_eq!(counter(&run.stderr, "s3_objects_skipped"), 1, "the digest");
    assert!(
        run.stderr.contains("s3://mixed/misc/readme.txt"),
        "{}",
        run.stderr
    );
    // Every message was deleted: unmatched ones too (the default `unmatched: delete`).
    assert_eq!(moto.queue_counts(&q).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_keep_leaves_the_message_in_the_queue() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("unmatched");
    let q = moto.bucket_with_notifications("keep-bkt", "keep-q").await;
    moto.put("keep-bkt", "misc/readme.txt", b"not a log\n".to_vec())
        .await;
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&moto.endpoint),
            &[input(&q, "      log_format: auto\n      unmatched: keep\n")],
            &output(&es),
            "",
        ),
    );
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(
        counter(&run.stderr, "s3_objects_unmatched"),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        counter(&run.stderr, "sqs_messages_kept"),
        1,
        "{}",
        run.stderr
    );
    let (visible, in_flight) = moto.queue_counts(&q).await;
    assert_eq!(visible + in_flight, 1, "the message is still there");
    assert!(es.doc_counts().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parse_reads_one_object_from_s3_or_a_file_with_auto() {
    let moto = Moto::start().await;
    let dir = TempDir::new("parse-s3");
    moto.create_bucket("parse-bkt").await;
    let key = format!("{ACCOUNT}/CloudTrail/us-east-1/2024/01/01/123456789012_CloudTrail_us-east-1_20240101T0000Z_abcdefabcdefabcd.json.gz");
    let body = gzip(&sample(
        "cloudtrail-aws-docs-example-07-AwsCloudTrailInsight.json",
    ));
    moto.put("parse-bkt", &key, body.clone()).await;
    let input =
        "    - type: s3\n      buckets: [\"s3://parse-bkt\"]\n      log_format: auto\n".to_string();
    let cfg = write_config(
        &dir,
        &config_text(Some(&moto.endpoint), &[input], "output.console: {}", ""),
    );
    let bin = env!("CARGO_BIN_EXE_s3logsbeat");
    let parse_cmd = |bin: &str| {
        let mut c = tokio::process::Command::new(bin);
        c.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION);
        c
    };
    let uri = format!("s3://parse-bkt/{key}");
    let out = parse_cmd(bin)
        .args(["parse", "-c", cfg.to_str().unwrap(), &uri])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{stderr}");
    assert_eq!(events[0]["@metadata"]["format"], "cloudtrail");
    assert_eq!(events[0]["log"]["file"]["path"], uri.as_str());
    assert!(stderr.contains("events=2 parse_failures=0"), "{stderr}");

    // The same object as a file, its format recognised from --key: the same events.
    let file = dir.0.join("object.json.gz");
    std::fs::write(&file, &body).unwrap();
    let out = parse_cmd(bin)
        .args([
            "parse",
            "--format",
            "auto",
            "--key",
            &uri,
            file.to_str().unwrap(),
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids = |e: &[serde_json::Value]| -> Vec<String> {
        e.iter()
            .map(|x| x["@metadata"]["_id"].to_string())
            .collect()
    };
    assert_eq!(ids(&again), ids(&events), "same key, same bytes: same ids");

    // A key auto does not know, and an object that is not there: clear errors, exit 1.
    let out = parse_cmd(bin)
        .args([
            "parse",
            "--format",
            "auto",
            "--key",
            "misc/file.log",
            file.to_str().unwrap(),
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("misc/file.log: no format for this key"), "{e}");
    let out = parse_cmd(bin)
        .args([
            "parse",
            "-c",
            cfg.to_str().unwrap(),
            "s3://parse-bkt/AWSLogs/1/CloudTrail/missing.json.gz",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("s3://parse-bkt/AWSLogs/1/CloudTrail/missing.json.gz: GetObject failed"),
        "{e}"
    );
}

/// Issue 24 (3): the two formats added as one module each are routed by `auto` from the keys AWS
/// writes them under.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_routes_network_firewall_and_route53_resolver_logs() {
    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let dir = TempDir::new("routing-added");
    let q = moto.bucket_with_notifications("added", "added-q").await;
    let objects = [
        (
            format!("{ACCOUNT}/network-firewall/alert/us-east-1/test-firewall/2023/11/14/22/123456789012_network-firewall_alert_us-east-1_test-firewall_202311142215_a1b2c3d4.log.gz"),
            gzip(&sample("network-firewall-handwritten.log")),
        ),
        (
            format!("{ACCOUNT}/vpcdnsquerylogs/vpc-0123456789abcdef0/2023/11/14/vpc-0123456789abcdef0_vpcdnsquerylogs_123456789012_20231114T2215Z_a1b2c3d4.log.gz"),
            gzip(&sample("route53-resolver-handwritten.log")),
        ),
    ];
    for (key, body) in &objects {
        moto.put("added", key, body.clone()).await;
    }
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&moto.endpoint),
            &[input(&q, "      log_format: auto\n")],
            &output(&es),
            "",
        ),
    );
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let counts = es.doc_counts().await;
    let want: BTreeMap<String, u64> = [("network_firewall", 5), ("route53_resolver", 5)]
        .iter()
        .map(|(f, n)| (format!("routed-{f}"), *n))
        .collect();
    assert_eq!(counts, want, "{}", run.stderr);
    let fw = es.docs("routed-network_firewall").await;
    assert!(fw
        .iter()
        .all(|d| d["_source"]["event"]["src_ip"].is_string()));
    let dns = es.docs("routed-route53_resolver").await;
    assert!(dns.iter().all(|d| d["_source"]["query_name"].is_string()));
    assert_eq!(counter(&run.stderr, "parse_failures"), 0, "{}", run.stderr);
    assert_eq!(moto.queue_counts(&q).await, (0, 0));
}
