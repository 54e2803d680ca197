//! `route53_resolver`: Route 53 Resolver query logs (the DNS queries of a VPC, of its Resolver endpoints,
//! and what DNS Firewall did with them), delivered to S3 under `AWSLogs/<account>/vpcdnsquerylogs/<vpc>/...`,
//! one JSON object per line. Reference:
//! <https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resolver-query-logs-format.html>.
//!
//! What comes out is the JSON as AWS writes it (nulls removed, as for `json`): `version`, `account_id`,
//! `region`, `vpc_id`, `query_timestamp` (also `@timestamp`), `query_name`, `query_type`, `query_class`,
//! `rcode`, `answers` (`[{Rdata, Type, Class}]`), `srcaddr`, `srcport`, `transport`,
//! `srcids{instance, resolver_endpoint}` and DNS Firewall's `firewall_rule_group_id`,
//! `firewall_rule_action` and `firewall_domain_list_id`, except `srcport`: AWS writes it as a string, and
//! it is an integer here, as a flow log's `srcport` is (a value that is not one fails the line).
//!
//! Under ECS the names are those of Elastic's `route53_resolver_logs` pipeline: `dns.question.*` (the
//! name without its final dot), `dns.response_code`, `dns.answers` (`data`, `type`, `class`, and `name`
//! for a CNAME), `source.*`, `network.transport` (lowercase) with its IANA number, `cloud.*`, `aws.vpc_id`,
//! `aws.instance_id` and DNS Firewall's fields under `aws.route53.firewall`; the outcome is a success
//! when the response code is `NOERROR`.

use serde_json::{Map, Value as J};

use super::descriptor::{Descriptor, Framing, ObjectLines};
use super::ecs::{network_type, put, str_at, Conversion, Ecs, Rest};
use super::json::{push_object, Records};
use super::mapping::FieldType;
use super::tokens::{parse_i64, parse_rfc3339};
use super::{ErrorKind, FormatOptions, FormatSpec, LineOut, LogFormat, ParseError};
use crate::fields::Timestamp;

use FieldType::{Date, Ip, Keyword, Long};

/// `route53_resolver`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::Route53Resolver,
    name: "route53_resolver",
    doc: "Route 53 Resolver query logs (JSON lines)",
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
    Ok(FormatSpec::Route53Resolver)
}

fn parser(_: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    Box::new(Records(record))
}

/// `AWSLogs/<account>/vpcdnsquerylogs/<vpc>/<yyyy>/<mm>/<dd>/...`.
fn recognises(_bucket: &str, key: &str) -> bool {
    key.contains("/vpcdnsquerylogs/") || key.starts_with("vpcdnsquerylogs/")
}

fn record(v: J, text: &str, out: &mut LineOut<'_>) -> Result<Timestamp, ParseError> {
    let J::Object(mut map) = v else {
        return Err(ParseError::new(ErrorKind::NotAnObject, "", text));
    };
    let ts = match map.get("query_timestamp") {
        Some(J::String(t)) => parse_rfc3339(t)
            .ok_or_else(|| ParseError::new(ErrorKind::BadTimestamp, "query_timestamp", t))?,
        Some(J::Null) | None => {
            return Err(ParseError::new(
                ErrorKind::MissingTimestamp,
                "query_timestamp",
                "",
            ))
        }
        Some(other) => {
            return Err(ParseError::new(
                ErrorKind::TimestampType("an ISO 8601 time"),
                "query_timestamp",
                &other.to_string(),
            ))
        }
    };
    if let Some(J::String(port)) = map.get("srcport") {
        let n = parse_i64(port)
            .ok_or_else(|| ParseError::new(ErrorKind::BadInteger, "srcport", port))?;
        map.insert("srcport".to_string(), J::from(n));
    }
    push_object(map, out);
    Ok(ts)
}

