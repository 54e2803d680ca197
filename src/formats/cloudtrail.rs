//! `cloudtrail`: CloudTrail records, one event each.
//!
//! The object is one JSON document `{"Records":[...]}`, compact or pretty-printed; the object stage (`object/framing.rs`)
//! hands this format one element of `Records` at a time, so a large object is never held whole. Each
//! record keeps CloudTrail's own keys as they are (`eventName`, `eventSource`, `eventID`,
//! `userIdentity`, ...; nulls removed, as for `json`), `eventTime` included, and `@timestamp` is
//! `eventTime`. Insight events (`eventCategory: Insight`) are records like the others. Digest files are
//! skipped, never failures: by key ([`Descriptor::not_a_log`]), or, under another key, by their
//! top-level keys when the object ends ([`at_end`]).

use serde_json::Value as J;

use super::tokens::parse_rfc3339;
use serde_json::Map;

use super::descriptor::{ArrayShape, AtEnd, Descriptor, Framing, ObjectLines, Single};
use super::ecs::{get, put, str_at, Ecs, Rest};
use super::mapping::FieldType;
use super::{ErrorKind, FormatOptions, FormatSpec, LineOut, LogFormat, ParseError};
use crate::fields::Timestamp;

use FieldType::{Date, Flattened, Ip, Keyword, Text};

/// `cloudtrail`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::Cloudtrail,
    name: "cloudtrail",
    doc: "CloudTrail `{\"Records\":[...]}` objects; digest files are skipped",
    options: &[],
    required: &[],
    build,
    framing: Framing::ArrayElements {
        array: "Records",
        marks: &["digestStartTime", "digestEndTime", "digestS3Bucket"],
        at_end,
    },
    compressed_twice: false,
    parser,
    direct: None,
    fields: FIELDS,
    ecs: Some(&ECS),
    recognises: Some(recognises),
    not_a_log: Some(not_a_log),
};

fn build(
    _: &FormatOptions,
    _: &dyn Fn(&str) -> String,
) -> Result<FormatSpec, (&'static str, String)> {
    Ok(FormatSpec::Cloudtrail)
}

fn parser(_: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    Single::boxed(record)
}

/// `AWSLogs/[<org>/]<account>/CloudTrail/`, `CloudTrail-Insight/`, `CloudTrail-Digest/`.
fn recognises(_bucket: &str, key: &str) -> bool {
    [
        "/CloudTrail/",
        "/CloudTrail-Digest/",
        "/CloudTrail-Insight/",
    ]
    .iter()
    .any(|d| key.contains(d) || key.starts_with(&d[1..]))
}

/// A digest file, by its key.
fn not_a_log(key: &str) -> Option<&'static str> {
    key.contains("CloudTrail-Digest")
        .then_some("a CloudTrail digest")
}

/// A digest under another key is recognised by its keys: not events, and not a failure either. An object
/// without `Records` is not a CloudTrail log.
fn at_end(shape: ArrayShape) -> AtEnd {
    if shape.marked && !shape.array {
        AtEnd::NotALog
    } else if !shape.array {
        AtEnd::Failure {
            message: "(no Records array)",
            expected: "a CloudTrail log: the object has no top-level Records array",
        }
    } else {
        AtEnd::Log
    }
}

/// Parses one record (a JSON value) into a record of `out`.
pub fn parse<'a>(unit: &'a str, out: &mut LineOut<'a>) {
    let start = out.fields.len();
    let r = record(unit, out);
    out.finish(start, 0..unit.len(), r);
}

fn record<'a>(unit: &'a str, out: &mut LineOut<'a>) -> Result<Timestamp, ParseError> {
    let v: J = serde_json::from_str(unit)
        .map_err(|e| ParseError::new(ErrorKind::BadJson(e.to_string()), "", unit))?;
    let J::Object(map) = v else {
        return Err(ParseError::new(ErrorKind::NotAnObject, "", unit));
    };
    let ts = match map.get("eventTime") {
        Some(J::String(t)) => parse_rfc3339(t)
            .ok_or_else(|| ParseError::new(ErrorKind::BadTimestamp, "eventTime", t))?,
        Some(other) => {
            return Err(ParseError::new(
                ErrorKind::TimestampType("an RFC 3339 string"),
                "eventTime",
                &other.to_string(),
            ))
        }
        None => {
            return Err(ParseError::new(
                ErrorKind::MissingTimestamp,
                "eventTime",
                "",
            ))
        }
    };
    super::json::push_object(map, out);
    Ok(ts)
}

