//! `cloudwatch`: CloudWatch Logs events, from the two ways they reach S3.
//!
//! - A subscription through Kinesis Data Firehose: each unit is one payload (a JSON document; the object
//!   holds them back to back, gzip inside gzip: the descriptor says so, [`Framing::ValuesOrLines`] and
//!   `compressed_twice`, and the object stage undoes it).
//!   A `DATA_MESSAGE` payload gives one event per `logEvents` entry, with `message`, `id`, `log_group`,
//!   `log_stream`, `owner`, `subscription_filters` and `@timestamp` from the entry's `timestamp`
//!   (epoch ms). A `CONTROL_MESSAGE` (Firehose's connectivity check) gives none and is counted as
//!   skipped.
//! - An export task (`CreateExportTask`): each unit is a line `<RFC 3339 time> <message>`.
//!
//! Each entry of a payload is its own record whose span is the entry's bytes, so its `_id` hashes the
//! entry (two entries never share an id) and a failure ships that entry alone. With `decode_json`, a
//! `message` that is a JSON object is also decoded into `json` (nulls removed, its deepest levels kept as
//! text past [`crate::fields::MAX_VALUE_DEPTH`]); one that is not is left as it is, without a failure.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value as J;

use super::descriptor::{Descriptor, Framing, ObjectLines};
use super::ecs::{Ecs, Rest};
use super::mapping::FieldType;
use super::tokens::parse_rfc3339;
use super::{ErrorKind, FormatOptions, FormatSpec, LineKind, LineOut, LogFormat, ParseError};
use crate::fields::{Timestamp, Value};

use FieldType::{Flattened, Keyword, Text};

/// `cloudwatch`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::Cloudwatch,
    name: "cloudwatch",
    doc: "CloudWatch Logs subscription payloads written by Firehose, and CloudWatch Logs export objects",
    options: &["decode_json"],
    required: &[],
    build,
    framing: Framing::ValuesOrLines,
    compressed_twice: true,
    parser,
    direct: None,
    fields: FIELDS,
    ecs: Some(&ECS),
    // Firehose and export tasks write under keys of the user's choosing: a `file_selectors` entry.
    recognises: None,
    not_a_log: None,
};

/// `log_format_options` of `cloudwatch`.
#[derive(Clone, Debug, Default)]
pub struct CloudwatchOptions {
    /// Decode a `message` that is a JSON object into `json` (`decode_json: true`). Default: false.
    pub decode_json: bool,
}

fn build(
    opts: &FormatOptions,
    _: &dyn Fn(&str) -> String,
) -> Result<FormatSpec, (&'static str, String)> {
    Ok(FormatSpec::Cloudwatch(CloudwatchOptions {
        decode_json: opts.decode_json.unwrap_or(false),
    }))
}

fn parser(spec: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    match spec {
        FormatSpec::Cloudwatch(opts) => Box::new(Units(opts)),
        other => unreachable!("cloudwatch's parser for {:?}", other.format()),
    }
}

/// [`ObjectLines`] of CloudWatch Logs units read with these options.
#[derive(Debug)]
struct Units<'s>(&'s CloudwatchOptions);

impl<'s> ObjectLines<'s> for Units<'s> {
    fn parse<'a>(&mut self, unit: &'a str, out: &mut LineOut<'a>) -> LineKind
    where
        's: 'a,
    {
        parse(self.0, unit, out)
    }
}

/// CloudWatch Logs event fields. `json` (`decode_json`) is flattened: log groups disagree on the types
/// of their keys, and a flattened field still answers `json.level: error`.
const FIELDS: &[(&str, FieldType)] = &[
    ("message", Text),
    ("id", Keyword),
    ("log_group", Keyword),
    ("log_stream", Keyword),
    ("owner", Keyword),
    ("subscription_filters", Keyword),
    ("json", Flattened),
];

/// `message` stays, the envelope goes under `aws.cloudwatch.` as Filebeat's `aws-cloudwatch` input names
/// it, the entry's id is `event.id` and the owner account `cloud.account.id`. `json` (`decode_json`) is
/// the log's own content and keeps its name, as `json` events do.
const ECS: Ecs = Ecs {
    dataset: "aws.cloudwatch",
    table: &[
        ("id", "event.id"),
        ("log_group", "aws.cloudwatch.log_group"),
        ("log_stream", "aws.cloudwatch.log_stream"),
        ("owner", "cloud.account.id"),
        (
            "subscription_filters",
            "aws.cloudwatch.subscription_filters",
        ),
        ("json", "json"),
    ],
    rest: Rest::Under("aws.cloudwatch."),
    category: None,
    conversions: &[],
    derive: None,
    derived: &[],
};

