//! `output.opensearch` against the double as Amazon OpenSearch (`tests/doubles/opensearch.py`), whose
//! SigV4 check is botocore's: credentials from the environment, a profile file, a role assumed through
//! moto's STS and credentials that expire during the run; a wrong secret or region refused with a 403
//! that names what to check; Serverless without `GET /`, refusing ids (the shipper stops naming
//! `document_id: none`) and taking documents without them; the template without `flattened`.

use std::time::Duration;

use serde_json::Value;

use crate::common::*;

const LONG: Duration = Duration::from_secs(90);
const PREFIX: &str = "--sigv4-secret-prefix";

/// A queue with `n` ELB objects notified on it.
async fn queue_with_objects(moto: &Moto, bucket: &str, n: usize) -> String {
    let queue = moto
        .bucket_with_notifications(bucket, &format!("{bucket}-q"))
        .await;
    let elb = sample("elb-logstash-patterns.log");
    for i in 0..n {
        moto.put(bucket, &format!("logs/{i}.log"), elb.clone())
            .await;
    }
    queue
}

fn config(moto: &Moto, queue: &str, os: &EsDouble, output_extra: &str) -> String {
    // A selector for CloudTrail puts its `flattened` fields in the template.
    let input = format!(
        "    - type: sqs\n      queues_url: [\"{queue}\"]\n      log_format: elb\n      file_selectors:\n        - {{regex: '^cloudtrail/', log_format: cloudtrail}}\n"
    );
    config_text(
        Some(&moto.endpoint),
        &[input],
        &format!(
            "output.opensearch:\n  hosts: [\"{}\"]\n  index: \"logs-os\"\n  backoff.init: 100ms\n  backoff.max: 1s\n{output_extra}",
            os.url
        ),
        "",
    )
}