/// The values AWS documents (version 1.1, and DNS Firewall's).
const FIELDS: &[(&str, FieldType)] = &[
    // `1.100000`: a version, not a number.
    ("version", Keyword),
    ("account_id", Keyword),
    ("region", Keyword),
    ("vpc_id", Keyword),
    ("query_timestamp", Date),
    ("query_name", Keyword),
    ("query_type", Keyword),
    ("query_class", Keyword),
    ("rcode", Keyword),
    ("answers.Rdata", Keyword),
    ("answers.Type", Keyword),
    ("answers.Class", Keyword),
    ("srcaddr", Ip),
    ("srcport", Long),
    ("transport", Keyword),
    ("srcids.instance", Keyword),
    ("srcids.resolver_endpoint", Keyword),
    ("firewall_rule_group_id", Keyword),
    ("firewall_rule_action", Keyword),
    ("firewall_domain_list_id", Keyword),
];

/// As Elastic's `route53_resolver_logs` pipeline names them; what it leaves out (`version`, the Resolver
/// endpoint's id) goes under `aws.route53.`.
const ECS_NAMES: &[(&str, &str)] = &[
    ("account_id", "cloud.account.id"),
    ("region", "cloud.region"),
    ("vpc_id", "aws.vpc_id"),
    ("srcids.instance", "aws.instance_id"),
    ("srcids.instance", "cloud.instance.id"),
    ("query_name", "dns.question.name"),
    ("query_class", "dns.question.class"),
    ("query_type", "dns.question.type"),
    ("rcode", "dns.response_code"),
    ("answers", "dns.answers"),
    ("transport", "network.transport"),
    ("srcport", "source.port"),
    ("srcaddr", "source.address"),
    ("srcaddr", "source.ip"),
    ("firewall_rule_action", "aws.route53.firewall.action"),
    (
        "firewall_rule_group_id",
        "aws.route53.firewall.rule_group.id",
    ),
    (
        "firewall_domain_list_id",
        "aws.route53.firewall.domain_list.id",
    ),
];

const ECS: Ecs = Ecs {
    dataset: "aws.route53_resolver_logs",
    table: ECS_NAMES,
    rest: Rest::Under("aws.route53."),
    category: Some("network"),
    conversions: CONVERSIONS,
    derive: Some(derive),
    derived: &[
        ("event.type", Keyword),
        ("event.outcome", Keyword),
        ("network.iana_number", Keyword),
        ("network.protocol", Keyword),
        ("network.type", Keyword),
    ],
};

/// Names without their final dot, answers under ECS's keys, the transport in lowercase; the address is a
/// keyword beside its `ip`.
const CONVERSIONS: &[Conversion] = &[
    Conversion {
        name: "dns.question.name",
        into: &[("dns.question.name", Keyword)],
        convert: |v| vec![("dns.question.name", without_final_dot(v))],
    },
    Conversion {
        name: "dns.answers",
        into: &[
            ("dns.answers.data", Keyword),
            ("dns.answers.type", Keyword),
            ("dns.answers.class", Keyword),
            ("dns.answers.name", Keyword),
        ],
        convert: |v| vec![("dns.answers", answers(v))],
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
        name: "source.address",
        into: &[("source.address", Keyword)],
        convert: |v| vec![("source.address", v)],
    },
];

fn without_final_dot(v: J) -> J {
    match v {
        J::String(s) if s.len() > 1 && s.ends_with('.') => J::String(s[..s.len() - 1].to_string()),
        v => v,
    }
}

