//! `s3access`: Amazon S3 server access logs.
//!
//! Space-separated; `Request-URI`, `Referer` and `User-Agent` are quoted, and the time is bracketed with a
//! space inside (`[06/Feb/2019:00:00:38 +0000]`), read as one field. AWS documents 26 columns today and
//! says readers must ignore columns it appends, so unknown trailing columns are ignored. Old lines stop
//! after `VersionId` or `HostId`: every line must have the columns up to `User-Agent` (17), the rest are
//! optional. Lifecycle and batch operations write a bare `-` instead of the quoted Request-URI and `-` as
//! the HTTP status. Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html>.
//!
//! What comes out, under AWS's names in snake_case (`HTTPstatus` → `http_status`, `TurnAroundTime` →
//! `turn_around_time`, `aclRequired` → `acl_required`): the time is the event's `@timestamp` (converted to
//! UTC) and not repeated as a field; `http_status`, `bytes_sent`, `object_size`, `total_time` and
//! `turn_around_time` (milliseconds) are integers; everything else is a string. `key` is kept exactly as
//! S3 writes it, URL-encoded (`Screen+Shot.png`), not decoded: decoding is lossy (is `+` a space?) and the
//! raw form is what matches the object's key in S3 requests. `request_uri` is kept whole
//! (`GET /bucket?versioning HTTP/1.1`), as AWS names it. A `-` (quoted or not) leaves its field out,
//! whatever the field's type.

use super::tokens::{parse_clf_time, push_int, push_str_unless_dash, SpaceFields};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value as J};

use super::descriptor::{Descriptor, Framing, ObjectLines, Single};
use super::ecs::{get, put, str_at, Ecs, Rest};
use super::mapping::FieldType;
use super::{ErrorKind, FormatOptions, FormatSpec, LineOut, LogFormat, ParseError};
use crate::fields::Timestamp;

use FieldType::{Ip, Keyword, Long};

/// Columns up to and including `user_agent` must be there; `version_id` and later are optional.
const REQUIRED: usize = 17;

/// `s3access`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::S3access,
    name: "s3access",
    doc: "S3 server access logs",
    options: &[],
    required: &[],
    build,
    framing: Framing::Lines,
    compressed_twice: false,
    parser,
    direct: None,
    fields: FIELDS,
    ecs: Some(&ECS),
    recognises: Some(recognises),
    not_a_log: None,
};

fn build(
    _: &FormatOptions,
    _: &dyn Fn(&str) -> String,
) -> Result<FormatSpec, (&'static str, String)> {
    Ok(FormatSpec::S3access)
}

fn parser(_: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    Single::boxed(parse)
}

static FILE_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}$").expect("valid")
});

/// A file name `YYYY-MM-DD-HH-MM-SS-<16 hex digits>`, under any prefix (date-partitioned ones too).
fn recognises(_bucket: &str, key: &str) -> bool {
    FILE_NAME.is_match(key.rsplit('/').next().unwrap_or(key))
}

/// The string columns after `time`, up to the status.
const BEFORE_STATUS: [&str; 6] = [
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
];

/// The integer columns after `error_code`.
const COUNTS: [&str; 4] = [
    "bytes_sent",
    "object_size",
    "total_time",
    "turn_around_time",
];

/// The optional columns, in order.
const OPTIONAL: [&str; 9] = [
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "authentication_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
];

