//! The `log_format` of an input and its options, compiled once: the config names in, a [`FormatSpec`] out.
//!
//! `json` timestamp formats keep the original's names so that configs carry over: `timeUnixMilliseconds`,
//! `timeISO8601` and `time:<layout>` with a layout in Go's reference-time notation (`2006-01-02
//! 15:04:05`). A layout that contains `%` is read as strftime instead (`time:%Y-%m-%d %H:%M:%S`), and
//! `timeUnixSeconds` is added for logs that write epoch seconds. Layouts are compiled here, when the
//! config is loaded (or `parse` reads its flags); `formats::time` applies them to values.

use std::fmt;

use chrono::format::{Fixed, Item, Numeric, Pad, StrftimeItems};

/// The `log_format` of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Application Load Balancer access logs.
    Alb,
    /// Classic Load Balancer access logs.
    Elb,
    /// CloudFront standard (legacy) access logs.
    Cloudfront,
    /// AWS WAF logs (JSON lines, `timestamp` in epoch milliseconds).
    Waf,
    /// JSON lines with a configured timestamp field and format.
    Json,
    /// VPC flow logs (versions 2 to 8, header-named columns; Transit Gateway flow logs).
    Vpcflow,
    /// S3 server access logs.
    S3access,
    /// Network Load Balancer access logs (TLS listeners).
    Nlb,
    /// ALB connection logs.
    #[serde(rename = "alb_connection")]
    AlbConnection,
    /// CloudTrail `{"Records":[...]}` objects; digest files are skipped.
    Cloudtrail,
    /// CloudWatch Logs subscription payloads written by Firehose, and CloudWatch Logs export objects.
    Cloudwatch,
    /// A regular expression with named groups and per-field types, from the config.
    Custom,
    /// Not a format: the format of each object is recognised from its key (an input's `log_format`,
    /// `parse --format auto`).
    Auto,
}

impl LogFormat {
    /// Every format, in the order the documentation lists them.
    pub const ALL: [LogFormat; 12] = [
        LogFormat::Alb,
        LogFormat::Elb,
        LogFormat::Cloudfront,
        LogFormat::Waf,
        LogFormat::Json,
        LogFormat::Vpcflow,
        LogFormat::S3access,
        LogFormat::Nlb,
        LogFormat::AlbConnection,
        LogFormat::Cloudtrail,
        LogFormat::Cloudwatch,
        LogFormat::Custom,
    ];

    /// The config name, also sent as `@metadata.format`.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Alb => "alb",
            LogFormat::Elb => "elb",
            LogFormat::Cloudfront => "cloudfront",
            LogFormat::Waf => "waf",
            LogFormat::Json => "json",
            LogFormat::Vpcflow => "vpcflow",
            LogFormat::S3access => "s3access",
            LogFormat::Nlb => "nlb",
            LogFormat::AlbConnection => "alb_connection",
            LogFormat::Cloudtrail => "cloudtrail",
            LogFormat::Cloudwatch => "cloudwatch",
            LogFormat::Custom => "custom",
            LogFormat::Auto => "auto",
        }
    }

    /// Parses a config name.
    pub fn from_name(s: &str) -> Option<LogFormat> {
        LogFormat::ALL.into_iter().find(|f| f.name() == s)
    }

    /// The names, for messages: `alb, elb, cloudfront, waf or json`.
    pub fn names() -> String {
        let n: Vec<&str> = LogFormat::ALL.iter().map(|f| f.name()).collect();
        format!("{} or {}", n[..n.len() - 1].join(", "), n[n.len() - 1])
    }
}

/// The formats `log_format: auto` can recognise from a key (see `crate::formats::route`).
pub const AUTO_FORMATS: [LogFormat; 9] = [
    LogFormat::Alb,
    LogFormat::Elb,
    LogFormat::Nlb,
    LogFormat::Cloudfront,
    LogFormat::Waf,
    LogFormat::Vpcflow,
    LogFormat::S3access,
    LogFormat::Cloudtrail,
    LogFormat::AlbConnection,
];

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format with its options, validated once and shared by every object of an input.
#[derive(Clone, Debug)]
pub enum FormatSpec {
    /// Application Load Balancer access logs.
    Alb,
    /// Classic Load Balancer access logs.
    Elb,
    /// CloudFront standard access logs.
    Cloudfront,
    /// AWS WAF logs: JSON lines with the fixed options of [`JsonOptions::waf`].
    Waf,
    /// JSON lines with their options.
    Json(JsonOptions),
    /// VPC flow logs.
    Vpcflow,
    /// S3 server access logs.
    S3access,
    /// NLB access logs.
    Nlb,
    /// ALB connection logs.
    AlbConnection,
    /// CloudTrail records.
    Cloudtrail,
    /// CloudWatch Logs events (Firehose subscription payloads or export lines).
    Cloudwatch(CloudwatchOptions),
    /// A configured regular expression.
    Custom(CustomSpec),
}

