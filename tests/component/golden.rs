//! Golden tests: our parsers against the original s3logsbeat's exact output for 46 inputs
//! (`tests/data/golden`, see `tests/data/README.md`).
//!
//! Every event must be field for field equal to the original's, with JSON types compared as values
//! (numbers as numbers), except for the corrections named in [`corrections`]: each one is a bug of the
//! original that issue #2 asks us to fix, and the test applies it to the original's expectation before
//! comparing. Fields the original never had (the ALB columns it ignored, `log.*`) are checked to be in
//! the list of new fields and are otherwise left to the format unit tests.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use s3logsbeat::config::{FormatSpec, LogFormat};
use s3logsbeat::event::enrich::{EnrichSettings, PARSE_FAILURE_TAG};

use crate::common::parse_object;

/// One case's expected outcome, as the original produced it.
#[derive(Debug, Default, Clone)]
struct Expected {
    /// Events of lines that parsed, in order (without `@metadata`).
    events: Vec<Value>,
    /// `@metadata.format` of each event.
    formats: Vec<String>,
    /// Lines the original rejected (without their line terminator).
    failed_lines: Vec<String>,
    /// The parser could not be built (a configuration error).
    config_error: Option<String>,
}

fn golden() -> (Vec<Value>, BTreeMap<String, Expected>) {
    let cases: Vec<Value> =
        serde_json::from_str(include_str!("../data/golden/s3logsbeat-golden-cases.json")).unwrap();
    let mut out: BTreeMap<String, Expected> = BTreeMap::new();
    let mut current = String::new();
    for line in include_str!("../data/golden/s3logsbeat-golden.txt").lines() {
        if let Some(rest) = line.strip_prefix("### CASE ") {
            current = rest.split(' ').next().unwrap().to_string();
            out.insert(current.clone(), Expected::default());
            continue;
        }
        let e = out.get_mut(&current).unwrap();
        if let Some(rest) = line.strip_prefix("EVENT ") {
            let json = rest.split_once(": ").unwrap().1;
            let mut v: Value = serde_json::from_str(json).unwrap();
            let meta = v.as_object_mut().unwrap().remove("@metadata").unwrap();
            e.formats.push(meta["format"].as_str().unwrap().to_string());
            e.events.push(v);
        } else if let Some(rest) = line.strip_prefix("LINE-ERROR: ") {
            let quoted = rest.rsplit_once(" -> ").unwrap().0;
            let l: String = serde_json::from_str(quoted).unwrap();
            e.failed_lines
                .push(l.trim_end_matches('\n').trim_end_matches('\r').to_string());
        } else if let Some(rest) = line.strip_prefix("PARSER-ERROR: ") {
            e.config_error = Some(rest.to_string());
        }
    }
    (cases, out)
}

/// The fields our ALB parser adds that the original ignored.
const NEW_ALB_FIELDS: &[&str] = &[
    "domain_name",
    "chosen_cert_arn",
    "matched_rule_priority",
    "request_creation_time",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "target_port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
    "transformed_host",
    "transformed_uri",
    "request_transform_status",
];

/// The CloudFront columns after the 26th, which the original ignored.
const NEW_CLOUDFRONT_FIELDS: &[&str] = &[
    "c_port",
    "time_to_first_byte",
    "x_edge_detailed_result_type",
    "sc_content_type",
    "sc_content_len",
    "sc_range_start",
    "sc_range_end",
];

/// What we produce for a case.
#[derive(Debug)]
struct Ours {
    events: Vec<Value>,
    formats: Vec<String>,
    failed_lines: Vec<String>,
}