/// CloudTrail record fields: CloudTrail's own keys. The per-API objects are flattened; the rest of the
/// nested keys (`insightDetails`, `tlsDetails`, ...) are mapped dynamically.
const FIELDS: &[(&str, FieldType)] = &[
    ("eventVersion", Keyword),
    ("eventTime", Date),
    ("eventSource", Keyword),
    ("eventName", Keyword),
    ("eventType", Keyword),
    ("eventCategory", Keyword),
    ("eventID", Keyword),
    ("awsRegion", Keyword),
    // An address, or a service name (`cloudtrail.amazonaws.com`).
    ("sourceIPAddress", Keyword),
    ("userAgent", Keyword),
    ("requestID", Keyword),
    ("sharedEventID", Keyword),
    ("recipientAccountId", Keyword),
    ("errorCode", Keyword),
    ("errorMessage", Text),
    ("apiVersion", Keyword),
    ("vpcEndpointId", Keyword),
    ("userIdentity.type", Keyword),
    ("userIdentity.principalId", Keyword),
    ("userIdentity.arn", Keyword),
    ("userIdentity.accountId", Keyword),
    ("userIdentity.accessKeyId", Keyword),
    ("userIdentity.userName", Keyword),
    ("userIdentity.invokedBy", Keyword),
    ("userIdentity.sessionContext.attributes.creationDate", Date),
    (
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        Keyword,
    ),
    ("userIdentity.sessionContext.sessionIssuer.type", Keyword),
    (
        "userIdentity.sessionContext.sessionIssuer.principalId",
        Keyword,
    ),
    ("userIdentity.sessionContext.sessionIssuer.arn", Keyword),
    (
        "userIdentity.sessionContext.sessionIssuer.accountId",
        Keyword,
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.userName",
        Keyword,
    ),
    ("requestParameters", Flattened),
    ("responseElements", Flattened),
    ("additionalEventData", Flattened),
    ("serviceEventDetails", Flattened),
    ("resources.ARN", Keyword),
    ("resources.accountId", Keyword),
    ("resources.type", Keyword),
    ("insightDetails.state", Keyword),
    ("insightDetails.eventSource", Keyword),
    ("insightDetails.eventName", Keyword),
    ("insightDetails.insightType", Keyword),
];

/// CloudTrail, as Elastic's `cloudtrail` pipeline writes it: these keys to ECS, the per-API objects under
/// `aws.cloudtrail.flattened.` with their own keys (mapped `flattened`), and every other key under
/// `aws.cloudtrail.` in snake_case (`recipientAccountId` → `recipient_account_id`, `userIdentity.arn` →
/// `user_identity.arn`, `resources[].ARN` → `resources[].arn`), as Elastic names them. An assumed role's
/// `sessionIssuer.userName` stays in `aws.cloudtrail.user_identity.session_context.session_issuer`
/// (Elastic moves it into `user.name`, over the identity's own `userName`).
const ECS_NAMES: &[(&str, &str)] = &[
    ("eventName", "event.action"),
    ("eventSource", "event.provider"),
    ("eventID", "event.id"),
    ("awsRegion", "cloud.region"),
    // An address or a service name: `source.ip` is derived when it is an address.
    ("sourceIPAddress", "source.address"),
    ("userAgent", "user_agent.original"),
    ("userIdentity.userName", "user.name"),
    ("userIdentity.principalId", "user.id"),
    ("userIdentity.accountId", "cloud.account.id"),
    (
        "userIdentity.sessionContext.attributes.creationDate",
        "aws.cloudtrail.user_identity.session_context.creation_date",
    ),
    (
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
    ),
    (
        "requestParameters",
        "aws.cloudtrail.flattened.request_parameters",
    ),
    (
        "responseElements",
        "aws.cloudtrail.flattened.response_elements",
    ),
    (
        "additionalEventData",
        "aws.cloudtrail.flattened.additional_eventdata",
    ),
    (
        "serviceEventDetails",
        "aws.cloudtrail.flattened.service_event_details",
    ),
    ("tlsDetails.cipherSuite", "tls.cipher"),
    (
        "tlsDetails.clientProvidedHostHeader",
        "tls.client.server_name",
    ),
];