/// `log_format_options` of `cloudwatch`.
#[derive(Clone, Debug, Default)]
pub struct CloudwatchOptions {
    /// Decode a `message` that is a JSON object into `json` (`decode_json: true`). Default: false.
    pub decode_json: bool,
}

/// `log_format_options` of `custom`, compiled once.
#[derive(Clone, Debug)]
pub struct CustomSpec {
    /// The expression; a line must match it (anywhere: anchor it with `^...$` to match whole lines).
    pub pattern: regex::Regex,
    /// Every named group but the time's, in the pattern's order: (group index, field name, type).
    pub fields: Vec<(usize, String, FieldType)>,
    /// The group holding the event time.
    pub timestamp_group: usize,
    /// Its name, for errors.
    pub timestamp_field: String,
    /// How the time is written.
    pub timestamp_format: TimeFormat,
}

/// The type of a `custom` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
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
        name: &impl Fn(&str) -> String,
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
            if FieldType::from_name(t).is_none() {
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
                    .and_then(|t| FieldType::from_name(t))
                    .unwrap_or(FieldType::String);
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

impl FieldType {
    fn from_name(s: &str) -> Option<FieldType> {
        Some(match s {
            "string" | "keyword" => FieldType::String,
            "integer" | "int" | "long" => FieldType::Integer,
            "float" | "double" | "number" => FieldType::Float,
            "boolean" | "bool" => FieldType::Boolean,
            _ => return None,
        })
    }
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
        }
    }

    /// Builds a format from its name and its options; the error names the option (`timestamp_field`,
    /// `pattern`, ...) and says what is wrong, writing the option as `name(option)`, so that the config
    /// and the `parse` flags share one set of rules. An option the format does not take is an error.
    pub fn build(
        format: LogFormat,
        opts: &FormatOptions,
        name: impl Fn(&str) -> String,
    ) -> Result<FormatSpec, (&'static str, String)> {
        let takes: &[&str] = match format {
            LogFormat::Json => &["timestamp_field", "timestamp_format"],
            LogFormat::Custom => &["pattern", "types", "timestamp_field", "timestamp_format"],
            LogFormat::Cloudwatch => &["decode_json"],
            _ => &[],
        };
        for (o, given) in [
            ("timestamp_field", opts.timestamp_field.is_some()),
            ("timestamp_format", opts.timestamp_format.is_some()),
            ("decode_json", opts.decode_json.is_some()),
            ("pattern", opts.pattern.is_some()),
            ("types", !opts.types.is_empty()),
        ] {
            if given && !takes.contains(&o) {
                let which = match o {
                    "decode_json" => "cloudwatch",
                    "pattern" | "types" => "custom",
                    _ => "json and custom",
                };
                return Err((
                    o,
                    format!(
                        "{} only applies to log_format {which}, not {format}",
                        name(o)
                    ),
                ));
            }
        }
        let required = |o: &'static str| {
            (
                o,
                format!("{} is required for log_format {format}", name(o)),
            )
        };
        let time =
            |required_field: bool| -> Result<Option<(String, TimeFormat)>, (&'static str, String)> {
                let field = opts.timestamp_field.as_deref().filter(|f| !f.is_empty());
                let Some(field) = field else {
                    return if required_field {
                        Err(required("timestamp_field"))
                    } else {
                        Ok(None)
                    };
                };
                let fmt = opts
                    .timestamp_format
                    .as_deref()
                    .ok_or_else(|| required("timestamp_format"))?;
                let tf = TimeFormat::from_config(fmt).map_err(|m| {
                    (
                        "timestamp_format",
                        format!("{}: {m}", name("timestamp_format")),
                    )
                })?;
                Ok(Some((field.to_string(), tf)))
            };
        Ok(match format {
            LogFormat::Json => {
                let (timestamp_field, timestamp_format) = time(true)?.expect("required");
                FormatSpec::Json(JsonOptions {
                    timestamp_field,
                    timestamp_format,
                })
            }
            LogFormat::Custom => {
                let pattern = opts.pattern.as_deref().ok_or_else(|| required("pattern"))?;
                let (timestamp_field, timestamp_format) = time(true)?.expect("required");
                FormatSpec::Custom(CustomSpec::new(
                    pattern,
                    &opts.types,
                    timestamp_field,
                    timestamp_format,
                    &name,
                )?)
            }
            LogFormat::Cloudwatch => FormatSpec::Cloudwatch(CloudwatchOptions {
                decode_json: opts.decode_json.unwrap_or(false),
            }),
            LogFormat::Alb => FormatSpec::Alb,
            LogFormat::Elb => FormatSpec::Elb,
            LogFormat::Cloudfront => FormatSpec::Cloudfront,
            LogFormat::Waf => FormatSpec::Waf,
            LogFormat::Vpcflow => FormatSpec::Vpcflow,
            LogFormat::S3access => FormatSpec::S3access,
            LogFormat::Nlb => FormatSpec::Nlb,
            LogFormat::AlbConnection => FormatSpec::AlbConnection,
            LogFormat::Cloudtrail => FormatSpec::Cloudtrail,
            LogFormat::Auto => {
                return Err((
                    "log_format",
                    "auto is not a format: the format is recognised per object (an input's log_format, or parse --format auto --key)".to_string(),
                ))
            }
        })
    }
}

