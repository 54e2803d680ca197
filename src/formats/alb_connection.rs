//! `alb_connection`: Application Load Balancer connection logs (one line per TLS connection attempt).
//!
//! Space-separated, the certificate subject quoted. The 11 columns AWS documented first must be there:
//! `timestamp client_ip client_port listener_port tls_protocol tls_cipher tls_handshake_latency
//! leaf_client_cert_subject leaf_client_cert_validity leaf_client_cert_serial_number tls_verify_status`;
//! `conn_trace_id` (added later) is optional, and unknown columns after it are ignored. Reference:
//! <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-connection-logs.html>.
//!
//! What comes out, under AWS's names: `timestamp` (RFC 3339 with fraction and `Z`) is the event's
//! `@timestamp` and not repeated as a field; the ports are integers; `tls_handshake_latency` is seconds, a
//! number kept as written. `leaf_client_cert_validity` stays the string AWS writes
//! (`NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z`), not split. A `-` (which listeners
//! without mutual TLS write for the certificate columns) leaves its field out, whatever the field's type.

use super::tokens::{parse_rfc3339, push_int, push_num, push_str_unless_dash, SpaceFields};
use serde_json::Value as J;

use super::descriptor::{Descriptor, Framing, ObjectLines, Single};
use super::ecs::{number_as_text, Conversion, Ecs, Rest};
use super::mapping::FieldType;
use super::{ErrorKind, FormatOptions, FormatSpec, LineOut, LogFormat, ParseError};
use crate::fields::Timestamp;

use FieldType::{Date, Double, Ip, Keyword, Long};

/// Columns up to and including `tls_verify_status` must be there; `conn_trace_id` and later are optional.
const REQUIRED: usize = 11;

/// `alb_connection`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::AlbConnection,
    name: "alb_connection",
    doc: "ALB connection logs",
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
    Ok(FormatSpec::AlbConnection)
}

fn parser(_: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    Single::boxed(parse)
}

/// The load balancers' directory, a file name starting `conn_log.`.
fn recognises(_bucket: &str, key: &str) -> bool {
    super::route::load_balancer_file(key).is_some_and(|f| f.starts_with("conn_log."))
}

/// Parses one ALB connection log line into `out`.
pub fn parse<'a>(line: &'a str, out: &mut LineOut<'a>) -> Result<Timestamp, ParseError> {
    let mut f = SpaceFields::new(line);
    let time = f.required("timestamp", REQUIRED)?;
    let ts = parse_rfc3339(time.text)
        .ok_or_else(|| ParseError::new(ErrorKind::BadTimestamp, "timestamp", time.text))?;
    push_str_unless_dash(out, "client_ip", f.required("client_ip", REQUIRED)?.value());
    for name in ["client_port", "listener_port"] {
        push_int(out, name, f.required(name, REQUIRED)?.text)?;
    }
    for name in ["tls_protocol", "tls_cipher"] {
        push_str_unless_dash(out, name, f.required(name, REQUIRED)?.value());
    }
    let latency = f.required("tls_handshake_latency", REQUIRED)?;
    push_num(out, "tls_handshake_latency", latency.text, false)?;
    for name in [
        "leaf_client_cert_subject",
        "leaf_client_cert_validity",
        "leaf_client_cert_serial_number",
        "tls_verify_status",
    ] {
        push_str_unless_dash(out, name, f.required(name, REQUIRED)?.value());
    }
    if let Some(t) = f.next("conn_trace_id")? {
        push_str_unless_dash(out, "conn_trace_id", t.value());
    }
    Ok(ts)
}

/// ALB connection log fields.
const FIELDS: &[(&str, FieldType)] = &[
    ("client_ip", Ip),
    ("client_port", Long),
    ("listener_port", Long),
    ("tls_protocol", Keyword),
    ("tls_cipher", Keyword),
    ("tls_handshake_latency", Double),
    ("leaf_client_cert_subject", Keyword),
    ("leaf_client_cert_validity", Keyword),
    ("leaf_client_cert_serial_number", Keyword),
    ("tls_verify_status", Keyword),
    ("conn_trace_id", Keyword),
];

/// ALB connection logs, as Elastic's `elb_logs` pipeline reads them: the client as `client.*`, the
/// listener port as `aws.elb.listener` (a keyword, beside NLB's listener ids), the certificate's validity
/// as two dates and a failed verification's reason apart (see [`convert`]).
const ECS_NAMES: &[(&str, &str)] = &[
    ("client_ip", "client.ip"),
    ("client_port", "client.port"),
    ("listener_port", "aws.elb.listener"),
    ("tls_protocol", "aws.elb.ssl_protocol"),
    ("tls_cipher", "aws.elb.ssl_cipher"),
    ("tls_handshake_latency", "aws.elb.tls_handshake_latency"),
    (
        "leaf_client_cert_subject",
        "aws.elb.leaf_client_cert_subject",
    ),
    (
        "leaf_client_cert_validity",
        "aws.elb.leaf_client_cert_validity",
    ),
    (
        "leaf_client_cert_serial_number",
        "aws.elb.leaf_client_cert_serial_number",
    ),
    ("tls_verify_status", "aws.elb.tls_verify_status"),
    ("conn_trace_id", "aws.elb.connection_trace_id"),
];

const ECS: Ecs = Ecs {
    dataset: "aws.elb",
    table: ECS_NAMES,
    rest: Rest::Under("aws.elb."),
    category: Some("network"),
    conversions: CONVERSIONS,
    derive: None,
    derived: &[],
};

