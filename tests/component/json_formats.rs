//! CloudTrail and CloudWatch Logs objects end to end through the object parser: the AWS documentation's
//! samples (tests/data/samples), in every compression and chunking, and the object shapes these formats
//! have that line formats do not (one pretty-printed document, digests, gzip inside gzip, payloads back
//! to back, control messages).

use crate::common::{gzip, parse_object, spec};
use s3logsbeat::config::{CloudwatchOptions, EnrichSettings, FormatSpec};
use serde_json::Value;

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/samples/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The documents of an object parsed in `chunk`-byte pieces, and its counts.
fn docs(
    spec: &FormatSpec,
    key: &str,
    data: &[u8],
    chunk: usize,
    max: usize,
) -> (Vec<Value>, s3logsbeat::object::ObjectStats) {
    let p = parse_object(spec, &EnrichSettings::new("n", "h"), key, data, chunk, max);
    // With its `_id` (which `doc_json` leaves out) as `_id`.
    let docs = p
        .events
        .iter()
        .map(|e| {
            let mut d = e.doc_json();
            d["_id"] = e.id.to_string().into();
            d
        })
        .collect();
    (docs, p.result.unwrap())
}

const KEY: &str = "AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/01/123456789012_CloudTrail_us-east-1_20240101T0000Z_abc.json.gz";

#[test]
fn cloudtrail_samples_give_one_event_per_record_in_every_encoding() {
    let spec = spec("cloudtrail");
    for (file, name) in [
        ("example-01-StartInstances.json", "StartInstances"),
        ("example-02-StopInstances.json", "StopInstances"),
        ("example-03-CreateKeyPair.json", "CreateKeyPair"),
        ("example-04-CreateUser.json", "CreateUser"),
        ("example-05-AddUserToGroup.json", "AddUserToGroup"),
        ("example-06-UpdateTrail.json", "UpdateTrail"),
        (
            "example-07-AwsCloudTrailInsight.json",
            "UpdateInstanceInformation",
        ),
    ] {
        let data = sample(&format!("cloudtrail-aws-docs-{file}"));
        let (plain, st) = docs(&spec, KEY, &data, 4096, 1 << 20);
        assert_eq!(st.parse_failures, 0, "{file}: {plain:?}");
        assert!(!plain.is_empty(), "{file}");
        for d in &plain {
            assert!(d["@timestamp"].is_string(), "{file}");
            assert!(d["eventTime"].is_string(), "{file}");
            let n = d["eventName"]
                .as_str()
                .or(d["insightDetails"]["eventName"].as_str())
                .unwrap();
            assert_eq!(n, name, "{file}");
        }
        let mut multi = gzip(&data[..data.len() / 2]);
        multi.extend(gzip(&data[data.len() / 2..]));
        for bytes in [gzip(&data), multi, zstd::encode_all(&data[..], 3).unwrap()] {
            for chunk in [1, 7, 65536] {
                let (d, _) = docs(&spec, KEY, &bytes, chunk, 1 << 20);
                assert_eq!(d, plain, "{file} in chunks of {chunk}");
            }
        }
    }
}

#[test]
fn the_insight_sample_is_two_records() {
    let data = sample("cloudtrail-aws-docs-example-07-AwsCloudTrailInsight.json");
    let (d, _) = docs(&spec("cloudtrail"), KEY, &data, 100, 1 << 20);
    assert_eq!(d.len(), 2);
    assert_eq!(d[0]["eventCategory"], "Insight");
    assert_eq!(d[0]["insightDetails"]["state"], "Start");
    assert_eq!(d[1]["insightDetails"]["state"], "End");
    assert_eq!(d[0]["@timestamp"], "2019-11-14T00:51:00.000Z");
    assert_ne!(d[0]["_id"], d[1]["_id"]);
}

