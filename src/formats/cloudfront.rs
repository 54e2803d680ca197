//! `cloudfront`: CloudFront standard (legacy) access logs.
//!
//! Tab-separated. Each object starts with `#Version:` and `#Fields:` header lines; the columns are taken
//! from `#Fields:` when the object has one, else from the standard 33-column order, so 24-, 26- and
//! 33-column lines all parse and a column AWS adds later arrives under its own name. Reference:
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/AccessLogs.html>.
//!
//! Values that CloudFront URL-encodes are percent-decoded exactly once: the original decoded them
//! repeatedly and as form values, which turned `+` into a space and `%252B` into a space too.

use std::borrow::Cow;

use std::sync::LazyLock;

use regex::Regex;

use super::descriptor::{Descriptor, Framing, ObjectLines};
use super::ecs::{get, http_outcome_and_duration, Ecs, Rest};
use super::mapping::FieldType;
use super::tokens::{parse_date_and_time, push_int, push_num};
use super::{ErrorKind, FormatOptions, FormatSpec, LineKind, LineOut, LogFormat, ParseError};
use crate::fields::{Name, Timestamp, Value};

use FieldType::{Double, Ip, Keyword, Long};

/// `cloudfront`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::Cloudfront,
    name: "cloudfront",
    doc: "CloudFront standard (legacy) access logs",
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
    Ok(FormatSpec::Cloudfront)
}

fn parser(_: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    Box::new(Columns::standard())
}

static FILE_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Z0-9]{6,}\.\d{4}-\d{2}-\d{2}-\d{2}\.[0-9A-Za-z]+(?:\.gz)?$").expect("valid")
});

/// A file name `<distribution>.YYYY-MM-DD-HH.<hash>[.gz]`, under any prefix.
fn recognises(_bucket: &str, key: &str) -> bool {
    FILE_NAME.is_match(key.rsplit('/').next().unwrap_or(key))
}

impl<'s> ObjectLines<'s> for Columns {
    fn parse<'a>(&mut self, unit: &'a str, out: &mut LineOut<'a>) -> LineKind
    where
        's: 'a,
    {
        if unit.starts_with('#') {
            self.header(unit);
            return LineKind::Header;
        }
        let start = out.len();
        let r = parse(self, unit, out);
        out.finish(start, 0..unit.len(), r);
        LineKind::Data
    }
}

/// The standard column order, as the `#Fields:` line names them.
pub const STANDARD_FIELDS: [&str; 33] = [
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
];

/// How a column's value becomes a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Date,
    Time,
    /// A string; `decode`: percent-decode once; `keep_dash`: send `-` as the string `"-"` (the original
    /// did for these columns, and dashboards may filter on it).
    Str {
        decode: bool,
        keep_dash: bool,
    },
    Int,
    Float,
}

#[derive(Clone, Debug)]
struct Column {
    name: Name<'static>,
    kind: Kind,
}

/// The column layout of one object.
#[derive(Clone, Debug)]
pub struct Columns {
    cols: Vec<Column>,
    date: usize,
    time: usize,
}

fn column(field: &str) -> Column {
    use Kind::*;
    let s = |name: &'static str, decode, keep_dash| Column {
        name: Cow::Borrowed(name),
        kind: Str { decode, keep_dash },
    };
    let n = |name: &'static str, kind| Column {
        name: Cow::Borrowed(name),
        kind,
    };
    match field {
        "date" => n("date", Date),
        "time" => n("time", Time),
        "x-edge-location" => s("x_edge_location", true, true),
        "sc-bytes" => n("sc_bytes", Int),
        "c-ip" => s("c_ip", false, true),
        "cs-method" => s("cs_method", false, true),
        "cs(Host)" => s("cs_host", true, true),
        "cs-uri-stem" => s("cs_uri_stem", true, true),
        "sc-status" => n("sc_status", Int),
        "cs(Referer)" => s("cs_referer", true, true),
        "cs(User-Agent)" => s("cs_user_agent", true, true),
        "cs-uri-query" => s("cs_uri_query", true, false),
        "cs(Cookie)" => s("cs_cookie", true, true),
        "x-edge-result-type" => s("x_edge_result_type", false, true),
        "x-edge-request-id" => s("x_edge_request_id", false, true),
        "x-host-header" => s("x_host_header", false, true),
        "cs-protocol" => s("cs_protocol", false, true),
        "cs-bytes" => n("cs_bytes", Int),
        "time-taken" => n("time_taken", Float),
        "x-forwarded-for" => s("x_forwarded_for", false, false),
        "ssl-protocol" => s("ssl_protocol", false, false),
        "ssl-cipher" => s("ssl_cipher", false, false),
        "x-edge-response-result-type" => s("x_edge_response_result_type", false, true),
        "cs-protocol-version" => s("cs_protocol_version", false, true),
        "fle-status" => s("fle_status", false, false),
        "fle-encrypted-fields" => s("fle_encrypted_fields", false, false),
        "c-port" => n("c_port", Int),
        "time-to-first-byte" => n("time_to_first_byte", Float),
        "x-edge-detailed-result-type" => s("x_edge_detailed_result_type", false, false),
        "sc-content-type" => s("sc_content_type", false, false),
        "sc-content-len" => n("sc_content_len", Int),
        "sc-range-start" => n("sc_range_start", Int),
        "sc-range-end" => n("sc_range_end", Int),
        other => {
            // A column AWS added after this was written: named as the others are, a string.
            let name: String = other
                .chars()
                .filter(|c| *c != ')')
                .map(|c| match c {
                    '-' | '(' => '_',
                    c => c.to_ascii_lowercase(),
                })
                .collect();
            Column {
                name: Cow::Owned(name),
                kind: Str {
                    decode: false,
                    keep_dash: false,
                },
            }
        }
    }
}

