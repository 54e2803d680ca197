//! `network_firewall`: AWS Network Firewall logs (flow, alert and TLS logs of the stateful engine),
//! delivered to S3 under `AWSLogs/<account>/network-firewall/<log type>/<region>/<firewall>/...`, one JSON
//! object per line. Reference:
//! <https://docs.aws.amazon.com/network-firewall/latest/developerguide/firewall-logging-contents.html>.
//!
//! Each line is `{"firewall_name", "availability_zone", "event_timestamp", "event": {...}}`, the event in
//! Suricata's EVE JSON (`event_type` `netflow`, `alert` or `tls`; `src_ip`, `dest_port`, `proto`,
//! `netflow{...}`, `alert{...}`, `http{...}`, `tls{...}`). What comes out is the JSON as AWS writes it,
//! nothing renamed or removed (nulls removed, as for `json`); `@timestamp` is `event.timestamp` (ISO 8601
//! with a `+0000` offset, to the microsecond), or `event_timestamp` (epoch seconds, when the log was
//! written) where an event has no time of its own.
//!
//! Under ECS the names are those of Elastic's `firewall_logs` pipeline: `observer.name`,
//! `source.ip`/`port`, `destination.*`, `network.transport` (lowercase) and `network.protocol`, `rule.*`
//! from the alert, `event.severity`, `url.original`, `http.*`, `tls.*`, the flow under
//! `aws.firewall.flow` (its id a keyword), everything else of the event under `aws.firewall.`; `event.kind`
//! is `alert` for alerts and `event.type` says `allowed` or `denied`.

use serde_json::{Map, Value as J};

use super::descriptor::{Descriptor, Framing, ObjectLines};
use super::ecs::{network_type, number_as_text, put, str_at, Conversion, Ecs, Rest};
use super::json::{push_object, Records};
use super::mapping::FieldType;
use super::tokens::{parse_i64, parse_rfc3339};
use super::{ErrorKind, FormatOptions, FormatSpec, LineOut, LogFormat, ParseError};
use crate::fields::Timestamp;

use FieldType::{Boolean, Date, Ip, Keyword, Long};

/// `network_firewall`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::NetworkFirewall,
    name: "network_firewall",
    doc: "AWS Network Firewall flow, alert and TLS logs (JSON lines)",
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
    Ok(FormatSpec::NetworkFirewall)
}

fn parser(_: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    Box::new(Records(record))
}

/// `AWSLogs/<account>/network-firewall/<alert|flow|tls>/<region>/<firewall>/<yyyy>/<mm>/<dd>/<hh>/...`.
fn recognises(_bucket: &str, key: &str) -> bool {
    key.contains("/network-firewall/") || key.starts_with("network-firewall/")
}

fn record(v: J, text: &str, out: &mut LineOut<'_>) -> Result<Timestamp, ParseError> {
    let J::Object(map) = v else {
        return Err(ParseError::new(ErrorKind::NotAnObject, "", text));
    };
    let ts = time(&map)?;
    push_object(map, out);
    Ok(ts)
}

/// `event.timestamp`, else `event_timestamp`.
fn time(map: &Map<String, J>) -> Result<Timestamp, ParseError> {
    match map.get("event").and_then(|e| e.get("timestamp")) {
        Some(J::String(t)) => offset_time(t)
            .ok_or_else(|| ParseError::new(ErrorKind::BadTimestamp, "event.timestamp", t)),
        Some(J::Null) | None => {
            let secs = match map.get("event_timestamp") {
                Some(J::String(s)) => parse_i64(s),
                Some(J::Number(n)) => n.as_i64(),
                _ => {
                    return Err(ParseError::new(
                        ErrorKind::MissingTimestamp,
                        "event.timestamp",
                        "",
                    ))
                }
            };
            secs.and_then(|s| s.checked_mul(1000))
                .and_then(Timestamp::from_epoch_millis)
                .ok_or_else(|| {
                    let shown = map.get("event_timestamp").map(J::to_string);
                    ParseError::new(
                        ErrorKind::TimestampType("epoch seconds"),
                        "event_timestamp",
                        &shown.unwrap_or_default(),
                    )
                })
        }
        Some(other) => Err(ParseError::new(
            ErrorKind::TimestampType("an ISO 8601 time"),
            "event.timestamp",
            &other.to_string(),
        )),
    }
}