/// A format's options as given (`log_format_options`, or `parse`'s flags), before [`FormatSpec::build`]
/// checks them.
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

/// `log_format_options` of the `json` format.
#[derive(Clone, Debug)]
pub struct JsonOptions {
    /// The key that holds the event time (a top-level key, or a dotted path).
    pub timestamp_field: String,
    /// How that time is written.
    pub timestamp_format: TimeFormat,
}

impl JsonOptions {
    /// The fixed options of `waf`.
    pub fn waf() -> JsonOptions {
        JsonOptions {
            timestamp_field: "timestamp".to_string(),
            timestamp_format: TimeFormat::UnixMillis,
        }
    }
}

/// How the timestamp field is written.
#[derive(Clone, Debug)]
pub enum TimeFormat {
    /// Epoch milliseconds: a JSON integer (a fraction is kept as sub-millisecond digits) or a string of
    /// digits.
    UnixMillis,
    /// Epoch seconds: a JSON number or a string of digits.
    UnixSeconds,
    /// RFC 3339 / ISO 8601 with a zone (`2019-03-23T19:04:53+02:00`); converted to UTC.
    Iso8601,
    /// A layout; without a zone in it, the time is UTC.
    Layout {
        /// As configured, for messages.
        text: String,
        /// The compiled layout.
        items: Vec<Item<'static>>,
    },
}

impl TimeFormat {
    /// Parses a `timestamp_format` setting; the error says what is accepted.
    pub fn from_config(s: &str) -> Result<TimeFormat, String> {
        match s {
            "timeUnixMilliseconds" => Ok(TimeFormat::UnixMillis),
            "timeUnixSeconds" => Ok(TimeFormat::UnixSeconds),
            "timeISO8601" => Ok(TimeFormat::Iso8601),
            _ => {
                let Some(layout) = s.strip_prefix("time:") else {
                    return Err(format!(
                        "unknown timestamp format {s:?}: expected timeUnixMilliseconds, timeUnixSeconds, \
                         timeISO8601, time:<Go layout> (time:2006-01-02 15:04:05) or time:<strftime> \
                         (time:%Y-%m-%d %H:%M:%S)"
                    ));
                };
                let items = if layout.contains('%') {
                    strftime_items(layout)?
                } else {
                    go_layout_items(layout)?
                };
                Ok(TimeFormat::Layout {
                    text: layout.to_string(),
                    items,
                })
            }
        }
    }

    /// What the format expects, for error messages.
    pub fn expected(&self) -> &'static str {
        match self {
            TimeFormat::UnixMillis => "epoch milliseconds",
            TimeFormat::UnixSeconds => "epoch seconds",
            TimeFormat::Iso8601 => "an ISO 8601 time with a zone",
            TimeFormat::Layout { .. } => "a time in the configured layout",
        }
    }
}

fn strftime_items(layout: &str) -> Result<Vec<Item<'static>>, String> {
    let items: Vec<Item<'static>> = StrftimeItems::new(layout).map(|i| i.to_owned()).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(format!("invalid strftime layout {layout:?}"));
    }
    Ok(items)
}