/// Parses one S3 server access log line into `out`.
pub fn parse<'a>(line: &'a str, out: &mut LineOut<'a>) -> Result<Timestamp, ParseError> {
    let mut f = SpaceFields::new(line);
    for name in ["bucket_owner", "bucket"] {
        push_str_unless_dash(out, name, f.required(name, REQUIRED)?.value());
    }
    let time = match f.next_bracketed("time")? {
        Some(t) => t,
        None => f.required("time", REQUIRED)?,
    };
    let ts = parse_clf_time(time.text)
        .ok_or_else(|| ParseError::new(ErrorKind::BadTimestamp, "time", time.text))?;
    for name in BEFORE_STATUS {
        push_str_unless_dash(out, name, f.required(name, REQUIRED)?.value());
    }
    push_int(
        out,
        "http_status",
        f.required("http_status", REQUIRED)?.text,
    )?;
    push_str_unless_dash(
        out,
        "error_code",
        f.required("error_code", REQUIRED)?.value(),
    );
    for name in COUNTS {
        push_int(out, name, f.required(name, REQUIRED)?.text)?;
    }
    for name in ["referer", "user_agent"] {
        push_str_unless_dash(out, name, f.required(name, REQUIRED)?.value());
    }
    for name in OPTIONAL {
        let Some(t) = f.next(name)? else {
            return Ok(ts);
        };
        push_str_unless_dash(out, name, t.value());
    }
    Ok(ts)
}

/// S3 server access log fields.
const FIELDS: &[(&str, FieldType)] = &[
    ("bucket_owner", Keyword),
    ("bucket", Keyword),
    ("remote_ip", Ip),
    ("requester", Keyword),
    ("request_id", Keyword),
    ("operation", Keyword),
    ("key", Keyword),
    ("request_uri", Keyword),
    ("http_status", Long),
    ("error_code", Keyword),
    ("bytes_sent", Long),
    ("object_size", Long),
    ("total_time", Long),
    ("turn_around_time", Long),
    ("referer", Keyword),
    ("user_agent", Keyword),
    ("version_id", Keyword),
    ("host_id", Keyword),
    ("signature_version", Keyword),
    ("cipher_suite", Keyword),
    ("authentication_type", Keyword),
    ("host_header", Keyword),
    ("tls_version", Keyword),
    ("access_point_arn", Keyword),
    ("acl_required", Keyword),
];

/// S3 server access logs, as Elastic's `s3access` pipeline writes them: every field under
/// `aws.s3access.`, and the ECS ones beside them.
const ECS_NAMES: &[(&str, &str)] = &[
    ("bucket_owner", "aws.s3access.bucket_owner"),
    ("bucket", "aws.s3access.bucket"),
    ("remote_ip", "aws.s3access.remote_ip"),
    ("remote_ip", "client.ip"),
    ("requester", "aws.s3access.requester"),
    ("requester", "client.user.id"),
    ("request_id", "aws.s3access.request_id"),
    ("request_id", "event.id"),
    ("operation", "aws.s3access.operation"),
    ("operation", "event.action"),
    ("key", "aws.s3access.key"),
    ("request_uri", "aws.s3access.request_uri"),
    ("http_status", "aws.s3access.http_status"),
    ("http_status", "http.response.status_code"),
    ("error_code", "aws.s3access.error_code"),
    ("error_code", "event.code"),
    ("bytes_sent", "aws.s3access.bytes_sent"),
    ("bytes_sent", "http.response.body.bytes"),
    ("object_size", "aws.s3access.object_size"),
    ("total_time", "aws.s3access.total_time"),
    ("turn_around_time", "aws.s3access.turn_around_time"),
    ("referer", "aws.s3access.referrer"),
    ("referer", "http.request.referrer"),
    ("user_agent", "aws.s3access.user_agent"),
    ("user_agent", "user_agent.original"),
    ("version_id", "aws.s3access.version_id"),
    ("host_id", "aws.s3access.host_id"),
    ("signature_version", "aws.s3access.signature_version"),
    ("cipher_suite", "aws.s3access.cipher_suite"),
    ("cipher_suite", "tls.cipher"),
    ("authentication_type", "aws.s3access.authentication_type"),
    ("host_header", "aws.s3access.host_header"),
    ("tls_version", "aws.s3access.tls_version"),
    ("access_point_arn", "aws.s3access.access_point_arn"),
    ("acl_required", "aws.s3access.acl_required"),
];