/// An ISO 8601 time whose offset Suricata writes without a colon (`2021-11-08T14:22:12.637611+0000`),
/// or with one.
fn offset_time(t: &str) -> Option<Timestamp> {
    let b = t.as_bytes();
    let n = b.len();
    if n > 5 && matches!(b[n - 5], b'+' | b'-') && b[n - 4..].iter().all(u8::is_ascii_digit) {
        return parse_rfc3339(&format!("{}:{}", &t[..n - 2], &t[n - 2..]));
    }
    parse_rfc3339(t)
}

/// The fields AWS documents and Suricata writes for the three log types; others (a key AWS adds later)
/// are mapped dynamically.
const FIELDS: &[(&str, FieldType)] = &[
    ("firewall_name", Keyword),
    ("availability_zone", Keyword),
    // Epoch seconds, as the string AWS writes.
    ("event_timestamp", Keyword),
    ("event.timestamp", Date),
    ("event.flow_id", Long),
    ("event.event_type", Keyword),
    ("event.src_ip", Ip),
    ("event.src_port", Long),
    ("event.dest_ip", Ip),
    ("event.dest_port", Long),
    ("event.proto", Keyword),
    ("event.app_proto", Keyword),
    ("event.direction", Keyword),
    ("event.pkt_src", Keyword),
    ("event.tls_inspected", Boolean),
    ("event.netflow.pkts", Long),
    ("event.netflow.bytes", Long),
    ("event.netflow.start", Date),
    ("event.netflow.end", Date),
    ("event.netflow.age", Long),
    ("event.netflow.min_ttl", Long),
    ("event.netflow.max_ttl", Long),
    ("event.netflow.state", Keyword),
    ("event.netflow.reason", Keyword),
    ("event.netflow.alerted", Boolean),
    ("event.tcp.tcp_flags", Keyword),
    ("event.tcp.syn", Boolean),
    ("event.tcp.fin", Boolean),
    ("event.tcp.rst", Boolean),
    ("event.tcp.psh", Boolean),
    ("event.tcp.ack", Boolean),
    ("event.tcp.urg", Boolean),
    ("event.alert.action", Keyword),
    ("event.alert.signature_id", Long),
    ("event.alert.rev", Long),
    ("event.alert.signature", Keyword),
    ("event.alert.category", Keyword),
    ("event.alert.severity", Long),
    ("event.http.hostname", Keyword),
    ("event.http.url", Keyword),
    ("event.http.http_user_agent", Keyword),
    ("event.http.http_method", Keyword),
    ("event.http.protocol", Keyword),
    ("event.http.status", Long),
    ("event.http.length", Long),
    ("event.tls.subject", Keyword),
    ("event.tls.issuerdn", Keyword),
    ("event.tls.serial", Keyword),
    ("event.tls.fingerprint", Keyword),
    ("event.tls.sni", Keyword),
    ("event.tls.version", Keyword),
    ("event.tls.notbefore", Date),
    ("event.tls.notafter", Date),
    ("event.tls.ja3.hash", Keyword),
    ("event.tls.ja3.string", Keyword),
    ("event.tls.ja3s.hash", Keyword),
    ("event.tls.ja3s.string", Keyword),
    ("event.tls_error.error_message", Keyword),
    ("event.revocation_check.leaf_cert_fpr", Keyword),
    ("event.revocation_check.status", Keyword),
    ("event.revocation_check.action", Keyword),
];