impl Columns {
    /// The standard 33 columns.
    pub fn standard() -> Columns {
        Columns::from_names(STANDARD_FIELDS.iter().copied()).expect("has date and time")
    }

    fn from_names<'n>(names: impl Iterator<Item = &'n str>) -> Option<Columns> {
        let mut cols: Vec<Column> = names.map(column).collect();
        // A header can name a column twice, or name one as a field s3logsbeat writes itself
        // (`@timestamp`, `log`, `tags`): such a column is renamed (`_log`, `c_ip_2`) so that a document
        // never has a key twice. Decided once per object, so lines pay nothing for it.
        let mut seen: Vec<String> = Vec::new();
        for c in cols.iter_mut() {
            if !matches!(c.kind, Kind::Date | Kind::Time) {
                super::line::header_name(&mut c.name, &mut seen);
            }
        }
        let date = cols.iter().position(|c| c.kind == Kind::Date)?;
        let time = cols.iter().position(|c| c.kind == Kind::Time)?;
        Some(Columns { cols, date, time })
    }

    /// Takes a `#` line: `#Fields:` sets the columns (if it names `date` and `time`), others are ignored.
    pub fn header(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("#Fields:") {
            if let Some(c) = Columns::from_names(rest.split_whitespace()) {
                *self = c;
            }
        }
    }
}

/// The TAB-separated columns of `line`, as `line.split('\t')` gives them (a trailing empty one included),
/// found with the hot path's byte scan: `split` with a `char` pattern is not inlined into [`parse`] since
/// it is reached through the format's descriptor, and stepped through the line a character at a time.
fn tab_columns(line: &str) -> impl Iterator<Item = &str> {
    let bytes = line.as_bytes();
    let mut next = Some(0);
    std::iter::from_fn(move || {
        let start = next?;
        match crate::scan::find_byte(bytes, start, b'\t') {
            Some(tab) => {
                next = Some(tab + 1);
                Some(&line[start..tab])
            }
            None => {
                next = None;
                Some(&line[start..])
            }
        }
    })
}

/// Parses one data line into `out`.
pub fn parse<'a>(
    cols: &Columns,
    line: &'a str,
    out: &mut LineOut<'a>,
) -> Result<Timestamp, ParseError> {
    let mut date = None;
    let mut time = None;
    let mut found = 0;
    for (i, v) in tab_columns(line).enumerate() {
        found = i + 1;
        let Some(col) = cols.cols.get(i) else {
            // Trailing columns beyond the header (a stray TAB, or a column without a name): ignored.
            break;
        };
        if v.is_empty() {
            continue;
        }
        match col.kind {
            Kind::Date => date = Some(v),
            Kind::Time => time = Some(v),
            Kind::Int | Kind::Float => {
                let before = out.len();
                let name = static_name(&col.name);
                if col.kind == Kind::Int {
                    push_int(out, name, v)?
                } else {
                    push_num(out, name, v, false)?
                }
                // A numeric column renamed by its header (a repeated name) keeps its new name.
                if let Cow::Owned(_) = &col.name {
                    out.rename(before, col.name.clone());
                }
            }
            Kind::Str { decode, keep_dash } => {
                if v == "-" && !keep_dash {
                    continue;
                }
                let value = if decode && v != "-" {
                    crate::percent::decode(v)
                } else {
                    Cow::Borrowed(v)
                };
                out.push_named(col.name.clone(), Value::Str(value));
            }
        }
    }
    let (Some(d), Some(t)) = (date, time) else {
        return Err(ParseError::new(
            ErrorKind::TooFewFields {
                required: cols.date.max(cols.time) + 1,
                found,
            },
            "",
            line,
        ));
    };
    parse_date_and_time(d, t)
        .ok_or_else(|| ParseError::new(ErrorKind::BadTimestamp, "date time", &format!("{d} {t}")))
}

