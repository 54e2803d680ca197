//! `elb`: Classic Load Balancer access logs.
//!
//! Space-separated; 15 fields today, 12 (up to the request) in lines written before about 2015. TCP and
//! SSL listeners write `"- - - "` as the request and `-` for both status codes. Reference:
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/access-log-collection.html>.

use super::descriptor::{Descriptor, Framing, ObjectLines, Single};
use super::ecs::{http_outcome_and_duration, sum_of_seconds, Ecs, Rest};
use super::mapping::FieldType;
use super::tokens::{parse_rfc3339_text, push_lb_columns, push_str_unless_dash, SpaceFields};
use super::{ErrorKind, FormatOptions, FormatSpec, LineOut, LogFormat, ParseError};
use crate::fields::{FieldSink, JsonFields};
use crate::fields::{Timestamp, Value};

use FieldType::{Double, Ip, Keyword, Long};

/// Columns up to and including the request line must be there.
const REQUIRED: usize = 12;

/// `elb`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::Elb,
    name: "elb",
    doc: "Classic Load Balancer access logs",
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
    Ok(FormatSpec::Elb)
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

/// The load balancers' directory, a file of a load balancer whose name is neither an application
/// (`app.`) nor a network (`net.`) one: a classic one.
fn recognises(_bucket: &str, key: &str) -> bool {
    super::route::load_balancer(key)
        .is_some_and(|lb| !lb.starts_with("app.") && !lb.starts_with("net."))
}

/// ELB's test file, which it writes when access logging is turned on.
fn not_a_log(key: &str) -> Option<&'static str> {
    key.ends_with("ELBAccessLogTestFile")
        .then_some("the load balancer's test file")
}

/// Parses one classic ELB line into `out`.
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
    let time = f.required("time", REQUIRED)?;
    let (ts, as_written) = parse_rfc3339_text(time.text)
        .ok_or_else(|| ParseError::new(ErrorKind::BadTimestamp, "time", time.text))?;
    out.time(ts, as_written.then_some(time.text));
    out.push("elb", Value::Str(f.required("elb", REQUIRED)?.value()));
    push_lb_columns(
        f,
        out,
        REQUIRED,
        ["backend:port", "backend_ip", "backend_port"],
        [
            "request_processing_time",
            "backend_processing_time",
            "response_processing_time",
        ],
        [
            "elb_status_code",
            "backend_status_code",
            "received_bytes",
            "sent_bytes",
        ],
    )?;
    for name in ["user_agent", "ssl_cipher", "ssl_protocol"] {
        let Some(t) = f.next(name)? else {
            return Ok(ts);
        };
        push_str_unless_dash(out, name, t.value());
    }
    Ok(ts)
}

/// Classic ELB access log fields.
const FIELDS: &[(&str, FieldType)] = &[
    ("elb", Keyword),
    ("client_ip", Ip),
    ("client_port", Long),
    ("backend_ip", Ip),
    ("backend_port", Long),
    ("request_processing_time", Double),
    ("backend_processing_time", Double),
    ("response_processing_time", Double),
    ("elb_status_code", Long),
    ("backend_status_code", Long),
    ("received_bytes", Long),
    ("sent_bytes", Long),
    ("request_verb", Keyword),
    ("request_url", Keyword),
    ("request_proto", Keyword),
    ("user_agent", Keyword),
    ("ssl_cipher", Keyword),
    ("ssl_protocol", Keyword),
];

/// Classic ELB.
const ECS_NAMES: &[(&str, &str)] = &[
    ("elb", "aws.elb.name"),
    ("client_ip", "source.ip"),
    ("client_port", "source.port"),
    ("backend_ip", "destination.ip"),
    ("backend_port", "destination.port"),
    (
        "request_processing_time",
        "aws.elb.request_processing_time.sec",
    ),
    (
        "backend_processing_time",
        "aws.elb.backend_processing_time.sec",
    ),
    (
        "response_processing_time",
        "aws.elb.response_processing_time.sec",
    ),
    ("elb_status_code", "http.response.status_code"),
    (
        "backend_status_code",
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

    fn elb(line: &str) -> serde_json::Value {
        parse_one(&FormatSpec::Elb, line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn old_twelve_field_lines_parse() {
        let v = elb("2015-04-10T08:11:09.865823Z us-west-1-production-media 49.150.87.133:55128 - -1 -1 -1 408 - 1294336 0 \"PUT https://media.example.com:443/videos/F4 HTTP/1.1\"");
        assert_eq!(
            v,
            json!({
                "@timestamp": "2015-04-10T08:11:09.865823Z",
                "elb": "us-west-1-production-media",
                "client_ip": "49.150.87.133", "client_port": 55128,
                "elb_status_code": 408, "received_bytes": 1294336, "sent_bytes": 0,
                "request_verb": "PUT", "request_url": "https://media.example.com:443/videos/F4",
                "request_proto": "HTTP/1.1"
            })
        );
    }

    #[test]
    fn tcp_listener_lines_parse() {
        let v = elb("2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.001065 0.000015 0.000023 - - 57 502 \"- - - \" \"-\" ECDHE-ECDSA-AES128-GCM-SHA256 TLSv1.2");
        assert_eq!(v["request_proto"], "-");
        assert_eq!(v["ssl_protocol"], "TLSv1.2");
        assert!(v.get("elb_status_code").is_none());
        assert!(v.get("user_agent").is_none());
        assert_eq!(v["backend_port"], 80);
    }

    #[test]
    fn received_bytes_dash_is_left_out() {
        let v = elb("2015-05-13T23:39:43.945958Z lb 1.2.3.4:1 10.0.0.1:80 0.1 0.1 0.1 200 200 - 29 \"GET http://h:80/ HTTP/1.1\" \"curl\" - -");
        assert!(v.get("received_bytes").is_none());
        assert_eq!(v["sent_bytes"], 29);
    }

    #[test]
    fn auto_recognises_the_keys_aws_writes_it_under() {
        super::super::route::tests::assert_recognised(
            super::super::LogFormat::Elb,
            &[
            ("b", "AWSLogs/123456789012/elasticloadbalancing/us-west-2/2014/02/15/123456789012_elasticloadbalancing_us-west-2_my-loadbalancer_20140215T2340Z_172.160.001.192_20sg8hgm.log"),
            ],
        );
    }
}