#[test]
fn pretty_and_compact_give_the_same_fields() {
    // What `--format json` made 52 junk events of: one pretty-printed document.
    let data = sample("cloudtrail-aws-docs-example-07-AwsCloudTrailInsight.json");
    let v: Value = serde_json::from_slice(&data).unwrap();
    let compact = serde_json::to_vec(&v).unwrap();
    let strip = |mut d: Vec<Value>| {
        for x in &mut d {
            x.as_object_mut().unwrap().remove("_id");
            x.as_object_mut().unwrap().remove("log");
        }
        d
    };
    let (a, _) = docs(&spec("cloudtrail"), KEY, &data, 64, 1 << 20);
    let (b, _) = docs(&spec("cloudtrail"), KEY, &compact, 64, 1 << 20);
    assert_eq!(strip(a), strip(b));
}

#[test]
fn digests_are_skipped_by_key_or_by_content_never_failures() {
    for file in ["digest-example-line28.json", "digest-example-line135.json"] {
        let data = gzip(&sample(&format!("cloudtrail-aws-docs-{file}")));
        let digest_key = "AWSLogs/1/CloudTrail-Digest/us-east-2/2015/08/17/1_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z.json.gz";
        for key in [digest_key, "renamed/digest.json.gz"] {
            let (d, st) = docs(&spec("cloudtrail"), key, &data, 100, 1 << 20);
            assert!(d.is_empty(), "{file} {key}: {d:?}");
            assert!(st.skipped, "{file} {key}");
            assert_eq!(st.parse_failures, 0);
        }
    }
}

#[test]
fn an_object_without_records_is_one_failure_event() {
    for text in [
        &b"{\"Other\": []}"[..],
        b"hello world\n",
        b"[{\"eventTime\":\"x\"}]",
    ] {
        let (d, st) = docs(&spec("cloudtrail"), KEY, text, 3, 1 << 20);
        assert_eq!(st.parse_failures, 1, "{text:?}");
        assert_eq!(d.len(), 1);
        let m = d[0]["error"]["message"].as_str().unwrap();
        assert!(m.contains("no top-level Records array"), "{m}");
    }
}

#[test]
fn a_large_records_array_is_read_record_by_record() {
    // 20,000 records, about 6 MB, read with a 2 KiB unit limit: holding the document (or more than one
    // record) would cut records; none is.
    let mut doc = b"{\"Records\":[".to_vec();
    for i in 0..20_000 {
        if i > 0 {
            doc.push(b',');
        }
        doc.extend(
            format!(
            "{{\"eventTime\":\"2024-01-01T00:00:{:02}Z\",\"eventName\":\"E{i}\",\"pad\":\"{}\"}}",
            i % 60,
            "x".repeat(250)
        )
            .bytes(),
        );
    }
    doc.extend(b"]}");
    let (d, st) = docs(&spec("cloudtrail"), KEY, &gzip(&doc), 8192, 2048);
    assert_eq!(st.parse_failures, 0);
    assert_eq!(st.truncated_lines, 0);
    assert_eq!(d.len(), 20_000);
    assert_eq!(d[19_999]["eventName"], "E19999");
    // A record longer than the limit is one truncated failure; the next record is found.
    let mut doc2 = b"{\"Records\":[{\"eventTime\":\"2024-01-01T00:00:00Z\",\"pad\":\"".to_vec();
    doc2.extend(std::iter::repeat_n(b'y', 5000));
    doc2.extend(b"\"},{\"eventTime\":\"2024-01-01T00:00:01Z\"}]}");
    let (d, st) = docs(&spec("cloudtrail"), KEY, &doc2, 100, 2048);
    assert_eq!((st.parse_failures, st.truncated_lines, d.len()), (1, 1, 2));
    assert_eq!(d[0]["log"]["flags"], serde_json::json!(["truncated"]));
    assert_eq!(d[1]["@timestamp"], "2024-01-01T00:00:01.000Z");
}

