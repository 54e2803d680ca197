//! `nlb`: Network Load Balancer access logs (written for TLS listeners only).
//!
//! Space-separated, like ALB's; one line per TLS connection. Log version 1.0 has 18 columns (up to
//! `domain_name`), which every line must have; version 2.0 appends `alpn_fe_protocol`, `alpn_be_protocol`,
//! `alpn_client_preference_list` and `tls_connection_creation_time`, and unknown columns after those are
//! ignored. Reference:
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-access-logs.html>.
//!
//! What comes out, under AWS's names: `client:port` and `destination:port` are split on their last `:`
//! into `client_ip`/`client_port` and `destination_ip`/`destination_port` (IPv6 safe); `connection_time`
//! and `tls_handshake_time` (milliseconds) and the byte counts are integers; `time` (no fraction and no
//! `Z`: UTC) is the event's `@timestamp` and not repeated as a field; `tls_connection_creation_time` is
//! written as RFC 3339 UTC so that it maps as a date; `alpn_client_preference_list` (`"h2","http/1.1"`)
//! becomes a list of strings, without the quotes. `version` (`1.0`, `2.0`) is the log format's version, a
//! string. A `-` leaves its field out, whatever the field's type.

use std::borrow::Cow;

use super::descriptor::{Descriptor, Framing, ObjectLines, Single};
use super::ecs::{Ecs, Rest};
use super::mapping::FieldType;
use super::tokens::{parse_iso_utc, push_addr_port, push_int, push_str_unless_dash, SpaceFields};
use super::{ErrorKind, FormatOptions, FormatSpec, LineOut, LogFormat, ParseError};
use crate::fields::{Split, Timestamp, Value};

use FieldType::{Date, Ip, Keyword, Long};

/// Columns up to and including `domain_name` (log version 1.0) must be there; the rest are optional.
const REQUIRED: usize = 18;

/// `nlb`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::Nlb,
    name: "nlb",
    doc: "Network Load Balancer access logs (TLS listeners)",
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
    Ok(FormatSpec::Nlb)
}

fn parser(_: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    Single::boxed(parse)
}

/// The load balancers' directory, a file of a load balancer whose name says it is a network one
/// (`..._net.<lb>...`).
fn recognises(_bucket: &str, key: &str) -> bool {
    super::route::load_balancer(key).is_some_and(|lb| lb.starts_with("net."))
}

/// Parses one NLB line into `out`.
pub fn parse<'a>(line: &'a str, out: &mut LineOut<'a>) -> Result<Timestamp, ParseError> {
    let mut f = SpaceFields::new(line);
    for name in ["type", "version"] {
        push_str_unless_dash(out, name, f.required(name, REQUIRED)?.value());
    }
    let time = f.required("time", REQUIRED)?;
    let ts = parse_iso_utc(time.text)
        .ok_or_else(|| ParseError::new(ErrorKind::BadTimestamp, "time", time.text))?;
    for name in ["elb", "listener"] {
        push_str_unless_dash(out, name, f.required(name, REQUIRED)?.value());
    }
    let client = f.required("client:port", REQUIRED)?;
    push_addr_port(out, "client_ip", "client_port", client.text)?;
    let dest = f.required("destination:port", REQUIRED)?;
    push_addr_port(out, "destination_ip", "destination_port", dest.text)?;
    for name in [
        "connection_time",
        "tls_handshake_time",
        "received_bytes",
        "sent_bytes",
    ] {
        push_int(out, name, f.required(name, REQUIRED)?.text)?;
    }
    for name in [
        "incoming_tls_alert",
        "chosen_cert_arn",
        "chosen_cert_serial",
        "tls_cipher",
        "tls_protocol_version",
        "tls_named_group",
        "domain_name",
    ] {
        push_str_unless_dash(out, name, f.required(name, REQUIRED)?.value());
    }

    // Log version 2.0 and later: optional.
    for name in ["alpn_fe_protocol", "alpn_be_protocol"] {
        let Some(t) = f.next(name)? else {
            return Ok(ts);
        };
        push_str_unless_dash(out, name, t.value());
    }
    // The list is several quoted items joined by commas, one field: read as written, then split.
    let Some(list) = f.next_raw() else {
        return Ok(ts);
    };
    push_quoted_list(out, "alpn_client_preference_list", list);
    let Some(t) = f.next("tls_connection_creation_time")? else {
        return Ok(ts);
    };
    if t.text != "-" {
        let created = parse_iso_utc(t.text).ok_or_else(|| {
            ParseError::new(
                ErrorKind::BadTimestamp,
                "tls_connection_creation_time",
                t.text,
            )
        })?;
        out.push(
            "tls_connection_creation_time",
            Value::Str(Cow::Owned(created.to_rfc3339())),
        );
    }
    Ok(ts)
}

