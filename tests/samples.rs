//! The AWS and public sample logs (tests/data/samples, origins in tests/data/README.md) parse without a
//! single failure, plain, gzip-compressed (single and multi-member) and zstd-compressed, and give the same
//! events every way.

mod common;

use common::{gzip, parse_object};
use s3logsbeat::config::{EnrichSettings, FormatSpec, LogFormat};
use s3logsbeat::object::ObjectStats;

/// (`_id`, document) of every event, and the counts.
fn parse(spec: &FormatSpec, data: &[u8], chunk: usize) -> (Vec<(String, String)>, ObjectStats) {
    let p = parse_object(
        spec,
        &EnrichSettings::new("n", "h"),
        "sample",
        data,
        chunk,
        1 << 20,
    );
    let events = p
        .events
        .into_iter()
        .map(|e| (e.id.to_string(), e.doc))
        .collect();
    (events, p.result.unwrap())
}

fn format_spec(f: LogFormat) -> FormatSpec {
    common::spec(f.name())
}

#[test]
fn every_sample_parses_without_failures_in_every_encoding() {
    let samples: &[(&str, LogFormat, u64)] = &[
        ("alb-aws-docs.log", LogFormat::Alb, 4),
        ("elb-logstash-patterns.log", LogFormat::Elb, 4),
        ("cloudfront-aws-docs.log", LogFormat::Cloudfront, 6),
        ("cloudfront-logstash-patterns.log", LogFormat::Cloudfront, 2),
        ("waf-aws-docs.ndjson", LogFormat::Waf, 6),
    ];
    for (file, format, want) in samples {
        let data = std::fs::read(format!(
            "{}/tests/data/samples/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let spec = format_spec(*format);
        let (plain, stats) = parse(&spec, &data, 4096);
        assert_eq!(stats.parse_failures, 0, "{file}: {plain:?}");
        assert_eq!(stats.events, *want, "{file}");
        for (_, doc) in &plain {
            let v: serde_json::Value = serde_json::from_str(doc).unwrap();
            assert!(v["@timestamp"].is_string(), "{file}: {doc}");
        }
        let ids: std::collections::HashSet<_> = plain.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(ids.len(), plain.len(), "{file}: ids are distinct");

        let half = data.len() / 2;
        let mut multi = gzip(&data[..half]);
        multi.extend(gzip(&data[half..]));
        for (what, bytes) in [
            ("gzip", gzip(&data)),
            ("multi-member gzip", multi),
            ("zstd", zstd::encode_all(&data[..], 3).unwrap()),
        ] {
            for chunk in [1, 7, 65536] {
                let (events, _) = parse(&spec, &bytes, chunk);
                assert_eq!(events, plain, "{file} as {what} in chunks of {chunk}");
            }
        }
    }
}

#[test]
fn numbers_are_never_dashes() {
    // Every numeric field of every sample is a JSON number, never the string "-".
    for (file, format) in [
        ("alb-aws-docs.log", LogFormat::Alb),
        ("elb-logstash-patterns.log", LogFormat::Elb),
        ("cloudfront-aws-docs.log", LogFormat::Cloudfront),
    ] {
        let data = std::fs::read(format!(
            "{}/tests/data/samples/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let (events, _) = parse(&format_spec(format), &data, 1 << 16);
        for (_, doc) in events {
            let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
            for (k, val) in v.as_object().unwrap() {
                let numeric = (k.ends_with("_time") && k != "request_creation_time")
                    || k.ends_with("_port")
                    || k.ends_with("_code")
                    || k.ends_with("_bytes")
                    || k.ends_with("_status")
                    || k == "sc_bytes"
                    || k == "cs_bytes"
                    || k == "time_taken"
                    || k == "sc_content_len";
                if numeric {
                    assert!(val.is_number(), "{file}: {k} = {val}");
                }
            }
        }
    }
}