/// A subscription payload, borrowing from the unit.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    #[serde(borrow)]
    message_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    owner: Option<Cow<'a, str>>,
    #[serde(borrow)]
    log_group: Option<Cow<'a, str>>,
    #[serde(borrow)]
    log_stream: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    subscription_filters: Vec<Cow<'a, str>>,
    #[serde(default, borrow)]
    log_events: Vec<&'a RawValue>,
}

/// One `logEvents` entry.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    timestamp: Option<i64>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
}

/// Parses one unit (a payload, or an export line) into records of `out`.
pub fn parse<'a>(opts: &CloudwatchOptions, unit: &'a str, out: &mut LineOut<'a>) -> LineKind {
    if !unit.trim_start().starts_with('{') {
        let start = out.len();
        let r = export_line(opts, unit, out);
        out.finish(start, 0..unit.len(), r);
        return LineKind::Data;
    }
    let p: Payload<'a> = match serde_json::from_str(unit) {
        Ok(p) => p,
        Err(e) => {
            let err = ParseError::new(ErrorKind::BadJson(e.to_string()), "", unit);
            out.finish(out.len(), 0..unit.len(), Err(err));
            return LineKind::Data;
        }
    };
    match p.message_type.as_deref() {
        Some("DATA_MESSAGE") | None => {}
        Some("CONTROL_MESSAGE") => return LineKind::Skipped,
        Some(other) => {
            let err = ParseError::new(
                ErrorKind::NotThisFormat("a CloudWatch Logs DATA_MESSAGE or CONTROL_MESSAGE"),
                "messageType",
                other,
            );
            out.finish(out.len(), 0..unit.len(), Err(err));
            return LineKind::Data;
        }
    }
    if p.log_events.is_empty() && p.log_group.is_none() {
        let err = ParseError::new(
            ErrorKind::NotThisFormat("a CloudWatch Logs payload (logGroup, logEvents)"),
            "",
            unit,
        );
        out.finish(out.len(), 0..unit.len(), Err(err));
        return LineKind::Data;
    }
    for raw in &p.log_events {
        let text = raw.get();
        // The entry's place in the unit: RawValue borrows from it.
        let begin = text.as_ptr() as usize - unit.as_ptr() as usize;
        let span = begin..begin + text.len();
        let start = out.len();
        let r = entry(opts, &p, text, out);
        out.finish(start, span, r);
    }
    LineKind::Data
}

fn entry<'a>(
    opts: &CloudwatchOptions,
    p: &Payload<'a>,
    text: &'a str,
    out: &mut LineOut<'a>,
) -> Result<Timestamp, ParseError> {
    let e: Entry<'a> = serde_json::from_str(text)
        .map_err(|e| ParseError::new(ErrorKind::BadJson(e.to_string()), "", text))?;
    let ms = e
        .timestamp
        .ok_or_else(|| ParseError::new(ErrorKind::MissingTimestamp, "timestamp", ""))?;
    let message = e.message.unwrap_or_default();
    push_message(opts, message, out);
    if let Some(id) = e.id {
        out.push("id", Value::Str(id));
    }
    for (name, v) in [
        ("log_group", &p.log_group),
        ("log_stream", &p.log_stream),
        ("owner", &p.owner),
    ] {
        if let Some(v) = v {
            out.push(name, Value::Str(v.clone()));
        }
    }
    if !p.subscription_filters.is_empty() {
        out.push(
            "subscription_filters",
            Value::StrList(p.subscription_filters.clone()),
        );
    }
    Timestamp::from_epoch_millis(ms).ok_or_else(|| {
        ParseError::new(ErrorKind::TimestampOutOfRange, "timestamp", &ms.to_string())
    })
}

fn export_line<'a>(
    opts: &CloudwatchOptions,
    line: &'a str,
    out: &mut LineOut<'a>,
) -> Result<Timestamp, ParseError> {
    let (time, message) = line.split_once(' ').unwrap_or((line, ""));
    let ts = parse_rfc3339(time).ok_or_else(|| {
        ParseError::new(
            ErrorKind::NotThisFormat(
                "a CloudWatch Logs payload or an export line (<time> <message>)",
            ),
            "timestamp",
            time,
        )
    })?;
    push_message(opts, Cow::Borrowed(message), out);
    Ok(ts)
}

