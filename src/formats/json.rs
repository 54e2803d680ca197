//! `json`: one JSON object per line (several back to back are several records), with a timestamp field
//! and format from the config; the JSON reader the other JSON formats (WAF, Network Firewall,
//! Route 53 Resolver, CloudTrail) are built on.
//!
//! The timestamp field becomes `@timestamp` and is removed; every other top-level key becomes a field,
//! with nulls removed at every depth (as libbeat did, so WAF's `requestId: null` disappears). A value
//! nested deeper than a document may keeps its deepest objects and arrays as their JSON text
//! ([`LineOut::push_json`]), and a time outside the years 0000 to 9999 is a parse failure. Its fields are
//! the log's own: the template maps them dynamically, and ECS leaves them as they are.
//!
//! Differences from the original, each deliberate: several JSON values on one line (Firehose
//! concatenates records) each become an event instead of all but the first being dropped silently; a
//! `timestamp_field` with dots is looked up as a path when no top-level key has that name; and a top-level
//! key that would collide with a field s3logsbeat adds (`@timestamp`, `@metadata`, `log`, `beat`) is kept
//! with an underscore in front (`_log`) instead of producing a document with a duplicate key.

use serde_json::{Map, Value as J};

use super::descriptor::{Descriptor, Framing, ObjectLines};
use super::time::{TimeError, TimeFormat};
use super::{
    required, ErrorKind, FormatOptions, FormatSpec, LineKind, LineOut, LogFormat, ParseError,
};
use crate::fields::{Name, Timestamp};

/// `json`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::Json,
    name: "json",
    doc: "JSON lines with a configured timestamp field and format",
    options: &["timestamp_field", "timestamp_format"],
    required: &["timestamp_field", "timestamp_format"],
    build,
    framing: Framing::Lines,
    compressed_twice: false,
    parser,
    direct: None,
    fields: &[],
    ecs: None,
    recognises: None,
    not_a_log: None,
};

/// `log_format_options` of the `json` format.
#[derive(Clone, Debug)]
pub struct JsonOptions {
    /// The key that holds the event time (a top-level key, or a dotted path).
    pub timestamp_field: String,
    /// How that time is written.
    pub timestamp_format: TimeFormat,
}

fn build(
    opts: &FormatOptions,
    name: &dyn Fn(&str) -> String,
) -> Result<FormatSpec, (&'static str, String)> {
    let (timestamp_field, timestamp_format) = time_options(opts, name, "json")?;
    Ok(FormatSpec::Json(JsonOptions {
        timestamp_field,
        timestamp_format,
    }))
}

/// The required `timestamp_field` and `timestamp_format` of `format` (`json`, `custom`), the layout
/// compiled.
pub(super) fn time_options(
    opts: &FormatOptions,
    name: &dyn Fn(&str) -> String,
    format: &str,
) -> Result<(String, TimeFormat), (&'static str, String)> {
    let field = opts.timestamp_field.as_deref().filter(|f| !f.is_empty());
    let field = field.ok_or_else(|| required(name, "timestamp_field", format))?;
    let fmt = opts
        .timestamp_format
        .as_deref()
        .ok_or_else(|| required(name, "timestamp_format", format))?;
    let tf = TimeFormat::from_config(fmt).map_err(|m| {
        (
            "timestamp_format",
            format!("{}: {m}", name("timestamp_format")),
        )
    })?;
    Ok((field.to_string(), tf))
}

fn parser(spec: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    match spec {
        FormatSpec::Json(opts) => Box::new(Lines(opts)),
        other => unreachable!("json's parser for {:?}", other.format()),
    }
}

/// [`ObjectLines`] of JSON lines read with these options.
#[derive(Debug)]
pub struct Lines<'s>(pub &'s JsonOptions);

impl<'s> ObjectLines<'s> for Lines<'s> {
    fn parse<'a>(&mut self, unit: &'a str, out: &mut LineOut<'a>) -> LineKind
    where
        's: 'a,
    {
        parse(self.0, unit, out);
        LineKind::Data
    }
}

/// Top-level keys that s3logsbeat writes itself.
const RESERVED: [&str; 4] = ["@timestamp", "@metadata", "log", "beat"];