fn keys(stats: &Value) -> Vec<String> {
    stats["sigv4_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_with_credentials_from_the_environment_and_a_template_without_flattened() {
    let (moto, os) = tokio::join!(
        Moto::start(),
        EsDouble::start_opensearch("managed", "eu-west-1", &[PREFIX, "s-"])
    );
    let queue = queue_with_objects(&moto, "os-env", 2).await;
    let dir = TempDir::new("os-env");
    let cfg = write_config(
        &dir,
        &config(&moto, &queue, &os, "  aws:\n    region: eu-west-1\n"),
    );
    let mut cmd = daemon(&cfg, &["--once"]);
    cmd.env("AWS_ACCESS_KEY_ID", "AKIDENV1")
        .env("AWS_SECRET_ACCESS_KEY", "s-AKIDENV1");
    let run = run_to_end(cmd, LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(os.docs("logs-os").await.len(), 8);
    let stats = os.stats().await;
    assert_eq!(keys(&stats), ["AKIDENV1"]);
    assert_eq!(stats["sigv4_refused"], 0);
    // OpenSearch refuses `flattened`: the template went in with flat_object.
    assert_eq!(stats["index_template_puts_acknowledged"], 1, "{stats}");
    let t = os.templates().await.to_string();
    assert!(
        t.contains("flat_object") && !t.contains("\"flattened\""),
        "{t}"
    );
    // test output reads the distribution and whether the template is there.
    let out = run_to_end(
        {
            let mut c = daemon(&cfg, &["test", "output"]);
            c.env("AWS_ACCESS_KEY_ID", "AKIDENV1")
                .env("AWS_SECRET_ACCESS_KEY", "s-AKIDENV1");
            c
        },
        LONG,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("OpenSearch 2.11.1") && out.stdout.contains("installed"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_or_region_is_a_403_that_names_what_to_check() {
    let (moto, os) = tokio::join!(
        Moto::start(),
        EsDouble::start_opensearch("managed", "eu-west-1", &[PREFIX, "s-"])
    );
    let queue = moto.create_queue("unused").await;
    let dir = TempDir::new("os-403");
    for (region, secret, want) in [
        ("eu-west-1", "wrong", "signature was refused"),
        ("us-east-1", "s-AKIDENV1", "signature was refused"),
    ] {
        let cfg = write_config(
            &dir,
            &config(
                &moto,
                &queue,
                &os,
                &format!("  aws:\n    region: {region}\n"),
            ),
        );
        let mut c = daemon(&cfg, &["test", "output"]);
        c.env("AWS_ACCESS_KEY_ID", "AKIDENV1")
            .env("AWS_SECRET_ACCESS_KEY", secret);
        let out = run_to_end(c, LONG).await;
        assert_ne!(out.code, Some(0), "{}", out.stdout);
        assert!(
            out.stdout.contains("403 from OpenSearch") && out.stdout.contains(want),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(&format!("region {region}")),
            "{}",
            out.stdout
        );
    }
    assert_eq!(os.stats().await["sigv4_refused"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_with_a_profile_and_with_a_role_assumed_through_sts() {
    let moto = Moto::start().await;
    let os = EsDouble::start_opensearch(
        "managed",
        "eu-west-1",
        &[PREFIX, "s-", "--sigv4-moto", &moto.endpoint],
    )
    .await;
    let queue = queue_with_objects(&moto, "os-role", 1).await;
    let dir = TempDir::new("os-profile");
    let creds = dir.0.join("credentials");
    std::fs::write(
        &creds,
        "[shipper]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s-AKIDPROFILE\n",
    )
    .unwrap();
    // A profile of its own for the output; the inputs keep the environment's.
    let cfg = write_config(
        &dir,
        &config(
            &moto,
            &queue,
            &os,
            "  aws:\n    region: eu-west-1\n    profile: shipper\n",
        ),
    );
    let mut c = daemon(&cfg, &["test", "output"]);
    c.env("AWS_SHARED_CREDENTIALS_FILE", &creds)
        .env("AWS_CONFIG_FILE", dir.0.join("none"));
    let out = run_to_end(c, LONG).await;
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(keys(&os.stats().await), ["AKIDPROFILE"]);
    // A role, assumed through moto's STS: its temporary key and session token sign the requests.
    let cfg = write_config(
        &dir,
        &config(
            &moto,
            &queue,
            &os,
            "  aws:\n    region: eu-west-1\n    role_arn: arn:aws:iam::123456789012:role/shipper\n",
        ),
    );
    let mut c = daemon(&cfg, &["--once"]);
    c.env("AWS_ENDPOINT_URL_STS", &moto.endpoint);
    let run = run_to_end(c, LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(os.docs("logs-os").await.len(), 4);
    let used = keys(&os.stats().await);
    assert!(
        used.iter().any(|k| k.starts_with("ASIA")),
        "a key from STS: {used:?}"
    );
    assert_eq!(os.stats().await["sigv4_refused"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_that_expire_during_the_run_are_renewed() {
    let (moto, os) = tokio::join!(
        Moto::start(),
        EsDouble::start_opensearch("managed", "eu-west-1", &[PREFIX, "s-"])
    );
    let queue = queue_with_objects(&moto, "os-expire", 20).await;
    let dir = TempDir::new("os-expire");
    // credential_process hands out a new key each time, valid 65 s: renewed a minute before, so every 5 s.
    let script = dir.0.join("creds.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nn=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}\nexp=$(date -u -d '+65 seconds' +%Y-%m-%dT%H:%M:%SZ)\nprintf '{{\"Version\":1,\"AccessKeyId\":\"AKIDROT%s\",\"SecretAccessKey\":\"s-AKIDROT%s\",\"Expiration\":\"%s\"}}' $n $n $exp\n",
            c = dir.0.join("count").display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", script.to_str().unwrap()])
        .status()
        .unwrap();
    std::fs::write(
        dir.0.join("config"),
        format!(
            "[profile rotating]\ncredential_process = {}\n",
            script.display()
        ),
    )
    .unwrap();
    let cfg = write_config(
        &dir,
        &config(
            &moto,
            &queue,
            &os,
            "  aws:\n    region: eu-west-1\n    profile: rotating\n  bulk_max_size: 8\n  worker: 1\n",
        ),
    );
    // Slow bulks: the run outlasts a key.
    os.faults(serde_json::json!({"latency_ms": 800})).await;
    let mut c = daemon(&cfg, &["--once"]);
    c.env("AWS_CONFIG_FILE", dir.0.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.0.join("none"));
    let run = run_to_end(c, LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(os.docs("logs-os").await.len(), 80);
    let stats = os.stats().await;
    assert!(keys(&stats).len() >= 2, "renewed during the run: {stats}");
    assert_eq!(stats["sigv4_refused"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serverless_refuses_ids_and_takes_documents_without_them() {
    let (moto, os) = tokio::join!(
        Moto::start(),
        EsDouble::start_opensearch("serverless", "us-east-1", &[PREFIX, "s-"])
    );
    let queue = queue_with_objects(&moto, "os-aoss", 2).await;
    let dir = TempDir::new("os-aoss");
    let aws = "  aws:\n    region: us-east-1\n    service: aoss\n";
    let env = |c: &mut tokio::process::Command| {
        c.env("AWS_ACCESS_KEY_ID", "AKIDAOSS")
            .env("AWS_SECRET_ACCESS_KEY", "s-AKIDAOSS");
    };
    // With ids: test config warns, and the first refusal stops the shipper naming the setting.
    let cfg = write_config(&dir, &config(&moto, &queue, &os, aws));
    let mut c = daemon(&cfg, &["test", "config"]);
    env(&mut c);
    let out = run_to_end(c, LONG).await;
    assert!(
        out.stderr.contains("document_id: none") || out.stdout.contains("document_id: none"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let mut c = daemon(&cfg, &["--once"]);
    env(&mut c);
    let run = run_to_end(c, LONG).await;
    assert_ne!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("refuses document ids")
            && run.stderr.contains("output.opensearch.document_id: none"),
        "{}",
        run.stderr
    );
    assert_eq!(
        counter(&run.stderr, "events_dead_lettered"),
        0,
        "{}",
        run.stderr
    );
    // Without ids: delivered; test output says there is no GET / and the signature was accepted.
    let cfg = write_config(
        &dir,
        &config(&moto, &queue, &os, &format!("{aws}  document_id: none\n")),
    );
    let mut c = daemon(&cfg, &["--once"]);
    env(&mut c);
    let run = run_to_end(c, LONG).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(os.docs("logs-os").await.len(), 8);
    let mut c = daemon(&cfg, &["test", "output"]);
    env(&mut c);
    let out = run_to_end(c, LONG).await;
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(
        out.stdout.contains("OpenSearch Serverless"),
        "{}",
        out.stdout
    );
}

#[test]
fn export_template_for_opensearch_has_no_flattened() {
    let dir = TempDir::new("os-export");
    let cfg = write_config(
        &dir,
        "s3logsbeat:\n  inputs:\n    - type: sqs\n      queues_url: [\"https://sqs.eu-west-1.amazonaws.com/1/q\"]\n      log_format: cloudtrail\noutput.console: {}\n",
    );
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_s3logsbeat"))
            .arg("export")
            .arg("template")
            .arg("-c")
            .arg(&cfg)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let es = run(&[]);
    assert!(
        es.contains("\"flattened\"") && !es.contains("flat_object"),
        "{es}"
    );
    let os = run(&["--target", "opensearch"]);
    assert!(
        os.contains("\"flat_object\"") && !os.contains("\"flattened\""),
        "{os}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_installs_an_ism_policy_and_keeps_or_replaces_it() {
    let (moto, os) = tokio::join!(
        Moto::start(),
        EsDouble::start_opensearch("managed", "eu-west-1", &[PREFIX, "s-"])
    );
    let queue = moto.create_queue("ism").await;
    let dir = TempDir::new("os-ism");
    let ism = |overwrite: bool| {
        format!(
            "  aws:\n    region: eu-west-1\nsetup.ism:\n  rollover_min_index_age: 1d\n  delete_min_index_age: 30d\n  overwrite: {overwrite}\n"
        )
    };
    let setup = |cfg: std::path::PathBuf| async move {
        let mut c = daemon(&cfg, &["setup"]);
        c.env("AWS_ACCESS_KEY_ID", "AKIDENV1")
            .env("AWS_SECRET_ACCESS_KEY", "s-AKIDENV1");
        run_to_end(c, LONG).await
    };
    let cfg = write_config(&dir, &config(&moto, &queue, &os, &ism(false)));
    let run = setup(cfg.clone()).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("ISM policy s3logsbeat installed"),
        "{}",
        run.stdout
    );
    let p = &os.stats().await["ism_policies"]["s3logsbeat"];
    assert_eq!(p["default_state"], "hot", "{p}");
    assert_eq!(
        p["states"][0]["actions"][0]["rollover"]["min_index_age"],
        "1d"
    );
    assert_eq!(
        p["states"][0]["transitions"][0]["conditions"]["min_index_age"],
        "30d"
    );
    assert_eq!(
        p["states"][1]["actions"][0],
        serde_json::json!({"delete": {}})
    );
    assert_eq!(p["ism_template"][0]["index_patterns"][0], "logs-os");
    // Again: kept; with overwrite: replaced over the version read.
    let run = setup(cfg).await;
    assert!(
        run.stdout.contains("exists") && run.stdout.contains("kept"),
        "{}",
        run.stdout
    );
    let cfg = write_config(&dir, &config(&moto, &queue, &os, &ism(true)));
    let run = setup(cfg).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("ISM policy s3logsbeat installed"),
        "{}",
        run.stdout
    );
    // ISM is OpenSearch's: with output.elasticsearch it is a config error.
    let es = "s3logsbeat:\n  inputs:\n    - type: sqs\n      queues_url: [\"https://sqs.eu-west-1.amazonaws.com/1/q\"]\n      log_format: elb\noutput.elasticsearch:\n  hosts: [\"http://localhost:9200\"]\nsetup.ism:\n  delete_min_index_age: 30d\n";
    let e = match settings(es, &[]) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.join("\n"),
    };
    assert!(e.contains("setup.ism applies to output.opensearch"), "{e}");
}

/// A request signed (with the SDK's own signer) at `time` for `service`, sent to the double.
async fn signed_get(os: &EsDouble, service: &str, time: std::time::SystemTime) -> (u16, String) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let creds = aws_credential_types::Credentials::new("AKIDRAW", "s-AKIDRAW", None, None, "test");
    let identity = creds.into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("eu-west-1")
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("{}/", os.url);
    let req = SignableRequest::new(
        "GET",
        url.as_str(),
        std::iter::empty(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(req, &params).unwrap().into_parts();
    let (headers, _) = instructions.into_parts();
    let mut r = reqwest::Client::new().get(&url);
    for h in headers {
        r = r.header(h.name(), h.value());
    }
    let resp = r.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_date_or_another_service_is_refused_as_aws_refuses_it() {
    let os = EsDouble::start_opensearch("managed", "eu-west-1", &[PREFIX, "s-"]).await;
    let now = std::time::SystemTime::now();
    let (status, body) = signed_get(&os, "es", now).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = signed_get(&os, "es", now - Duration::from_secs(20 * 60)).await;
    assert_eq!(status, 403);
    assert!(body.contains("Signature expired"), "{body}");
    let (status, body) = signed_get(&os, "aoss", now).await;
    assert_eq!(status, 403);
    assert!(body.contains("scoped to correct service"), "{body}");
    assert_eq!(os.stats().await["sigv4_refused"], 2);
}
