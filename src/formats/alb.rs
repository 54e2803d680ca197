//! `alb`: Application Load Balancer access logs.
//!
//! Space-separated, some fields quoted; AWS appends columns at the end over the years, so every column
//! after the request line is optional and unknown trailing columns are ignored. Column list:
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html>.
//! The original's 18 field names are kept; the later columns get the names AWS documents.

use std::borrow::Cow;

use super::descriptor::{Descriptor, Framing, ObjectLines, Single};
use super::ecs::{http_outcome_and_duration, sum_of_seconds, Ecs, Rest};
use super::mapping::FieldType;
use super::tokens::{
    parse_rfc3339_text, push_int, push_lb_columns, push_str_unless_dash, SpaceFields,
};
use super::{ErrorKind, FormatOptions, FormatSpec, LineOut, LogFormat, ParseError};
use crate::fields::{FieldSink, JsonFields};
use crate::fields::{Split, Timestamp, Value};

use FieldType::{Date, Double, Ip, Keyword, Long};

/// Columns up to and including the request line must be there; the rest are optional.
const REQUIRED: usize = 13;

/// `alb`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::Alb,
    name: "alb",
    doc: "Application Load Balancer access logs",
    options: &[],
    required: &[],
    build,
    framing: Framing::Lines,
    compressed_twice: false,
    parser,
    direct: Some(direct),
    fields: FIELDS,
    ecs: Some(&ECS),
    recognises: Some(recognises),
    not_a_log: Some(not_a_log),
};

fn build(
    _: &FormatOptions,
    _: &dyn Fn(&str) -> String,
) -> Result<FormatSpec, (&'static str, String)> {
    Ok(FormatSpec::Alb)
}

fn parser(_: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    Single::boxed(line)
}

fn line<'a>(line: &'a str, out: &mut LineOut<'a>) -> Result<Timestamp, ParseError> {
    parse(line, out)
}

fn direct(line: &str, sink: &mut JsonFields<'_>) -> Result<Timestamp, ParseError> {
    parse(line, sink)
}

/// `AWSLogs/<account>/elasticloadbalancing/<region>/.../<account>_elasticloadbalancing_<region>_app.<lb>...`:
/// an access log of a load balancer whose name says it is an application one.
fn recognises(_bucket: &str, key: &str) -> bool {
    super::route::load_balancer(key).is_some_and(|lb| lb.starts_with("app."))
}

/// ELB's test file, which it writes when access logging is turned on.
fn not_a_log(key: &str) -> Option<&'static str> {
    key.ends_with("ELBAccessLogTestFile")
        .then_some("the load balancer's test file")
}

/// Parses one ALB line into `out`.
#[inline]
pub fn parse<'a, S: FieldSink<'a>>(line: &'a str, out: &mut S) -> Result<Timestamp, ParseError> {
    let mut f = SpaceFields::new(line);
    let r = columns(&mut f, out);
    // Every string value is a slice of a field (or the unescaped value of one, which the tokenizer
    // notes), so the tokenizer's word covers them all.
    out.set_quote_free(f.quote_free());
    r
}

