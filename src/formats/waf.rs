//! `waf`: AWS WAF logs, one JSON object per line with `timestamp` in epoch milliseconds: [`super::json`]
//! with those fixed options. Objects come from Firehose (`aws-waf-logs-*` streams) or from WAF's own
//! delivery to S3 (`AWSLogs/<account>/WAFLogs/`).
//!
//! Its fields are WAF's own keys (`action`, `httpRequest.clientIp`, ...); the nested lists (headers,
//! labels, rule groups) are mapped dynamically. Under ECS the request's fields get ECS names and every
//! other key goes under `aws.waf.` in snake_case, as Elastic's `waf` pipeline writes them.

use super::descriptor::{Descriptor, Framing, ObjectLines};
use super::ecs::{Ecs, Rest};
use super::json::{self, JsonOptions};
use super::mapping::FieldType;
use super::time::TimeFormat;
use super::{FormatOptions, FormatSpec, LineKind, LineOut, LogFormat};

use FieldType::{Ip, Keyword, Long};

/// `waf`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::Waf,
    name: "waf",
    doc: "AWS WAF logs (JSON lines, `timestamp` in epoch milliseconds)",
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
    Ok(FormatSpec::Waf)
}

fn parser(_: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    Box::new(Lines(JsonOptions {
        timestamp_field: "timestamp".to_string(),
        timestamp_format: TimeFormat::UnixMillis,
    }))
}

/// [`ObjectLines`] of WAF's JSON lines.
#[derive(Debug)]
struct Lines(JsonOptions);

impl<'s> ObjectLines<'s> for Lines {
    fn parse<'a>(&mut self, unit: &'a str, out: &mut LineOut<'a>) -> LineKind
    where
        's: 'a,
    {
        json::parse(&self.0, unit, out);
        LineKind::Data
    }
}

/// `AWSLogs/<account>/WAFLogs/`, or a Firehose stream's `aws-waf-logs-` name in the bucket or key.
fn recognises(bucket: &str, key: &str) -> bool {
    key.contains("/WAFLogs/")
        || bucket.starts_with("aws-waf-logs-")
        || key.contains("aws-waf-logs-")
}

/// AWS WAF log fields (JSON; the nested lists are mapped by the dynamic templates).
const FIELDS: &[(&str, FieldType)] = &[
    ("action", Keyword),
    ("formatVersion", Long),
    ("httpRequest.args", Keyword),
    ("httpRequest.clientIp", Ip),
    ("httpRequest.country", Keyword),
    ("httpRequest.httpMethod", Keyword),
    ("httpRequest.httpVersion", Keyword),
    ("httpRequest.requestId", Keyword),
    ("httpRequest.uri", Keyword),
    ("httpSourceId", Keyword),
    ("httpSourceName", Keyword),
    ("terminatingRuleId", Keyword),
    ("terminatingRuleType", Keyword),
    ("webaclId", Keyword),
    ("responseCodeSent", Long),
    ("captchaResponse.responseCode", Long),
    ("captchaResponse.solveTimestamp", Long),
    ("captchaResponse.failureReason", Keyword),
    ("challengeResponse.responseCode", Long),
    ("challengeResponse.solveTimestamp", Long),
    ("challengeResponse.failureReason", Keyword),
];

/// The request's ECS fields; every other field goes under `aws.waf.` in snake_case.
const ECS: Ecs = Ecs {
    dataset: "aws.waf",
    table: &[
        ("action", "event.action"),
        ("httpRequest.clientIp", "source.ip"),
        ("httpRequest.country", "source.geo.country_iso_code"),
        ("httpRequest.httpMethod", "http.request.method"),
        ("httpRequest.uri", "url.path"),
        ("httpRequest.args", "url.query"),
        ("httpRequest.httpVersion", "http.version"),
        ("httpRequest.requestId", "http.request.id"),
        ("responseCodeSent", "http.response.status_code"),
    ],
    rest: Rest::Snake("aws.waf."),
    category: Some("web"),
    conversions: &[],
    derive: None,
    derived: &[],
};

#[cfg(test)]
mod tests {
    #[test]
    fn auto_recognises_the_keys_aws_writes_it_under() {
        super::super::route::tests::assert_recognised(
            super::super::LogFormat::Waf,
            &[
                (
                    "aws-waf-logs-prod",
                    "2024/01/01/00/firehose-1-2024-01-01-00-00-00-uuid",
                ),
                (
                    "b",
                    "AWSLogs/123456789012/WAFLogs/us-east-1/acl/2024/01/01/00/00/x.log.gz",
                ),
            ],
        );
    }
}