const ECS: Ecs = Ecs {
    dataset: "aws.s3access",
    table: ECS_NAMES,
    rest: Rest::Under("aws.s3access."),
    category: Some("web"),
    conversions: &[],
    derive: Some(derive),
    derived: &[
        ("event.outcome", Keyword),
        ("event.type", Keyword),
        ("event.duration", Long),
        ("http.request.method", Keyword),
        ("url.original", Keyword),
        ("http.version", Keyword),
    ],
};

/// The outcome from the error code, the duration from `total_time` (milliseconds), and the request
/// line's method, URL and version.
fn derive(out: &mut Map<String, J>) {
    let failed = get(out, "aws.s3access.error_code").is_some();
    put(
        out,
        "event.outcome",
        J::from(if failed { "failure" } else { "success" }),
    );
    put(out, "event.type", J::from(vec!["access"]));
    if let Some(ms) = get(out, "aws.s3access.total_time").and_then(J::as_u64) {
        put(out, "event.duration", J::from(ms.saturating_mul(1_000_000)));
    }
    // `GET /bucket/key?query HTTP/1.1`; a lifecycle line has none.
    if let Some(uri) = str_at(out, "aws.s3access.request_uri") {
        let mut words = uri.split(' ');
        let method = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        if let Some((version, url)) = rest.split_last() {
            if let (Some(v), false) = (version.strip_prefix("HTTP/"), url.is_empty()) {
                put(out, "http.request.method", J::from(method));
                put(out, "url.original", J::from(url.join(" ")));
                put(out, "http.version", J::from(v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::parse_one;
    use super::super::FormatSpec;
    use serde_json::json;

    const LINE: &str = concat!(
        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be DOC-EXAMPLE-BUCKET1 ",
        "[06/Feb/2019:00:01:57 +0000] 192.0.2.3 ",
        "arn:aws:iam::123456:user/test@example.com DD6CC733AEXAMPLE REST.PUT.OBJECT Screen+Shot%402x.pdf ",
        "\"PUT /DOC-EXAMPLE-BUCKET1/Screen+Shot%402x.pdf HTTP/1.1\" 200 - - 4406583 41754 28 ",
        "\"https://console.aws.amazon.com/\" \"S3Console/0.4 \\\"quoted\\\"\" 3HL4kqtJvjVBH40Nrjfkd ",
        "10S62Zv81kBW7BB6SX4XJ48o6kpcl6LPwEoizZQQxJd5qDSCTLX0TgS37kYUBKQW3+bPdrg1234= SigV4 ",
        "ECDHE-RSA-AES128-SHA AuthHeader DOC-EXAMPLE-BUCKET1.s3.us-west-1.amazonaws.com TLSV1.2 ",
        "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes"
    );

    fn s3(line: &str) -> serde_json::Value {
        parse_one(&FormatSpec::S3access, line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn every_column_has_a_field_and_trailing_columns_are_ignored() {
        let v = s3(&format!("{LINE} NewColumn \"another one\""));
        assert_eq!(
            v,
            json!({
                "@timestamp": "2019-02-06T00:01:57.000Z",
                "bucket_owner": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
                "bucket": "DOC-EXAMPLE-BUCKET1",
                "remote_ip": "192.0.2.3",
                "requester": "arn:aws:iam::123456:user/test@example.com",
                "request_id": "DD6CC733AEXAMPLE",
                "operation": "REST.PUT.OBJECT",
                "key": "Screen+Shot%402x.pdf",
                "request_uri": "PUT /DOC-EXAMPLE-BUCKET1/Screen+Shot%402x.pdf HTTP/1.1",
                "http_status": 200,
                "object_size": 4406583, "total_time": 41754, "turn_around_time": 28,
                "referer": "https://console.aws.amazon.com/",
                "user_agent": "S3Console/0.4 \"quoted\"",
                "version_id": "3HL4kqtJvjVBH40Nrjfkd",
                "host_id": "10S62Zv81kBW7BB6SX4XJ48o6kpcl6LPwEoizZQQxJd5qDSCTLX0TgS37kYUBKQW3+bPdrg1234=",
                "signature_version": "SigV4",
                "cipher_suite": "ECDHE-RSA-AES128-SHA",
                "authentication_type": "AuthHeader",
                "host_header": "DOC-EXAMPLE-BUCKET1.s3.us-west-1.amazonaws.com",
                "tls_version": "TLSV1.2",
                "access_point_arn": "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP",
                "acl_required": "Yes"
            })
        );
    }

    #[test]
    fn lifecycle_lines_with_bare_dashes_parse() {
        let v = s3(concat!(
            "79a5 mybucket [06/Feb/2019:00:00:38 -0100] - AmazonS3 6F6F2D4F4B25F5E7 ",
            "S3.EXPIRE.OBJECT logs/2019-02-05.gz - - - - 4096 - - \"-\" \"-\" - - - - - - - - -"
        ));
        assert_eq!(v["@timestamp"], "2019-02-06T01:00:38.000Z");
        assert_eq!(v["requester"], "AmazonS3");
        assert_eq!(v["object_size"], 4096);
        let o = v.as_object().unwrap();
        for absent in [
            "remote_ip",
            "request_uri",
            "http_status",
            "error_code",
            "bytes_sent",
            "total_time",
            "turn_around_time",
            "referer",
            "user_agent",
            "version_id",
            "acl_required",
        ] {
            assert!(!o.contains_key(absent), "{absent} in {v}");
        }
    }

    #[test]
    fn old_short_lines_parse() {
        // 18 columns, ending after VersionId; and 17, ending after User-Agent.
        let v = s3(concat!(
            "79a5 mybucket [12/May/2014:07:54:01 +0000] 10.0.1.2 - 7ACC4BE89EXAMPLE REST.GET.OBJECT ",
            "foo/bar.html \"GET /foo/bar.html HTTP/1.1\" 304 - - 1718 10 - \"-\" \"Mozilla/5.0\" -"
        ));
        assert_eq!(v["http_status"], 304);
        assert_eq!(v["user_agent"], "Mozilla/5.0");
        assert!(v.get("requester").is_none());
        assert!(v.get("host_id").is_none());
        let v = s3(concat!(
            "79a5 mybucket [12/May/2014:07:54:01 +0000] 10.0.1.2 - 7ACC4BE89EXAMPLE REST.GET.OBJECT ",
            "foo/bar.html \"GET /foo/bar.html HTTP/1.1\" 304 - - 1718 10 - \"-\" \"Mozilla/5.0\""
        ));
        assert_eq!(v["total_time"], 10);
    }

    #[test]
    fn bad_lines_say_which_field() {
        let spec = FormatSpec::S3access;
        let e = parse_one(
            &spec,
            "79a5 mybucket [12/May/2014:07:54:01 +0000] 10.0.1.2 - 7ACC",
        )
        .unwrap_err();
        assert!(e.to_string().contains("needs at least 17"), "{e}");
        let e = parse_one(&spec, &LINE.replace(" 41754 ", " 41.754 ")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field total_time: \"41.754\" is not an integer"
        );
        let e = parse_one(
            &spec,
            &LINE.replace("06/Feb/2019:00:01:57 +0000", "06/Feb/2019"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "field time: cannot parse time \"06/Feb/2019\""
        );
        let e = parse_one(
            &spec,
            &LINE.replace("[06/Feb/2019:00:01:57 +0000]", "[06/Feb/2019:00:01:57"),
        )
        .unwrap_err();
        assert_eq!(e.kind, super::super::ErrorKind::UnterminatedQuote);
        let e = parse_one(&spec, &LINE.replace(" 200 - - ", " 2OO - - ")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field http_status: \"2OO\" is not an integer"
        );
    }

    #[test]
    fn auto_recognises_the_keys_aws_writes_it_under() {
        super::super::route::tests::assert_recognised(
            super::super::LogFormat::S3access,
            &[
            ("b", "logs/2019-02-06-00-00-38-5F8D9AB3C0B2A1E0"),
            ("b", "logs/123456789012/us-east-1/src-bucket/2024/01/01/2024-01-01-00-00-00-5F8D9AB3C0B2A1E0"),
            ],
        );
    }
}