/// Parses every JSON value on `line` into records of `out`.
pub fn parse<'a>(opts: &JsonOptions, line: &'a str, out: &mut LineOut<'a>) {
    parse_values(line, out, |v, text, out| record(opts, v, text, out));
}

/// Reads every JSON value on `line` (Firehose concatenates records, and a line may hold several), each
/// a record of `out` made by `record` from the value and its text; a line that stops being JSON is one
/// failure from there to its end.
/// A record's fields and time from one decoded JSON value (and the value's text, for errors).
pub type RecordFn = for<'a> fn(J, &str, &mut LineOut<'a>) -> Result<Timestamp, ParseError>;

/// [`ObjectLines`] of a JSON-lines format with fixed rules (Network Firewall, Route 53 Resolver): every
/// JSON value of a line is a record, read by the format's [`RecordFn`].
#[derive(Debug)]
pub struct Records(pub RecordFn);

impl<'s> ObjectLines<'s> for Records {
    fn parse<'a>(&mut self, unit: &'a str, out: &mut LineOut<'a>) -> LineKind
    where
        's: 'a,
    {
        parse_values(unit, out, self.0);
        LineKind::Data
    }
}

pub(super) fn parse_values<'a>(
    line: &'a str,
    out: &mut LineOut<'a>,
    mut record: impl FnMut(J, &str, &mut LineOut<'a>) -> Result<Timestamp, ParseError>,
) {
    let mut stream = serde_json::Deserializer::from_str(line).into_iter::<J>();
    let mut start = first_non_ws(line, 0);
    loop {
        if start >= line.len() {
            break;
        }
        let begin = out.len();
        match stream.next() {
            None => break,
            Some(Err(e)) => {
                let err = ParseError::new(ErrorKind::BadJson(e.to_string()), "", &line[start..]);
                out.finish(begin, start..line.len(), Err(err));
                // The rest of the line cannot be resynchronised: it is all in this failure's message.
                break;
            }
            Some(Ok(v)) => {
                let end = stream.byte_offset();
                let r = record(v, &line[start..end], out);
                out.finish(begin, start..end, r);
            }
        }
        start = first_non_ws(line, stream.byte_offset());
    }
}

fn first_non_ws(s: &str, from: usize) -> usize {
    s.as_bytes()[from..]
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .map_or(s.len(), |p| from + p)
}

fn record<'a>(
    opts: &JsonOptions,
    v: J,
    text: &str,
    out: &mut LineOut<'a>,
) -> Result<Timestamp, ParseError> {
    let J::Object(mut map) = v else {
        return Err(ParseError::new(ErrorKind::NotAnObject, "", text));
    };
    let field = opts.timestamp_field.as_str();
    let raw = match map.remove(field) {
        Some(t) => Some(t),
        None if field.contains('.') => take_path(&mut map, field),
        None => None,
    };
    let raw = match raw {
        Some(J::Null) | None => {
            return Err(ParseError::new(
                ErrorKind::MissingTimestamp,
                field.to_string(),
                "",
            ))
        }
        Some(r) => r,
    };
    let ts = opts.timestamp_format.parse(&raw).map_err(|why| {
        let shown = match &raw {
            J::String(s) => s.clone(),
            other => other.to_string(),
        };
        let kind = match why {
            TimeError::NotThisFormat => ErrorKind::TimestampType(opts.timestamp_format.expected()),
            TimeError::OutOfRange => ErrorKind::TimestampOutOfRange,
        };
        ParseError::new(kind, field.to_string(), &shown)
    })?;
    push_object(map, out);
    Ok(ts)
}

/// Pushes every key of `map` as a field, nulls removed at every depth.
pub(super) fn push_object<'a>(map: Map<String, J>, out: &mut LineOut<'a>) {
    // A key s3logsbeat writes itself is kept with a `_` in front, and with more until it is unique
    // (`{"log":1,"_log":2}` gives `__log` and `_log`): a document never has a key twice.
    let taken: Vec<String> = if map.keys().any(|k| RESERVED.contains(&k.as_str())) {
        map.keys().cloned().collect()
    } else {
        Vec::new()
    };
    let mut renamed: Vec<String> = Vec::new();
    for (k, mut v) in map {
        if v.is_null() {
            continue;
        }
        remove_nulls(&mut v);
        let name: Name<'a> = if RESERVED.contains(&k.as_str()) {
            let mut n = format!("_{k}");
            while taken.contains(&n) || renamed.contains(&n) {
                n.insert(0, '_');
            }
            renamed.push(n.clone());
            Name::Owned(n)
        } else {
            Name::Owned(k)
        };
        out.push_json(name, v);
    }
}

