//! The beats commands: `test output` (against the Elasticsearch double, an independent lumberjack server
//! and dead ports), `export config` without secrets, `setup --index-template`, per-subcommand flags,
//! `--path.config`, and `parse -c FILE --input N`.

mod common;

use std::process::{Command, Output};

use common::*;
use serde_json::{json, Value};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_s3logsbeat"))
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn input() -> String {
    "    - {type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q'], log_format: alb}"
        .to_string()
}

fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `test output` with this output section: exit code and stdout.
fn test_output(dir: &TempDir, output: &str) -> (Option<i32>, String) {
    let cfg = write_config(dir, &config_text(None, &[input()], output, ""));
    let out = bin()
        .args(["test", "output", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    (out.status.code(), text(&out).0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_output_says_who_answers_or_why_not() {
    let es = EsDouble::start().await;
    let dir = TempDir::new("test-output");
    let dead = dead_port();

    let (code, stdout) = test_output(
        &dir,
        &format!("output.elasticsearch.hosts: ['{}']\n", es.url),
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.starts_with("elasticsearch:\n"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{}... OK: Elasticsearch 8.15.3, cluster docker-cluster",
            es.url
        )),
        "{stdout}"
    );

    // One host up, one dead: the dead one is named with the reason, and the exit is non-zero.
    let (code, stdout) = test_output(
        &dir,
        &format!(
            "output.elasticsearch.hosts: ['{}', 'http://127.0.0.1:{dead}']\n",
            es.url
        ),
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains(&format!("{}... OK", es.url)), "{stdout}");
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{dead}... ERROR: "))
            && stdout.contains("onnection refused"),
        "{stdout}"
    );

    // Wrong credentials: said as such.
    es.faults(json!({"auth": {"basic": ["writer", "s3cret"]}}))
        .await;
    let (code, stdout) = test_output(
        &dir,
        &format!(
            "output.elasticsearch:\n  hosts: ['{}']\n  username: writer\n  password: wrong\n",
            es.url
        ),
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("authentication failed (401)"), "{stdout}");
    assert!(
        !stdout.contains("wrong"),
        "the password is not printed: {stdout}"
    );

    // A name that does not resolve.
    let (code, stdout) = test_output(
        &dir,
        "output.elasticsearch.hosts: ['http://no-such-host.invalid:9200']\n",
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("no-such-host.invalid:9200... ERROR: "),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_output_reaches_an_independent_lumberjack_server_or_says_it_cannot() {
    let listener = ferro_lumberjack::server::Server::builder()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept connections for the test's length; none sends a window.
    let server = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok(c) = listener.accept().await {
            conns.push(c);
        }
    });
    let dir = TempDir::new("test-output-ls");
    let dead = dead_port();
    let cfg = write_config(
        &dir,
        &config_text(
            None,
            &[input()],
            &format!("output.logstash.hosts: ['{addr}', '127.0.0.1:{dead}']\n"),
            "",
        ),
    );
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .args(["test", "output", "-c"])
            .arg(&cfg)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.starts_with("logstash:\n"), "{stdout}");
    assert!(
        stdout.contains(&format!("{addr}... OK: connected")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("127.0.0.1:{dead}... ERROR: ")),
        "{stdout}"
    );
    server.abort();
}

#[test]
fn export_config_redacts_every_secret() {
    let dir = TempDir::new("export-config");
    let output = "output.elasticsearch:\n  hosts: ['https://admin:hunter2@es:9200']\n  username: elastic\n  password: p4ssw0rd\n  api_key: ${S3LB_EXPORT_KEY}\n  ssl.key_passphrase: ${S3LB_EXPORT_PASSPHRASE}\n";
    let cfg = write_config(
        &dir,
        &config_text(None, &[input()], output, "name: ${S3LB_EXPORT_NAME}\n"),
    );
    let out = bin()
        .args(["export", "config", "-c"])
        .arg(&cfg)
        .env("S3LB_EXPORT_KEY", "id:topsecretkey")
        .env("S3LB_EXPORT_PASSPHRASE", "pass-phrase-9")
        .env("S3LB_EXPORT_NAME", "name-from-env")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for secret in [
        "hunter2",
        "p4ssw0rd",
        "topsecretkey",
        "pass-phrase-9",
        "name-from-env",
    ] {
        assert!(!stdout.contains(secret), "{secret} printed:\n{stdout}");
    }
    let v: serde_yaml::Value = serde_yaml::from_str(&stdout).unwrap();
    let es = &v["output"]["elasticsearch"];
    assert_eq!(es["username"], serde_yaml::Value::from("elastic"));
    assert_eq!(es["password"], serde_yaml::Value::from("<redacted>"));
    assert_eq!(es["api_key"], serde_yaml::Value::from("<redacted>"));
    assert_eq!(
        es["hosts"][0],
        serde_yaml::Value::from("https://<redacted>@es:9200")
    );
    assert_eq!(v["name"], serde_yaml::Value::from("<redacted>"));
}

#[test]
fn subcommands_take_only_their_own_flags() {
    let out = bin().args(["version", "-c", "x.yml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin().args(["-c", "x.yml", "version"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("not a flag of `version`"),
        "{}",
        text(&out).1
    );
    let out = bin().args(["--once", "test", "config"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("--once is not a flag of `test config`"),
        "{}",
        text(&out).1
    );
    let out = bin().args(["test", "config", "--once"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args(["export", "config", "-d", "*"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin().args(["version"]).output().unwrap();
    assert!(out.status.success());
    assert!(text(&out).0.starts_with("s3logsbeat version "));
}

#[test]
fn path_config_finds_the_config_and_flags_before_the_subcommand_apply_to_it() {
    let dir = TempDir::new("path-config");
    write_config(
        &dir,
        &config_text(None, &[input()], "output.console: {}\n", ""),
    );
    let out = bin()
        .args(["test", "config", "--path.config"])
        .arg(&dir.0)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let cfg = dir.0.join("s3logsbeat.yml");
    let out = bin()
        .arg("-c")
        .arg(&cfg)
        .args(["-E", "logging.level=verbose", "test", "config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("-E logging.level=verbose"),
        "the -E before the subcommand is used: {}",
        text(&out).1
    );
    // --path.logs reaches the settings.
    let out = bin()
        .args(["export", "config", "--path.logs", "/var/log/x", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        text(&out).0.contains("logs: /var/log/x"),
        "{}",
        text(&out).0
    );
}

#[test]
fn parse_with_a_config_applies_that_inputs_settings() {
    let dir = TempDir::new("parse-config");
    let inputs = [
        input(),
        "    - type: sqs\n      queues_url: ['https://sqs.us-east-1.amazonaws.com/1/r']\n      log_format: alb\n      key_regex_fields: '^(?P<env>[a-z]+)/'\n      fields: {team: web}\n      tags: [edge]\n      processors:\n        - drop_fields: {fields: [user_agent]}\n".to_string(),
    ];
    let cfg = write_config(
        &dir,
        &config_text(None, &inputs, "output.console: {}\n", "tags: [global]\n"),
    );
    let file = repo().join("tests/data/samples/alb-aws-docs.log");
    let out = bin()
        .args(["parse", "-c"])
        .arg(&cfg)
        .args(["--input", "1", "--key", "s3://bkt/prod/x.log"])
        .arg(&file)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let events = ndjson(&stdout);
    assert_eq!(events.len(), 4);
    for e in &events {
        assert_eq!(e["env"], "prod", "{e}");
        assert_eq!(e["fields"]["team"], "web", "{e}");
        assert_eq!(e["tags"], json!(["global", "edge"]), "{e}");
        assert!(e.get("user_agent").is_none(), "{e}");
    }
    // Input 0 has none of it; a wrong --input or --format is refused.
    let out = bin()
        .args(["parse", "-c"])
        .arg(&cfg)
        .arg(&file)
        .output()
        .unwrap();
    let first: Value = ndjson(&text(&out).0).remove(0);
    assert!(first.get("user_agent").is_some() && first.get("env").is_none());
    let out = bin()
        .args(["parse", "--input", "7", "-c"])
        .arg(&cfg)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out)
        .1
        .contains("s3logsbeat.inputs.7: no such enabled input"));
    let out = bin()
        .args(["parse", "--format", "elb", "-c"])
        .arg(&cfg)
        .arg(&file)
        .output()
        .unwrap();
    assert!(text(&out)
        .1
        .contains("--format elb: s3logsbeat.inputs.0 reads alb"));
    let out = bin().args(["parse"]).arg(&file).output().unwrap();
    assert!(text(&out).1.contains("--format is required"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_installs_the_index_template_once_unless_told_to_overwrite() {
    let es = EsDouble::start().await;
    let dir = TempDir::new("setup");
    let inputs = [
        input(),
        "    - {type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/r'], log_format: waf, field_names: ecs}".to_string(),
    ];
    let cfg = write_config(
        &dir,
        &config_text(
            None,
            &inputs,
            &format!("output.elasticsearch.hosts: ['{}']\n", es.url),
            "setup.template.settings:\n  index.number_of_shards: 1\n",
        ),
    );
    // The double is another process: blocking on the command here is fine.
    let setup = |extra: &[&str]| {
        bin()
            .args(["setup", "--index-template", "-c"])
            .arg(&cfg)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = setup(&[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("index template s3logsbeat installed on"),
        "{stdout}"
    );
    let t = &es.templates().await["s3logsbeat"];
    assert_eq!(t["index_patterns"], json!(["s3logsbeat-*"]));
    assert_eq!(t["template"]["settings"]["index"]["number_of_shards"], "1");
    let p = &t["template"]["mappings"]["properties"];
    assert_eq!(p["client_ip"]["type"], "ip", "alb, original names");
    assert_eq!(
        p["source"]["properties"]["ip"]["type"], "ip",
        "waf, ecs names"
    );

    // Again: kept. With overwrite: replaced.
    let out = setup(&[]);
    assert!(out.status.success());
    assert!(text(&out).0.contains("exists on"), "{}", text(&out).0);
    let out = setup(&["-E", "setup.template.overwrite=true"]);
    assert!(text(&out).0.contains("installed on"), "{}", text(&out).0);
    assert_eq!(es.stats().await["index_template_puts_acknowledged"], 2);

    // Elasticsearch down: a clear failure, non-zero.
    es.faults(json!({"down": true})).await;
    let out = setup(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .contains("index template s3logsbeat not installed"),
        "{}",
        text(&out).1
    );
}
