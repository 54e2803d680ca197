//! `custom`: lines matched by a regular expression from the config, for logs s3logsbeat has no parser
//! for (the original's roadmap item "custom logs").
//!
//! Each named group of `pattern` is a field, typed by `types` (`integer`, `float`, `boolean`, default
//! string); the `timestamp_field` group is read with `timestamp_format` and becomes `@timestamp` (not a
//! field, as for `json`). A group that did not take part in the match, is empty, or is `-` is left out. A
//! line the pattern does not match, or a group that is not of its type, is a failure naming the group.
//! Everything is compiled once at start-up ([`CustomSpec`]); a group may not be named like a field
//! s3logsbeat writes itself.

use std::borrow::Cow;

use super::descriptor::{Descriptor, Framing, ObjectLines};
use super::json::time_options;
use super::time::{TimeError, TimeFormat};
use super::tokens::{is_json_number, parse_i64};
use super::{
    required, ErrorKind, FormatOptions, FormatSpec, LineKind, LineOut, LogFormat, ParseError,
};
use crate::fields::{Name, Timestamp, Value};

/// `custom`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::Custom,
    name: "custom",
    doc: "a regular expression with named groups and per-field types, from the config",
    options: &["pattern", "types", "timestamp_field", "timestamp_format"],
    required: &["pattern", "timestamp_field", "timestamp_format"],
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

fn build(
    opts: &FormatOptions,
    name: &dyn Fn(&str) -> String,
) -> Result<FormatSpec, (&'static str, String)> {
    let pattern = opts
        .pattern
        .as_deref()
        .ok_or_else(|| required(name, "pattern", "custom"))?;
    let (timestamp_field, timestamp_format) = time_options(opts, name, "custom")?;
    Ok(FormatSpec::Custom(CustomSpec::new(
        pattern,
        &opts.types,
        timestamp_field,
        timestamp_format,
        name,
    )?))
}

fn parser(spec: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    match spec {
        FormatSpec::Custom(spec) => Box::new(Lines(spec)),
        other => unreachable!("custom's parser for {:?}", other.format()),
    }
}

/// [`ObjectLines`] of lines matched by one pattern.
#[derive(Debug)]
struct Lines<'s>(&'s CustomSpec);

impl<'s> ObjectLines<'s> for Lines<'s> {
    fn parse<'a>(&mut self, unit: &'a str, out: &mut LineOut<'a>) -> LineKind
    where
        's: 'a,
    {
        let start = out.len();
        let r = parse(self.0, unit, out);
        out.finish(start, 0..unit.len(), r);
        LineKind::Data
    }
}

/// `log_format_options` of `custom`, compiled once.
#[derive(Clone, Debug)]
pub struct CustomSpec {
    /// The expression; a line must match it (anywhere: anchor it with `^...$` to match whole lines).
    pub pattern: regex::Regex,
    /// Every named group but the time's, in the pattern's order: (group index, field name, type).
    pub fields: Vec<(usize, String, ValueType)>,
    /// The group holding the event time.
    pub timestamp_group: usize,
    /// Its name, for errors.
    pub timestamp_field: String,
    /// How the time is written.
    pub timestamp_format: TimeFormat,
}

/// The JSON type a `custom` field's text is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// Text, as matched.
    String,
    /// A signed 64-bit integer.
    Integer,
    /// A number.
    Float,
    /// `true` or `false`.
    Boolean,
}