/// The columns of [`parse`], read from `f` into `out`.
#[inline(always)]
fn columns<'a, S: FieldSink<'a>>(
    f: &mut SpaceFields<'a>,
    out: &mut S,
) -> Result<Timestamp, ParseError> {
    let typ = f.required("type", REQUIRED)?;
    let time = f.required("time", REQUIRED)?;
    let (ts, as_written) = parse_rfc3339_text(time.text)
        .ok_or_else(|| ParseError::new(ErrorKind::BadTimestamp, "time", time.text))?;
    // The time goes before the first field (a document starts with `@timestamp`), so `type` is put
    // after it, though it comes first in the line.
    out.time(ts, as_written.then_some(time.text));
    out.push("type", Value::Str(typ.value()));
    out.push("elb", Value::Str(f.required("elb", REQUIRED)?.value()));
    push_lb_columns(
        f,
        out,
        REQUIRED,
        ["target:port", "target_ip", "target_port"],
        [
            "request_processing_time",
            "target_processing_time",
            "response_processing_time",
        ],
        [
            "elb_status_code",
            "target_status_code",
            "received_bytes",
            "sent_bytes",
        ],
    )?;

    // Everything below is optional: older lines stop earlier.
    let Some(ua) = f.next("user_agent")? else {
        return Ok(ts);
    };
    push_str_unless_dash(out, "user_agent", ua.value());
    for name in ["ssl_cipher", "ssl_protocol"] {
        let Some(t) = f.next(name)? else {
            return Ok(ts);
        };
        push_str_unless_dash(out, name, t.value());
    }
    // The original kept these two as "-"; dashboards may filter on that, so they stay.
    for name in ["target_group_arn", "trace_id"] {
        let Some(t) = f.next(name)? else {
            return Ok(ts);
        };
        out.push(name, Value::Str(t.value()));
    }
    for name in ["domain_name", "chosen_cert_arn"] {
        let Some(t) = f.next(name)? else {
            return Ok(ts);
        };
        push_str_unless_dash(out, name, t.value());
    }
    let Some(t) = f.next("matched_rule_priority")? else {
        return Ok(ts);
    };
    push_int(out, "matched_rule_priority", t.text)?;
    let Some(t) = f.next("request_creation_time")? else {
        return Ok(ts);
    };
    push_str_unless_dash(out, "request_creation_time", t.value());
    let Some(t) = f.next("actions_executed")? else {
        return Ok(ts);
    };
    push_list(out, "actions_executed", t.value(), b',');
    for name in ["redirect_url", "error_reason"] {
        let Some(t) = f.next(name)? else {
            return Ok(ts);
        };
        push_str_unless_dash(out, name, t.value());
    }
    for name in ["target_port_list", "target_status_code_list"] {
        let Some(t) = f.next(name)? else {
            return Ok(ts);
        };
        push_list(out, name, t.value(), b' ');
    }
    for name in [
        "classification",
        "classification_reason",
        "conn_trace_id",
        "transformed_host",
        "transformed_uri",
        "request_transform_status",
    ] {
        let Some(t) = f.next(name)? else {
            return Ok(ts);
        };
        push_str_unless_dash(out, name, t.value());
    }
    Ok(ts)
}

/// A list column (`"forward,redirect"`, `"10.0.0.1:80 10.0.0.2:80"`) as an array of its items; `-` leaves
/// it out.
fn push_list<'a, S: FieldSink<'a>>(out: &mut S, name: &'static str, v: Cow<'a, str>, sep: u8) {
    if v == "-" || v.is_empty() {
        return;
    }
    let split = Split {
        sep,
        unquote: false,
    };
    out.push(name, Value::List(v, split));
}

/// ALB access log fields.
const FIELDS: &[(&str, FieldType)] = &[
    ("type", Keyword),
    ("elb", Keyword),
    ("client_ip", Ip),
    ("client_port", Long),
    ("target_ip", Ip),
    ("target_port", Long),
    ("request_processing_time", Double),
    ("target_processing_time", Double),
    ("response_processing_time", Double),
    ("elb_status_code", Long),
    ("target_status_code", Long),
    ("received_bytes", Long),
    ("sent_bytes", Long),
    ("request_verb", Keyword),
    ("request_url", Keyword),
    ("request_proto", Keyword),
    ("user_agent", Keyword),
    ("ssl_cipher", Keyword),
    ("ssl_protocol", Keyword),
    ("target_group_arn", Keyword),
    ("trace_id", Keyword),
    ("domain_name", Keyword),
    ("chosen_cert_arn", Keyword),
    ("matched_rule_priority", Long),
    ("request_creation_time", Date),
    ("actions_executed", Keyword),
    ("redirect_url", Keyword),
    ("error_reason", Keyword),
    ("target_port_list", Keyword),
    ("target_status_code_list", Keyword),
    ("classification", Keyword),
    ("classification_reason", Keyword),
    ("conn_trace_id", Keyword),
    ("transformed_host", Keyword),
    ("transformed_uri", Keyword),
    ("request_transform_status", Keyword),
];

