//! The beats commands: `test output` (against the Elasticsearch double, an independent lumberjack server
//! and dead ports), `export config` without secrets, `setup --index-template`, per-subcommand flags,
//! `--path.config`, and `parse -c FILE --input N`.

use std::process::{Command, Output};
use std::time::Duration;

use crate::common::*;
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
    let v: s3logsbeat::config::tree::Value = s3logsbeat::config::yaml::from_str(&stdout).unwrap();
    let es = &v["output"]["elasticsearch"];
    assert_eq!(es["username"], "elastic");
    assert_eq!(es["password"], "<redacted>");
    assert_eq!(es["api_key"], "<redacted>");
    assert_eq!(es["hosts"][0], "https://<redacted>@es:9200");
    assert_eq!(v["name"], "<redacted>");
}

/// `export config` prints YAML that reads back as the same config: exported again, it prints the same.
#[test]
fn an_exported_config_exports_the_same_again() {
    let dir = TempDir::new("export-again");
    for shipped in ["s3logsbeat.reference.yml", "config/mixed.yml"] {
        let export = |file: &std::path::Path| {
            let out = bin()
                .args(["export", "config", "-c"])
                .arg(file)
                .output()
                .unwrap();
            let (stdout, stderr) = text(&out);
            assert!(out.status.success(), "{}: {stderr}", file.display());
            stdout
        };
        let first = export(&repo().join(shipped));
        let file = dir.0.join("exported.yml");
        std::fs::write(&file, &first).unwrap();
        assert_eq!(export(&file), first, "{shipped}");
        let out = bin()
            .args(["test", "config", "-c"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{shipped}: {}", text(&out).1);
    }
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

/// Issue 23: from zero to an account. `deploy/aws/s3logsbeat.cfn.yml` passes cfn-lint, deploys on moto's
/// CloudFormation, `test input` finds what is missing (the bucket's notification) and then nothing, and
/// the daemon ships from what the stack made: the notification reaches the queue, the events reach
/// Elasticsearch, the queue drains. moto 5.2 applies neither the template's queue policy nor the bucket's
/// notification: `tests/aws/deploy_stack.py` applies both through the API, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloudformation_stack_deploys_test_input_checks_it_and_the_daemon_ships_from_it() {
    let template = repo().join("deploy/aws/s3logsbeat.cfn.yml");
    let lint = Command::new(repo().join(".venv/bin/cfn-lint"))
        .arg(&template)
        .output()
        .expect("cfn-lint is installed by `make venv`");
    let (stdout, stderr) = text(&lint);
    assert!(lint.status.success(), "cfn-lint: {stdout}{stderr}");
    let body = std::fs::read_to_string(&template).unwrap();
    for part in [
        "Service: s3.amazonaws.com",
        "Action: sqs:SendMessage",
        "aws:SourceArn: !Sub \"arn:${AWS::Partition}:s3:::${BucketName}\"",
        "aws:SourceAccount: !Ref AWS::AccountId",
    ] {
        assert!(
            body.contains(part),
            "the queue policy deploy_stack.py applies says {part}"
        );
    }

    let (moto, es) = tokio::join!(Moto::start(), EsDouble::start());
    let deploy = |notify: bool| {
        let mut c = Command::new(repo().join(".venv/bin/python"));
        c.arg(repo().join("tests/aws/deploy_stack.py"))
            .args([
                moto.endpoint.as_str(),
                template.to_str().unwrap(),
                "app-logs",
            ])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", REGION);
        if notify {
            c.arg("--notify");
        }
        let out = c.output().unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stdout}{stderr}");
        serde_json::from_str::<Value>(&stdout).unwrap()
    };
    let outputs = deploy(false);
    assert_eq!(outputs["StackStatus"], "CREATE_COMPLETE", "{outputs}");
    let queue = outputs["QueueUrl"].as_str().unwrap().to_string();
    assert!(outputs["RoleArn"].as_str().unwrap().contains(":role/"));

    let dir = TempDir::new("cfn");
    let cfg = write_config(
        &dir,
        &config_text(
            Some(&moto.endpoint),
            &[format!(
                "    - type: sqs\n      queues_url: [\"{queue}\"]\n      log_format: auto\n      wait_time: 1s\n"
            )],
            &format!("output.elasticsearch:\n  hosts: [\"{}\"]\n", es.url),
            "",
        ),
    );
    let test_input = || async {
        let out = daemon(&cfg, &["test", "input"]).output().await.unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // The bucket's notification already taken by another consumer (moto answers a bucket without any
    // notification in a shape the SDK cannot read, which `test input` reports as not checked).
    {
        use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
        moto.create_queue("other-consumer").await;
        moto.s3()
            .put_bucket_notification_configuration()
            .bucket("app-logs")
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(
                        QueueConfiguration::builder()
                            .queue_arn(format!("arn:aws:sqs:{REGION}:123456789012:other-consumer"))
                            .events(Event::from("s3:ObjectCreated:*"))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    // The queue is fine, the bucket sends nothing to it.
    let (code, said) = test_input().await;
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("OK: dead-letter queue arn:aws:sqs:"),
        "{said}"
    );
    assert!(
        said.contains("s3.amazonaws.com (arn:aws:s3:::app-logs) may send to it"),
        "{said}"
    );
    assert!(
        said.contains("ERROR: its notifications do not go to"),
        "{said}"
    );

    deploy(true);
    let (code, said) = test_input().await;
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("OK: its created objects are notified to"),
        "{said}"
    );
    assert!(!said.contains("ERROR"), "{said}");

    let key = "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2018/07/02/123456789012_elasticloadbalancing_us-east-1_app.shop.1234_20180702T2305Z_10.0.0.1_abc.log.gz";
    moto.put("app-logs", key, gzip(&sample("alb-aws-docs.log")))
        .await;
    let run = run_to_end(daemon(&cfg, &["--once"]), Duration::from_secs(120)).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let docs = es.docs(&format!("s3logsbeat-{}", "2018.07.02")).await;
    let all: usize = {
        let stats = es.stats().await;
        stats["indices"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v["docs"].as_u64().unwrap() as usize)
            .sum()
    };
    assert_eq!(all, 4, "every line of the object: {docs:?}");
    assert_eq!(moto.queue_counts(&queue).await, (0, 0));
}
