//! Start-up and credential failures are loud and bounded, against moto and the binary: a missing region
//! or missing credentials is one line and a non-zero exit; the region comes from the queue URL when none
//! is configured; `--once` on a queue that does not exist ends non-zero in bounded time; a closed stderr
//! never panics the process; an object in another region than the queue's is read with that region.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

const LONG: Duration = Duration::from_secs(120);

fn input(queue: &str) -> String {
    format!("    - type: sqs\n      queues_url: [\"{queue}\"]\n      log_format: elb\n      wait_time: 1s\n")
}

/// A config with moto as the endpoint but no region anywhere.
fn no_region_config(endpoint: &str, queue: &str, out: &std::path::Path) -> String {
    format!(
        "s3logsbeat:\n  aws:\n    endpoint: {endpoint}\n  inputs:\n{}output.file:\n  path: {}\n",
        input(queue),
        out.display()
    )
}

/// The daemon without any region or profile from the environment.
fn bare(cfg: &std::path::Path, args: &[&str]) -> tokio::process::Command {
    let mut c = daemon(cfg, args);
    c.env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", "/nonexistent/s3lb-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/s3lb-shared");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_region_is_one_line_and_the_queue_url_lends_its_region() {
    let moto = Moto::start().await;
    let dir = TempDir::new("region");
    let out = dir.0.join("out");
    // No region in the config, the environment, or the queue URL (moto's is on 127.0.0.1).
    let q = moto.create_queue("q").await;
    let cfg = write_config(&dir, &no_region_config(&moto.endpoint, &q, &out));
    let t0 = Instant::now();
    let run = run_to_end(bare(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(t0.elapsed() < Duration::from_secs(30));
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("region"))
        .collect();
    assert_eq!(lines.len(), 1, "one line: {}", run.stderr);
    assert!(
        lines[0].contains("no AWS region: set s3logsbeat.aws.region"),
        "{}",
        run.stderr
    );

    // A queue URL of the AWS form says its region: the queue is found there (moto keeps queues per region).
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .endpoint_url(&moto.endpoint)
            .region(aws_sdk_sqs::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "testing", "testing", None, None, "t",
            ))
            .build(),
    );
    sqs.create_queue().queue_name("eu-q").send().await.unwrap();
    let aws_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/eu-q";
    let cfg = write_config(&dir, &no_region_config(&moto.endpoint, aws_url, &out));
    let run = run_to_end(bare(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("no region configured: using the queue's")
            && run.stderr.contains("eu-west-1"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_are_one_line_and_a_non_zero_exit() {
    let moto = Moto::start().await;
    let dir = TempDir::new("creds");
    let q = moto.create_queue("q").await;
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&moto.endpoint),
            &[input(&q)],
            "output.console: {}\n",
            "",
        ),
    );
    let mut cmd = bare(&cfg, &["--once"]);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_REGION", REGION);
    let t0 = Instant::now();
    let run = run_to_end(cmd, LONG).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(t0.elapsed() < Duration::from_secs(40), "{:?}", t0.elapsed());
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("credentials"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("no usable AWS credentials"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].len() < 600,
        "one readable line, not the chain's dump: {} chars",
        lines[0].len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_on_a_queue_that_does_not_exist_ends_non_zero_at_once() {
    let moto = Moto::start().await;
    let dir = TempDir::new("noqueue");
    let missing = format!("{}/123456789012/no-such-queue", moto.endpoint);
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&moto.endpoint),
            &[input(&missing)],
            "output.console: {}\n",
            "",
        ),
    );
    let t0 = Instant::now();
    let run = run_to_end(daemon(&cfg, &["--once"]), LONG).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "bounded: {:?}",
        t0.elapsed()
    );
    assert!(
        run.stderr
            .contains("no-such-queue: ReceiveMessage failed: it does not exist"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stderr_never_panics_the_process() {
    let moto = Moto::start().await;
    let dir = TempDir::new("closed");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    moto.put("bkt", "a.log", sample("elb-logstash-patterns.log"))
        .await;
    let out = dir.0.join("out");
    let output = format!("output.file:\n  path: {}\n", out.display());
    let cfg = write_config(
        &dir,
        &config_text(Some(&moto.endpoint), &[input(&q)], &output, ""),
    );
    // As `s3logsbeat --once 2>&1 | head -1`: the reader goes away after the first line.
    let mut child = daemon(&cfg, &["--once", "-d", "*"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let mut first = [0u8; 64];
    let _ = tokio::io::AsyncReadExt::read(&mut err, &mut first).await;
    drop(err);
    let status = tokio::time::timeout(LONG, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(status.code(), Some(101), "a panic: {status:?}");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(
        moto.queue_counts(&q).await,
        (0, 0),
        "the work was still done"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_in_another_region_is_read_with_a_client_for_that_region() {
    let moto = Moto::start().await;
    let dir = TempDir::new("regions");
    moto.create_bucket("bkt").await;
    let q = moto.create_queue("q").await;
    moto.put("bkt", "a.log", sample("elb-logstash-patterns.log"))
        .await;
    let record = s3_record("bkt", "a.log").replace(
        &format!("\"awsRegion\":\"{REGION}\""),
        "\"awsRegion\":\"eu-central-1\"",
    );
    assert!(record.contains("eu-central-1"));
    moto.send_message(&q, &format!("{{\"Records\":[{record}]}}"))
        .await;
    let out = dir.0.join("out");
    let output = format!("output.file:\n  path: {}\n", out.display());
    let cfg = write_config(
        &dir,
        &config_text(Some(&moto.endpoint), &[input(&q)], &output, ""),
    );
    let run = run_to_end(daemon(&cfg, &["--once", "-d", "s3"]), LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("S3 client for a bucket in another region")
            && run.stderr.contains("eu-central-1"),
        "{}",
        run.stderr
    );
    assert_eq!(counter(&run.stderr, "s3_objects_read"), 1);
}