const ECS: Ecs = Ecs {
    dataset: "aws.cloudtrail",
    table: ECS_NAMES,
    rest: Rest::Snake("aws.cloudtrail."),
    // Elastic sets a category only for the IAM and sign-in calls it lists.
    category: None,
    conversions: &[],
    derive: Some(derive),
    derived: &[
        ("event.outcome", Keyword),
        ("event.type", Keyword),
        ("source.ip", Ip),
    ],
};

/// `source.ip` when the source is an address, the outcome from the error (a console sign-in's from its
/// response).
fn derive(out: &mut Map<String, serde_json::Value>) {
    if let Some(a) = str_at(out, "source.address") {
        if a.parse::<std::net::IpAddr>().is_ok() {
            put(out, "source.ip", J::from(a));
        }
    }
    let failed = get(out, "aws.cloudtrail.error_code").is_some()
        || get(out, "aws.cloudtrail.error_message").is_some();
    let mut outcome = if failed { "failure" } else { "success" }.to_string();
    // A console sign-in says how it went in its response.
    if str_at(out, "event.action").as_deref() == Some("ConsoleLogin") {
        if let Some(r) = str_at(
            out,
            "aws.cloudtrail.flattened.response_elements.ConsoleLogin",
        ) {
            outcome = r.to_lowercase();
        }
    }
    put(out, "event.outcome", J::from(outcome));
    put(out, "event.type", J::from(vec!["info"]));
}

#[cfg(test)]
mod tests {
    use super::super::test_util::parse_one;
    use super::super::FormatSpec;

    #[test]
    fn a_record_keeps_its_keys_and_its_time() {
        let v = parse_one(
            &FormatSpec::Cloudtrail,
            r#"{"eventVersion":"1.08","eventTime":"2014-03-06T21:22:54Z","eventName":"StartInstances",
               "userIdentity":{"type":"IAMUser","accountId":"123456789012"},"requestParameters":null,
               "responseElements":{"a":null,"b":1}}"#,
        )
        .unwrap();
        assert_eq!(v["@timestamp"], "2014-03-06T21:22:54.000Z");
        assert_eq!(v["eventTime"], "2014-03-06T21:22:54Z");
        assert_eq!(v["eventName"], "StartInstances");
        assert_eq!(v["userIdentity"]["accountId"], "123456789012");
        assert!(v.get("requestParameters").is_none());
        assert_eq!(v["responseElements"], serde_json::json!({"b": 1}));
    }

    #[test]
    fn bad_records_say_why() {
        let e = parse_one(&FormatSpec::Cloudtrail, r#"{"eventName":"x"}"#).unwrap_err();
        assert_eq!(e.to_string(), "timestamp field eventTime is missing");
        let e = parse_one(&FormatSpec::Cloudtrail, r#"{"eventTime":"yesterday"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field eventTime: cannot parse time \"yesterday\""
        );
        let e =
            parse_one(&FormatSpec::Cloudtrail, r#"{"eventTime":"2014-03-06T21:22"#).unwrap_err();
        assert!(e.to_string().starts_with("line is not valid JSON"), "{e}");
        let e = parse_one(&FormatSpec::Cloudtrail, "[1]").unwrap_err();
        assert!(e.to_string().contains("not an object"), "{e}");
    }

    #[test]
    fn auto_recognises_the_keys_aws_writes_it_under() {
        super::super::route::tests::assert_recognised(
            super::super::LogFormat::Cloudtrail,
            &[
            ("b", "AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/01/123456789012_CloudTrail_us-east-1_20240101T0000Z_abcdefabcdefabcd.json.gz"),
            ("b", "AWSLogs/o-abc/123456789012/CloudTrail-Digest/us-east-2/2015/08/17/x.json.gz"),
            ],
        );
    }
}