fn push_message<'a>(opts: &CloudwatchOptions, message: Cow<'a, str>, out: &mut LineOut<'a>) {
    if opts.decode_json && message.trim_start().starts_with('{') {
        if let Ok(J::Object(mut m)) = serde_json::from_str::<J>(&message) {
            m.retain(|_, v| !v.is_null());
            let mut v = J::Object(m);
            super::json::remove_nulls(&mut v);
            out.push_json("json", v);
        }
    }
    out.push("message", Value::Str(message));
}

#[cfg(test)]
mod tests {
    use super::super::{LineOut, LineParser};
    use super::*;

    fn records(
        opts: CloudwatchOptions,
        unit: &str,
    ) -> (LineKind, Vec<Result<serde_json::Value, String>>) {
        let spec = FormatSpec::Cloudwatch(opts);
        let mut p = LineParser::new(&spec);
        let mut out = LineOut::new();
        let kind = p.parse_line(unit, &mut out);
        let recs = out
            .records
            .iter()
            .map(|r| {
                let ts = r.result.clone().map_err(|e| e.to_string())?;
                let mut m = serde_json::Map::new();
                m.insert("@timestamp".into(), ts.to_rfc3339().into());
                m.insert("span".into(), unit[r.span.clone()].into());
                for (k, v) in out.fields_of(r) {
                    let mut b = Vec::new();
                    v.write_json(&mut b);
                    m.insert(k.to_string(), serde_json::from_slice(&b).unwrap());
                }
                Ok(serde_json::Value::Object(m))
            })
            .collect();
        (kind, recs)
    }

    const PAYLOAD: &str = r#"{"owner":"111111111111","logGroup":"CloudTrail/logs","logStream":"s1",
        "subscriptionFilters":["Destination"],"messageType":"DATA_MESSAGE","logEvents":[
        {"id":"1","timestamp":1432826855000,"message":"{\"a\":1,\"b\":null}"},
        {"id":"2","timestamp":1432826855001,"message":"plain text"}]}"#;

    #[test]
    fn one_event_per_log_event_with_the_payload_fields() {
        let (kind, r) = records(CloudwatchOptions::default(), PAYLOAD);
        assert_eq!(kind, LineKind::Data);
        assert_eq!(r.len(), 2);
        let a = r[0].as_ref().unwrap();
        assert_eq!(a["@timestamp"], "2015-05-28T15:27:35.000Z");
        assert_eq!(a["message"], "{\"a\":1,\"b\":null}");
        assert_eq!(a["id"], "1");
        assert_eq!(a["log_group"], "CloudTrail/logs");
        assert_eq!(a["log_stream"], "s1");
        assert_eq!(a["owner"], "111111111111");
        assert_eq!(
            a["subscription_filters"],
            serde_json::json!(["Destination"])
        );
        assert!(a["span"].as_str().unwrap().starts_with("{\"id\":\"1\""));
        assert!(a.get("json").is_none(), "decode_json is off by default");
        assert_eq!(
            r[1].as_ref().unwrap()["@timestamp"],
            "2015-05-28T15:27:35.001Z"
        );
    }

    #[test]
    fn decode_json_decodes_objects_and_leaves_the_rest() {
        let (_, r) = records(CloudwatchOptions { decode_json: true }, PAYLOAD);
        assert_eq!(r[0].as_ref().unwrap()["json"], serde_json::json!({"a": 1}));
        assert!(r[1].as_ref().unwrap().get("json").is_none());
    }

    #[test]
    fn control_messages_are_skipped_and_bad_payloads_fail() {
        let (kind, r) = records(
            CloudwatchOptions::default(),
            r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#,
        );
        assert_eq!(kind, LineKind::Skipped);
        assert!(r.is_empty());
        let (_, r) = records(
            CloudwatchOptions::default(),
            r#"{"logGroup":"g","logEvents":[{"id":"1","message":"m"}]}"#,
        );
        assert_eq!(
            r[0].as_ref().unwrap_err(),
            "timestamp field timestamp is missing"
        );
        let (_, r) = records(CloudwatchOptions::default(), r#"{"x":1}"#);
        assert!(r[0]
            .as_ref()
            .unwrap_err()
            .starts_with("not a CloudWatch Logs payload"));
    }

    #[test]
    fn export_lines() {
        let (_, r) = records(
            CloudwatchOptions::default(),
            "2024-05-01T10:00:00.123Z START RequestId: 8f5e Version: $LATEST",
        );
        let a = r[0].as_ref().unwrap();
        assert_eq!(a["@timestamp"], "2024-05-01T10:00:00.123Z");
        assert_eq!(a["message"], "START RequestId: 8f5e Version: $LATEST");
        let (_, r) = records(CloudwatchOptions::default(), "garbage line");
        assert!(r[0].as_ref().unwrap_err().contains("export line"), "{r:?}");
    }
}
