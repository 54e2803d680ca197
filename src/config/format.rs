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

/// `log_format_options` of `custom`: compiled once.
#[derive(Clone, Debug)]
pub struct CustomSpec {
    /// The expression; its named groups are the fields.
    pub pattern: regex::Regex,
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

    /// Builds a format from its name and the `json` options (`timestamp_field`, `timestamp_format`);
    /// the error names the option (`timestamp_field` or `timestamp_format`) and says what is wrong, writing the option as `name(option)`, so the config and
    /// the `parse` flags share one set of rules.
    pub fn build(
        format: LogFormat,
        timestamp_field: Option<&str>,
        timestamp_format: Option<&str>,
        name: impl Fn(&str) -> String,
    ) -> Result<FormatSpec, (&'static str, String)> {
        let given = timestamp_field.is_some() || timestamp_format.is_some();
        match format {
            LogFormat::Json => {
                let required =
                    |o: &'static str| (o, format!("{} is required for log_format json", name(o)));
                let field = timestamp_field
                    .filter(|f| !f.is_empty())
                    .ok_or_else(|| required("timestamp_field"))?;
                let fmt = timestamp_format.ok_or_else(|| required("timestamp_format"))?;
                let tf = TimeFormat::from_config(fmt).map_err(|m| {
                    (
                        "timestamp_format",
                        format!("{}: {m}", name("timestamp_format")),
                    )
                })?;
                Ok(FormatSpec::Json(JsonOptions {
                    timestamp_field: field.to_string(),
                    timestamp_format: tf,
                }))
            }
            other if given => {
                let o = if timestamp_field.is_some() {
                    "timestamp_field"
                } else {
                    "timestamp_format"
                };
                Err((
                    o,
                    format!("{} only applies to log_format json, not {other}", name(o)),
                ))
            }
            LogFormat::Alb => Ok(FormatSpec::Alb),
            LogFormat::Elb => Ok(FormatSpec::Elb),
            LogFormat::Cloudfront => Ok(FormatSpec::Cloudfront),
            LogFormat::Waf => Ok(FormatSpec::Waf),
            LogFormat::Vpcflow => Ok(FormatSpec::Vpcflow),
            LogFormat::S3access => Ok(FormatSpec::S3access),
            LogFormat::Nlb => Ok(FormatSpec::Nlb),
            LogFormat::AlbConnection => Ok(FormatSpec::AlbConnection),
            LogFormat::Cloudtrail => Ok(FormatSpec::Cloudtrail),
            LogFormat::Cloudwatch => Ok(FormatSpec::Cloudwatch(CloudwatchOptions::default())),
            LogFormat::Custom => Err((
                "pattern",
                format!("{} is required for log_format custom", name("pattern")),
            )),
        }
    }
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
