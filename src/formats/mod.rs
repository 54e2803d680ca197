//! Log formats: one unit of text in (a line; for `cloudtrail` one record, for `cloudwatch` one payload, as
//! the object stage frames them), zero or more parsed records out; and everything else about each format,
//! in the format's own module.
//!
//! Each format is one file here holding its parser, its options and their validation, its framing, its
//! fields and their mapping types, its ECS names, the key layouts `log_format: auto` recognises and the
//! objects AWS writes beside its logs, gathered in one static [`Descriptor`]. This file is the list of
//! them ([`ALL`], [`LogFormat`], [`FormatSpec`]); the config, routing, the object stage, the index
//! template and the ECS step read the descriptors and name no format.
//!
//! `formats` is a library the rest of the program stands on: it imports nothing of `config` (which
//! imports it to check `log_format` and its options) and of the event only the value types a record is
//! made of and the [`crate::fields::FieldSink`] fixed-column formats write through.
//!
//! To add a format: a file here with its parser and `pub const FORMAT: Descriptor`, its variant in
//! [`LogFormat`] and [`FormatSpec`] and its descriptor in [`ALL`]; a sample in `tests/data/samples`, a
//! golden file (`UPDATE_GOLDEN=1 cargo test --test component format_golden`).
//!
//! What must stay true: a format's name is written in its own file and here only; every field a parser
//! writes is in its descriptor's `fields` (`tests/component/template.rs` parses every sample and checks); a line
//! never panics a parser and never disappears (see [`line`]).

pub mod alb;
pub mod alb_connection;
pub mod cloudfront;
pub mod cloudtrail;
pub mod cloudwatch;
pub mod custom;
pub mod descriptor;
pub mod ecs;
pub mod elb;
pub mod json;
pub mod line;
pub mod mapping;
pub mod network_firewall;
pub mod nlb;
pub mod plain;
pub mod route;
pub mod route53_resolver;
pub mod s3access;
pub mod time;
pub mod timestamps;
pub mod tokens;
pub mod vpcflow;
pub mod waf;

use std::fmt;

pub use cloudwatch::CloudwatchOptions;
pub use custom::{CustomSpec, ValueType};
pub use descriptor::{
    ArrayShape, AtEnd, Descriptor, DirectFn, Framing, LineParser, ObjectLines, Single,
};
pub use json::JsonOptions;
pub use line::{ErrorKind, LineKind, LineOut, ParseError, ParseErrorInner, Record};
pub use mapping::FieldType;
pub use time::TimeFormat;

/// Every format, in the order the documentation lists them.
pub static ALL: [&Descriptor; 15] = [
    &alb::FORMAT,
    &elb::FORMAT,
    &cloudfront::FORMAT,
    &waf::FORMAT,
    &json::FORMAT,
    &vpcflow::FORMAT,
    &s3access::FORMAT,
    &nlb::FORMAT,
    &alb_connection::FORMAT,
    &cloudtrail::FORMAT,
    &cloudwatch::FORMAT,
    &custom::FORMAT,
    &network_firewall::FORMAT,
    &route53_resolver::FORMAT,
    &plain::FORMAT,
];

/// The `log_format` of an input: a format, or `auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // Each variant is documented by its descriptor's `doc`.
pub enum LogFormat {
    Alb,
    Elb,
    Cloudfront,
    Waf,
    Json,
    Vpcflow,
    S3access,
    Nlb,
    AlbConnection,
    Cloudtrail,
    Cloudwatch,
    Custom,
    NetworkFirewall,
    Route53Resolver,
    Plain,
    /// Not a format: the format of each object is recognised from its key (an input's `log_format`,
    /// `parse --format auto`).
    Auto,
}

impl LogFormat {
    /// Every format, in the order the documentation lists them (`auto` is not one).
    pub fn all() -> impl Iterator<Item = LogFormat> {
        ALL.iter().map(|d| d.format)
    }

    /// Its descriptor; `None` for `auto`.
    pub fn descriptor(self) -> Option<&'static Descriptor> {
        ALL.iter().copied().find(|d| d.format == self)
    }

    /// The config name, also sent as `@metadata.format`.
    pub fn name(self) -> &'static str {
        self.descriptor().map_or("auto", |d| d.name)
    }

    /// Parses a config name (`auto` is not a format's).
    pub fn from_name(s: &str) -> Option<LogFormat> {
        ALL.iter().find(|d| d.name == s).map(|d| d.format)
    }

    /// The names, for messages: `alb, elb, cloudfront, waf or json`.
    pub fn names() -> String {
        let n: Vec<&str> = ALL.iter().map(|d| d.name).collect();
        join_names(&n, "or")
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every `log_format` value the config takes, for serde's "expected one of" message.
static CONFIG_NAMES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    ALL.iter()
        .map(|d| d.name)
        .chain(std::iter::once("auto"))
        .collect()
});