fn spec_for(case: &Value) -> Result<FormatSpec, String> {
    let format = LogFormat::from_name(case["format"].as_str().unwrap())
        .ok_or_else(|| "unknown format".to_string())?;
    let opt = |k: &str| case["opts"].get(k).and_then(Value::as_str);
    let (field, fmt) = if format == LogFormat::Json {
        (opt("timestamp_field"), opt("timestamp_format"))
    } else {
        (None, None)
    };
    let opts = s3logsbeat::config::FormatOptions {
        timestamp_field: field.map(str::to_string),
        timestamp_format: fmt.map(str::to_string),
        ..Default::default()
    };
    FormatSpec::build(format, &opts, str::to_string).map_err(|(_, m)| m)
}

fn run_case(case: &Value, spec: &FormatSpec) -> Ours {
    let mut settings = EnrichSettings::new("h", "h");
    let key = case["key"].as_str().unwrap();
    let re = case["key_regex"].as_str().unwrap();
    if !re.is_empty() {
        settings.key_regex = Some(regex::Regex::new(re).unwrap());
    }
    let path = format!("s3://bucket/{key}");
    let input = case["input"].as_str().unwrap().as_bytes();
    let parsed = parse_object(spec, &settings, key, input, input.len(), 1 << 20);
    parsed.result.unwrap();
    let mut ours = Ours {
        events: Vec::new(),
        formats: Vec::new(),
        failed_lines: Vec::new(),
    };
    for e in parsed.events {
        let mut v = e.doc_json();
        let o = v.as_object_mut().unwrap();
        let log = o.remove("log").expect("every event has log.*");
        assert_eq!(log["file"]["path"], json!(path));
        assert!(log["offset"].is_u64());
        if e.parse_failure {
            assert_eq!(o["tags"], json!([PARSE_FAILURE_TAG]));
            assert!(o["error"]["message"].is_string());
            ours.failed_lines
                .push(o["message"].as_str().unwrap().to_string());
            continue;
        }
        assert_eq!(o["beat"]["version"], json!(s3logsbeat::VERSION));
        ours.formats.push(e.format.to_string());
        ours.events.push(v);
    }
    ours
}

/// Brings our event to the original's conventions where the difference is only representation.
fn normalize(mut v: Value, format: &str) -> Value {
    let o = v.as_object_mut().unwrap();
    // The original printed beat.version 6.0.2; ours is our own version.
    o["beat"]["version"] = json!("6.0.2");
    let new: &[&str] = match format {
        "alb" => NEW_ALB_FIELDS,
        "cloudfront" => NEW_CLOUDFRONT_FIELDS,
        _ => &[],
    };
    for f in new {
        o.remove(*f);
    }
    v
}

/// Correction: `@timestamp` keeps the digits the log has; the original truncated to milliseconds.
fn truncate_ts_to_millis(v: &mut Value) {
    let ts = v["@timestamp"].as_str().unwrap().to_string();
    let (head, frac) = ts.trim_end_matches('Z').split_once('.').unwrap();
    v["@timestamp"] = json!(format!("{head}.{}Z", &frac[..3]));
}

/// Numbers compare as numbers (the original wrote `7.3e-05`, we write `0.000073`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}

fn obj(v: &mut Value) -> &mut Map<String, Value> {
    v.as_object_mut().unwrap()
}