/// ALB: original name → ECS name.
const ECS_NAMES: &[(&str, &str)] = &[
    ("type", "aws.elb.type"),
    ("elb", "aws.elb.name"),
    ("client_ip", "source.ip"),
    ("client_port", "source.port"),
    ("target_ip", "destination.ip"),
    ("target_port", "destination.port"),
    (
        "request_processing_time",
        "aws.elb.request_processing_time.sec",
    ),
    (
        "target_processing_time",
        "aws.elb.backend_processing_time.sec",
    ),
    (
        "response_processing_time",
        "aws.elb.response_processing_time.sec",
    ),
    ("elb_status_code", "http.response.status_code"),
    (
        "target_status_code",
        "aws.elb.backend.http.response.status_code",
    ),
    ("received_bytes", "http.request.body.bytes"),
    ("sent_bytes", "http.response.body.bytes"),
    ("request_verb", "http.request.method"),
    ("request_url", "url.original"),
    ("request_proto", "http.version"),
    ("user_agent", "user_agent.original"),
    ("ssl_cipher", "aws.elb.ssl_cipher"),
    ("ssl_protocol", "aws.elb.ssl_protocol"),
    ("target_group_arn", "aws.elb.target_group.arn"),
    ("trace_id", "aws.elb.trace_id"),
    ("domain_name", "destination.domain"),
    ("chosen_cert_arn", "aws.elb.chosen_cert.arn"),
    ("matched_rule_priority", "aws.elb.matched_rule_priority"),
    ("request_creation_time", "aws.elb.request_creation_time"),
    ("actions_executed", "aws.elb.action_executed"),
    ("redirect_url", "aws.elb.redirect_url"),
    ("error_reason", "aws.elb.error.reason"),
    ("target_port_list", "aws.elb.target_port"),
    ("target_status_code_list", "aws.elb.target_status_code"),
    ("classification", "aws.elb.classification"),
    ("classification_reason", "aws.elb.classification_reason"),
    ("conn_trace_id", "aws.elb.connection_trace_id"),
    ("transformed_host", "aws.elb.transformed_host"),
    ("transformed_uri", "aws.elb.transformed_uri"),
    (
        "request_transform_status",
        "aws.elb.request_transform_status",
    ),
];

const ECS: Ecs = Ecs {
    dataset: "aws.elb",
    table: ECS_NAMES,
    rest: Rest::Kept,
    category: Some("web"),
    conversions: &[],
    derive: Some(derive),
    derived: &[("event.outcome", Keyword), ("event.duration", Long)],
};

/// The outcome from the status, the duration from the three processing times.
fn derive(out: &mut serde_json::Map<String, serde_json::Value>) {
    let secs = sum_of_seconds(
        out,
        &[
            "aws.elb.request_processing_time.sec",
            "aws.elb.backend_processing_time.sec",
            "aws.elb.response_processing_time.sec",
        ],
    );
    http_outcome_and_duration(out, secs);
}

#[cfg(test)]
mod tests {
    use super::super::test_util::parse_one;
    use super::super::FormatSpec;
    use serde_json::json;