impl<'de> serde::Deserialize<'de> for LogFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LogFormat, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        match s.as_ref() {
            "auto" => Ok(LogFormat::Auto),
            name => LogFormat::from_name(name)
                .ok_or_else(|| serde::de::Error::unknown_variant(name, CONFIG_NAMES.as_slice())),
        }
    }
}

impl serde::Serialize for LogFormat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// `a, b and c` (or with `or`).
pub fn join_names(names: &[&str], word: &str) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}

/// A format with its options, validated once and shared by every object of an input.
#[derive(Clone, Debug)]
#[allow(missing_docs)] // Each variant is documented by its descriptor's `doc`.
pub enum FormatSpec {
    Alb,
    Elb,
    Cloudfront,
    Waf,
    Json(JsonOptions),
    Vpcflow,
    S3access,
    Nlb,
    AlbConnection,
    Cloudtrail,
    Cloudwatch(CloudwatchOptions),
    Custom(CustomSpec),
    NetworkFirewall,
    Route53Resolver,
    Plain,
}

impl FormatSpec {
    /// The format's name.
    pub fn format(&self) -> LogFormat {
        match self {
            FormatSpec::Alb => LogFormat::Alb,
            FormatSpec::Elb => LogFormat::Elb,
            FormatSpec::Cloudfront => LogFormat::Cloudfront,
            FormatSpec::Waf => LogFormat::Waf,
            FormatSpec::Json(_) => LogFormat::Json,
            FormatSpec::Vpcflow => LogFormat::Vpcflow,
            FormatSpec::S3access => LogFormat::S3access,
            FormatSpec::Nlb => LogFormat::Nlb,
            FormatSpec::AlbConnection => LogFormat::AlbConnection,
            FormatSpec::Cloudtrail => LogFormat::Cloudtrail,
            FormatSpec::Cloudwatch(_) => LogFormat::Cloudwatch,
            FormatSpec::Custom(_) => LogFormat::Custom,
            FormatSpec::NetworkFirewall => LogFormat::NetworkFirewall,
            FormatSpec::Route53Resolver => LogFormat::Route53Resolver,
            FormatSpec::Plain => LogFormat::Plain,
        }
    }

    /// The format's descriptor.
    pub fn descriptor(&self) -> &'static Descriptor {
        self.format()
            .descriptor()
            .expect("a FormatSpec is never auto")
    }

    /// Builds a format from its name and its options; the error names the option (`timestamp_field`,
    /// `pattern`, ...) and says what is wrong, writing the option as `name(option)`, so that the config
    /// and the `parse` flags share one set of rules. An option the format does not take is an error.
    pub fn build(
        format: LogFormat,
        opts: &FormatOptions,
        name: impl Fn(&str) -> String,
    ) -> Result<FormatSpec, (&'static str, String)> {
        let Some(d) = format.descriptor() else {
            return Err((
                "log_format",
                "auto is not a format: the format is recognised per object (an input's log_format, or parse --format auto --key)".to_string(),
            ));
        };
        for (o, given) in opts.given() {
            if given && !d.options.contains(&o) {
                let takers: Vec<&str> = ALL
                    .iter()
                    .filter(|t| t.options.contains(&o))
                    .map(|t| t.name)
                    .collect();
                return Err((
                    o,
                    format!(
                        "{} only applies to log_format {}, not {format}",
                        name(o),
                        join_names(&takers, "and")
                    ),
                ));
            }
        }
        (d.build)(opts, &name)
    }
}

/// A format's options as given (`log_format_options`, or `parse`'s flags), before [`FormatSpec::build`]
/// checks them against the format's [`Descriptor::options`].
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FormatOptions {
    /// `json`, `custom`: the key (json) or named group (custom) holding the event time. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_field: Option<String>,
    /// `json`, `custom`: `timeUnixMilliseconds`, `timeUnixSeconds`, `timeISO8601`, `time:<Go layout>`
    /// or `time:<strftime layout>`. Required with `timestamp_field`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_format: Option<String>,
    /// `cloudwatch`: also decode a `message` that is a JSON object into `json`. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_json: Option<bool>,
    /// `custom`: a regular expression whose named groups are the fields. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// `custom`: the type of named groups that are not strings: `integer`, `float` or `boolean` (or
    /// `string`). Default: every group is a string.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub types: std::collections::BTreeMap<String, String>,
}