/// The original's bugs that issue #2 asks us to fix, applied to its expectation. Returns the names of
/// the corrections applied, so that the test can check each one is exercised.
fn corrections(name: &str, exp: &mut Expected, case: &Value) -> Vec<&'static str> {
    let input = case["input"].as_str().unwrap();
    let mut applied = Vec::new();
    // A line the original rejected that we now parse: moved from failed_lines to events.
    let reparsed =
        |exp: &mut Expected, line_pred: &dyn Fn(&str) -> bool, at: usize, ev: Value, fmt: &str| {
            let before = exp.failed_lines.len();
            exp.failed_lines.retain(|l| !line_pred(l));
            assert_eq!(
                exp.failed_lines.len() + 1,
                before,
                "{name}: the original rejected that line"
            );
            exp.events.insert(at, ev);
            exp.formats.insert(at, fmt.to_string());
        };
    match name {
        "elb_unit_test_4_lines" => {
            // `"- - - "`: the protocol is `-`, without the trailing space the original kept.
            for i in [2, 3] {
                assert_eq!(exp.events[i]["request_proto"], "- ");
                exp.events[i]["request_proto"] = json!("-");
            }
            applied.push("request_proto_no_trailing_space");
        }
        "elb_received_bytes_dash" => {
            // `-` for a number leaves the field out instead of dropping the line.
            let mut ev = json!({
                "elb":"my-loadbalancer","client_ip":"192.168.131.39","client_port":2817,
                "backend_ip":"10.0.0.1","backend_port":80,"request_processing_time":0.000073,
                "backend_processing_time":0.001048,"response_processing_time":0.000057,
                "elb_status_code":200,"backend_status_code":200,"sent_bytes":29,
                "request_verb":"GET","request_url":"http://www.example.com:80/","request_proto":"HTTP/1.1",
                "user_agent":"curl/7.38.0","@timestamp":"2015-05-13T23:39:43.945Z",
                "beat":{"name":"h","hostname":"h","version":"6.0.2"}});
            obj(&mut ev);
            reparsed(exp, &|_| true, 0, ev, "elb");
            applied.push("dash_number_left_out");
        }
        "elb_url_plus_and_pct" | "alb_url_plus" | "alb_strange_entry_unit_test" => {
            // request_url is kept exactly as logged (the original form-decoded it).
            exp.events[0]["request_url"] = json!(logged_url(input));
            applied.push("request_url_as_logged");
        }
        "elb_url_bad_escape" | "alb_url_bad_escape" => {
            // A bad escape in the URL no longer drops the line: the URL is kept as logged.
            let fmt = if name.starts_with("alb") {
                "alb"
            } else {
                "elb"
            };
            let ev = expected_from_good_twin(input, fmt);
            reparsed(exp, &|_| true, 0, ev, fmt);
            applied.push("request_url_as_logged");
        }
        "alb_elb_status_dash" => {
            // elb_status_code `-` no longer drops the line.
            let ev = json!({
                "type":"http","elb":"app/my-loadbalancer/50dc6c495c0c9188","client_ip":"41.233.25.52",
                "client_port":58750,"received_bytes":211,"sent_bytes":288,"request_verb":"-",
                "request_url":"-","request_proto":"-","target_group_arn":"-","trace_id":"-",
                "@timestamp":"2018-08-19T15:14:55.207Z","beat":{"name":"h","hostname":"h","version":"6.0.2"}});
            reparsed(exp, &|_| true, 0, ev, "alb");
            applied.push("dash_number_left_out");
        }
        "alb_request_line_dashes" => {
            assert_eq!(exp.events[0]["request_proto"], "- ");
            exp.events[0]["request_proto"] = json!("-");
            applied.push("request_proto_no_trailing_space");
        }
        "alb_ipv6_client" => {
            // A bracketed IPv6 target is sent without the brackets (a valid `ip`).
            assert_eq!(exp.events[0]["target_ip"], "[2001:db8::2]");
            exp.events[0]["target_ip"] = json!("2001:db8::2");
            applied.push("ipv6_brackets_stripped");
        }
        "cloudfront_deep_decode_plus_000_csbytes_dash" => {
            // Values are percent-decoded once, `+` stays `+`.
            exp.events[0]["cs_uri_stem"] = json!("/a%20b+c");
            exp.events[0]["cs_uri_query"] = json!("q=1+2&r=%2B");
            applied.push("cloudfront_decode_once");
        }
        "cloudfront_24_field_old_format" => {
            // Legacy 24-column lines parse.
            let ev = json!({
                "@timestamp":"2019-12-04T21:02:31.000Z","x_edge_location":"LAX1-C3","sc_bytes":392,
                "c_ip":"192.0.2.100","cs_method":"GET","cs_host":"d111111abcdef8.cloudfront.net",
                "cs_uri_stem":"/index.html","sc_status":200,"cs_referer":"-",
                "cs_user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36",
                "cs_cookie":"-","x_edge_result_type":"Hit",
                "x_edge_request_id":"SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
                "x_host_header":"d111111abcdef8.cloudfront.net","cs_protocol":"https","cs_bytes":23,
                "time_taken":0.001,"ssl_protocol":"TLSv1.2","ssl_cipher":"ECDHE-RSA-AES128-GCM-SHA256",
                "x_edge_response_result_type":"Hit","cs_protocol_version":"HTTP/2.0",
                "beat":{"name":"h","hostname":"h","version":"6.0.2"}});
            reparsed(exp, &|_| true, 0, ev, "cloudfront");
            applied.push("cloudfront_24_columns");
        }
        "cloudfront_crlf_and_blank" => {
            // A bare CRLF is a blank line, skipped, not a failure.
            exp.failed_lines.retain(|l| !l.is_empty());
            applied.push("crlf_blank_skipped");
        }
        "cloudfront_sc_status_dash" => {
            let line = exp.failed_lines.remove(0);
            let mut ev = expected_cloudfront_33(&line);
            obj(&mut ev).remove("sc_status");
            exp.events.insert(0, ev);
            exp.formats.insert(0, "cloudfront".into());
            applied.push("dash_number_left_out");
        }
        "waf_ts_float" => {
            // A fractional epoch-ms timestamp keeps its fraction instead of failing.
            reparsed(
                exp,
                &|_| true,
                0,
                json!({"@timestamp":"2019-03-23T17:04:53.208500Z","a":1,"beat":{"name":"h","hostname":"h","version":"6.0.2"}}),
                "waf",
            );
            applied.push("epoch_ms_fraction");
        }
        "waf_two_objects_one_line" => {
            // The second JSON value on the line is an event too, not silently dropped.
            exp.events.push(json!({"@timestamp":"1970-01-01T00:00:00.001Z","b":2,"beat":{"name":"h","hostname":"h","version":"6.0.2"}}));
            exp.formats.push("waf".into());
            applied.push("every_json_value_on_a_line");
        }
        "json_nested_ts_field_name" => {
            // A dotted timestamp_field is looked up as a path.
            reparsed(
                exp,
                &|_| true,
                0,
                json!({"@timestamp":"2019-03-23T17:04:53.208Z","a":{},"beat":{"name":"h","hostname":"h","version":"6.0.2"}}),
                "json",
            );
            applied.push("dotted_timestamp_path");
        }
        "json_ts_is_not_time_kind" => {
            // `timestamp_format: int` is rejected when the config is loaded, not on every line.
            exp.failed_lines.clear();
            exp.config_error = Some("reported at start-up".into());
            applied.push("time_format_checked_at_startup");
        }
        "alb_key_regex_mismatch" => {
            // The original crashed on the first event of an object whose key does not match; we ship the
            // events without key fields (the golden driver recorded the event it built before crashing).
            applied.push("key_regex_mismatch_no_crash");
        }
        _ => {}
    }
    applied
}

