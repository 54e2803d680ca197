//! Golden files: every sample of every format (tests/data/samples), parsed as the daemon parses it, gives
//! exactly the documents in `tests/data/golden/formats/<sample>.ndjson` (with `@metadata`, `_id`
//! included), so any change to a field name, type, value or id shows up as a diff under review.
//!
//! After an intended change: `UPDATE_GOLDEN=1 cargo test --test component format_golden`, then read the diff.
//! (The original s3logsbeat's own outputs are the other golden test, tests/component/golden.rs.)

use s3logsbeat::config::{EnrichSettings, FormatOptions, FormatSpec, LogFormat};
use s3logsbeat::event::Timestamp;
use s3logsbeat::object::{parse_all, ObjectId};

/// (sample file, format, key it is read under). Keys are AWS-like so that `auto` would pick the same
/// format; the custom sample is inline.
fn cases() -> Vec<(&'static str, FormatSpec)> {
    let f = |n: LogFormat| FormatSpec::build(n, &FormatOptions::default(), str::to_string).unwrap();
    let mut v = vec![
        ("alb-aws-docs.log", f(LogFormat::Alb)),
        ("alb-connection-aws-docs.log", f(LogFormat::AlbConnection)),
        ("cloudfront-aws-docs.log", f(LogFormat::Cloudfront)),
        ("cloudfront-logstash-patterns.log", f(LogFormat::Cloudfront)),
        ("elb-logstash-patterns.log", f(LogFormat::Elb)),
        ("nlb-aws-docs.log", f(LogFormat::Nlb)),
        ("s3access-aws-docs.log", f(LogFormat::S3access)),
        ("s3access-logstash-patterns.log", f(LogFormat::S3access)),
        ("waf-aws-docs.ndjson", f(LogFormat::Waf)),
        (
            "network-firewall-handwritten.log",
            f(LogFormat::NetworkFirewall),
        ),
        (
            "route53-resolver-handwritten.log",
            f(LogFormat::Route53Resolver),
        ),
    ];
    for n in 1..=4 {
        v.push((
            [
                "",
                "vpcflow-aws-docs-custom-format-1.log",
                "vpcflow-aws-docs-custom-format-2.log",
                "vpcflow-aws-docs-custom-format-3.log",
                "vpcflow-aws-docs-custom-format-4.log",
            ][n],
            f(LogFormat::Vpcflow),
        ));
    }
    v.push((
        "vpcflow-aws-docs-default-format-v2.log",
        f(LogFormat::Vpcflow),
    ));
    for n in [
        "01-StartInstances",
        "02-StopInstances",
        "03-CreateKeyPair",
        "04-CreateUser",
        "05-AddUserToGroup",
        "06-UpdateTrail",
        "07-AwsCloudTrailInsight",
    ] {
        let name: &'static str =
            Box::leak(format!("cloudtrail-aws-docs-example-{n}.json").into_boxed_str());
        v.push((name, f(LogFormat::Cloudtrail)));
    }
    for n in ["165", "290"] {
        let name: &'static str = Box::leak(
            format!("cloudwatch-aws-docs-decoded-subscription-data-line{n}.json").into_boxed_str(),
        );
        v.push((
            name,
            FormatSpec::build(
                LogFormat::Cloudwatch,
                &FormatOptions {
                    decode_json: Some(true),
                    ..Default::default()
                },
                str::to_string,
            )
            .unwrap(),
        ));
    }
    v
}

fn render(file: &str, spec: &FormatSpec, data: &[u8]) -> String {
    let path = format!("s3://logs/samples/{file}");
    let id = ObjectId {
        path: &path,
        key: &path[12..],
        // A fixed LastModified: it dates failure events and undated VPC flow lines.
        last_modified: Some(Timestamp::from_millis(1_700_000_000_000)),
    };
    let (events, r) = parse_all(
        spec,
        &EnrichSettings::new("golden", "golden-host"),
        id,
        data,
        4096,
        1 << 20,
    );
    r.unwrap();
    let mut out = Vec::new();
    for e in events {
        e.write_with_metadata(&mut out);
        out.push(b'\n');
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn every_sample_gives_its_golden_documents() {
    let dir = crate::common::repo().join("tests/data/golden/formats");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for (file, spec) in cases() {
        let got = render(file, &spec, &crate::common::sample(file));
        assert!(!got.is_empty(), "{file}: no events");
        let golden = dir.join(format!("{file}.ndjson"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", golden.display()));
        if got != want {
            let (i, (g, w)) = got
                .lines()
                .zip(want.lines())
                .enumerate()
                .find(|(_, (g, w))| g != w)
                .unwrap_or((0, ("(more or fewer lines)", "")));
            stale.push(format!("{file} line {}:\n  got  {g}\n  want {w}", i + 1));
        }
    }
    assert!(
        stale.is_empty(),
        "golden files differ (UPDATE_GOLDEN=1 to accept):\n{}",
        stale.join("\n")
    );
}

#[test]
fn golden_documents_are_what_an_output_receives() {
    // Each golden line is one JSON document with its metadata and a 32-hex-digit id, and no key twice.
    let dir = crate::common::repo().join("tests/data/golden/formats");
    let mut n = 0;
    for (file, _) in cases() {
        let text = std::fs::read_to_string(dir.join(format!("{file}.ndjson"))).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(
                v["@metadata"]["_id"].as_str().map(str::len),
                Some(32),
                "{file}: {line}"
            );
            assert!(v["@timestamp"].is_string());
            let doc = line
                .split_once(",\"@timestamp\"")
                .map(|(_, rest)| format!("{{\"@timestamp\"{rest}"));
            if let Some(doc) = doc {
                s3logsbeat::event::check_document(&doc)
                    .unwrap_or_else(|e| panic!("{file}: {e}: {line}"));
            }
            n += 1;
        }
    }
    assert!(n > 60, "{n} documents");
}
