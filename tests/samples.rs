//! The AWS and public sample logs (tests/data/samples, origins in tests/data/README.md) parse without a
//! single failure, plain, gzip-compressed (single and multi-member) and zstd-compressed, and give the same
//! events every way.

use std::io::Write;

use s3logsbeat::enrich::EnrichSettings;
use s3logsbeat::formats::{FormatSpec, LogFormat};
use s3logsbeat::object::{ObjectId, ObjectParser, ObjectStats};

fn parse(spec: &FormatSpec, data: &[u8], chunk: usize) -> (Vec<(String, String)>, ObjectStats) {
    let settings = EnrichSettings::new("n", "h");
    let mut p = ObjectParser::new(
        spec,
        &settings,
        ObjectId {
            path: "s3://bucket/sample",
            key: "sample",
            last_modified: None,
        },
        1 << 20,
    );
    let mut events = Vec::new();
    for c in data.chunks(chunk) {
        p.feed(c).unwrap();
        events.extend(p.drain().map(|e| (e.id.to_string(), e.doc)));
    }
    let stats = p.finish().unwrap();
    events.extend(p.drain().map(|e| (e.id.to_string(), e.doc)));
    (events, stats)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
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
        let spec = FormatSpec::plain(*format);
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
        let (events, _) = parse(&FormatSpec::plain(format), &data, 1 << 16);
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