/// The URL of the first quoted request of a line, as logged (between the first and last space).
fn logged_url(input: &str) -> &str {
    let req = input.split('"').nth(1).unwrap();
    &req[req.find(' ').unwrap() + 1..req.rfind(' ').unwrap()]
}

/// The event the original would have produced for an ELB/ALB line whose URL has a bad escape: the same
/// line with a good URL parses, and its fields are the expectation with the URL as logged.
fn expected_from_good_twin(input: &str, fmt: &str) -> Value {
    let logged = logged_url(input);
    let (_, golden) = golden();
    let twin = match fmt {
        "alb" => &golden["alb_url_plus"],
        _ => &golden["elb_url_plus_and_pct"],
    };
    let mut ev = twin.events[0].clone();
    ev["request_url"] = json!(logged);
    if fmt == "alb" {
        ev["user_agent"] = json!("curl");
    }
    ev
}

/// The original's fields for the 33-column line of `cloudfront_modern_33_fields`, rebuilt for `line`.
fn expected_cloudfront_33(line: &str) -> Value {
    let c: Vec<&str> = line.split('\t').collect();
    json!({
        "@timestamp": format!("{}T{}.000Z", c[0], c[1]),
        "x_edge_location": c[2], "sc_bytes": c[3].parse::<u64>().unwrap(), "c_ip": c[4],
        "cs_method": c[5], "cs_host": c[6], "cs_uri_stem": c[7], "cs_referer": c[9],
        "cs_user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/78.0.3904.108 Safari/537.36",
        "cs_cookie": c[12], "x_edge_result_type": c[13], "x_edge_request_id": c[14],
        "x_host_header": c[15], "cs_protocol": c[16], "cs_bytes": c[17].parse::<u64>().unwrap(),
        "time_taken": c[18].parse::<f64>().unwrap(), "ssl_protocol": c[20], "ssl_cipher": c[21],
        "x_edge_response_result_type": c[22], "cs_protocol_version": c[23],
        "beat": {"name":"h","hostname":"h","version":"6.0.2"}
    })
}

