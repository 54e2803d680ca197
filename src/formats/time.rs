//! Timestamps of the `json` and `custom` formats: a `timestamp_format` setting in, a compiled
//! [`TimeFormat`] out (once, when the config is loaded or `parse` reads its flags); then a JSON value in,
//! a [`Timestamp`] out, for every record.
//!
//! The settings keep the original's names so that configs carry over: `timeUnixMilliseconds`,
//! `timeISO8601` and `time:<layout>` with a layout in Go's reference-time notation (`2006-01-02
//! 15:04:05`). A layout that contains `%` is read as strftime instead (`time:%Y-%m-%d %H:%M:%S`), and
//! `timeUnixSeconds` is added for logs that write epoch seconds. What must stay true: a bad setting is an
//! error that says what is accepted, and applying a format to a value never panics.

use chrono::format::{Fixed, Item, Numeric, Pad, Parsed, StrftimeItems};
use chrono::Utc;

use super::tokens::{parse_i64, parse_rfc3339};
use crate::fields::Timestamp;

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

/// Why a JSON value is not a time of a [`TimeFormat`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeError {
    /// It is not written in this format.
    NotThisFormat,
    /// It reads, but as a time outside the years 0000 to 9999 ([`Timestamp::in_range`]).
    OutOfRange,
}

impl TimeFormat {
    /// Converts a JSON value: a time of the years 0000 to 9999, or why not.
    pub fn parse(&self, v: &serde_json::Value) -> Result<Timestamp, TimeError> {
        let t = self.read(v).ok_or(TimeError::NotThisFormat)?;
        t.checked().ok_or(TimeError::OutOfRange)
    }

    /// The time `v` stands for in this format, in any year chrono can hold.
    fn read(&self, v: &serde_json::Value) -> Option<Timestamp> {
        use serde_json::Value as J;
        let ms = |i: i64, unit: i64| i.checked_mul(unit).map(Timestamp::from_millis);
        match (self, v) {
            (TimeFormat::UnixMillis, J::Number(n)) => match n.as_i64() {
                Some(i) => Some(Timestamp::from_millis(i)),
                None => from_epoch_float(n.as_f64()?, 1),
            },
            (TimeFormat::UnixMillis, J::String(s)) => parse_i64(s).map(Timestamp::from_millis),
            (TimeFormat::UnixSeconds, J::Number(n)) => match n.as_i64() {
                Some(i) => ms(i, 1000),
                None => from_epoch_float(n.as_f64()?, 1000),
            },
            (TimeFormat::UnixSeconds, J::String(s)) => parse_i64(s).and_then(|i| ms(i, 1000)),
            (TimeFormat::Iso8601, J::String(s)) => parse_rfc3339(s),
            (TimeFormat::Layout { items, .. }, J::String(s)) => parse_layout(items, s),
            _ => None,
        }
    }
}

/// An epoch value with a fraction, in units of `unit_ms` milliseconds (1 or 1000). The whole and the
/// fractional part are converted separately so that float rounding does not invent digits.
fn from_epoch_float(v: f64, unit_ms: i64) -> Option<Timestamp> {
    if !v.is_finite() || v.abs() > 1e15 {
        return None;
    }
    let whole = v.floor();
    let frac = v - whole;
    let ms = (whole as i64).checked_mul(unit_ms)?;
    // Microsecond resolution: beyond that a float epoch carries only noise.
    let extra_us = (frac * 1000.0 * unit_ms as f64).round() as i64;
    let total_us = (ms as i128) * 1000 + extra_us as i128;
    let secs = total_us.div_euclid(1_000_000) as i64;
    let nanos = (total_us.rem_euclid(1_000_000) as u32) * 1000;
    Some(Timestamp {
        secs,
        nanos,
        digits: digits_for(nanos),
    })
}

/// The fraction digits worth printing for a nanosecond value.
fn digits_for(nanos: u32) -> u8 {
    if nanos.is_multiple_of(1_000_000) {
        3
    } else if nanos.is_multiple_of(1000) {
        6
    } else {
        9
    }
}