/// Removes and returns the value at a dotted path (`a.b.c`).
fn take_path(map: &mut Map<String, J>, path: &str) -> Option<J> {
    let mut parts = path.split('.').peekable();
    let mut cur = map;
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            return cur.remove(p);
        }
        cur = cur.get_mut(p)?.as_object_mut()?;
    }
    None
}

pub(super) fn remove_nulls(v: &mut J) {
    match v {
        J::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(remove_nulls);
        }
        J::Array(a) => a.iter_mut().for_each(remove_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FormatSpec, LineOut, LineParser};
    use super::*;
    use serde_json::json;

    fn records(spec: &FormatSpec, line: &str) -> Vec<(usize, Result<J, String>)> {
        let mut p = LineParser::new(spec);
        let mut out = LineOut::new();
        p.parse_line(line, &mut out);
        out.records
            .iter()
            .map(|r| {
                let res = r.result.clone().map_err(|e| e.to_string()).map(|ts| {
                    let mut m = Map::new();
                    m.insert("@timestamp".into(), ts.to_rfc3339().into());
                    for (k, v) in out.fields_of(r) {
                        let mut b = Vec::new();
                        v.write_json(&mut b);
                        m.insert(k.to_string(), serde_json::from_slice(&b).unwrap());
                    }
                    J::Object(m)
                });
                (r.span.start, res)
            })
            .collect()
    }

    fn json_spec(field: &str, fmt: &str) -> FormatSpec {
        FormatSpec::Json(JsonOptions {
            timestamp_field: field.into(),
            timestamp_format: TimeFormat::from_config(fmt).unwrap(),
        })
    }

    #[test]
    fn waf_line_drops_nulls_and_the_timestamp_key() {
        let spec = FormatSpec::Waf;
        let r = records(
            &spec,
            r#"{"timestamp":1553360693208,"formatVersion":1,"requestId":null,"h":{"a":null,"b":[null,1]}}"#,
        );
        assert_eq!(
            r[0].1.clone().unwrap(),
            json!({"@timestamp":"2019-03-23T17:04:53.208Z","formatVersion":1,"h":{"b":[null,1]}})
        );
    }

    #[test]
    fn several_values_on_one_line_each_become_a_record() {
        let spec = FormatSpec::Waf;
        let r = records(&spec, r#"  {"timestamp":1,"a":1} {"timestamp":2,"b":2}{"x"#);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].0, 2);
        assert_eq!(r[1].0, 24);
        assert_eq!(r[1].1.clone().unwrap()["b"], 2);
        assert_eq!(r[2].0, 45);
        assert!(r[2].1.clone().unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn errors_name_the_problem() {
        let spec = FormatSpec::Waf;
        assert_eq!(
            records(&spec, "[1,2]")[0].1.clone().unwrap_err(),
            "JSON value is not an object: \"[1,2]\""
        );
        assert_eq!(
            records(&spec, r#"{"ts":1}"#)[0].1.clone().unwrap_err(),
            "timestamp field timestamp is missing"
        );
        assert_eq!(
            records(&spec, r#"{"timestamp":"soon"}"#)[0]
                .1
                .clone()
                .unwrap_err(),
            "timestamp field timestamp: \"soon\" is not epoch milliseconds"
        );
    }

    #[test]
    fn dotted_timestamp_field_and_reserved_keys() {
        let spec = json_spec("a.ts", "timeUnixMilliseconds");
        let v = records(
            &spec,
            r#"{"a":{"ts":1553360693208,"k":1},"log":"x","@timestamp":"y"}"#,
        )
        .remove(0)
        .1
        .unwrap();
        assert_eq!(
            v,
            json!({"@timestamp":"2019-03-23T17:04:53.208Z","a":{"k":1},"_log":"x","_@timestamp":"y"})
        );
    }
}