impl FormatOptions {
    /// Each option's name and whether it was given.
    fn given(&self) -> [(&'static str, bool); 5] {
        [
            ("timestamp_field", self.timestamp_field.is_some()),
            ("timestamp_format", self.timestamp_format.is_some()),
            ("decode_json", self.decode_json.is_some()),
            ("pattern", self.pattern.is_some()),
            ("types", !self.types.is_empty()),
        ]
    }
}

/// The error of an option that `format` requires and was not given.
pub fn required(
    name: &dyn Fn(&str) -> String,
    o: &'static str,
    format: &str,
) -> (&'static str, String) {
    (
        o,
        format!("{} is required for log_format {format}", name(o)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_is_listed_once_under_its_own_name() {
        for (i, d) in ALL.iter().enumerate() {
            assert_eq!(LogFormat::from_name(d.name), Some(d.format), "{}", d.name);
            assert_eq!(d.format.descriptor().map(|x| x.name), Some(d.name));
            assert!(
                d.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}: a plain word, written into documents unescaped",
                d.name
            );
            assert!(ALL[i + 1..].iter().all(|o| o.format != d.format));
            for o in d.required {
                assert!(
                    d.options.contains(o),
                    "{}: {o} is required but not taken",
                    d.name
                );
            }
        }
        assert_eq!(LogFormat::all().count(), ALL.len());
        assert!(LogFormat::Auto.descriptor().is_none());
        assert_eq!(LogFormat::Auto.name(), "auto");
    }

    #[test]
    fn options_a_format_does_not_take_are_refused_naming_those_that_do() {
        let opts = FormatOptions {
            decode_json: Some(true),
            ..Default::default()
        };
        let e = FormatSpec::build(LogFormat::Alb, &opts, |o| format!("x.{o}")).unwrap_err();
        assert_eq!(
            e,
            (
                "decode_json",
                "x.decode_json only applies to log_format cloudwatch, not alb".to_string()
            )
        );
        let opts = FormatOptions {
            timestamp_field: Some("t".into()),
            ..Default::default()
        };
        let e = FormatSpec::build(LogFormat::Cloudwatch, &opts, str::to_string).unwrap_err();
        assert!(
            e.1.contains("only applies to log_format json and custom, not cloudwatch"),
            "{e:?}"
        );
    }

    #[test]
    fn log_format_reads_every_name_and_auto() {
        #[derive(serde::Deserialize)]
        struct C {
            f: LogFormat,
        }
        for d in ALL {
            let c: C = serde_json::from_str(&format!("{{\"f\":\"{}\"}}", d.name)).unwrap();
            assert_eq!(c.f, d.format);
        }
        let c: C = serde_json::from_str(r#"{"f":"auto"}"#).unwrap();
        assert_eq!(c.f, LogFormat::Auto);
        let e = serde_json::from_str::<C>(r#"{"f":"apache"}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("unknown variant `apache`, expected one of `alb`"),
            "{e}"
        );
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Helpers for the per-format unit tests.
    use super::*;
    use crate::fields::Timestamp;

    /// Parses one line and returns its single record as JSON (`@timestamp` included), or the error.
    pub fn parse_one(spec: &FormatSpec, line: &str) -> Result<serde_json::Value, ParseError> {
        let mut p = LineParser::new(spec);
        let mut out = LineOut::new();
        p.parse_line(line, &mut out);
        assert_eq!(out.records.len(), 1, "one record for {line:?}");
        let r = &out.records[0];
        let ts = r.result.clone()?;
        Ok(record_json(&out, r, ts))
    }

    /// A record's fields as JSON, with `@timestamp`; a field written twice fails the test.
    pub fn record_json(out: &LineOut<'_>, r: &Record, ts: Timestamp) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("@timestamp".into(), ts.to_rfc3339().into());
        for (k, v) in out.fields_of(r) {
            let mut b = Vec::new();
            v.write_json(&mut b);
            let prev = m.insert(k.to_string(), serde_json::from_slice(&b).unwrap());
            assert!(prev.is_none(), "field {k} written twice");
        }
        serde_json::Value::Object(m)
    }

    /// Parses the lines of one object: the first record of each data line as JSON, or the error text
    /// (header lines give nothing).
    pub fn parse_lines(
        spec: &FormatSpec,
        lines: &[&str],
    ) -> Vec<Result<serde_json::Value, String>> {
        let mut p = LineParser::new(spec);
        let mut res = Vec::new();
        for l in lines {
            let mut out = LineOut::new();
            if p.parse_line(l, &mut out) == LineKind::Header {
                continue;
            }
            let r = &out.records[0];
            res.push(match &r.result {
                Err(e) => Err(e.to_string()),
                Ok(ts) => Ok(record_json(&out, r, *ts)),
            });
        }
        res
    }
}