/// A list written as `"a","b"` (or `a,b`, or `"-"`) as an array of its items, quotes removed; `-` and an
/// empty list leave the field out.
fn push_quoted_list<'a>(out: &mut LineOut<'a>, name: &'static str, raw: &'a str) {
    let split = Split {
        sep: b',',
        unquote: true,
    };
    if split.items(raw).next().is_some() {
        out.push(name, Value::List(Cow::Borrowed(raw), split));
    }
}

/// NLB access log fields.
const FIELDS: &[(&str, FieldType)] = &[
    ("type", Keyword),
    ("version", Keyword),
    ("elb", Keyword),
    ("listener", Keyword),
    ("client_ip", Ip),
    ("client_port", Long),
    ("destination_ip", Ip),
    ("destination_port", Long),
    ("connection_time", Long),
    ("tls_handshake_time", Long),
    ("received_bytes", Long),
    ("sent_bytes", Long),
    ("incoming_tls_alert", Keyword),
    ("chosen_cert_arn", Keyword),
    ("chosen_cert_serial", Keyword),
    ("tls_cipher", Keyword),
    ("tls_protocol_version", Keyword),
    ("tls_named_group", Keyword),
    ("domain_name", Keyword),
    ("alpn_fe_protocol", Keyword),
    ("alpn_be_protocol", Keyword),
    ("alpn_client_preference_list", Keyword),
    ("tls_connection_creation_time", Date),
];

/// NLB access logs, as Elastic's `elb_logs` pipeline reads them. `destination:port` is where the client
/// connected (the listener, or a VPC endpoint), AWS documents, so it is `destination.*` and not Elastic's
/// `aws.elb.backend.*`; the log format's own version, which Elastic does not keep, is `aws.elb.log_version`.
const ECS_NAMES: &[(&str, &str)] = &[
    ("type", "aws.elb.type"),
    ("version", "aws.elb.log_version"),
    ("elb", "aws.elb.name"),
    ("listener", "aws.elb.listener"),
    ("client_ip", "source.ip"),
    ("client_port", "source.port"),
    ("destination_ip", "destination.ip"),
    ("destination_port", "destination.port"),
    ("connection_time", "aws.elb.connection_time.ms"),
    ("tls_handshake_time", "aws.elb.tls_handshake_time.ms"),
    ("received_bytes", "source.bytes"),
    ("sent_bytes", "destination.bytes"),
    ("incoming_tls_alert", "aws.elb.incoming_tls_alert"),
    ("chosen_cert_arn", "aws.elb.chosen_cert.arn"),
    ("chosen_cert_serial", "aws.elb.chosen_cert.serial"),
    ("tls_cipher", "aws.elb.ssl_cipher"),
    ("tls_protocol_version", "aws.elb.ssl_protocol"),
    ("tls_named_group", "aws.elb.tls_named_group"),
    ("domain_name", "destination.domain"),
    ("alpn_fe_protocol", "aws.elb.alpn_fe_protocol"),
    ("alpn_be_protocol", "aws.elb.alpn_be_protocol"),
    (
        "alpn_client_preference_list",
        "aws.elb.alpn_client_preference_list",
    ),
    (
        "tls_connection_creation_time",
        "aws.elb.tls_connection_creation_time",
    ),
];

const ECS: Ecs = Ecs {
    dataset: "aws.elb",
    table: ECS_NAMES,
    rest: Rest::Under("aws.elb."),
    category: Some("network"),
    conversions: &[],
    derive: None,
    derived: &[],
};

#[cfg(test)]
mod tests {
    use super::super::test_util::parse_one;
    use super::super::FormatSpec;
    use serde_json::json;