/// A port where NLB writes listener ids; `NotBefore=…;NotAfter=…` as two dates (written otherwise, it
/// stays as it is); `Failed:<reason>` as the status and the reason.
const CONVERSIONS: &[Conversion] = &[
    Conversion {
        name: "aws.elb.listener",
        into: &[("aws.elb.listener", Keyword)],
        convert: |v| vec![("aws.elb.listener", number_as_text(v))],
    },
    Conversion {
        name: "aws.elb.leaf_client_cert_validity",
        into: &[
            ("aws.elb.leaf_client_cert_not_before", Date),
            ("aws.elb.leaf_client_cert_not_after", Date),
            ("aws.elb.leaf_client_cert_validity", Keyword),
        ],
        convert: validity,
    },
    Conversion {
        name: "aws.elb.tls_verify_status",
        into: &[
            ("aws.elb.tls_verify_status", Keyword),
            ("aws.elb.tls_error_code", Keyword),
        ],
        convert: |v| match v.as_str().and_then(|s| s.split_once(':')) {
            Some((status, reason)) => vec![
                ("aws.elb.tls_verify_status", J::String(status.to_string())),
                ("aws.elb.tls_error_code", J::String(reason.to_string())),
            ],
            None => vec![("aws.elb.tls_verify_status", v)],
        },
    },
];

/// `NotBefore=<time>;NotAfter=<time>` as the two dates.
fn validity(v: J) -> Vec<(&'static str, J)> {
    let dates = v.as_str().and_then(|s| {
        let (before, after) = s.split_once(';')?;
        let before = before.strip_prefix("NotBefore=")?;
        let after = after.strip_prefix("NotAfter=")?;
        let ok = |d: &str| chrono::DateTime::parse_from_rfc3339(d).is_ok();
        (ok(before) && ok(after)).then(|| (before.to_string(), after.to_string()))
    });
    match dates {
        Some((before, after)) => vec![
            ("aws.elb.leaf_client_cert_not_before", J::String(before)),
            ("aws.elb.leaf_client_cert_not_after", J::String(after)),
        ],
        None => vec![("aws.elb.leaf_client_cert_validity", v)],
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::parse_one;
    use super::super::FormatSpec;
    use serde_json::json;

    const LINE: &str = concat!(
        "2024-10-04T17:05:15.514108Z 192.168.131.39 36280 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 4.036 ",
        "\"CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US\" ",
        "NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z FEF257372D5C14D4 Success"
    );

    fn conn(line: &str) -> serde_json::Value {
        parse_one(&FormatSpec::AlbConnection, line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn every_column_has_a_field_and_trailing_columns_are_ignored() {
        let v = conn(&format!("{LINE} TID_ab12 \"a future column\" 7"));
        assert_eq!(
            v,
            json!({
                "@timestamp": "2024-10-04T17:05:15.514108Z",
                "client_ip": "192.168.131.39", "client_port": 36280, "listener_port": 443,
                "tls_protocol": "TLSv1.2", "tls_cipher": "ECDHE-RSA-AES128-GCM-SHA256",
                "tls_handshake_latency": 4.036,
                "leaf_client_cert_subject": "CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US",
                "leaf_client_cert_validity": "NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z",
                "leaf_client_cert_serial_number": "FEF257372D5C14D4",
                "tls_verify_status": "Success",
                "conn_trace_id": "TID_ab12"
            })
        );
        // The documented example, without conn_trace_id.
        assert!(conn(LINE).get("conn_trace_id").is_none());
    }

    #[test]
    fn dashes_leave_fields_out() {
        let v = conn(
            "2024-10-04T17:05:15Z 2001:db8::1 36280 443 - - - \"-\" - - Failed:ClientCertMissing -",
        );
        let o = v.as_object().unwrap();
        assert_eq!(v["client_ip"], "2001:db8::1");
        assert_eq!(v["tls_verify_status"], "Failed:ClientCertMissing");
        for absent in [
            "tls_protocol",
            "tls_cipher",
            "tls_handshake_latency",
            "leaf_client_cert_subject",
            "leaf_client_cert_validity",
            "leaf_client_cert_serial_number",
            "conn_trace_id",
        ] {
            assert!(!o.contains_key(absent), "{absent} in {v}");
        }
    }

    #[test]
    fn bad_lines_say_which_field() {
        let spec = FormatSpec::AlbConnection;
        let e = parse_one(
            &spec,
            "2024-10-04T17:05:15.514108Z 192.168.131.39 36280 443",
        )
        .unwrap_err();
        assert!(e.to_string().contains("needs at least 11"), "{e}");
        let e = parse_one(&spec, &LINE.replace(" 443 ", " https ")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field listener_port: \"https\" is not an integer"
        );
        let e = parse_one(&spec, &LINE.replace(" 4.036 ", " 4,036 ")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field tls_handshake_latency: \"4,036\" is not a number"
        );
        let e = parse_one(
            &spec,
            &LINE.replace("2024-10-04T17:05:15.514108Z", "2024-10-04"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "field timestamp: cannot parse time \"2024-10-04\""
        );
    }

    #[test]
    fn auto_recognises_the_keys_aws_writes_it_under() {
        super::super::route::tests::assert_recognised(
            super::super::LogFormat::AlbConnection,
            &[
            ("b", "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2024/01/02/conn_log.123456789012_elasticloadbalancing_us-east-2_app.my-lb.1234567890abcdef_20240102T0005Z_172.160.001.192_20sg8hgm.log.gz"),
            ],
        );
    }
}