/// Translates a layout in Go's reference-time notation (Mon Jan 2 15:04:05 MST 2006) into chrono items,
/// following the chunk rules of Go's `time.Format`.
fn go_layout_items(layout: &str) -> Result<Vec<Item<'static>>, String> {
    use Fixed::*;
    use Numeric::*;
    let num = |n, p| Item::Numeric(n, p);
    // Longest first where one token is a prefix of another.
    let table: &[(&str, Item<'static>)] = &[
        ("January", Item::Fixed(LongMonthName)),
        ("Jan", Item::Fixed(ShortMonthName)),
        ("Monday", Item::Fixed(LongWeekdayName)),
        ("Mon", Item::Fixed(ShortWeekdayName)),
        ("2006", num(Year, Pad::Zero)),
        ("-07:00:00", Item::Fixed(TimezoneOffsetDoubleColon)),
        ("-070000", Item::Fixed(TimezoneOffsetDoubleColon)),
        ("-07:00", Item::Fixed(TimezoneOffsetColon)),
        ("-0700", Item::Fixed(TimezoneOffset)),
        ("-07", Item::Fixed(TimezoneOffsetTripleColon)),
        ("Z07:00", Item::Fixed(TimezoneOffsetColonZ)),
        ("Z0700", Item::Fixed(TimezoneOffsetZ)),
        ("Z07", Item::Fixed(TimezoneOffsetColonZ)),
        ("002", num(Ordinal, Pad::Zero)),
        ("__2", num(Ordinal, Pad::Space)),
        ("01", num(Month, Pad::Zero)),
        ("02", num(Day, Pad::Zero)),
        ("03", num(Hour12, Pad::Zero)),
        ("04", num(Minute, Pad::Zero)),
        ("05", num(Second, Pad::Zero)),
        ("06", num(YearMod100, Pad::Zero)),
        ("15", num(Hour, Pad::Zero)),
        ("_2", num(Day, Pad::Space)),
        ("PM", Item::Fixed(UpperAmPm)),
        ("pm", Item::Fixed(LowerAmPm)),
        ("1", num(Month, Pad::None)),
        ("2", num(Day, Pad::None)),
        ("3", num(Hour12, Pad::None)),
        ("4", num(Minute, Pad::None)),
        ("5", num(Second, Pad::None)),
    ];
    let b = layout.as_bytes();
    let mut items = Vec::new();
    let mut lit = String::new();
    let flush = |lit: &mut String, items: &mut Vec<Item<'static>>| {
        if !lit.is_empty() {
            items.push(Item::OwnedLiteral(std::mem::take(lit).into_boxed_str()));
        }
    };
    let mut i = 0;
    'outer: while i < b.len() {
        let rest = &layout[i..];
        if rest.starts_with("MST") {
            return Err(format!(
                "layout {layout:?}: zone abbreviations (MST) cannot be parsed; use -0700 or Z07:00"
            ));
        }
        // Fractional seconds: `.000`/`,000` (exact digits) or `.999`/`,999` (optional), not followed by
        // another digit.
        if (b[i] == b'.' || b[i] == b',')
            && i + 1 < b.len()
            && (b[i + 1] == b'0' || b[i + 1] == b'9')
        {
            let c = b[i + 1];
            let mut j = i + 1;
            while j < b.len() && b[j] == c {
                j += 1;
            }
            if j >= b.len() || !b[j].is_ascii_digit() {
                flush(&mut lit, &mut items);
                let n = j - i - 1;
                items.push(Item::Fixed(match (c, n) {
                    (b'0', 3) => Fixed::Nanosecond3,
                    (b'0', 6) => Fixed::Nanosecond6,
                    (b'0', 9) => Fixed::Nanosecond9,
                    _ => Fixed::Nanosecond,
                }));
                i = j;
                continue;
            }
        }
        for (tok, item) in table {
            if rest.starts_with(tok) {
                flush(&mut lit, &mut items);
                items.push(item.clone());
                i += tok.len();
                continue 'outer;
            }
        }
        let c = rest.chars().next().expect("not at end");
        if c.is_whitespace() {
            flush(&mut lit, &mut items);
            items.push(Item::OwnedSpace(c.to_string().into_boxed_str()));
        } else {
            lit.push(c);
        }
        i += c.len_utf8();
    }
    flush(&mut lit, &mut items);
    Ok(items)
}