    fn alb(line: &str) -> serde_json::Value {
        parse_one(&FormatSpec::Alb, line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn every_current_column_has_a_field() {
        let v = alb(concat!(
            "https 2024-07-02T22:23:00.186641Z app/my-lb/50dc6c495c0c9188 2601:db8::6bbc:50599 10.0.0.1:80 ",
            "0.086 0.048 0.037 200 201 0 57 \"GET https://www.example.com:443/a b?x=1+2 HTTP/1.1\" ",
            "\"curl/7.46.0\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:tg \"Root=1-58337281\" ",
            "\"www.example.com\" \"arn:cert\" 1 2024-07-02T22:22:48.364000Z \"waf,forward\" \"-\" \"-\" ",
            "\"10.0.0.1:80 10.0.0.2:80\" \"200 201\" \"Ambiguous\" \"SpaceInUri\" TID_1234 ",
            "\"new.example.com\" \"/new\" \"TransformSuccess\" extra \"columns\""
        ));
        assert_eq!(
            v,
            json!({
                "@timestamp": "2024-07-02T22:23:00.186641Z",
                "type": "https", "elb": "app/my-lb/50dc6c495c0c9188",
                "client_ip": "2601:db8::6bbc", "client_port": 50599,
                "target_ip": "10.0.0.1", "target_port": 80,
                "request_processing_time": 0.086, "target_processing_time": 0.048,
                "response_processing_time": 0.037,
                "elb_status_code": 200, "target_status_code": 201,
                "received_bytes": 0, "sent_bytes": 57,
                "request_verb": "GET", "request_url": "https://www.example.com:443/a b?x=1+2",
                "request_proto": "HTTP/1.1", "user_agent": "curl/7.46.0",
                "ssl_cipher": "ECDHE-RSA-AES128-GCM-SHA256", "ssl_protocol": "TLSv1.2",
                "target_group_arn": "arn:tg", "trace_id": "Root=1-58337281",
                "domain_name": "www.example.com", "chosen_cert_arn": "arn:cert",
                "matched_rule_priority": 1, "request_creation_time": "2024-07-02T22:22:48.364000Z",
                "actions_executed": ["waf", "forward"],
                "target_port_list": ["10.0.0.1:80", "10.0.0.2:80"],
                "target_status_code_list": ["200", "201"],
                "classification": "Ambiguous", "classification_reason": "SpaceInUri",
                "conn_trace_id": "TID_1234", "transformed_host": "new.example.com",
                "transformed_uri": "/new", "request_transform_status": "TransformSuccess"
            })
        );
    }

    #[test]
    fn dashes_leave_numbers_out_and_keep_the_line() {
        let v = alb("http 2018-08-19T15:14:55.207720Z app/x/1 41.233.25.52:58750 - -1 -1 -1 - - 211 288 \"- - - \" \"-\" - - - \"-\"");
        let o = v.as_object().unwrap();
        for absent in [
            "target_ip",
            "target_port",
            "request_processing_time",
            "elb_status_code",
            "target_status_code",
            "user_agent",
            "ssl_cipher",
        ] {
            assert!(!o.contains_key(absent), "{absent} in {v}");
        }
        assert_eq!(v["received_bytes"], 211);
        assert_eq!(v["request_verb"], "-");
        assert_eq!(v["request_proto"], "-");
        assert_eq!(v["target_group_arn"], "-");
    }

    #[test]
    fn old_18_column_lines_and_truncated_lines_parse() {
        let v = alb("http 2016-08-10T22:08:42.945958Z app/x/1 1.2.3.4:1 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 \"GET http://www.example.com:80/ HTTP/1.1\"");
        assert_eq!(v["request_url"], "http://www.example.com:80/");
        assert!(v.get("user_agent").is_none());
    }

    #[test]
    fn bad_lines_say_which_field() {
        let spec = FormatSpec::Alb;
        let e = parse_one(&spec, "http 2016-08-10T22:08:42Z app/x/1 1.2.3.4:1").unwrap_err();
        assert!(e.to_string().contains("needs at least 13"), "{e}");
        let e = parse_one(
            &spec,
            "http 2016-08-10T22:08:42Z app/x/1 1.2.3.4:1 - 0 0 0 2x0 200 1 1 \"GET / HTTP/1.1\"",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "field elb_status_code: \"2x0\" is not an integer"
        );
        let e = parse_one(
            &spec,
            "http yesterday app/x/1 1.2.3.4:1 - 0 0 0 200 200 1 1 \"GET / HTTP/1.1\"",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "field time: cannot parse time \"yesterday\"");
        let e = parse_one(
            &spec,
            "http 2016-08-10T22:08:42Z app/x/1 1.2.3.4 - 0 0 0 200 200 1 1 \"GET / HTTP/1.1\"",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "field client_ip: \"1.2.3.4\" is not an address:port"
        );
    }

    #[test]
    fn auto_recognises_the_keys_aws_writes_it_under() {
        super::super::route::tests::assert_recognised(
            super::super::LogFormat::Alb,
            &[
            ("b", "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2024/01/02/123456789012_elasticloadbalancing_us-east-2_app.my-lb.1234567890abcdef_20240102T0005Z_172.160.001.192_20sg8hgm.log.gz"),
            ],
        );
    }
}