fn parse_layout(items: &[Item<'static>], s: &str) -> Option<Timestamp> {
    let mut p = Parsed::new();
    chrono::format::parse(&mut p, s, items.iter()).ok()?;
    let dt = if p.offset().is_some() {
        p.to_datetime().ok()?.with_timezone(&Utc)
    } else {
        match p.to_naive_datetime_with_offset(0) {
            Ok(n) => n.and_utc(),
            // A layout with a date and no time of day means midnight.
            Err(_) => p.to_naive_date().ok()?.and_hms_opt(0, 0, 0)?.and_utc(),
        }
    };
    let nanos = dt.timestamp_subsec_nanos();
    Some(Timestamp::from_datetime(dt, digits_for(nanos)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ts(fmt: &str, v: serde_json::Value) -> Option<String> {
        TimeFormat::from_config(fmt)
            .unwrap()
            .parse(&v)
            .ok()
            .map(|t| t.to_rfc3339())
    }

    /// G4 (fuzz findings of 2026-12-07): epochs past the year 9999 (or before 0000) gave 1970 or
    /// `+10000-…`; they read, and are out of range.
    #[test]
    fn times_outside_the_years_0000_to_9999_are_out_of_range() {
        let f = |fmt: &str, v| TimeFormat::from_config(fmt).unwrap().parse(&v);
        for (fmt, v) in [
            ("timeUnixMilliseconds", json!(i64::MAX)),
            ("timeUnixMilliseconds", json!(8_300_000_000_000_000i64)),
            ("timeUnixMilliseconds", json!(253_402_300_800_000i64)),
            ("timeUnixMilliseconds", json!("-62167219200001")),
            ("timeUnixSeconds", json!(253_402_300_800i64)),
            ("timeUnixSeconds", json!(2.6e11)),
            ("timeISO8601", json!("0000-01-01T00:30:00+01:00")),
            ("time:2006-01-02 15:04:05", json!("99999-01-01 00:00:00")),
        ] {
            let got = f(fmt, v.clone());
            assert!(
                got == Err(TimeError::OutOfRange) || got == Err(TimeError::NotThisFormat),
                "{fmt} {v}: {got:?}"
            );
            assert!(got.is_err());
        }
        assert_eq!(
            f("timeUnixMilliseconds", json!(8_300_000_000_000_000i64)),
            Err(TimeError::OutOfRange)
        );
        assert_eq!(
            f("timeUnixMilliseconds", json!(253_402_300_799_999i64))
                .unwrap()
                .to_rfc3339(),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            f("timeISO8601", json!("0000-01-01T00:00:00Z"))
                .unwrap()
                .to_rfc3339(),
            "0000-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn epoch_formats() {
        assert_eq!(
            ts("timeUnixMilliseconds", json!(1553360693208i64)).unwrap(),
            "2019-03-23T17:04:53.208Z"
        );
        assert_eq!(
            ts("timeUnixMilliseconds", json!("1553360693208")).unwrap(),
            "2019-03-23T17:04:53.208Z"
        );
        assert_eq!(
            ts("timeUnixMilliseconds", json!(1553360693208.5)).unwrap(),
            "2019-03-23T17:04:53.208500Z"
        );
        assert_eq!(
            ts("timeUnixMilliseconds", json!(-1)).unwrap(),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(ts("timeUnixMilliseconds", json!("12a")), None);
        assert_eq!(ts("timeUnixMilliseconds", json!(true)), None);
        assert_eq!(
            ts("timeUnixSeconds", json!(1418530010)).unwrap(),
            "2014-12-14T04:06:50.000Z"
        );
        assert_eq!(
            ts("timeUnixSeconds", json!(1418530010.25)).unwrap(),
            "2014-12-14T04:06:50.250Z"
        );
    }

    #[test]
    fn iso8601() {
        assert_eq!(
            ts("timeISO8601", json!("2019-03-23T19:04:53+02:00")).unwrap(),
            "2019-03-23T17:04:53.000Z"
        );
        assert_eq!(
            ts("timeISO8601", json!("2019-03-23T17:04:53.208123Z")).unwrap(),
            "2019-03-23T17:04:53.208123Z"
        );
        assert_eq!(ts("timeISO8601", json!("2019-03-23")), None);
        assert_eq!(ts("timeISO8601", json!(5)), None);
    }

    #[test]
    fn go_layouts() {
        let cases = [
            (
                "time:2006-01-02 15:04:05",
                "2019-03-23 17:04:53",
                "2019-03-23T17:04:53.000Z",
            ),
            (
                "time:2006-01-02T15:04:05.000Z07:00",
                "2019-03-23T19:04:53.123+02:00",
                "2019-03-23T17:04:53.123Z",
            ),
            (
                "time:2006-01-02T15:04:05.999999Z07:00",
                "2019-03-23T17:04:53.5Z",
                "2019-03-23T17:04:53.500Z",
            ),
            (
                "time:02/Jan/2006:15:04:05 -0700",
                "10/Oct/2000:13:55:36 -0700",
                "2000-10-10T20:55:36.000Z",
            ),
            (
                "time:Jan _2 2006 3:04:05 PM",
                "Mar  3 2019 1:02:03 PM",
                "2019-03-03T13:02:03.000Z",
            ),
            (
                "time:Monday, 02-Jan-06 15:04:05",
                "Sunday, 24-Mar-19 01:02:03",
                "2019-03-24T01:02:03.000Z",
            ),
            (
                "time:20060102150405",
                "20190323170453",
                "2019-03-23T17:04:53.000Z",
            ),
            ("time:2006-01-02", "2019-03-23", "2019-03-23T00:00:00.000Z"),
        ];
        for (fmt, input, want) in cases {
            assert_eq!(
                ts(fmt, json!(input)).as_deref(),
                Some(want),
                "{fmt} {input}"
            );
        }
        assert_eq!(ts("time:2006-01-02 15:04:05", json!(12345)), None);
        assert_eq!(ts("time:2006-01-02 15:04:05", json!("2019-03-23")), None);
    }

    #[test]
    fn strftime_layouts() {
        assert_eq!(
            ts("time:%Y-%m-%d %H:%M:%S%.f", json!("2019-03-23 17:04:53.25")).unwrap(),
            "2019-03-23T17:04:53.250Z"
        );
        assert_eq!(
            ts(
                "time:%d/%b/%Y:%H:%M:%S %z",
                json!("10/Oct/2000:13:55:36 -0700")
            )
            .unwrap(),
            "2000-10-10T20:55:36.000Z"
        );
    }

    #[test]
    fn bad_formats_are_config_errors() {
        for bad in [
            "epoch",
            "int",
            "time:%Q",
            "time:Mon Jan 2 15:04:05 MST 2006",
        ] {
            assert!(TimeFormat::from_config(bad).is_err(), "{bad}");
        }
    }
}