/// As Elastic's `firewall_logs` pipeline names them; the TLS client's JA3 is `tls.client.ja3` (Elastic
/// writes `tls.server.ja3`, which ECS does not have). The rest of the event goes under `aws.firewall.`
/// (the last entry moves what the others left).
const ECS_NAMES: &[(&str, &str)] = &[
    ("firewall_name", "observer.name"),
    ("availability_zone", "cloud.availability_zone"),
    ("event.src_ip", "source.address"),
    ("event.src_ip", "source.ip"),
    ("event.src_port", "source.port"),
    ("event.dest_ip", "destination.address"),
    ("event.dest_ip", "destination.ip"),
    ("event.dest_port", "destination.port"),
    ("event.proto", "network.transport"),
    ("event.app_proto", "network.protocol"),
    ("event.flow_id", "aws.firewall.flow.id"),
    ("event.netflow", "aws.firewall.flow"),
    ("event.tcp.tcp_flags", "aws.firewall.tcp_flags"),
    ("event.alert.signature_id", "rule.id"),
    ("event.alert.rev", "rule.version"),
    ("event.alert.signature", "rule.name"),
    ("event.alert.category", "rule.category"),
    ("event.alert.severity", "event.severity"),
    ("event.http.hostname", "destination.domain"),
    ("event.http.url", "url.original"),
    ("event.http.http_method", "http.request.method"),
    ("event.http.http_user_agent", "user_agent.original"),
    ("event.http.protocol", "http.version"),
    ("event.http.status", "http.response.status_code"),
    ("event.tls.sni", "tls.client.server_name"),
    ("event.tls.sni", "destination.domain"),
    ("event.tls.version", "tls.version"),
    ("event.tls.subject", "tls.server.subject"),
    ("event.tls.issuerdn", "tls.server.issuer"),
    ("event.tls.serial", "tls.server.x509.serial_number"),
    ("event.tls.notbefore", "tls.server.x509.not_before"),
    ("event.tls.notafter", "tls.server.x509.not_after"),
    ("event.tls.ja3.hash", "tls.client.ja3"),
    ("event.tls.ja3s.hash", "tls.server.ja3s"),
    ("event", "aws.firewall"),
];

const ECS: Ecs = Ecs {
    dataset: "aws.firewall_logs",
    table: ECS_NAMES,
    rest: Rest::Under("aws.firewall."),
    category: Some("network"),
    conversions: CONVERSIONS,
    derive: Some(derive),
    derived: &[
        ("event.type", Keyword),
        ("network.type", Keyword),
        ("cloud.region", Keyword),
        ("observer.type", Keyword),
        ("observer.vendor", Keyword),
        ("observer.product", Keyword),
    ],
};

/// Ids as keywords, the transport in lowercase, `TLS 1.2` as the protocol and its version, the serial
/// number without colons; an address is a keyword beside its `ip`.
const CONVERSIONS: &[Conversion] = &[
    Conversion {
        name: "source.address",
        into: &[("source.address", Keyword)],
        convert: |v| vec![("source.address", v)],
    },
    Conversion {
        name: "destination.address",
        into: &[("destination.address", Keyword)],
        convert: |v| vec![("destination.address", v)],
    },
    Conversion {
        name: "aws.firewall.flow.id",
        into: &[("aws.firewall.flow.id", Keyword)],
        convert: |v| vec![("aws.firewall.flow.id", number_as_text(v))],
    },
    Conversion {
        name: "rule.id",
        into: &[("rule.id", Keyword)],
        convert: |v| vec![("rule.id", number_as_text(v))],
    },
    Conversion {
        name: "rule.version",
        into: &[("rule.version", Keyword)],
        convert: |v| vec![("rule.version", number_as_text(v))],
    },
    Conversion {
        name: "network.transport",
        into: &[("network.transport", Keyword)],
        convert: |v| match v {
            J::String(s) => vec![("network.transport", J::String(s.to_lowercase()))],
            v => vec![("network.transport", v)],
        },
    },
    Conversion {
        name: "tls.version",
        into: &[("tls.version_protocol", Keyword), ("tls.version", Keyword)],
        convert: |v| match v.as_str().and_then(|s| s.split_once(' ')) {
            Some((protocol, version)) => vec![
                ("tls.version_protocol", J::String(protocol.to_lowercase())),
                ("tls.version", J::String(version.to_string())),
            ],
            None => vec![("tls.version", v)],
        },
    },
    Conversion {
        name: "tls.server.x509.serial_number",
        into: &[("tls.server.x509.serial_number", Keyword)],
        convert: |v| match v {
            J::String(s) => vec![(
                "tls.server.x509.serial_number",
                J::String(s.replace(':', "")),
            )],
            v => vec![("tls.server.x509.serial_number", v)],
        },
    },
];