impl CustomSpec {
    fn new(
        pattern: &str,
        types: &std::collections::BTreeMap<String, String>,
        timestamp_field: String,
        timestamp_format: TimeFormat,
        name: &dyn Fn(&str) -> String,
    ) -> Result<CustomSpec, (&'static str, String)> {
        let re = regex::Regex::new(pattern)
            .map_err(|e| ("pattern", format!("{}: {e}", name("pattern"))))?;
        let groups: Vec<(usize, &str)> = re
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (i, n)))
            .collect();
        if groups.is_empty() {
            return Err((
                "pattern",
                format!(
                    "{}: the pattern has no named group ((?P<name>...)): it would give no field",
                    name("pattern")
                ),
            ));
        }
        if let Some((_, n)) = groups.iter().find(|(_, n)| matches!(*n, "log" | "beat")) {
            return Err((
                "pattern",
                format!(
                    "{}: group {n:?} would replace a field s3logsbeat writes itself; rename it",
                    name("pattern")
                ),
            ));
        }
        let Some(&(ts_group, _)) = groups.iter().find(|(_, n)| *n == timestamp_field) else {
            return Err((
                "timestamp_field",
                format!(
                    "{}: {timestamp_field:?} is not a named group of the pattern ({})",
                    name("timestamp_field"),
                    groups.iter().map(|g| g.1).collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        for (field, t) in types {
            if !groups.iter().any(|(_, n)| n == field) {
                return Err((
                    "types",
                    format!(
                        "{}.{field}: not a named group of the pattern",
                        name("types")
                    ),
                ));
            }
            if *field == timestamp_field {
                return Err((
                    "types",
                    format!(
                        "{}.{field}: the time's group is read by timestamp_format, not typed",
                        name("types")
                    ),
                ));
            }
            if ValueType::from_name(t).is_none() {
                return Err((
                    "types",
                    format!(
                        "{}.{field}: unknown type {t:?}: integer, float, boolean or string",
                        name("types")
                    ),
                ));
            }
        }
        let fields = groups
            .iter()
            .filter(|(i, _)| *i != ts_group)
            .map(|(i, n)| {
                let t = types
                    .get(*n)
                    .and_then(|t| ValueType::from_name(t))
                    .unwrap_or(ValueType::String);
                (*i, n.to_string(), t)
            })
            .collect();
        Ok(CustomSpec {
            pattern: re,
            fields,
            timestamp_group: ts_group,
            timestamp_field,
            timestamp_format,
        })
    }
}

impl ValueType {
    fn from_name(s: &str) -> Option<ValueType> {
        Some(match s {
            "string" | "keyword" => ValueType::String,
            "integer" | "int" | "long" => ValueType::Integer,
            "float" | "double" | "number" => ValueType::Float,
            "boolean" | "bool" => ValueType::Boolean,
            _ => return None,
        })
    }
}

/// Parses one line into `out`.
pub fn parse<'a>(
    spec: &'a CustomSpec,
    line: &'a str,
    out: &mut LineOut<'a>,
) -> Result<Timestamp, ParseError> {
    let Some(caps) = spec.pattern.captures(line) else {
        return Err(ParseError::new(
            ErrorKind::NotThisFormat("a line matching the custom pattern"),
            "",
            line,
        ));
    };
    let time = caps
        .get(spec.timestamp_group)
        .map(|m| m.as_str())
        .filter(|t| !t.is_empty() && *t != "-")
        .ok_or_else(|| {
            ParseError::new(
                ErrorKind::MissingTimestamp,
                spec.timestamp_field.clone(),
                "",
            )
        })?;
    let ts = spec
        .timestamp_format
        .parse(&serde_json::Value::String(time.to_string()))
        .map_err(|why| {
            let kind = match why {
                TimeError::NotThisFormat => {
                    ErrorKind::TimestampType(spec.timestamp_format.expected())
                }
                TimeError::OutOfRange => ErrorKind::TimestampOutOfRange,
            };
            ParseError::new(kind, spec.timestamp_field.clone(), time)
        })?;
    for (group, name, kind) in &spec.fields {
        let Some(m) = caps.get(*group) else { continue };
        let v = m.as_str();
        if v.is_empty() || v == "-" {
            continue;
        }
        // The names are the config's group names: plain, and borrowed for as long as the line.
        let fail = |kind: ErrorKind| ParseError::new(kind, name.clone(), v);
        let value = match kind {
            ValueType::String => Value::Str(Cow::Borrowed(v)),
            ValueType::Integer => {
                Value::Int(parse_i64(v).ok_or_else(|| fail(ErrorKind::BadInteger))?)
            }
            ValueType::Float if is_json_number(v) => Value::Num(v),
            ValueType::Float => match v.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::Float(f),
                _ => return Err(fail(ErrorKind::BadNumber)),
            },
            ValueType::Boolean => match v {
                "true" | "True" | "TRUE" => Value::Json(true.into()),
                "false" | "False" | "FALSE" => Value::Json(false.into()),
                _ => return Err(fail(ErrorKind::NotThisFormat("a boolean (true or false)"))),
            },
        };
        out.push_named(Name::Borrowed(name.as_str()), value);
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::parse_one;
    use super::super::{FormatOptions, FormatSpec, LogFormat};
    use serde_json::json;

    fn spec(pattern: &str, types: &[(&str, &str)]) -> Result<FormatSpec, String> {
        let opts = FormatOptions {
            pattern: Some(pattern.into()),
            timestamp_field: Some("time".into()),
            timestamp_format: Some("timeISO8601".into()),
            types: types
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        FormatSpec::build(LogFormat::Custom, &opts, |o| format!("opts.{o}")).map_err(|e| e.1)
    }

    const PATTERN: &str =
        r"^(?P<time>\S+) (?P<level>\w+) (?P<bytes>\S+) (?P<ms>\S+) (?P<ok>\S+)(?: (?P<rest>.*))?$";

    #[test]
    fn groups_become_typed_fields() {
        let s = spec(
            PATTERN,
            &[("bytes", "integer"), ("ms", "float"), ("ok", "boolean")],
        )
        .unwrap();
        let v = parse_one(&s, "2024-01-02T03:04:05.5Z INFO 512 0.25 true hello there").unwrap();
        assert_eq!(
            v,
            json!({"@timestamp": "2024-01-02T03:04:05.500Z", "level": "INFO", "bytes": 512,
                   "ms": 0.25, "ok": true, "rest": "hello there"})
        );
        let v = parse_one(&s, "2024-01-02T03:04:05Z INFO - - false").unwrap();
        assert_eq!(
            v,
            json!({"@timestamp": "2024-01-02T03:04:05.000Z", "level": "INFO", "ok": false})
        );
    }

    #[test]
    fn failures_name_the_group() {
        let s = spec(PATTERN, &[("bytes", "integer"), ("ok", "boolean")]).unwrap();
        let e = parse_one(&s, "2024-01-02T03:04:05Z INFO 5x 1 true").unwrap_err();
        assert_eq!(e.to_string(), "field bytes: \"5x\" is not an integer");
        let e = parse_one(&s, "2024-01-02T03:04:05Z INFO 5 1 maybe").unwrap_err();
        assert!(e.to_string().contains("not a boolean"), "{e}");
        let e = parse_one(&s, "nonsense").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("not a line matching the custom pattern"),
            "{e}"
        );
        let e = parse_one(&s, "yesterday INFO 5 1 true").unwrap_err();
        assert!(e.to_string().contains("timestamp field time"), "{e}");
    }

    #[test]
    fn config_errors_are_caught_when_built() {
        let e = spec("(?P<time>", &[]).unwrap_err();
        assert!(e.starts_with("opts.pattern: regex parse error"), "{e}");
        let e = spec(r"(?P<when>\S+)", &[]).unwrap_err();
        assert_eq!(
            e,
            "opts.timestamp_field: \"time\" is not a named group of the pattern (when)"
        );
        let e = spec(PATTERN, &[("nope", "integer")]).unwrap_err();
        assert_eq!(e, "opts.types.nope: not a named group of the pattern");
        let e = spec(PATTERN, &[("bytes", "int64")]).unwrap_err();
        assert!(e.contains("unknown type \"int64\""), "{e}");
        let e = spec(r"(?P<time>\S+) (?P<log>.*)", &[]).unwrap_err();
        assert!(e.contains("group \"log\""), "{e}");
        let e = spec(r"\S+", &[]).unwrap_err();
        assert!(e.contains("no named group"), "{e}");
    }
}
