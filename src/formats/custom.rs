//! `custom`: lines matched by a regular expression from the config, for logs s3logsbeat has no parser
//! for (the original's roadmap item "custom logs").
//!
//! Each named group of `pattern` is a field, typed by `types` (`integer`, `float`, `boolean`, default
//! string); the `timestamp_field` group is read with `timestamp_format` and becomes `@timestamp` (not a
//! field, as for `json`). A group that did not take part in the match, is empty, or is `-` is left out. A
//! line the pattern does not match, or a group that is not of its type, is a failure naming the group.
//! Everything is compiled once at start-up ([`crate::config::CustomSpec`]).

use std::borrow::Cow;

use super::time::TimeError;
use super::tokens::{is_json_number, parse_i64};
use super::{ErrorKind, LineOut, ParseError};
use crate::config::{CustomSpec, FieldType};
use crate::event::{Name, Timestamp, Value};

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
            FieldType::String => Value::Str(Cow::Borrowed(v)),
            FieldType::Integer => {
                Value::Int(parse_i64(v).ok_or_else(|| fail(ErrorKind::BadInteger))?)
            }
            FieldType::Float if is_json_number(v) => Value::Num(v),
            FieldType::Float => match v.parse::<f64>() {
                Ok(f) if f.is_finite() => Value::Float(f),
                _ => return Err(fail(ErrorKind::BadNumber)),
            },
            FieldType::Boolean => match v {
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
    use crate::config::{FormatOptions, FormatSpec, LogFormat};
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
