//! Bad input gets a defined outcome (docs/delivery.md "Bad input"), shown object by object through the same
//! object stream the readers use: a binary object is one failure event naming it, a broken compressed
//! stream is an error for the object (its message is kept), a 100 MB line is one truncated event in
//! bounded memory, invalid UTF-8 is replaced, and a 1 MiB notification body is read whole.

use crate::common::{gzip, parse_object, spec};
use s3logsbeat::config::EnrichSettings;
use s3logsbeat::inputs::notification::{self, Notification};

fn settings() -> EnrichSettings {
    EnrichSettings::new("n", "h")
}

fn elb() -> Vec<u8> {
    crate::common::sample("elb-logstash-patterns.log")
}

#[test]
fn a_binary_object_is_one_failure_event_naming_it() {
    // A gzip inside a gzip (decompressed once, it is gzip bytes) and plain binary junk.
    let nested = gzip(&gzip(&elb()));
    let mut junk = b"PK\x03\x04".to_vec();
    junk.extend((0..20_000u32).map(|i| (i * 7 % 251) as u8));
    for (name, data) in [("nested.log.gz", nested), ("archive.zip", junk)] {
        let p = parse_object(&spec("elb"), &settings(), name, &data, 4096, 1 << 20);
        let stats = p.result.unwrap();
        assert_eq!(
            p.events.len(),
            1,
            "{name}: one event, not dozens of junk ones"
        );
        assert!(stats.binary, "{name}");
        let e = p.events[0].doc_json();
        assert_eq!(e["log"]["file"]["path"], format!("s3://bucket/{name}"));
        assert_eq!(e["tags"][0], "_s3logsbeat_parse_failure");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("the object is binary, not a log"),
            "{e}"
        );
    }
}

#[test]
fn broken_compressed_streams_are_errors_for_the_object() {
    let gz = gzip(&elb().repeat(50));
    let zst = zstd::encode_all(&elb().repeat(50)[..], 3).unwrap();
    let mut corrupt_gz = gz.clone();
    let mid = corrupt_gz.len() / 2;
    corrupt_gz[mid..mid + 8].copy_from_slice(b"\xffGARBAGE");
    // zstd without a content checksum cannot notice changed data, only a broken structure: the block
    // header after the frame header is made invalid.
    let mut corrupt_zst = zst.clone();
    corrupt_zst[6..14].copy_from_slice(b"\xff\xff\xff\xffGARB");
    for (what, data, want) in [
        (
            "truncated gzip",
            gz[..gz.len() / 2].to_vec(),
            "gzip stream is truncated",
        ),
        (
            "truncated zstd",
            zst[..zst.len() - 3].to_vec(),
            "zstd stream is truncated",
        ),
        ("corrupt gzip", corrupt_gz, "gzip stream"),
        ("corrupt zstd", corrupt_zst, "zstd"),
    ] {
        let p = parse_object(&spec("elb"), &settings(), "k", &data, 1000, 1 << 20);
        let err = p.result.expect_err(what).to_string();
        assert!(
            err.contains(want) && err.contains("s3://bucket/k"),
            "{what}: {err}"
        );
    }
}

#[test]
fn a_100_mb_line_is_one_truncated_event_in_bounded_memory() {
    let settings = settings();
    let spec = spec("elb");
    let mut p = s3logsbeat::object::ObjectParser::new(
        &spec,
        &settings,
        s3logsbeat::object::ObjectId {
            path: "s3://b/huge.log",
            key: "huge.log",
            last_modified: None,
        },
        1 << 20,
    );
    let mib = vec![b'x'; 1 << 20];
    let mut events = Vec::new();
    let mut most = 0;
    for _ in 0..100 {
        p.feed_all(&mib, |p| {
            most = most.max(p.pending());
            events.extend(p.drain());
        })
        .unwrap();
    }
    p.feed(b"\n").unwrap();
    let stats = p.finish().unwrap();
    events.extend(p.drain());
    assert_eq!(events.len(), 1);
    assert_eq!(stats.truncated_lines, 1);
    let e = events[0].doc_json();
    assert_eq!(e["log"]["flags"][0], "truncated");
    assert_eq!(
        e["message"].as_str().unwrap().len(),
        1 << 20,
        "cut at max_line_bytes"
    );
    assert!(most <= 1);
}

#[test]
fn invalid_utf8_is_replaced_and_every_line_is_an_event() {
    let mut data = elb();
    let line2 = data.iter().position(|b| *b == b'\n').unwrap() + 20;
    data[line2] = 0xff;
    data[line2 + 1] = 0xfe;
    let p = parse_object(&spec("elb"), &settings(), "k", &data, 7, 1 << 20);
    let stats = p.result.unwrap();
    assert_eq!(stats.invalid_utf8_lines, 1);
    assert_eq!(p.events.len(), 4, "no line lost");
    assert!(p.events.iter().any(|e| e.doc.contains('\u{FFFD}')));
}

#[test]
fn a_one_mib_notification_body_is_read_whole() {
    let record = crate::common::s3_record(
        "bkt",
        "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/27/x.log.gz",
    );
    let n = (1 << 20) / record.len();
    let records: Vec<String> = (0..n)
        .map(|i| record.replace("x.log.gz", &format!("{i}.log.gz")))
        .collect();
    let body = format!("{{\"Records\":[{}]}}", records.join(","));
    assert!(body.len() > 1_000_000);
    match notification::parse(&body) {
        Notification::Objects(o) => assert_eq!(o.len(), n),
        other => panic!("{other:?}"),
    }
    // Not JSON at all: invalid, and the message is deleted (tests/e2e/daemon.rs shows the deletion).
    assert!(matches!(
        notification::parse("not json"),
        Notification::Invalid(_)
    ));
}
