//! Migration from the original Go s3logsbeat: its own example `s3logsbeat.yml` and its full reference
//! config (uncommented) load, with one warning per libbeat key we accept and ignore; keys that would change
//! what is delivered or where are errors; and `processors` change events end to end.

use std::process::Command;
use std::time::Duration;

use crate::common::*;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_s3logsbeat"))
}

fn original(name: &str) -> String {
    repo()
        .join("tests/data/original-config")
        .join(name)
        .display()
        .to_string()
}

fn test_config(file: &str) -> (Option<i32>, String, String) {
    let out = bin().args(["test", "config", "-c", file]).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_original_example_config_loads_and_its_keys_work() {
    let file = original("s3logsbeat.yml");
    let (code, out, err) = test_config(&file);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Config OK"), "{out}");
    // `setup.kibana:` is written with no value: still one warning, naming it and its line.
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains(&format!("{file}:64: setup.kibana is accepted")),
        "{err}"
    );

    // The keys it sets are the ones we read.
    let text = std::fs::read_to_string(&file).unwrap();
    let s = settings(&text, &[]).unwrap();
    assert_eq!(s.shutdown_timeout, Duration::from_secs(5));
    let input = &s.inputs[0];
    assert_eq!(input.formats.all()[0].format().name(), "alb");
    match &input.source {
        s3logsbeat::config::InputSource::Sqs(q) => {
            assert_eq!(q.poll_frequency, Duration::from_secs(60));
            assert_eq!(
                q.queues[0],
                "https://sqs.{aws-region}.amazonaws.com/{account ID}/{queue name}"
            );
        }
        other => panic!("{other:?}"),
    }
    let re = input.enrich.key_regex.as_ref().expect("key_regex_fields");
    let caps = re.captures("shop-prod/AWSLogs/1/x.log.gz").unwrap();
    assert_eq!(&caps["application"], "shop");
    assert_eq!(&caps["environment"], "prod");
}

#[test]
fn the_original_reference_config_uncommented_loads_with_one_warning_per_ignored_key() {
    let file = original("s3logsbeat.reference.uncommented.yml");
    let (code, out, err) = test_config(&file);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Config OK"), "{out}");
    for key in [
        "setup.kibana",
        "setup.dashboards",
        "setup.template.fields",
        "logging.to_syslog",
        "output.elasticsearch.max_retries",
    ] {
        let n = err
            .lines()
            .filter(|l| l.starts_with("warning: ") && l.contains(&format!(": {key} ")))
            .count();
        assert_eq!(n, 1, "one warning for {key}:\n{err}");
    }
    // Every warning names the file and a line.
    for l in err.lines() {
        assert!(l.starts_with(&format!("warning: {file}:")), "{l}");
    }

    // What it sets that we implement is read: template name, logging to files with rotation, http.
    let text = std::fs::read_to_string(&file).unwrap();
    let s = settings(&text, &[]).unwrap();
    assert!(s.template.enabled);
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(s.template.name, format!("s3logsbeat-{v}"));
    assert_eq!(s.template.pattern, format!("s3logsbeat-{v}-*"));
    assert!(!s.template.overwrite);
    assert!(!s.inputs.is_empty());
}

#[test]
fn settings_that_would_change_delivery_are_errors_not_warnings() {
    let input = "    - {type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q'], log_format: alb}".to_string();
    let base = config_text(None, &[input], "output.console: {}\n", "");

    let errs = settings(
        &format!("{base}output.kafka:\n  hosts: [\"k:9092\"]\n"),
        &[],
    )
    .unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.contains("output.kafka is not supported")),
        "{errs:?}"
    );
    // A disabled block is kept without complaint, as beats configs often carry one.
    assert!(settings(
        &format!("{base}output.kafka:\n  enabled: false\n  hosts: [\"k:9092\"]\n"),
        &[]
    )
    .is_ok());

    let ls = "output.logstash:\n  hosts: [\"ls:5044\"]\n  proxy_url: socks5://p:1080\n";
    let input = "    - {type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q'], log_format: alb}".to_string();
    let errs = settings(&config_text(None, &[input], ls, ""), &[]).unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.contains("output.logstash.proxy_url is not supported")),
        "{errs:?}"
    );
}

#[test]
fn a_processor_that_is_not_known_or_badly_written_is_an_error_with_its_line() {
    let input = "    - {type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q'], log_format: alb}".to_string();
    let text = config_text(
        None,
        &[input],
        "output.console: {}\n",
        "processors:\n  - add_fields: {fields: {a: 1}}\n  - drop_feilds: {fields: [x]}\n  - drop_event:\n      when:\n        equal: {a: 1}\n",
    );
    let errs = settings(&text, &[]).unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.starts_with("s3logsbeat.yml:8: processors.1.drop_feilds")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("s3logsbeat.yml:11: processors.2.drop_event.when.equal")),
        "{errs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processors_change_and_drop_events_end_to_end() {
    let moto = Moto::start().await;
    let dir = TempDir::new("processors");
    let q = moto.bucket_with_notifications("bkt", "q").await;
    let alb = sample("alb-aws-docs.log");
    let lines = String::from_utf8_lossy(&alb).lines().count();
    moto.put("bkt", "a.log.gz", gzip(&alb)).await;
    let input = format!(
        "    - type: sqs\n      queues_url: [\"{q}\"]\n      log_format: alb\n      wait_time: 1s\n      processors:\n        - add_tags: {{tags: [from-input]}}\n"
    );
    // Global processors run after the input's: the rename sees the tag the input added.
    let extra = "processors:\n\
  - add_fields: {target: project, fields: {name: shop, id: 7}}\n\
  - drop_fields: {fields: [user_agent, ssl_cipher]}\n\
  - rename: {fields: [{from: elb, to: lb.name}]}\n\
  - drop_event:\n      when:\n        not:\n          regexp: {type: '^https?$'}\n";
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&moto.endpoint),
            &[input],
            "output.console: {}\n",
            extra,
        ),
    );
    let run = run_to_end(daemon(&cfg, &["--once"]), Duration::from_secs(120)).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let events = ndjson(&run.stdout);
    let gets = String::from_utf8_lossy(&alb)
        .lines()
        .filter(|l| l.starts_with("http ") || l.starts_with("https "))
        .count();
    assert!(
        gets > 0 && gets < lines,
        "the sample has http(s) lines and others"
    );
    assert_eq!(events.len(), gets, "{}", run.stdout);
    for e in &events {
        assert_eq!(e["project"]["name"], "shop");
        assert_eq!(e["project"]["id"], 7);
        assert!(e.get("user_agent").is_none() && e.get("ssl_cipher").is_none());
        assert!(e.get("elb").is_none());
        assert!(e["lb"]["name"].is_string(), "{e}");
        assert!(e["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "from-input"));
        assert!(e["@timestamp"].is_string() && e["@metadata"]["_id"].is_string());
    }
    assert_eq!(
        counter(&run.stderr, "events_filtered"),
        (lines - gets) as u64,
        "{}",
        run.stderr
    );
    // Dropped events do not hold the message back.
    assert_eq!(moto.queue_counts(&q).await, (0, 0));
}