/// What Elastic's pipeline sets: the observer, the region of the zone, the kind and type of the event,
/// the address family.
fn derive(out: &mut Map<String, J>) {
    put(out, "observer.type", J::from("firewall"));
    put(out, "observer.vendor", J::from("AWS"));
    put(out, "observer.product", J::from("Network Firewall"));
    if let Some(zone) = str_at(out, "cloud.availability_zone") {
        let region = zone.trim_end_matches(|c: char| c.is_ascii_lowercase());
        if region.len() < zone.len() && !region.is_empty() {
            put(out, "cloud.region", J::from(region));
        }
    }
    if str_at(out, "aws.firewall.event_type").as_deref() == Some("alert") {
        put(out, "event.kind", J::from("alert"));
    }
    let mut types = vec!["connection"];
    match str_at(out, "aws.firewall.alert.action").as_deref() {
        Some("blocked") => types.push("denied"),
        Some("allowed") => types.push("allowed"),
        _ => {}
    }
    put(out, "event.type", J::from(types));
    network_type(out);
}

#[cfg(test)]
mod tests {
    use super::super::test_util::parse_one;
    use super::super::FormatSpec;
    use serde_json::json;

    #[test]
    fn a_line_is_the_json_as_aws_writes_it_dated_by_its_event() {
        let line = r#"{"firewall_name":"fw","availability_zone":"us-east-1a","event_timestamp":"1700000001","event":{"timestamp":"2023-11-14T22:13:20.123456+0000","flow_id":42,"event_type":"netflow","src_ip":"192.0.2.1","src_port":1234,"dest_ip":"198.51.100.2","dest_port":443,"proto":"TCP","netflow":{"pkts":3,"bytes":180,"start":"2023-11-14T22:13:19.000000+0000","end":"2023-11-14T22:13:20.000000+0000","age":1,"min_ttl":64,"max_ttl":64},"tcp":{"tcp_flags":"1b","syn":true,"null":null}}}"#;
        let v = parse_one(&FormatSpec::NetworkFirewall, line).unwrap();
        assert_eq!(v["@timestamp"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(v["event_timestamp"], "1700000001");
        assert_eq!(v["event"]["timestamp"], "2023-11-14T22:13:20.123456+0000");
        assert_eq!(v["event"]["netflow"]["pkts"], 3);
        assert_eq!(v["event"]["tcp"], json!({"tcp_flags": "1b", "syn": true}));
    }

    #[test]
    fn without_an_event_time_the_log_time_dates_it_and_bad_times_fail() {
        let v = parse_one(
            &FormatSpec::NetworkFirewall,
            r#"{"firewall_name":"fw","event_timestamp":"1700000000","event":{"event_type":"tls"}}"#,
        )
        .unwrap();
        assert_eq!(v["@timestamp"], "2023-11-14T22:13:20.000Z");
        for (line, err) in [
            (
                r#"{"event":{"timestamp":"yesterday"}}"#,
                "field event.timestamp: cannot parse time \"yesterday\"",
            ),
            (
                r#"{"event":{}}"#,
                "timestamp field event.timestamp is missing",
            ),
            (
                r#"{"event_timestamp":"soon"}"#,
                "timestamp field event_timestamp: \"\\\"soon\\\"\" is not epoch seconds",
            ),
            ("[1]", "JSON value is not an object: \"[1]\""),
        ] {
            let e = parse_one(&FormatSpec::NetworkFirewall, line).unwrap_err();
            assert_eq!(e.to_string(), err, "{line}");
        }
    }

    #[test]
    fn auto_recognises_the_keys_aws_writes_it_under() {
        super::super::route::tests::assert_recognised(
            super::super::LogFormat::NetworkFirewall,
            &[
                ("b", "AWSLogs/123456789012/network-firewall/alert/us-east-1/my-fw/2024/01/01/00/123456789012_network-firewall_alert_us-east-1_my-fw_202401010005_a1b2c3d4.log.gz"),
                ("b", "logs/AWSLogs/123456789012/network-firewall/flow/eu-west-1/fw-2/2024/01/01/00/123456789012_network-firewall_flow_eu-west-1_fw-2_202401010005_a1b2c3d4.log.gz"),
            ],
        );
    }
}
