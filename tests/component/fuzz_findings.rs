//! The inputs that coverage-guided fuzzing found breaking s3logsbeat (`tests/data/fuzz-findings`, origin
//! in `tests/data/README.md`: F of commit 1e853f6, G of main at 46c0a7c, H of the `fuzz/` targets of the
//! code after parsing at 73faf4f), each kept as a regression test named after what it broke. Every
//! document is checked to be valid JSON without a duplicate key.

use crate::common::{json_spec, parse_object, spec};
use s3logsbeat::config::{EnrichSettings, FormatSpec};
use s3logsbeat::event::Event;

fn finding(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/fuzz-findings/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Parses a finding in 8 KiB pieces (as the daemon feeds S3 bodies) and checks every document.
fn parse(spec: &FormatSpec, name: &str) -> (Vec<Event>, s3logsbeat::object::ObjectStats) {
    let data = finding(name);
    let p = parse_object(
        spec,
        &EnrichSettings::new("n", "h"),
        name,
        &data,
        8192,
        1 << 20,
    );
    for e in &p.events {
        assert_valid_without_duplicate_keys(&e.doc);
    }
    let stats = p.result.unwrap_or_else(|e| panic!("{name}: {e}"));
    (p.events, stats)
}

fn assert_valid_without_duplicate_keys(doc: &str) {
    s3logsbeat::event::check_document(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
}

fn field(e: &Event, path: &str) -> serde_json::Value {
    let v = e.doc_json();
    path.split('.').fold(v, |v, k| v[k].clone())
}

#[test]
fn f1_offsets_after_invalid_utf8_are_byte_offsets_of_the_object() {
    let (events, _) = parse(
        &json_spec("timestamp", "timeUnixMilliseconds"),
        "F1_json_offset_readable.json.log",
    );
    let offsets: Vec<u64> = events
        .iter()
        .map(|e| field(e, "log.offset").as_u64().unwrap())
        .collect();
    // `{"timestamp":1,"a":"\xff\xff\xff\xff"} ` is 27 bytes: the second value starts there.
    assert_eq!(offsets, vec![0, 27]);
    let (events, _) = parse(&json_spec("e", "time:"), "F1_json_offset_min.json.log");
    for e in &events {
        let off = field(e, "log.offset").as_u64().unwrap();
        assert!(off < 4, "offset {off} is inside the 4-byte object");
    }
}

#[test]
fn f2_a_zstd_object_ending_on_a_64_kib_boundary_is_read_to_its_end() {
    let (_, stats) = parse(&spec("elb"), "F2_zstd_64KiB_min.elb.log");
    assert_eq!(stats.bytes, 65536);
    let (events, stats) = parse(&spec("elb"), "F2_zstd_128KiB_elb_lines.elb.log");
    assert_eq!(stats.bytes, 131072);
    assert_eq!(events.len(), 745);
}

#[test]
fn f3_failure_events_carry_their_own_record_not_the_rest_of_the_line() {
    let (events, stats) = parse(&spec("waf"), "F3_json_failure_quadratic_200KB.waf.log");
    assert_eq!(stats.parse_failures, 100_000);
    let longest = events.iter().map(|e| e.doc.len()).max().unwrap();
    assert!(
        longest < 1024,
        "a failure event of {longest} bytes for a 2-byte record"
    );
    for name in [
        "F3_empty_objects_40000.raw.gz",
        "F3_firehose_missing_ts_1MiB_line.raw.gz",
    ] {
        let (events, stats) = parse(&json_spec("timestamp", "timeUnixMilliseconds"), name);
        assert_eq!(stats.parse_failures, events.len() as u64, "{name}");
        let total: usize = events.iter().map(|e| e.doc.len()).sum();
        assert!(
            (total as u64) < 8 * stats.bytes + 1024 * events.len() as u64,
            "{name}: {total} bytes of documents for {} bytes of input",
            stats.bytes
        );
    }
}

#[test]
fn f4_zstd_output_is_decoded_within_a_budget_per_call() {
    let data = finding("F4_zstd_same_line_264MB.raw.zst");
    let settings = EnrichSettings::new("n", "h");
    let spec = spec("elb");
    let mut p = s3logsbeat::object::ObjectParser::new(
        &spec,
        &settings,
        s3logsbeat::object::ObjectId {
            path: "s3://b/k",
            key: "k",
            last_modified: None,
        },
        1 << 20,
    );
    // One 8 KiB feed used to leave 554,077 events waiting; now no call leaves more than one budget.
    // (The first KiB stands for several budgets: enough to show it, fast enough in debug.)
    let mut most = 0;
    let mut total = 0;
    p.feed_all(&data[..1024], |p| {
        most = most.max(p.pending());
        total += p.drain().count();
    })
    .unwrap();
    let budget = s3logsbeat::config::PUBLISH_CHUNK_EVENTS;
    assert!(total > 3 * 4096, "{total} events from the first piece");
    assert!(most <= budget + 64 * 1024, "{most} events waited at once");
}

#[test]
fn f5_a_yaml_alias_bomb_is_refused() {
    let text = String::from_utf8(finding("F5_yaml_alias_bomb.config")).unwrap();
    let errs = crate::common::settings(&text, &[]).unwrap_err();
    assert!(
        errs[0].contains("aliases (*name) expand to more than"),
        "{errs:?}"
    );
}

#[test]
fn f6_cloudfront_headers_never_give_a_key_twice() {
    let (events, _) = parse(
        &spec("cloudfront"),
        "F6_cloudfront_dup_columns.cloudfront.log",
    );
    assert_eq!(field(&events[0], "c_ip"), "1.2.3.4");
    assert_eq!(field(&events[0], "c_ip_2"), "5.6.7.8");
    assert_eq!(field(&events[0], "_log"), "x");
    let (events, _) = parse(
        &spec("cloudfront"),
        "F6_cloudfront_reserved_columns.cloudfront.log",
    );
    assert_eq!(field(&events[0], "_tags"), "y");
    assert_eq!(field(&events[0], "_message"), "z");
    assert!(field(&events[0], "@timestamp")
        .as_str()
        .unwrap()
        .starts_with("2019-12-04T21:02:31"));
}

#[test]
fn f7_renamed_json_keys_never_collide() {
    let (events, _) = parse(&spec("waf"), "F7_json_underscore_collision.waf.log");
    assert_eq!(field(&events[0], "_log"), 2);
    assert_eq!(field(&events[0], "__log"), 1);
}

#[test]
fn f8_a_leap_second_gives_a_valid_timestamp() {
    let (events, _) = parse(
        &json_spec("ts", "timeISO8601"),
        "F8_leap_second_iso.json.log",
    );
    let ts: Vec<String> = events
        .iter()
        .map(|e| field(e, "@timestamp").as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ts,
        vec!["2016-12-31T23:59:59.999Z", "2019-03-23T08:11:59.999Z"]
    );
    let (events, _) = parse(
        &json_spec("ts", "time:2006-01-02 15:04:05"),
        "F8_leap_second_layout.json.log",
    );
    for e in &events {
        let t = field(e, "@timestamp").as_str().unwrap().to_string();
        assert!(
            chrono::DateTime::parse_from_rfc3339(&t).is_ok() && t.contains(":59.999Z"),
            "{t}"
        );
    }
}

#[test]
fn f9_where_the_chunks_fall_never_changes_whether_an_object_is_binary() {
    // Found by the object-stream fuzzer: a complete line, then a NUL byte within the first 4 KiB. Read
    // in small chunks, the line used to become an event before the NUL was seen.
    let data = finding("F9_nul_after_a_complete_line.alb.log");
    let whole = parse_object(
        &spec("alb"),
        &EnrichSettings::new("n", "h"),
        "k",
        &data,
        data.len(),
        1 << 20,
    );
    for chunk in [1, 7, 100, 260, 1000] {
        let p = parse_object(
            &spec("alb"),
            &EnrichSettings::new("n", "h"),
            "k",
            &data,
            chunk,
            1 << 20,
        );
        assert_eq!(p.events.len(), whole.events.len(), "chunk {chunk}");
        assert_eq!(p.events.len(), 1, "one failure event for a binary object");
        assert!(p.result.unwrap().binary);
    }
}

/// The CloudWatch format decoding each message's JSON (`decode_json: true`), as the G findings used it.
fn cloudwatch_decoding_json() -> FormatSpec {
    let opts = s3logsbeat::config::FormatOptions {
        decode_json: Some(true),
        ..Default::default()
    };
    FormatSpec::build(
        s3logsbeat::config::LogFormat::Cloudwatch,
        &opts,
        str::to_string,
    )
    .unwrap()
}

/// G1 (fuzz findings of 2026-12-07, main at 46c0a7c): a message of JSON nested 127 deep made a
/// document 129 deep; rendering a `%{[field]}` index panicked reading it back, three batches in a row
/// stopped the daemon. The decoded JSON is now held to MAX_VALUE_DEPTH levels (the rest kept as its
/// text), the document stays within Elasticsearch's mapping depth, and the index renders.
#[test]
fn g1_json_nested_127_deep_is_held_to_the_document_depth_and_names_its_index() {
    use s3logsbeat::event::{json_depth, MAX_DOC_DEPTH, MAX_VALUE_DEPTH};
    let (events, stats) = parse(
        &cloudwatch_decoding_json(),
        "G1_cloudwatch_deep_json.cloudwatch.json",
    );
    assert_eq!(events.len(), 2);
    assert_eq!(stats.json_capped, 1, "{stats:?}");
    for e in &events {
        let depth = json_depth(&e.doc);
        assert!(depth <= MAX_DOC_DEPTH, "{depth}: {}", e.doc);
    }
    let deep = events[0].doc_json();
    let (mut v, mut levels) = (&deep["json"], 1);
    while let Some(next) = v.get("a") {
        v = next;
        levels += 1;
    }
    assert_eq!(levels, MAX_VALUE_DEPTH);
    let rest: serde_json::Value = serde_json::from_str(v.as_str().expect("kept as text")).unwrap();
    assert_eq!(json_depth(&rest.to_string()), 127 - MAX_VALUE_DEPTH + 1);
    assert_eq!(
        deep["message"].as_str().unwrap().len(),
        763,
        "the message as it was"
    );
    assert_eq!(events[1].doc_json()["json"]["shallow"], 1);
    for pattern in [
        "logs-%{[@metadata][format]}-%{+yyyy.MM.dd}",
        "logs-%{[log_group]}-%{+yyyy.MM.dd}",
    ] {
        let p = s3logsbeat::config::IndexPattern::parse(pattern).unwrap();
        let name = s3logsbeat::outputs::elasticsearch::index::render(&p, &events[0]);
        assert!(name.unwrap().ends_with("-2024.01.02"), "{pattern}");
    }
}

/// G2: processors (and ECS names) kept a document they could not read untouched, so an unconditional
/// `drop_event` or `drop_fields` did not run. With the G2 config both events are dropped.
#[test]
fn g2_processors_drop_the_deep_event_too() {
    let text = String::from_utf8(finding("G2_processors_drop.yml")).unwrap();
    let settings = crate::common::settings(&text, &[]).unwrap();
    let input = &settings.inputs[0];
    let (mut events, _) = parse(
        &cloudwatch_decoding_json(),
        "G1_cloudwatch_deep_json.cloudwatch.json",
    );
    let done = s3logsbeat::event::processors::finish(
        s3logsbeat::config::LogFormat::Cloudwatch,
        input.field_names,
        &input.processors,
        &mut events,
    )
    .unwrap();
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(done.filtered, 2);
}

/// G4: an epoch out of range gave `@timestamp` 1970-01-01 (no parse failure) and an index without its
/// date, or a year 10000 that Elasticsearch refuses. Each is now a parse failure saying why.
#[test]
fn g4_an_epoch_out_of_range_is_a_parse_failure() {
    let (events, stats) = parse(&spec("waf"), "G4_epoch_out_of_range.waf.log");
    assert_eq!(events.len(), 3);
    assert_eq!(stats.parse_failures, 3);
    for e in &events {
        assert!(e.parse_failure);
        let doc = e.doc_json();
        let why = doc["error"]["message"].as_str().unwrap();
        assert!(why.contains("outside the years 0000 to 9999"), "{why}");
        assert!(e.timestamp.in_range(), "{}", e.timestamp.secs);
    }
    // The last second of 9999 is a time; the next millisecond is not.
    let edge = b"{\"timestamp\":253402300799999,\"action\":\"ALLOW\"}\n{\"timestamp\":-62167219200000,\"action\":\"ALLOW\"}\n";
    let (waf, settings) = (spec("waf"), EnrichSettings::new("n", "h"));
    let mut p = s3logsbeat::object::ObjectParser::new(
        &waf,
        &settings,
        s3logsbeat::object::ObjectId {
            path: "s3://b/k",
            key: "k",
            last_modified: None,
        },
        1 << 20,
    );
    let mut got = Vec::new();
    p.feed_all(edge, |p| got.extend(p.drain())).unwrap();
    p.finish().unwrap();
    got.extend(p.drain());
    let times: Vec<String> = got.iter().map(|e| e.timestamp.to_rfc3339()).collect();
    assert_eq!(
        times,
        ["9999-12-31T23:59:59.999Z", "0000-01-01T00:00:00.000Z"]
    );
}

/// A finding in the text form of the `processors` and `custom_format` fuzz targets: the first line
/// (after `#`), what follows up to a line `---`, and the rest.
fn written(name: &str) -> (String, String, String) {
    let text = String::from_utf8(finding(name)).unwrap();
    let (first, rest) = text.strip_prefix('#').unwrap().split_once('\n').unwrap();
    let (middle, last) = rest.split_once("\n---\n").unwrap();
    (first.to_string(), middle.to_string(), last.to_string())
}

/// H1 (`fuzz/` target `processors`, main at 73faf4f): a processor's `target` (`add_fields`,
/// `add_tags`, `decode_json_fields`), a `rename`'s `to` or a key added at the top level wrote over
/// `@timestamp` or inside it (`@timestamp.x` made the time an object, which Elasticsearch refuses for a
/// date), and `@metadata` likewise, though processors may not remove or rename them. Each is now skipped
/// and the rest of the processors run.
#[test]
fn h1_processors_never_write_over_or_inside_the_timestamp() {
    let (head, list, docs) = written("H1_processors_write_timestamp.processors.txt");
    assert_eq!(head, "alb original");
    let list: String = list.lines().map(|l| format!("  {l}\n")).collect();
    let text = format!(
        "s3logsbeat:\n  inputs:\n    - {{type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q'], log_format: alb}}\noutput.console: {{}}\nprocessors:\n{list}"
    );
    let settings = crate::common::settings(&text, &[]).unwrap();
    let input = &settings.inputs[0];
    let doc = docs.lines().next().unwrap();
    let mut events = vec![Event {
        id: s3logsbeat::event::EventId([1; 16]),
        timestamp: s3logsbeat::event::Timestamp::from_millis(1_704_164_645_000),
        format: "alb",
        doc: doc.into(),
        parse_failure: false,
    }];
    s3logsbeat::event::processors::finish(
        s3logsbeat::config::LogFormat::Alb,
        input.field_names,
        &input.processors,
        &mut events,
    )
    .unwrap();
    assert_valid_without_duplicate_keys(&events[0].doc);
    let before: serde_json::Value = serde_json::from_str(doc).unwrap();
    let mut want = before.clone();
    // What the processors may do: the top-level field and the decoded key that are not kept ones.
    want["ok"] = 1.into();
    want["fine"] = 2.into();
    assert_eq!(events[0].doc_json(), want);
    // With `@metadata` spliced in, it is there once.
    let mut out = Vec::new();
    events[0].write_with_metadata(&mut out);
    assert_valid_without_duplicate_keys(std::str::from_utf8(&out).unwrap());
}

/// H2 (`fuzz/` target `custom_format`, main at 73faf4f): with `fields_under_root: true`, a global
/// field named like one s3logsbeat writes itself (`log`, `beat`, `tags`, `message`, `error`,
/// `@timestamp`, `@metadata`, `fields`) was written beside it: the document had the key twice
/// (`@metadata` once the outputs splice it in), which Elasticsearch refuses. Such a field is now left
/// out; the others are at the top level as before, and win over a parsed field of their name.
#[test]
fn h2_global_fields_at_the_top_level_never_give_a_key_twice() {
    let (key, config, object) = written("H2_fields_under_root_reserved.custom_format.txt");
    let settings = crate::common::settings(&config, &[]).unwrap();
    let input = &settings.inputs[0];
    let spec = input.formats.choose("bucket", &key).unwrap();
    let p = parse_object(spec, &input.enrich, &key, object.as_bytes(), 8192, 1 << 20);
    p.result.unwrap();
    assert_eq!(p.events.len(), 2, "a parsed line and a failure");
    for e in &p.events {
        assert_valid_without_duplicate_keys(&e.doc);
        let mut out = Vec::new();
        e.write_with_metadata(&mut out);
        assert_valid_without_duplicate_keys(std::str::from_utf8(&out).unwrap());
        let doc = e.doc_json();
        assert!(doc["log"]["file"]["path"].is_string(), "{doc}");
        assert!(doc["beat"]["name"].is_string(), "{doc}");
        assert!(
            doc["tags"].as_array().unwrap().contains(&"g".into()),
            "{doc}"
        );
        assert!(doc.get("fields").is_none(), "{doc}");
        assert_eq!(
            doc["ms"], "global",
            "a global field wins over the parsed one"
        );
    }
    assert_eq!(
        p.events[0].doc_json()["@timestamp"],
        "2024-01-02T03:04:05.000Z"
    );
    let failed = p.events[1].doc_json();
    assert_eq!(failed["message"], "nonsense");
    assert!(failed["error"]["message"].is_string(), "{failed}");
}