#[test]
fn every_golden_case_matches_the_original_except_named_corrections() {
    let (cases, mut golden) = golden();
    assert_eq!(cases.len(), 46);
    let mut applied_all = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let mut exp = golden
            .remove(name)
            .unwrap_or_else(|| panic!("{name} has no golden output"));
        applied_all.extend(corrections(name, &mut exp, case));
        let spec = spec_for(case);
        if exp.config_error.is_some() {
            assert!(
                spec.is_err(),
                "{name}: the original refused this configuration ({:?}), so must we",
                exp.config_error
            );
            continue;
        }
        let spec = spec.unwrap_or_else(|e| panic!("{name}: {e}"));
        let ours = run_case(case, &spec);
        if ours.failed_lines != exp.failed_lines {
            failures.push(format!(
                "{name}: failed lines\n  ours: {:?}\n  orig: {:?}",
                ours.failed_lines, exp.failed_lines
            ));
        }
        if ours.events.len() != exp.events.len() {
            failures.push(format!(
                "{name}: {} events, the original had {}\n  ours: {:?}",
                ours.events.len(),
                exp.events.len(),
                ours.events
            ));
            continue;
        }
        assert_eq!(ours.formats, exp.formats, "{name}: @metadata.format");
        for (i, (o, e)) in ours.events.into_iter().zip(&exp.events).enumerate() {
            let mut o = normalize(o, case["format"].as_str().unwrap());
            if e["@timestamp"].as_str().unwrap().len() == 24 {
                truncate_ts_to_millis(&mut o);
            }
            if !same(&o, e) {
                failures.push(format!("{name} event {i}:\n  ours: {o}\n  orig: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for c in [
        "request_proto_no_trailing_space",
        "dash_number_left_out",
        "request_url_as_logged",
        "ipv6_brackets_stripped",
        "cloudfront_decode_once",
        "cloudfront_24_columns",
        "crlf_blank_skipped",
        "epoch_ms_fraction",
        "every_json_value_on_a_line",
        "dotted_timestamp_path",
        "time_format_checked_at_startup",
        "key_regex_mismatch_no_crash",
    ] {
        assert!(applied_all.contains(&c), "correction {c} was not exercised");
    }
}

#[test]
fn sub_millisecond_digits_are_kept() {
    let (cases, _) = golden();
    let case = cases
        .iter()
        .find(|c| c["name"] == "elb_single_line_no_newline")
        .unwrap();
    let ours = run_case(case, &spec_for(case).unwrap());
    assert_eq!(ours.events[0]["@timestamp"], "2015-05-13T23:39:43.945958Z");
}
