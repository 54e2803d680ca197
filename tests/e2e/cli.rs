//! The `s3logsbeat` binary as a user runs it: `parse`, `test config`, `export config`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_s3logsbeat"))
}

fn repo(p: &str) -> String {
    format!("{}/{p}", env!("CARGO_MANIFEST_DIR"))
}

fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn parse_prints_one_event_per_line_with_metadata_and_a_summary() {
    let out = bin()
        .args(["parse", "--format", "alb", "--key"])
        .arg("s3://logs/prod-shop/AWSLogs/123/elasticloadbalancing/eu-west-1/2018/07/02/a.log.gz")
        .args([
            "--key-regex-fields",
            r"^(?P<environment>[^-]+)-(?P<application>[^/]+)/",
        ])
        .arg(repo("tests/data/samples/alb-aws-docs.log"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 4);
    let e = &events[1];
    assert_eq!(e["@metadata"]["format"], "alb");
    assert_eq!(e["@metadata"]["beat"], "s3logsbeat");
    assert_eq!(e["@metadata"]["_id"].as_str().unwrap().len(), 32);
    assert_eq!(e["environment"], "prod");
    assert_eq!(e["application"], "shop");
    assert_eq!(
        e["log"]["file"]["path"],
        "s3://logs/prod-shop/AWSLogs/123/elasticloadbalancing/eu-west-1/2018/07/02/a.log.gz"
    );
    assert_eq!(e["log"]["offset"], 386);
    assert_eq!(e["ssl_protocol"], "TLSv1.2");
    let stderr = String::from_utf8(out.stderr).unwrap();
    for want in [
        "lines=4",
        "events=4",
        "parse_failures=0",
        "bytes=1719",
        "seconds=",
    ] {
        assert!(stderr.contains(want), "{want} in {stderr}");
    }

    // Same object, same ids, however it is compressed or read.
    let gz =
        crate::common::gzip(&std::fs::read(repo("tests/data/samples/alb-aws-docs.log")).unwrap());
    let mut cmd = bin();
    cmd.args(["parse", "-f", "alb", "--key"])
        .arg("s3://logs/prod-shop/AWSLogs/123/elasticloadbalancing/eu-west-1/2018/07/02/a.log.gz")
        .arg("-");
    let again = run_with_stdin(cmd, &gz);
    assert_eq!(
        crate::common::ids(&crate::common::ndjson(&String::from_utf8_lossy(
            &again.stdout
        ))),
        crate::common::ids(&events)
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("compression=gzip"));
}

#[test]
fn parse_ships_or_drops_bad_lines_and_fails_on_truncated_gzip() {
    let input = b"not a log line\n2015-05-13T23:39:43.945958Z lb 1.2.3.4:1 - -1 -1 -1 503 0 0 0 \"GET http://h:80/ HTTP/1.1\" \"curl\" - -\n";
    let mut cmd = bin();
    cmd.args(["parse", "-f", "elb"]);
    let out = run_with_stdin(cmd, input);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["message"], "not a log line");
    assert_eq!(first["tags"][0], "_s3logsbeat_parse_failure");
    assert!(String::from_utf8_lossy(&out.stderr).contains("parse_failures=1"));

    let mut cmd = bin();
    cmd.args(["parse", "-f", "elb", "--parse-errors", "drop"]);
    let out = run_with_stdin(cmd, input);
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("events=1 parse_failures=1"));

    let gz = crate::common::gzip(&input[15..].repeat(200));
    let mut cmd = bin();
    cmd.args(["parse", "-f", "elb", "--key", "s3://b/cut.log.gz"]);
    let out = run_with_stdin(cmd, &gz[..gz.len() - 10]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("s3://b/cut.log.gz: gzip stream is truncated"),
        "{err}"
    );

    let out = bin()
        .args(["parse", "-f", "json", "/dev/null"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--timestamp-field"));
    let out = bin()
        .args(["parse", "-f", "apache", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "expected alb, elb, cloudfront, waf, json, vpcflow, s3access, nlb, alb_connection, \
             cloudtrail, cloudwatch, custom, network_firewall, route53_resolver or plain, or auto"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn test_config_accepts_every_shipped_config() {
    let mut files = vec![repo("s3logsbeat.yml")];
    for e in std::fs::read_dir(repo("config")).unwrap() {
        files.push(e.unwrap().path().display().to_string());
    }
    assert!(
        files.len() >= 14,
        "one example config per format, and the mixed one"
    );
    for f in files {
        let out = bin().args(["test", "config", "-c", &f]).output().unwrap();
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Config OK");
    }
}

#[test]
fn test_config_names_the_file_and_key_of_a_mistake() {
    let dir = std::env::temp_dir().join(format!("s3lb-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.yml");
    std::fs::write(
        &f,
        "s3logsbeat:\n  inputs:\n    - type: sqs\n      queues_url: ['https://sqs.x/q']\n      log_fromat: alb\noutput.console: {}\n",
    )
    .unwrap();
    let out = bin()
        .args(["test", "config", "-c"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:5: unknown key s3logsbeat.inputs.0.log_fromat",
            f.display()
        )),
        "{err}"
    );

    // -E fixes it; a wrong type names the key and what was expected.
    std::fs::write(&f, "s3logsbeat:\n  inputs:\n    - type: sqs\n      queues_url: ['https://sqs.x/q']\n      log_format: alb\noutput.console: {}\n").unwrap();
    let out = bin()
        .args(["test", "config", "-c"])
        .arg(&f)
        .args(["-E", "queue.mem.events=lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("queue.mem.events")
            && err.contains("expected a whole number (0 or more), got the text \"lots\"")
            && !err.contains("usize"),
        "{err}"
    );
    let out = bin()
        .args(["test", "config", "-c"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    // A value out of its bounds names the key and the bounds.
    let out = bin()
        .args(["test", "config", "-c"])
        .arg(&f)
        .args(["-E", "s3logsbeat.inputs.0.queue_metrics_interval=100ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "s3logsbeat.inputs.0.queue_metrics_interval must be 0s (off) or between 1s and 1h"
        ),
        "{err}"
    );

    let out = bin()
        .args(["test", "config", "-c"])
        .arg(dir.join("missing.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing.yml: cannot read the config file")
    );

    let out = bin()
        .args(["export", "config", "-c"])
        .arg(&f)
        .args(["-E", "name=x"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("name: x") && text.contains("console: {}"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn test_config_reports_every_problem_at_once_with_its_line_or_its_override() {
    let dir = std::env::temp_dir().join(format!("s3lb-cli-all-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("s3logsbeat.yml");
    let text = "\
s3logsbeat:
  inputs:
    - type: sqs
      queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q']
      log_format: alb
queue.mem:
  events: 1024
output.elasticsearch:
  hosts: [\"https://es:9200\"]
  protocol: http
  index: \"alb-%{+yyyy.MM.dd\"
  ssl:
    verification_mode: ful
    certificate_authorities: [/nonexistent/ca.pem]
http.enabeld: true
logging.level: verbose
";
    std::fs::write(&f, text).unwrap();
    let name = f.display().to_string();
    let out = bin()
        .args(["test", "config", "-c", &name])
        .args(["-E", "output.elasticsearch.bulk_max_size=many"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    let want = [
        format!("{name}:15: unknown key http.enabeld"),
        format!("{name}: -E output.elasticsearch.bulk_max_size=many: output.elasticsearch.bulk_max_size: expected a whole number"),
        format!("{name}:9: output.elasticsearch.hosts.0: \"https://es:9200\" says https:// but output.elasticsearch.protocol is http"),
        format!("{name}:13: output.elasticsearch.ssl.verification_mode: \"ful\" is not a verification mode"),
        format!("{name}:14: output.elasticsearch.ssl.certificate_authorities: cannot read /nonexistent/ca.pem"),
        format!("{name}:11: output.elasticsearch.index \"alb-%{{+yyyy.MM.dd\": unclosed %{{"),
        format!("{name}:16: logging.level \"verbose\" is not a level"),
    ];
    for w in &want {
        assert!(
            lines.iter().any(|l| l.starts_with(w.as_str())),
            "{w}\nin:\n{err}"
        );
    }
    assert_eq!(lines.len(), want.len(), "one line per problem:\n{err}");

    // `run` refuses what `test config` refuses, with the same messages, before touching AWS.
    let run = bin().args(["-c", &name, "run", "--once"]).output().unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains(&want[5]));

    // A scheme the output does not speak, set on the command line, is blamed on the -E.
    let fixed = text
        .replace("  protocol: http\n", "")
        .replace("\"alb-%{+yyyy.MM.dd\"", "\"alb-%{+yyyy.MM.dd}\"")
        .replace("  ssl:\n    verification_mode: ful\n    certificate_authorities: [/nonexistent/ca.pem]\n", "")
        .replace("http.enabeld: true\n", "")
        .replace("logging.level: verbose\n", "")
        .replace("  events: 1024\n", "  events: 4096\n");
    std::fs::write(&f, &fixed).unwrap();
    let ok = bin()
        .args(["test", "config", "-c", &name])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out = bin()
        .args([
            "test",
            "config",
            "-c",
            &name,
            "-E",
            "output.elasticsearch.protocol=ftp",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "{name}: -E output.elasticsearch.protocol=ftp: output.elasticsearch.protocol \"ftp\" is neither http nor https"
        )),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// G2 (fuzz findings of 2026-12-07): `parse` with processors printed the event its processors could
/// not read (a message of JSON nested 127 deep) instead of dropping it as `drop_event` says.
#[test]
fn g2_parse_runs_the_processors_on_every_event() {
    let out = bin()
        .args(["parse", "-c"])
        .arg(repo("tests/data/fuzz-findings/G2_processors_drop.yml"))
        .args(["--format", "cloudwatch"])
        .arg(repo(
            "tests/data/fuzz-findings/G1_cloudwatch_deep_json.cloudwatch.json",
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{stderr}");
}

#[test]
fn test_config_holds_dotted_keys_and_overrides_to_the_bounds_of_the_file() {
    let dir = std::env::temp_dir().join(format!("s3lb-cli-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let reference = std::fs::read_to_string(repo("s3logsbeat.reference.yml")).unwrap();
    let lines = reference.lines().count();
    let test_config = |f: &std::path::Path, overrides: &[&str]| {
        let mut cmd = bin();
        cmd.args(["test", "config", "-c"]).arg(f);
        for o in overrides {
            cmd.args(["-E", o]);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // Fuzz finding G6 (2026-12-07): a key of 30,000 dots aborted on a stack overflow (exit 134).
    let f = dir.join("dots.yml");
    std::fs::write(
        &f,
        format!("{reference}\n? \"{}\"\n: 1\n", ".".repeat(30_000)),
    )
    .unwrap();
    let (code, err) = test_config(&f, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(&format!("{}:{}: key \"", f.display(), lines + 2))
            && err.contains("…\" has 30000 dots; at most 64 levels of nesting are allowed"),
        "{err}"
    );

    // Fuzz finding G7 (2026-12-07): this -E value expanded its aliases to gigabytes.
    let bomb =
        std::fs::read_to_string(repo("tests/data/fuzz-findings/G7_E_alias_value.txt")).unwrap();
    let reference = repo("s3logsbeat.reference.yml");
    let (code, err) = test_config(std::path::Path::new(&reference), &[bomb.trim_end()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(&format!("{reference}: -E fields={{a: &a [x,x,x"))
            && err.contains("…: the YAML aliases (*name) expand to more than 100000 values"),
        "{err}"
    );

    // Fuzz finding G8 (2026-12-07): errors that named neither their -E nor a line, or the wrong line.
    let (_, err) = test_config(
        std::path::Path::new(&reference),
        &["outptu.elasticsearch.index=x"],
    );
    assert!(
        err.starts_with(&format!(
            "{reference}: -E outptu.elasticsearch.index=x: unknown key outptu"
        )),
        "{err}"
    );
    let (_, err) = test_config(std::path::Path::new(&reference), &[".name=${NOPE"]);
    assert_eq!(
        err.trim_end(),
        format!("{reference}: -E .name=${{NOPE: key \".name\" has an empty part: a dotted key is written a.b.c")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