    const V2: &str = concat!(
        "tls 2.0 2020-04-01T08:51:42 net/my-network-loadbalancer/c6e77e28c25b2234 g3d4b5e8bb8464cd ",
        "192.168.131.39:2817 10.0.0.1:80 5 2 98 246 - ",
        "arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99 - ",
        "ECDHE-RSA-AES128-SHA tlsv12 - my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com ",
        "h2 h2 \"h2\",\"http/1.1\" 2020-04-01T08:51:20"
    );

    fn nlb(line: &str) -> serde_json::Value {
        parse_one(&FormatSpec::Nlb, line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn every_version_2_column_has_a_field() {
        let v = nlb(&format!("{V2} 2001:db8::1:443 \"some new column\""));
        assert_eq!(
            v,
            json!({
                "@timestamp": "2020-04-01T08:51:42.000Z",
                "type": "tls", "version": "2.0",
                "elb": "net/my-network-loadbalancer/c6e77e28c25b2234", "listener": "g3d4b5e8bb8464cd",
                "client_ip": "192.168.131.39", "client_port": 2817,
                "destination_ip": "10.0.0.1", "destination_port": 80,
                "connection_time": 5, "tls_handshake_time": 2,
                "received_bytes": 98, "sent_bytes": 246,
                "chosen_cert_arn": "arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99",
                "tls_cipher": "ECDHE-RSA-AES128-SHA", "tls_protocol_version": "tlsv12",
                "domain_name": "my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com",
                "alpn_fe_protocol": "h2", "alpn_be_protocol": "h2",
                "alpn_client_preference_list": ["h2", "http/1.1"],
                "tls_connection_creation_time": "2020-04-01T08:51:20.000Z"
            })
        );
    }

    #[test]
    fn dashes_leave_fields_out() {
        let v = nlb("tls 2.0 2018-12-20T02:59:40 net/x/1 g3 [2001:db8::5]:2817 10.0.0.1:80 - - 98 - 21 - - - - - - - - - -");
        let o = v.as_object().unwrap();
        assert_eq!(v["client_ip"], "2001:db8::5");
        assert_eq!(v["incoming_tls_alert"], "21");
        for absent in [
            "connection_time",
            "tls_handshake_time",
            "sent_bytes",
            "chosen_cert_arn",
            "domain_name",
            "alpn_fe_protocol",
            "alpn_client_preference_list",
            "tls_connection_creation_time",
        ] {
            assert!(!o.contains_key(absent), "{absent} in {v}");
        }
    }

    #[test]
    fn version_1_lines_of_18_columns_parse() {
        let v1: Vec<&str> = V2.split(' ').take(18).collect();
        let v = nlb(&v1.join(" "));
        assert_eq!(
            v["domain_name"],
            "my-network-loadbalancer-c6e77e28c25b2234.elb.us-east-2.amazonaws.com"
        );
        assert!(v.get("alpn_fe_protocol").is_none());
    }

    #[test]
    fn bad_lines_say_which_field() {
        let spec = FormatSpec::Nlb;
        let short: Vec<&str> = V2.split(' ').take(17).collect();
        let e = parse_one(&spec, &short.join(" ")).unwrap_err();
        assert!(e.to_string().contains("needs at least 18"), "{e}");
        let e = parse_one(&spec, &V2.replace(" 5 2 ", " 5 2ms ")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field tls_handshake_time: \"2ms\" is not an integer"
        );
        let e = parse_one(&spec, &V2.replace("2020-04-01T08:51:42", "yesterday")).unwrap_err();
        assert_eq!(e.to_string(), "field time: cannot parse time \"yesterday\"");
        let e = parse_one(&spec, &V2.replace("10.0.0.1:80", "10.0.0.1")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field destination_ip: \"10.0.0.1\" is not an address:port"
        );
        let e = parse_one(&spec, &V2.replace("08:51:20", "08:51")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field tls_connection_creation_time: cannot parse time \"2020-04-01T08:51\""
        );
    }

    #[test]
    fn auto_recognises_the_keys_aws_writes_it_under() {
        super::super::route::tests::assert_recognised(
            super::super::LogFormat::Nlb,
            &[
            ("b", "pre/AWSLogs/123456789012/elasticloadbalancing/us-east-2/2024/01/02/123456789012_elasticloadbalancing_us-east-2_net.my-nlb.1234567890abcdef_20240102T0005Z_20sg8hgm.log.gz"),
            ],
        );
    }
}
