//! The AWS and public sample logs (tests/data/samples, origins in tests/data/README.md) parse without a
//! single failure, plain, gzip-compressed (single and multi-member) and zstd-compressed, and give the same
//! events every way.

use crate::common::{gzip, parse_object};
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
        .map(|e| (e.id.to_string(), e.doc.to_string()))
        .collect();
    (events, p.result.unwrap())
}

fn format_spec(f: LogFormat) -> FormatSpec {
    crate::common::spec(f.name())
}

#[test]
fn every_sample_parses_without_failures_in_every_encoding() {
    let samples: &[(&str, LogFormat, u64)] = &[
        ("alb-aws-docs.log", LogFormat::Alb, 4),
        ("elb-logstash-patterns.log", LogFormat::Elb, 4),
        ("cloudfront-aws-docs.log", LogFormat::Cloudfront, 6),
        ("cloudfront-logstash-patterns.log", LogFormat::Cloudfront, 2),
        ("waf-aws-docs.ndjson", LogFormat::Waf, 6),
        // Without a header: the default version-2 layout.
        (
            "vpcflow-aws-docs-default-format-v2.log",
            LogFormat::Vpcflow,
            7,
        ),
        (
            "vpcflow-aws-docs-custom-format-1.log",
            LogFormat::Vpcflow,
            8,
        ),
        (
            "vpcflow-aws-docs-custom-format-4.log",
            LogFormat::Vpcflow,
            2,
        ),
        ("nlb-aws-docs.log", LogFormat::Nlb, 2),
        ("alb-connection-aws-docs.log", LogFormat::AlbConnection, 1),
        ("s3access-aws-docs.log", LogFormat::S3access, 5),
        ("s3access-logstash-patterns.log", LogFormat::S3access, 3),
        (
            "network-firewall-handwritten.log",
            LogFormat::NetworkFirewall,
            5,
        ),
        (
            "route53-resolver-handwritten.log",
            LogFormat::Route53Resolver,
            5,
        ),
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
        ("vpcflow-aws-docs-default-format-v2.log", LogFormat::Vpcflow),
        ("vpcflow-aws-docs-custom-format-1.log", LogFormat::Vpcflow),
        ("vpcflow-aws-docs-custom-format-4.log", LogFormat::Vpcflow),
        ("nlb-aws-docs.log", LogFormat::Nlb),
        ("alb-connection-aws-docs.log", LogFormat::AlbConnection),
        ("s3access-aws-docs.log", LogFormat::S3access),
        ("s3access-logstash-patterns.log", LogFormat::S3access),
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
                    || k == "sc_content_len"
                    || k.ends_with("port")
                    || k.starts_with("packets")
                    || k.ends_with("_size")
                    || k.ends_with("_latency")
                    || [
                        "version",
                        "protocol",
                        "bytes",
                        "start",
                        "end",
                        "tcp_flags",
                        "traffic_path",
                        "bytes_sent",
                        "connection_time",
                        "tls_handshake_time",
                    ]
                    .contains(&k.as_str());
                // Strings whose names look numeric: S3's error code, the flow log's and ALB
                // connection's statuses, NLB's creation time and its `version`, which is the log
                // format's ("2.0").
                let numeric = numeric
                    && ![
                        "error_code",
                        "log_status",
                        "tls_verify_status",
                        "tls_connection_creation_time",
                    ]
                    .contains(&k.as_str())
                    && !(format == LogFormat::Nlb && k == "version");
                if numeric {
                    assert!(val.is_number(), "{file}: {k} = {val}");
                }
            }
        }
    }
}

#[test]
fn a_vpcflow_layout_without_start_or_end_takes_the_objects_time_or_fails_saying_why() {
    // The AWS docs' custom formats 2 and 3 have no time column: their lines are dated by the object's
    // LastModified when it is known (S3), and fail, saying why, when it is not (a local file).
    for (file, lines) in [
        ("vpcflow-aws-docs-custom-format-2.log", 6),
        ("vpcflow-aws-docs-custom-format-3.log", 4),
    ] {
        let data = std::fs::read(format!(
            "{}/tests/data/samples/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let (events, stats) = parse(&format_spec(LogFormat::Vpcflow), &data, 1 << 16);
        assert_eq!(stats.parse_failures, lines, "{file}: {events:?}");
        assert_eq!(events.len() as u64, lines, "{file}");
        for (_, doc) in events {
            let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
            assert_eq!(
                v["error"]["message"], "timestamp field start or end is missing",
                "{file}: {doc}"
            );
        }
        let spec = format_spec(LogFormat::Vpcflow);
        let settings = EnrichSettings::new("n", "h");
        let id = s3logsbeat::object::ObjectId {
            path: "s3://b/k",
            key: "k",
            last_modified: Some(s3logsbeat::event::Timestamp::from_millis(1_418_530_070_000)),
        };
        let (events, r) = s3logsbeat::object::parse_all(&spec, &settings, id, &data, 100, 1 << 20);
        assert_eq!(r.unwrap().parse_failures, 0, "{file}");
        assert_eq!(events.len() as u64, lines);
        for e in events {
            let v = e.doc_json();
            assert_eq!(v["@timestamp"], "2014-12-14T04:07:50.000Z", "{file}");
        }
        // Issue 23: the time AWS wrote into the file name comes first (the end of the aggregation
        // interval), with or without LastModified; it dates every line and none fails.
        let key = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log";
        for last_modified in [
            None,
            Some(s3logsbeat::event::Timestamp::from_millis(1_418_530_070_000)),
        ] {
            let path = format!("s3://b/{key}");
            let id = s3logsbeat::object::ObjectId {
                path: &path,
                key,
                last_modified,
            };
            let (events, r) =
                s3logsbeat::object::parse_all(&spec, &settings, id, &data, 100, 1 << 20);
            assert_eq!(r.unwrap().parse_failures, 0, "{file}");
            assert_eq!(events.len() as u64, lines);
            for e in events {
                let v = e.doc_json();
                assert_eq!(v["@timestamp"], "2018-06-20T16:20:00.000Z", "{file}");
                assert!(
                    v.get("srcaddr").is_some() || v.get("instance_id").is_some(),
                    "{v}"
                );
            }
        }
    }
}

#[test]
fn concatenated_vpcflow_objects_switch_layout_at_each_header() {
    // Files joined with a blank line between them, each custom format under its own header. The
    // header-less (default-format) file comes first: after a header, its lines would be read with that
    // header's layout.
    let read = |f: &str| {
        std::fs::read(format!(
            "{}/tests/data/samples/{f}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let mut data = read("vpcflow-aws-docs-default-format-v2.log");
    data.extend_from_slice(b"\n");
    data.extend(read("vpcflow-aws-docs-custom-format-4.log"));
    data.extend_from_slice(b"\n");
    data.extend(read("vpcflow-aws-docs-custom-format-1.log"));
    let (events, stats) = parse(&format_spec(LogFormat::Vpcflow), &data, 4096);
    assert_eq!(stats.parse_failures, 0, "{events:?}");
    assert_eq!(stats.events, 7 + 2 + 8);
    let docs: Vec<serde_json::Value> = events
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(docs[0]["version"], 2);
    assert!(docs[0].get("vpc_id").is_none());
    assert_eq!(docs[7]["version"], 5);
    assert_eq!(docs[7]["region"], "ap-southeast-2");
    assert_eq!(docs[9]["version"], 3);
    assert_eq!(docs[9]["tcp_flags"], 2);
    assert!(docs[9].get("region").is_none());
}