/// Numeric columns are all known columns, whose names are static (a renamed one is named after the
/// push; its errors say `column`).
fn static_name(n: &Name<'static>) -> &'static str {
    match n {
        Cow::Borrowed(s) => s,
        Cow::Owned(_) => "column",
    }
}

/// CloudFront standard log fields.
const FIELDS: &[(&str, FieldType)] = &[
    ("x_edge_location", Keyword),
    ("sc_bytes", Long),
    ("c_ip", Ip),
    ("cs_method", Keyword),
    ("cs_host", Keyword),
    ("cs_uri_stem", Keyword),
    ("sc_status", Long),
    ("cs_referer", Keyword),
    ("cs_user_agent", Keyword),
    ("cs_uri_query", Keyword),
    ("cs_cookie", Keyword),
    ("x_edge_result_type", Keyword),
    ("x_edge_request_id", Keyword),
    ("x_host_header", Keyword),
    ("cs_protocol", Keyword),
    ("cs_bytes", Long),
    ("time_taken", Double),
    ("x_forwarded_for", Keyword),
    ("ssl_protocol", Keyword),
    ("ssl_cipher", Keyword),
    ("x_edge_response_result_type", Keyword),
    ("cs_protocol_version", Keyword),
    ("fle_status", Keyword),
    ("fle_encrypted_fields", Keyword),
    ("c_port", Long),
    ("time_to_first_byte", Double),
    ("x_edge_detailed_result_type", Keyword),
    ("sc_content_type", Keyword),
    ("sc_content_len", Long),
    ("sc_range_start", Long),
    ("sc_range_end", Long),
];

/// CloudFront standard logs.
const ECS_NAMES: &[(&str, &str)] = &[
    ("x_edge_location", "aws.cloudfront.edge_location"),
    ("sc_bytes", "http.response.bytes"),
    ("c_ip", "source.ip"),
    ("c_port", "source.port"),
    ("cs_method", "http.request.method"),
    ("cs_host", "aws.cloudfront.distribution_domain"),
    ("cs_uri_stem", "url.path"),
    ("sc_status", "http.response.status_code"),
    ("cs_referer", "http.request.referrer"),
    ("cs_user_agent", "user_agent.original"),
    ("cs_uri_query", "url.query"),
    ("cs_cookie", "aws.cloudfront.cookie"),
    ("x_edge_result_type", "aws.cloudfront.edge_result_type"),
    ("x_edge_request_id", "http.request.id"),
    ("x_host_header", "url.domain"),
    ("cs_protocol", "url.scheme"),
    ("cs_bytes", "http.request.bytes"),
    ("time_taken", "aws.cloudfront.time_taken.sec"),
    ("x_forwarded_for", "aws.cloudfront.x_forwarded_for"),
    ("ssl_protocol", "aws.cloudfront.ssl_protocol"),
    ("ssl_cipher", "aws.cloudfront.ssl_cipher"),
    (
        "x_edge_response_result_type",
        "aws.cloudfront.edge_response_result_type",
    ),
    ("cs_protocol_version", "http.version"),
    ("fle_status", "aws.cloudfront.fle_status"),
    (
        "fle_encrypted_fields",
        "aws.cloudfront.fle_encrypted_fields",
    ),
    (
        "time_to_first_byte",
        "aws.cloudfront.time_to_first_byte.sec",
    ),
    (
        "x_edge_detailed_result_type",
        "aws.cloudfront.edge_detailed_result_type",
    ),
    ("sc_content_type", "http.response.mime_type"),
    ("sc_content_len", "http.response.body.bytes"),
    ("sc_range_start", "aws.cloudfront.range_start"),
    ("sc_range_end", "aws.cloudfront.range_end"),
];

const ECS: Ecs = Ecs {
    dataset: "aws.cloudfront",
    table: ECS_NAMES,
    rest: Rest::Kept,
    category: Some("web"),
    conversions: &[],
    derive: Some(derive),
    derived: &[("event.outcome", Keyword), ("event.duration", Long)],
};

/// The outcome from the status, the duration from `time_taken`.
fn derive(out: &mut serde_json::Map<String, serde_json::Value>) {
    let secs = get(out, "aws.cloudfront.time_taken.sec").and_then(serde_json::Value::as_f64);
    http_outcome_and_duration(out, secs);
}

#[cfg(test)]
mod tests {
    use super::super::FormatSpec;

    const LINE33: &str = "2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/index%20a+b.html\t200\t-\tMozilla/5.0%20(Windows)\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\td111111abcdef8.cloudfront.net\thttps\t23\t0.001\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t0.001\tHit\ttext/html\t78\t-\t-";

    fn parse_lines(lines: &[&str]) -> Vec<Result<serde_json::Value, String>> {
        super::super::test_util::parse_lines(&FormatSpec::Cloudfront, lines)
    }

    #[test]
    fn tab_columns_are_those_of_split() {
        for line in ["", "a", "a\tb", "\t", "a\t\tb\t", "é\tü\t"] {
            assert_eq!(
                super::tab_columns(line).collect::<Vec<_>>(),
                line.split('\t').collect::<Vec<_>>(),
                "{line:?}"
            );
        }
    }

    #[test]
    fn thirty_three_columns_by_position() {
        let v = parse_lines(&[LINE33]).remove(0).unwrap();
        assert_eq!(v["@timestamp"], "2019-12-04T21:02:31.000Z");
        assert_eq!(v["cs_uri_stem"], "/index a+b.html");
        assert_eq!(v["cs_user_agent"], "Mozilla/5.0 (Windows)");
        assert_eq!(v["cs_referer"], "-");
        assert!(v.get("cs_uri_query").is_none());
        assert_eq!(v["c_port"], 11040);
        assert_eq!(v["time_to_first_byte"], 0.001);
        assert_eq!(v["sc_content_type"], "text/html");
        assert_eq!(v["sc_content_len"], 78);
        assert!(v.get("sc_range_start").is_none());
        assert!(v.get("date").is_none() && v.get("time").is_none());
    }

    #[test]
    fn twenty_four_column_legacy_lines_parse() {
        let l24: Vec<&str> = LINE33.split('\t').take(24).collect();
        let v = parse_lines(&[&l24.join("\t")]).remove(0).unwrap();
        assert_eq!(v["cs_protocol_version"], "HTTP/2.0");
        assert!(v.get("c_port").is_none());
    }

    #[test]
    fn fields_header_reorders_columns_and_names_new_ones() {
        let lines = [
            "#Version: 1.0",
            "#Fields: time date sc-status cs-uri-stem x-new-thing(Foo) c-ip",
            "01:13:11\t2014-05-23\t000\t/a%2520b\tsomething\t-",
        ];
        let v = parse_lines(&lines).remove(0).unwrap();
        assert_eq!(v["@timestamp"], "2014-05-23T01:13:11.000Z");
        assert_eq!(v["sc_status"], 0);
        assert_eq!(v["cs_uri_stem"], "/a%20b");
        assert_eq!(v["x_new_thing_foo"], "something");
        assert_eq!(v["c_ip"], "-");
    }

    #[test]
    fn missing_numbers_are_left_out_and_bad_ones_are_errors() {
        let mut cols: Vec<&str> = LINE33.split('\t').collect();
        cols[8] = "-";
        cols[3] = "-";
        let v = parse_lines(&[&cols.join("\t")]).remove(0).unwrap();
        assert!(v.get("sc_status").is_none() && v.get("sc_bytes").is_none());
        cols[8] = "2OO";
        let e = parse_lines(&[&cols.join("\t")]).remove(0).unwrap_err();
        assert_eq!(e, "field sc_status: \"2OO\" is not an integer");
        let e = parse_lines(&["2019-12-04"]).remove(0).unwrap_err();
        assert!(e.contains("needs at least 2"), "{e}");
        let e = parse_lines(&["2019-12-04\t25:00:00"])
            .remove(0)
            .unwrap_err();
        assert!(e.contains("cannot parse time"), "{e}");
    }

    #[test]
    fn auto_recognises_the_keys_aws_writes_it_under() {
        super::super::route::tests::assert_recognised(
            super::super::LogFormat::Cloudfront,
            &[
                ("b", "cf/E2QWRUHAPOMQZL.2024-01-01-00.a1b2c3d4.gz"),
                ("b", "E2QWRUHAPOMQZL.2019-12-13-21.9d8c7b6a"),
            ],
        );
    }
}