/// `[{Rdata, Type, Class}]` as `[{data, type, class}]`, `name` too for a CNAME; an answer of another
/// shape is kept as it is.
fn answers(v: J) -> J {
    let J::Array(items) = v else { return v };
    J::Array(
        items
            .into_iter()
            .map(|a| {
                let J::Object(a) = a else { return a };
                let mut m = Map::new();
                for (k, v) in a {
                    let k = match k.as_str() {
                        "Rdata" => "data".to_string(),
                        "Type" => "type".to_string(),
                        "Class" => "class".to_string(),
                        _ => k,
                    };
                    m.insert(k, v);
                }
                if let Some(data) = m.remove("data") {
                    let data = without_final_dot(data);
                    if m.get("type").and_then(J::as_str) == Some("CNAME") {
                        m.insert("name".to_string(), data.clone());
                    }
                    m.insert("data".to_string(), data);
                }
                J::Object(m)
            })
            .collect(),
    )
}

/// The transport's IANA number, the protocol, the address family, the type and the outcome.
fn derive(out: &mut Map<String, J>) {
    match str_at(out, "network.transport").as_deref() {
        Some("tcp") => put(out, "network.iana_number", J::from("6")),
        Some("udp") => put(out, "network.iana_number", J::from("17")),
        _ => {}
    }
    put(out, "network.protocol", J::from("dns"));
    network_type(out);
    put(out, "event.type", J::from(vec!["protocol"]));
    if let Some(rcode) = str_at(out, "dns.response_code") {
        let outcome = if rcode == "NOERROR" {
            "success"
        } else {
            "failure"
        };
        put(out, "event.outcome", J::from(outcome));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::parse_one;
    use super::super::FormatSpec;

    #[test]
    fn a_line_is_the_json_as_aws_writes_it_with_its_port_a_number() {
        let line = r#"{"version":"1.100000","account_id":"123456789012","region":"us-east-1","vpc_id":"vpc-1","query_timestamp":"2023-02-15T18:33:54Z","query_name":"example.com.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"192.0.2.10","Type":"A","Class":"IN"}],"srcaddr":"198.51.100.7","srcport":"38900","transport":"UDP","srcids":{"instance":"i-1"}}"#;
        let v = parse_one(&FormatSpec::Route53Resolver, line).unwrap();
        assert_eq!(v["@timestamp"], "2023-02-15T18:33:54.000Z");
        assert_eq!(v["query_timestamp"], "2023-02-15T18:33:54Z");
        assert_eq!(v["srcport"], 38900);
        assert_eq!(v["answers"][0]["Rdata"], "192.0.2.10");
        assert_eq!(v["version"], "1.100000");
        for (line, err) in [
            (
                r#"{"query_name":"x."}"#,
                "timestamp field query_timestamp is missing",
            ),
            (
                r#"{"query_timestamp":"2023-02-15T18:33:54Z","srcport":"x"}"#,
                "field srcport: \"x\" is not an integer",
            ),
        ] {
            let e = parse_one(&FormatSpec::Route53Resolver, line).unwrap_err();
            assert_eq!(e.to_string(), err, "{line}");
        }
    }

    #[test]
    fn answers_get_ecs_keys_and_a_cname_its_name() {
        let a = super::answers(serde_json::json!([
            {"Rdata": "www.example.com.", "Type": "CNAME", "Class": "IN"},
            {"Rdata": "192.0.2.1", "Type": "A", "Class": "IN"},
            "odd",
        ]));
        assert_eq!(
            a,
            serde_json::json!([
                {"data": "www.example.com", "name": "www.example.com", "type": "CNAME", "class": "IN"},
                {"data": "192.0.2.1", "type": "A", "class": "IN"},
                "odd",
            ])
        );
    }

    #[test]
    fn auto_recognises_the_keys_aws_writes_it_under() {
        super::super::route::tests::assert_recognised(
            super::super::LogFormat::Route53Resolver,
            &[
                ("b", "AWSLogs/123456789012/vpcdnsquerylogs/vpc-0123456789abcdef0/2024/01/01/vpc-0123456789abcdef0_vpcdnsquerylogs_123456789012_20240101T0005Z_a1b2c3d4.log.gz"),
                ("b", "dns/AWSLogs/123456789012/vpcdnsquerylogs/vpc-1/2024/01/01/x.log.gz"),
            ],
        );
    }
}