fn cloudwatch(decode_json: bool) -> FormatSpec {
    FormatSpec::Cloudwatch(CloudwatchOptions { decode_json })
}

/// The two documented payloads plus a control message, as Firehose writes them: each gzip'ed, back to
/// back.
fn firehose_members() -> Vec<u8> {
    let control = br#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1432826855000,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
    let mut out = Vec::new();
    for p in [
        sample("cloudwatch-aws-docs-decoded-subscription-data-line165.json"),
        control.to_vec(),
        sample("cloudwatch-aws-docs-decoded-subscription-data-line290.json"),
    ] {
        out.extend(gzip(&p));
    }
    out
}

#[test]
fn firehose_objects_give_one_event_per_log_event_whatever_the_layers() {
    let members = firehose_members();
    let mut plain_concat = Vec::new();
    for f in [
        "cloudwatch-aws-docs-decoded-subscription-data-line165.json",
        "cloudwatch-aws-docs-decoded-subscription-data-line290.json",
    ] {
        plain_concat.extend(sample(f));
    }
    let key = "firehose/2024/01/01/00/stream-1-2024-01-01-00-00-00-uuid";
    let (want, st) = docs(&cloudwatch(false), key, &gzip(&members), 4096, 1 << 20);
    assert_eq!(st.parse_failures, 0, "{want:?}");
    assert_eq!(st.skipped_records, 1, "the control message");
    assert_eq!(want.len(), 6);
    assert_eq!(want[0]["log_group"], "CloudTrail/logs");
    assert_eq!(want[0]["owner"], "111111111111");
    assert_eq!(
        want[0]["subscription_filters"],
        serde_json::json!(["Destination"])
    );
    assert_eq!(want[0]["@timestamp"], "2015-05-28T15:27:35.000Z");
    assert!(want[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("{\"eventVersion\""));
    let ids: std::collections::HashSet<_> = want.iter().map(|d| d["_id"].to_string()).collect();
    assert_eq!(ids.len(), 6, "entries with the same message still differ");
    for (what, bytes) in [
        ("gzip members, no outer gzip", members.clone()),
        (
            "gzip inside zstd",
            zstd::encode_all(&members[..], 3).unwrap(),
        ),
    ] {
        for chunk in [1, 5, 70000] {
            let (d, _) = docs(&cloudwatch(false), key, &bytes, chunk, 1 << 20);
            assert_eq!(d, want, "{what} in chunks of {chunk}");
        }
    }
    // Plain JSON documents back to back (no inner gzip): the same events, at other offsets.
    let (d, st) = docs(&cloudwatch(false), key, &gzip(&plain_concat), 13, 1 << 20);
    assert_eq!((d.len(), st.parse_failures), (6, 0));
    assert_eq!(d[5]["message"], want[5]["message"]);
}

#[test]
fn a_truncated_inner_gzip_is_an_error_for_the_object() {
    let members = firehose_members();
    let cut = gzip(&members[..members.len() - 10]);
    let p = parse_object(
        &cloudwatch(false),
        &EnrichSettings::new("n", "h"),
        "k",
        &cut,
        100,
        1 << 20,
    );
    let e = p.result.unwrap_err().to_string();
    assert!(e.contains("gzip stream is truncated"), "{e}");
}

#[test]
fn export_task_objects_are_lines() {
    let text = b"2024-05-01T10:00:00.000Z START RequestId: 1 Version: $LATEST\n2024-05-01T10:00:00.100Z {\"level\":\"info\",\"x\":null}\n";
    let (d, st) = docs(
        &cloudwatch(true),
        "exports/task/stream/000000.gz",
        &gzip(text),
        7,
        1 << 20,
    );
    assert_eq!((d.len(), st.parse_failures), (2, 0));
    assert_eq!(d[1]["json"], serde_json::json!({"level": "info"}));
    assert_eq!(d[1]["@timestamp"], "2024-05-01T10:00:00.100Z");
}
