//! The event model: what a format parser produces from one line, and the JSON an output receives.
//!
//! A parser turns a line into a [`Timestamp`] and a list of named [`Value`]s that borrow from the line
//! (no allocation on the hot path for ALB/ELB/CloudFront). [`crate::event::enrich`] then writes them, with the
//! log/beat/key metadata, into one JSON object per event: an [`Event`], which is what the publish queue and
//! every output carry. `@metadata` is not part of the document body; the outputs that send it (console,
//! file, Logstash, `s3logsbeat parse`) splice it in with [`Event::write_with_metadata`], Elasticsearch
//! sends the body alone with the `_id` in the bulk action line.

pub mod doc;
pub mod ecs;
pub mod enrich;
pub mod fields;
pub mod ids;
pub mod processors;

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};

use crate::event::doc::Doc;

/// Names of fields s3logsbeat writes into every document itself: a key capture, a header column or a
/// top-level global field may not take them (each says how it steps aside).
pub const RESERVED_NAMES: [&str; 8] = [
    "@timestamp",
    "@metadata",
    "log",
    "beat",
    "tags",
    "fields",
    "message",
    "error",
];

/// A point in time, UTC, with the number of fraction digits the log wrote.
///
/// The original truncated every timestamp to milliseconds; we keep what the log has (ALB writes
/// microseconds), and always print at least three fraction digits so that the text sorts and reads like
/// the original's `2015-05-13T23:39:43.945Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
    /// Fraction digits to print: 3, 6 or 9.
    pub digits: u8,
}

impl Timestamp {
    /// A timestamp from a chrono value, printed with `digits` fraction digits (rounded up to 3, 6 or 9).
    pub fn from_datetime(dt: DateTime<Utc>, digits: u8) -> Timestamp {
        Timestamp {
            secs: dt.timestamp(),
            nanos: dt.timestamp_subsec_nanos(),
            digits: normalize_digits(digits),
        }
    }

    /// The first second a document may carry: 0000-01-01T00:00:00Z.
    pub const MIN_SECS: i64 = -62_167_219_200;
    /// The last second a document may carry: 9999-12-31T23:59:59Z.
    pub const MAX_SECS: i64 = 253_402_300_799;

    /// True for a time of the years 0000 to 9999: the only ones RFC 3339's four-digit year can write and
    /// Elasticsearch's `strict_date_optional_time` reads. A time outside is a parse failure of the record
    /// that holds it, checked where the time is made ([`Timestamp::from_epoch_millis`],
    /// [`timestamp_from_parts`], the `json` time formats), never written as `+10000-…` or 1970.
    #[inline]
    pub fn in_range(self) -> bool {
        (Self::MIN_SECS..=Self::MAX_SECS).contains(&self.secs)
    }

    /// `self` if it is [`Timestamp::in_range`].
    #[inline]
    pub fn checked(self) -> Option<Timestamp> {
        self.in_range().then_some(self)
    }

    /// From milliseconds since the epoch as a log writes them; `None` outside the years 0000 to 9999.
    pub fn from_epoch_millis(ms: i64) -> Option<Timestamp> {
        Timestamp::from_millis(ms).checked()
    }

    /// From whole milliseconds since the epoch (negative values are before 1970), unchecked: for times
    /// the program makes itself; a time read from a log goes through [`Timestamp::from_epoch_millis`].
    pub fn from_millis(ms: i64) -> Timestamp {
        Timestamp {
            secs: ms.div_euclid(1000),
            nanos: (ms.rem_euclid(1000) as u32) * 1_000_000,
            digits: 3,
        }
    }

    /// The current time, with millisecond digits.
    pub fn now() -> Timestamp {
        Timestamp::from_datetime(Utc::now(), 3)
    }

    /// As a chrono value; `None` only for years chrono cannot represent.
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.secs, self.nanos)
    }

    /// Appends `YYYY-MM-DDTHH:MM:SS.fff[fff[fff]]Z`.
    ///
    /// Once per event, so the calendar date comes from the day count by arithmetic
    /// ([`civil_from_days`]) rather than through chrono's types, and the digits are written in one piece.
    pub fn write_rfc3339(self, out: &mut Vec<u8>) {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            // RFC 3339 has no room for these; write them the way chrono does so that nothing panics.
            self.write_rfc3339_wide(out);
            return;
        }
        let two = |v: u32| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
        let y = year as u32;
        let (h, mi, sec) = (sod / 3600, sod / 60 % 60, sod % 60);
        let text = [
            b'0' + (y / 1000) as u8,
            b'0' + (y / 100 % 10) as u8,
            b'0' + (y / 10 % 10) as u8,
            b'0' + (y % 10) as u8,
            b'-',
            two(month)[0],
            two(month)[1],
            b'-',
            two(day)[0],
            two(day)[1],
            b'T',
            two(h)[0],
            two(h)[1],
            b':',
            two(mi)[0],
            two(mi)[1],
            b':',
            two(sec)[0],
            two(sec)[1],
            b'.',
        ];
        // A leap second (chrono's 23:59:59 with nanos past one second) is written as the last instant
        // of that second: RFC 3339 allows :60, but Elasticsearch's date parser does not.
        let frac = self.nanos.min(999_999_999);
        out.extend_from_slice(&text);
        self.push_fraction(frac, out);
    }

    /// The fraction `frac` (nanoseconds, at most 999,999,999) in `digits` digits, and the `Z`.
    fn push_fraction(self, frac: u32, out: &mut Vec<u8>) {
        match self.digits {
            3 => push_digits::<3>(out, frac / 1_000_000),
            6 => push_digits::<6>(out, frac / 1_000),
            _ => push_digits::<9>(out, frac),
        }
        out.push(b'Z');
    }

    /// [`Timestamp::write_rfc3339`] for years outside 0..=9999, through chrono.
    #[cold]
    fn write_rfc3339_wide(self, out: &mut Vec<u8>) {
        let Some(dt) = self.to_datetime() else {
            // Unreachable for timestamps our parsers build (they come from chrono); keep output valid.
            out.extend_from_slice(b"1970-01-01T00:00:00.000Z");
            return;
        };
        let d = dt.naive_utc();
        write_date_time(&d, out);
        out.push(b'.');
        let frac = self.nanos.min(999_999_999);
        self.push_fraction(frac, out);
    }

    /// The text form, as [`Timestamp::write_rfc3339`] writes it.
    pub fn to_rfc3339(self) -> String {
        let mut v = Vec::with_capacity(32);
        self.write_rfc3339(&mut v);
        String::from_utf8(v).expect("ascii")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Rounds a count of fraction digits up to the next of 3, 6, 9.
pub fn normalize_digits(d: u8) -> u8 {
    match d {
        0..=3 => 3,
        4..=6 => 6,
        _ => 9,
    }
}

/// The proleptic Gregorian `(year, month, day)` of `days` since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, <https://howardhinnant.github.io/date_algorithms.html>): exact for every `i64`
/// day count whose year fits an `i64`; callers use it for years 0..=9999.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn write_date_time(d: &NaiveDateTime, out: &mut Vec<u8>) {
    let year = d.year();
    if (0..=9999).contains(&year) {
        push_digits::<4>(out, year as u32);
    } else {
        // RFC 3339 has no room for these; write them the way chrono does so that nothing panics.
        out.extend_from_slice(format!("{year:+05}").as_bytes());
    }
    out.push(b'-');
    push_digits::<2>(out, d.month());
    out.push(b'-');
    push_digits::<2>(out, d.day());
    out.push(b'T');
    push_digits::<2>(out, d.hour());
    out.push(b':');
    push_digits::<2>(out, d.minute());
    out.push(b':');
    push_digits::<2>(out, d.second());
}

/// Appends the last `N` decimal digits of `v`, zero-padded, as one copy of a fixed size (a loop that
/// stopped at the last non-zero digit was a third of writing a timestamp's fraction).
#[inline(always)]
fn push_digits<const N: usize>(out: &mut Vec<u8>, mut v: u32) {
    let mut buf = [b'0'; N];
    for d in buf.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&buf);
}

/// Builds a UTC timestamp from calendar parts; `None` if the date or time does not exist, or its year is
/// outside 0000 to 9999 ([`Timestamp::in_range`]).
///
/// Accepts exactly what chrono's `NaiveDate::from_ymd_opt(..).and_hms_nano_opt(..)` accepts (a leap
/// second is 59 seconds with `nanos` from 1,000,000,000), by arithmetic ([`days_from_civil`]): once per
/// line, and chrono's checked constructors cost three times as much (callgrind). A test compares the two.
#[allow(clippy::too_many_arguments)] // the parts of a date and a time, in their natural order
#[inline]
pub fn timestamp_from_parts(
    y: i32,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    nanos: u32,
    digits: u8,
) -> Option<Timestamp> {
    // The years a document can carry (see `Timestamp::in_range`).
    const YEARS: std::ops::RangeInclusive<i32> = 0..=9999;
    let time_ok =
        h < 24 && mi < 60 && s < 60 && (nanos < 1_000_000_000 || s == 59 && nanos < 2_000_000_000);
    if !time_ok
        || !YEARS.contains(&y)
        || !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y, mo)
    {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    Some(Timestamp {
        secs: days * 86_400 + i64::from(h * 3600 + mi * 60 + s),
        nanos,
        digits: normalize_digits(digits),
    })
}

/// The days of month `mo` (1 to 12) of year `y`, proleptic Gregorian.
#[inline]
fn days_in_month(y: i32, mo: u32) -> u32 {
    match mo {
        2 if y.rem_euclid(4) == 0 && (y.rem_euclid(100) != 0 || y.rem_euclid(400) == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The days since 1970-01-01 of a proleptic Gregorian date, the inverse of [`civil_from_days`] (Howard
/// Hinnant's `days_from_civil`).
#[inline]
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 }); // [0, 11], March first
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// One field value, borrowed from the line where possible.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// A string, JSON-escaped when written.
    Str(Cow<'a, str>),
    /// A signed integer.
    Int(i64),
    /// A number literal from the log that is already valid JSON (`0.000073`): written verbatim so that
    /// no precision is lost and no float formatting is spent on the hot path.
    Num(&'a str),
    /// A float that had to be computed.
    Float(f64),
    /// A list of strings that had to be built (CloudWatch's `subscriptionFilters`).
    StrList(Vec<Cow<'a, str>>),
    /// A list written straight from one column's text, never built (ALB `actions_executed`,
    /// `target_port_list`, NLB's ALPN list): the items of `text` split at `split.sep`. Building a `Vec` of
    /// items cost two allocations per list column on the hot path.
    List(Cow<'a, str>, Split),
    /// Any JSON value (the `json` and `waf` formats); nulls are already removed.
    Json(serde_json::Value),
}

/// How a [`Value::List`] column is cut into items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// The byte between items: an ASCII byte.
    pub sep: u8,
    /// Strip one pair of `"` around each item and leave `-` items out (NLB's `"h2","http/1.1"`).
    pub unquote: bool,
}

impl Split {
    /// The items of `text`, without the empty ones (and, with `unquote`, without quotes and `-`).
    pub fn items(self, text: &str) -> impl Iterator<Item = &str> {
        text.split(self.sep as char)
            .filter_map(move |i| self.item(i))
    }

    /// One piece of the text between two separators as an item, or `None` if it is left out.
    #[inline(always)]
    fn item(self, i: &str) -> Option<&str> {
        let i = if self.unquote {
            i.strip_prefix('"')
                .and_then(|i| i.strip_suffix('"'))
                .unwrap_or(i)
        } else {
            i
        };
        (!(i.is_empty() || self.unquote && i == "-")).then_some(i)
    }

    /// Writes the items of `text` as a JSON array of strings. The same as collecting
    /// [`Split::items`], without `str::split`'s searcher: a third of the ALB document's cost was its
    /// three list columns (callgrind). `clean`: the items need no escaping (see [`write_clean_str`]).
    #[inline]
    pub fn write_json(self, text: &str, out: &mut Vec<u8>, clean: bool) {
        self.write_json_with(text, out, |out, item| write_str_as(out, item, clean));
    }

    /// [`Split::write_json`], each item written by `write_item`.
    #[inline(always)]
    pub fn write_json_with(
        self,
        text: &str,
        out: &mut Vec<u8>,
        mut write_item: impl FnMut(&mut Vec<u8>, &str),
    ) {
        out.push(b'[');
        let mut first = true;
        let mut start = 0;
        loop {
            let end =
                crate::scan::find_byte(text.as_bytes(), start, self.sep).unwrap_or(text.len());
            // `sep` is ASCII, so `start` and `end` are character boundaries.
            if let Some(item) = self.item(&text[start..end]) {
                if !first {
                    out.push(b',');
                }
                first = false;
                write_item(out, item);
            }
            if end == text.len() {
                break;
            }
            start = end + 1;
        }
        out.push(b']');
    }
}

/// A field name: static for the fixed formats, owned for JSON keys.
pub type Name<'a> = Cow<'a, str>;

/// Appends `s`: [`Vec::extend_from_slice`] without a call into `memcpy` for up to 32 bytes.
///
/// A document is built from dozens of short pieces (names, numbers, short values); a libc `memcpy` call
/// for each was the largest single cost of the ALB path in `perf` (13%), so short pieces are copied as
/// two overlapping words of 4, 8 or 16 bytes instead.
#[inline]
pub fn push_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n > 32 {
        out.extend_from_slice(s);
        return;
    }
    out.reserve(n);
    let len = out.len();
    // SAFETY: `reserve` made room for `n` more bytes after `len`, all written before `set_len` exposes
    // them; `s` is readable for `n <= 32` bytes.
    unsafe {
        copy_short(s.as_ptr(), out.as_mut_ptr().add(len), n);
        out.set_len(len + n);
    }
}

/// Copies `n <= 32` bytes from `src` to `dst` without a call into `memcpy` (see [`push_bytes`]).
///
/// # Safety
/// `n <= 32`, `src[..n]` readable, `dst[..n]` writable, the two not overlapping.
#[inline(always)]
pub unsafe fn copy_short(src: *const u8, dst: *mut u8, n: usize) {
    debug_assert!(n <= 32);
    // SAFETY: every copy below reads inside `src[..n]` (offsets 0 and n - width, with width <= n) and
    // writes inside `dst[..n]`.
    unsafe {
        if n >= 16 {
            copy_ends::<u128>(src, dst, n);
        } else if n >= 8 {
            copy_ends::<u64>(src, dst, n);
        } else if n >= 4 {
            copy_ends::<u32>(src, dst, n);
        } else if n > 0 {
            *dst = *src;
            *dst.add(n / 2) = *src.add(n / 2);
            *dst.add(n - 1) = *src.add(n - 1);
        }
    }
}

/// Copies `n` bytes from `src` to `dst` as two words of `T`, at offsets 0 and `n - size_of::<T>()`.
///
/// # Safety
/// `size_of::<T>() <= n`, and `src[..n]` readable and `dst[..n]` writable.
#[inline(always)]
unsafe fn copy_ends<T: Copy>(src: *const u8, dst: *mut u8, n: usize) {
    let w = std::mem::size_of::<T>();
    // SAFETY: both words lie inside the first `n` bytes (the caller's contract).
    unsafe {
        let (a, b) = (
            src.cast::<T>().read_unaligned(),
            src.add(n - w).cast::<T>().read_unaligned(),
        );
        dst.cast::<T>().write_unaligned(a);
        dst.add(n - w).cast::<T>().write_unaligned(b);
    }
}

/// Appends `s` as a JSON string literal, quotes included.
///
/// The common case, a string of at most 32 bytes with nothing to escape (14 of an ALB line's values),
/// is one scan and [`write_clean_str`] (callgrind: 132 instructions a call on the ALB path when the
/// quotes and the bytes were pushed piece by piece, each with a capacity check).
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    if b.len() <= 32 && find_escape(b, 0).is_none() {
        write_clean_str(out, s);
        return;
    }
    out.reserve(b.len() + 2);
    out.push(b'"');
    write_json_str_body(out, b);
    out.push(b'"');
}

/// Appends `s` between quotes as it stands: a string its caller knows holds nothing that JSON escapes
/// (`"`, `\`, bytes below 0x20), such as a quote-free slice of a plain ASCII line
/// ([`crate::formats::LineOut::strings_are_clean`]). One capacity check and three stores, no scan.
/// Debug builds check that `s` needs no escaping.
#[inline]
pub fn write_clean_str(out: &mut Vec<u8>, s: &str) {
    debug_assert!(
        find_escape(s.as_bytes(), 0).is_none(),
        "{s:?} needs escaping"
    );
    copy_quoted(out, s);
}

/// [`write_clean_str`] without the debug check, for a writer that bets `s` needs no escaping and checks
/// the bet itself, after the fact (`crate::event::enrich::JsonFields`: a lost bet's document is written again).
#[inline]
pub fn copy_quoted(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    let n = b.len();
    out.reserve(n + 2);
    let len = out.len();
    // SAFETY: `reserve` made room for `n + 2` bytes after `len`, all written before `set_len` exposes
    // them; `b` is readable for `n` bytes and does not overlap `out`'s spare room.
    unsafe {
        let p = out.as_mut_ptr().add(len);
        *p = b'"';
        if n <= 32 {
            copy_short(b.as_ptr(), p.add(1), n);
        } else {
            std::ptr::copy_nonoverlapping(b.as_ptr(), p.add(1), n);
        }
        *p.add(n + 1) = b'"';
        out.set_len(len + n + 2);
    }
}

/// [`write_clean_str`] if the caller knows `s` needs no escaping (`clean`), else [`write_json_str`]: the
/// one choice of a value's string and a list's items.
#[inline(always)]
pub fn write_str_as(out: &mut Vec<u8>, s: &str, clean: bool) {
    if clean {
        write_clean_str(out, s);
    } else {
        write_json_str(out, s);
    }
}

/// Lowercase hex digits, for `\u00XX` escapes and event ids.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Each byte's two lowercase hex digits, for event ids.
static HEX_PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    t
};

/// Escapes for bytes that JSON does not allow raw in a string: 0 = copy, 1 = short escape, 2 = `\u00XX`.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = 2;
        i += 1;
    }
    t[b'\n' as usize] = 1;
    t[b'\r' as usize] = 1;
    t[b'\t' as usize] = 1;
    t[0x08] = 1;
    t[0x0c] = 1;
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 1;
    t
};

/// Writes `b`, escaped, without the quotes: runs of clean bytes are copied whole, each byte that JSON
/// does not allow raw gets its escape.
fn write_json_str_body(out: &mut Vec<u8>, b: &[u8]) {
    let mut start = 0;
    while let Some(i) = find_escape(b, start) {
        push_bytes(out, &b[start..i]);
        push_escape(out, b[i]);
        start = i + 1;
    }
    push_bytes(out, &b[start..]);
}

/// The escape of one byte that [`ESCAPE`] marks.
#[cold]
fn push_escape(out: &mut Vec<u8>, c: u8) {
    if ESCAPE[c as usize] == 1 {
        out.push(b'\\');
        out.push(match c {
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            other => other,
        });
    } else {
        out.extend_from_slice(b"\\u00");
        out.push(HEX[(c >> 4) as usize]);
        out.push(HEX[(c & 0xf) as usize]);
    }
}

/// The position of the first byte at or after `from` that must be escaped (`"`, `\\`, below 0x20).
#[inline]
fn find_escape(b: &[u8], from: usize) -> Option<usize> {
    crate::scan::find_json_escape(b, from)
}

impl Value<'_> {
    /// True if the value holds memory of its own (dropping it frees something).
    #[inline]
    pub fn owns(&self) -> bool {
        match self {
            Value::Str(s) | Value::List(s, _) => matches!(s, Cow::Owned(_)),
            Value::Int(_) | Value::Num(_) | Value::Float(_) => false,
            Value::StrList(_) | Value::Json(_) => true,
        }
    }

    /// Appends the value as JSON.
    #[inline(always)]
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_as(out, false);
    }

    /// [`Value::write_json`], where `clean` says that the value's strings need no escaping (a value of a
    /// line whose [`crate::formats::LineOut::strings_are_clean`]): they are then copied without a scan.
    ///
    /// Inlined into the document loop for the three kinds of nearly every field (string, integer,
    /// number); the others are written out of line.
    #[inline(always)]
    pub fn write_json_as(&self, out: &mut Vec<u8>, clean: bool) {
        match self {
            Value::Str(s) => write_str_as(out, s, clean),
            Value::Int(i) => push_bytes(out, itoa::Buffer::new().format(*i).as_bytes()),
            Value::Num(n) => push_bytes(out, n.as_bytes()),
            _ => self.write_json_rare(out, clean),
        }
    }

    /// [`Value::write_json_as`] of floats, lists and JSON values; `clean` counts for the lists written
    /// from a line's text.
    #[inline(never)]
    fn write_json_rare(&self, out: &mut Vec<u8>, clean: bool) {
        match self {
            Value::Str(_) | Value::Int(_) | Value::Num(_) => self.write_json_as(out, clean),
            Value::Float(f) => {
                if f.is_finite() {
                    out.extend_from_slice(ryu::Buffer::new().format_finite(*f).as_bytes())
                } else {
                    out.extend_from_slice(b"null")
                }
            }
            Value::StrList(l) => {
                out.push(b'[');
                for (i, s) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_json_str(out, s);
                }
                out.push(b']');
            }
            Value::List(text, split) => split.write_json(text, out, clean),
            Value::Json(v) => {
                // Writing into a Vec cannot fail, and a serde_json::Value always serializes.
                let _ = serde_json::to_writer(&mut *out, v);
            }
        }
    }
}

/// The deepest a document may nest, the document itself being level 1. Elasticsearch refuses a document
/// whose objects go deeper than `index.mapping.depth.limit` (20 by default), and a `flattened` field
/// deeper than its `depth_limit` (also 20); and a document within it always reads back (serde_json stops
/// at 128 levels), so rendering an index or running processors never meets one it cannot read.
pub const MAX_DOC_DEPTH: usize = 20;

/// The deepest a JSON value decoded from a log may nest where a format builds it, the value itself being
/// level 1: the document's root and the levels ECS names add above a value (at most three, in
/// `aws.cloudtrail.flattened.*`) stay inside [`MAX_DOC_DEPTH`].
pub const MAX_VALUE_DEPTH: usize = 16;

/// Holds `v` to `levels` levels (`v` itself is level 1): an object or array whose members would be deeper
/// is replaced by its JSON text, a string, so nothing is lost and Elasticsearch can map the rest. Adds one
/// to `capped` per value so replaced. Recurses at most `levels` deep; the text of a replaced value is
/// written by serde_json, so `v` must be a value serde_json could have read (at most 128 levels).
pub fn cap_json_depth(v: &mut serde_json::Value, levels: usize, capped: &mut u64) {
    use serde_json::Value as J;
    let has_members = match v {
        J::Object(m) => !m.is_empty(),
        J::Array(a) => !a.is_empty(),
        _ => false,
    };
    if !has_members {
        return;
    }
    if levels <= 1 {
        *v = J::String(v.to_string());
        *capped += 1;
        return;
    }
    match v {
        J::Object(m) => m
            .values_mut()
            .for_each(|x| cap_json_depth(x, levels - 1, capped)),
        J::Array(a) => a
            .iter_mut()
            .for_each(|x| cap_json_depth(x, levels - 1, capped)),
        _ => {}
    }
}

/// The nesting of a JSON text: its deepest level of objects and arrays (a scalar is 0, `{}` is 1), read
/// without parsing it (strings skipped), so it answers for text of any depth. For tests and fuzzing.
pub fn json_depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for c in text.bytes() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A 128-bit event id, printed as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub [u8; 16]);

impl EventId {
    /// Appends the 32 hex digits.
    pub fn write_hex(&self, out: &mut Vec<u8>) {
        // Into an array first, then one copy: 32 pushes each checked the capacity. One table look-up
        // per byte, not a shift, a mask and two look-ups.
        let mut hex = [0u8; 32];
        for (pair, b) in hex.chunks_exact_mut(2).zip(self.0) {
            pair.copy_from_slice(&HEX_PAIRS[b as usize]);
        }
        out.extend_from_slice(&hex);
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = Vec::with_capacity(32);
        self.write_hex(&mut v);
        f.write_str(std::str::from_utf8(&v).expect("hex"))
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One event, ready for an output.
#[derive(Clone, Debug)]
pub struct Event {
    /// Deterministic id (see docs/formats.md "Event ids"); the Elasticsearch `_id`.
    pub id: EventId,
    /// The event time, also written as `@timestamp` in `doc`.
    pub timestamp: Timestamp,
    /// The input's `log_format`, sent as `@metadata.format`.
    pub format: &'static str,
    /// The document: one JSON object, without `@metadata`, usually sharing its buffer with the other
    /// events of its chunk (see [`crate::event::doc`]).
    pub doc: Doc,
    /// True when the line did not parse and this event carries the raw line in `message`.
    pub parse_failure: bool,
}

/// `@metadata.beat` and `@metadata.type`, as the original sent them (Logstash users route on them).
pub const METADATA_BEAT: &str = "s3logsbeat";
/// `@metadata.type`: libbeat 6's document type, kept for Logstash pipelines that test it.
pub const METADATA_TYPE: &str = "doc";

/// What [`Event::write_with_metadata`] writes before the id, as one piece (the literals are those of
/// [`METADATA_BEAT`], [`METADATA_TYPE`] and [`crate::VERSION`]; a test holds them equal).
const METADATA_PREFIX: &str = concat!(
    "{\"@metadata\":{\"beat\":\"s3logsbeat\",\"type\":\"doc\",\"version\":\"",
    env!("CARGO_PKG_VERSION"),
    "\",\"_id\":\""
);

impl Event {
    /// Appends the document with `@metadata` (`beat`, `type`, `version`, `_id`, `format`) as its first key.
    pub fn write_with_metadata(&self, out: &mut Vec<u8>) {
        self.write_with_metadata_as(out, METADATA_BEAT);
    }

    /// [`Event::write_with_metadata`] with another `@metadata.beat` (Logstash's `index` setting, which
    /// Logstash pipelines use to name indices).
    pub fn write_with_metadata_as(&self, out: &mut Vec<u8>, beat: &str) {
        // The whole event's room at once: the metadata's fixed text is under 128 bytes.
        out.reserve(self.doc.len() + beat.len() + self.format.len() + crate::VERSION.len() + 128);
        self.write_metadata_head(out, beat);
        out.extend_from_slice(self.doc.tail());
    }

    /// What [`Event::write_with_metadata_as`] writes before [`Doc::tail`]: `{"@metadata":{...},`.
    pub fn write_metadata_head(&self, out: &mut Vec<u8>, beat: &str) {
        if beat == METADATA_BEAT {
            // Nearly every event: the text before the id is one constant.
            out.extend_from_slice(METADATA_PREFIX.as_bytes());
        } else {
            out.extend_from_slice(b"{\"@metadata\":{\"beat\":");
            write_json_str(out, beat);
            out.extend_from_slice(b",\"type\":\"");
            out.extend_from_slice(METADATA_TYPE.as_bytes());
            out.extend_from_slice(b"\",\"version\":\"");
            out.extend_from_slice(crate::VERSION.as_bytes());
            out.extend_from_slice(b"\",\"_id\":\"");
        }
        self.id.write_hex(out);
        out.extend_from_slice(b"\",\"format\":\"");
        // A format's name is a plain word (`alb`, `s3access`, `alb_connection`): nothing to escape.
        debug_assert!(
            self.format
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_'),
            "format name {:?}",
            self.format
        );
        push_bytes(out, self.format.as_bytes());
        out.extend_from_slice(b"\"},");
    }

    /// The document parsed back into JSON, for the slow paths that read fields (`%{[field]}` index
    /// names, processors, ECS names). It fails only for a document that is not JSON or nests deeper than
    /// serde_json reads (128 levels): the builders keep documents within [`MAX_DOC_DEPTH`], and a
    /// caller that meets one anyway reports it for the event instead of passing the event on unread.
    pub fn read_doc(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self.doc)
            .map_err(|e| format!("the document of event {} cannot be read: {e}", self.id))
    }

    /// [`Event::read_doc`] for tests, which may panic.
    pub fn doc_json(&self) -> serde_json::Value {
        self.read_doc().expect("event documents are valid JSON")
    }
}

/// Checks that `doc` is one JSON value in which no object has a key twice (Elasticsearch refuses such a
/// document; serde_json would silently keep the last). For tests and fuzzing; the error says what is wrong.
pub fn check_document(doc: &str) -> Result<(), String> {
    use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
    struct Checked;
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Checked;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Checked, A::Error> {
            let mut keys = std::collections::HashSet::new();
            while let Some(k) = m.next_key::<String>()? {
                if !keys.insert(k.clone()) {
                    return Err(A::Error::custom(format!("duplicate key {k:?}")));
                }
                m.next_value::<Checked>()?;
            }
            Ok(Checked)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Checked, A::Error> {
            while s.next_element::<Checked>()?.is_some() {}
            Ok(Checked)
        }
        fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_unit<E>(self) -> Result<Checked, E> {
            Ok(Checked)
        }
    }
    impl<'de> Deserialize<'de> for Checked {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Checked, D::Error> {
            d.deserialize_any(V)
        }
    }
    let mut de = serde_json::Deserializer::from_str(doc);
    Checked::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| format!("trailing data: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn timestamp_keeps_digits_and_pads_to_millis() {
        let t = timestamp_from_parts(2018, 7, 2, 22, 23, 0, 186_641_000, 6).unwrap();
        assert_eq!(t.to_rfc3339(), "2018-07-02T22:23:00.186641Z");
        let t = timestamp_from_parts(2014, 5, 23, 1, 13, 11, 0, 0).unwrap();
        assert_eq!(t.to_rfc3339(), "2014-05-23T01:13:11.000Z");
        let t = timestamp_from_parts(2014, 5, 23, 1, 13, 11, 5, 9).unwrap();
        assert_eq!(t.to_rfc3339(), "2014-05-23T01:13:11.000000005Z");
        assert!(timestamp_from_parts(2019, 2, 29, 0, 0, 0, 0, 0).is_none());
    }

    /// `timestamp_from_parts` accepts and refuses what chrono's checked constructors do, with the same
    /// instant: every day of years around leap and century rules, the ends of chrono's range, and each
    /// part at and past its limits (leap-second nanos included).
    #[test]
    fn timestamp_from_parts_equals_chrono() {
        fn chrono_way(
            y: i32,
            mo: u32,
            d: u32,
            h: u32,
            mi: u32,
            s: u32,
            n: u32,
        ) -> Option<(i64, u32)> {
            let dt = NaiveDate::from_ymd_opt(y, mo, d)?
                .and_hms_nano_opt(h, mi, s, n)?
                .and_utc();
            // Only the years a document can carry (see `Timestamp::in_range`).
            (0..=9999).contains(&y).then_some(())?;
            Some((dt.timestamp(), dt.timestamp_subsec_nanos()))
        }
        let years = [
            -262_144, -262_143, -401, -400, -100, -4, -1, 0, 1, 4, 100, 1600, 1700, 1900, 1969,
            1970, 1971, 2000, 2023, 2024, 2100, 9999, 10_000, 262_142, 262_143,
        ];
        let mut checked = 0;
        for y in years {
            for mo in 0..=13 {
                for d in 0..=32 {
                    let times: &[(u32, u32, u32, u32)] =
                        if (1..=12).contains(&mo) && (1..=28).contains(&d) && d != 1 {
                            &[(12, 30, 30, 5)]
                        } else {
                            &[
                                (0, 0, 0, 0),
                                (23, 59, 59, 999_999_999),
                                (23, 59, 59, 1_000_000_000),
                                (23, 59, 59, 1_999_999_999),
                                (23, 59, 59, 2_000_000_000),
                                (23, 59, 58, 1_000_000_000),
                                (24, 0, 0, 0),
                                (0, 60, 0, 0),
                                (0, 0, 60, 0),
                            ]
                        };
                    for &(h, mi, sec, n) in times {
                        let got = timestamp_from_parts(y, mo, d, h, mi, sec, n, 6)
                            .map(|t| (t.secs, t.nanos));
                        assert_eq!(
                            got,
                            chrono_way(y, mo, d, h, mi, sec, n),
                            "{y}-{mo}-{d} {h}:{mi}:{sec}.{n}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    /// The arithmetic date equals chrono's, second by second across days, leap years, centuries, the
    /// epoch, years 0 and 9999, and the leap second written as :59.
    #[test]
    fn rfc3339_text_equals_chronos_across_the_calendar() {
        let chrono_text = |t: Timestamp| {
            let mut v = Vec::new();
            t.write_rfc3339_wide(&mut v);
            String::from_utf8(v).unwrap()
        };
        let first = NaiveDate::from_ymd_opt(0, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let last = NaiveDate::from_ymd_opt(9999, 12, 31)
            .unwrap()
            .and_hms_opt(23, 59, 59)
            .unwrap();
        let (lo, hi) = (first.and_utc().timestamp(), last.and_utc().timestamp());
        let mut secs = lo;
        let mut step = 1i64;
        while secs <= hi {
            for (nanos, digits) in [(0, 3), (186_641_000, 6), (5, 9), (999_999_999, 3)] {
                let t = Timestamp {
                    secs,
                    nanos,
                    digits,
                };
                assert_eq!(t.to_rfc3339(), chrono_text(t), "{secs} s");
            }
            // Steps that are not a divisor of a day visit every time of day over the range.
            secs += step;
            step = (step * 7 + 13_331) % 9_999_991;
        }
        for secs in [-1, 0, 1, 951_782_400, 4_107_542_400, 253_402_300_799] {
            let t = Timestamp {
                secs,
                nanos: 0,
                digits: 3,
            };
            assert_eq!(t.to_rfc3339(), chrono_text(t), "{secs} s");
        }
        // A leap second: chrono's nanos past a second are written as :59.999...
        let leap = timestamp_from_parts(2016, 12, 31, 23, 59, 59, 1_500_000_000, 3).unwrap();
        assert_eq!(leap.to_rfc3339(), "2016-12-31T23:59:59.999Z");
        assert_eq!(chrono_text(leap), "2016-12-31T23:59:59.999Z");
    }

    #[test]
    fn negative_millis_are_before_the_epoch() {
        assert_eq!(
            Timestamp::from_millis(-1).to_rfc3339(),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(
            Timestamp::from_millis(1553360693208).to_rfc3339(),
            "2019-03-23T17:04:53.208Z"
        );
    }

    #[test]
    fn escape_scan_finds_every_special_byte_at_every_position() {
        // Every length around the 16-byte steps, the special byte at every position, alone and with a
        // second one later (the scan resumes after an escape, also inside the overlapping last step).
        for special in [b'"', b'\\', 0u8, 0x1f, b'\n'] {
            for len in 1..=40 {
                for pos in 0..len {
                    for second in [None, Some(len - 1), Some((pos + 17).min(len - 1))] {
                        let mut s = vec![b'a'; len];
                        s[pos] = special;
                        if let Some(p) = second {
                            s[p] = b'"';
                        }
                        let text = String::from_utf8(s).unwrap();
                        let specials = text.bytes().filter(|&c| ESCAPE[c as usize] != 0).count();
                        let mut v = Vec::new();
                        write_json_str(&mut v, &text);
                        let back: String = serde_json::from_slice(&v).unwrap();
                        assert_eq!(back, text, "byte {special} at {pos} of {len}");
                        assert!(
                            v.len() >= text.len() + 2 + specials,
                            "{special} at {pos} of {len}"
                        );
                    }
                }
            }
        }
        // Clean text of any length is copied as it is.
        for len in 0..=40 {
            let text = "x".repeat(len);
            let mut v = Vec::new();
            write_json_str(&mut v, &text);
            assert_eq!(v, format!("\"{text}\"").as_bytes());
        }
        // Bytes >= 0x80 (UTF-8) and 0x20..0x7f other than the two specials are copied as they are.
        let mut v = Vec::new();
        write_json_str(&mut v, "ééé abc ~ }{ <>&");
        assert_eq!(v, "\"ééé abc ~ }{ <>&\"".as_bytes());
    }

    #[test]
    fn short_copies_equal_extend_from_slice_at_every_length() {
        let src: Vec<u8> = (0..80u8).collect();
        for start in [0usize, 3, 17] {
            for len in 0..=40 {
                let piece = &src[start..start + len];
                let mut got = b"prefix".to_vec();
                push_bytes(&mut got, piece);
                let mut want = b"prefix".to_vec();
                want.extend_from_slice(piece);
                assert_eq!(got, want, "{len} bytes from {start}");
            }
        }
    }

    #[test]
    fn lists_are_written_as_their_items() {
        let texts = [
            "",
            "-",
            ",",
            "a",
            "a,b",
            ",a,,b,",
            "\"h2\",\"http/1.1\"",
            "\"-\",x",
            "\"\",\"",
            "é,ü\"q",
            "a b  c",
        ];
        for text in texts {
            for sep in [b',', b' '] {
                for unquote in [false, true] {
                    let split = Split { sep, unquote };
                    let mut out = Vec::new();
                    Value::List(Cow::Borrowed(text), split).write_json(&mut out);
                    let want: Vec<&str> = split.items(text).collect();
                    let got: Vec<String> = serde_json::from_slice(&out).unwrap();
                    assert_eq!(got, want, "{text:?} split at {sep} (unquote {unquote})");
                }
            }
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut v = Vec::new();
        write_json_str(&mut v, "a\"b\\c\nd\u{1}é<");
        assert_eq!(std::str::from_utf8(&v).unwrap(), r#""a\"b\\c\nd\u0001é<""#);
        let back: String = serde_json::from_slice(&v).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é<");
    }

    #[test]
    fn json_strings_of_every_length_around_the_short_path_match_serde() {
        // Lengths 0-40 cross the 32-byte in-place path; each with nothing to escape, or one byte that
        // needs an escape at each position; appended after earlier content.
        for n in 0..=40usize {
            let clean: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            let mut cases = vec![clean.clone()];
            for at in 0..n {
                for c in ['"', '\\', '\n', '\u{1f}', 'é'] {
                    let mut t: Vec<char> = clean.chars().collect();
                    t[at] = c;
                    cases.push(t.into_iter().collect());
                }
            }
            for t in cases {
                let mut v = b"[1,".to_vec();
                write_json_str(&mut v, &t);
                assert_eq!(
                    std::str::from_utf8(&v[3..]).unwrap(),
                    serde_json::to_string(&t).unwrap(),
                    "{t:?}"
                );
            }
        }
    }

    #[test]
    fn metadata_is_spliced_into_the_document() {
        let e = Event {
            id: EventId([0xab; 16]),
            timestamp: Timestamp::from_millis(0),
            format: "alb",
            doc: r#"{"@timestamp":"1970-01-01T00:00:00.000Z","a":1}"#.into(),
            parse_failure: false,
        };
        let mut out = Vec::new();
        e.write_with_metadata(&mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["@metadata"]["_id"], "abababababababababababababababab");
        assert_eq!(v["@metadata"]["format"], "alb");
        assert_eq!(v["@metadata"]["type"], "doc");
        assert_eq!(v["a"], 1);
        // The constant prefix of the default beat is what the general path writes.
        let mut general = Vec::new();
        e.write_with_metadata_as(&mut general, "s3logsbeat ");
        let general = String::from_utf8(general)
            .unwrap()
            .replacen("s3logsbeat ", METADATA_BEAT, 1);
        assert_eq!(String::from_utf8(out).unwrap(), general);
        let mut other = Vec::new();
        e.write_with_metadata_as(&mut other, "logs-\"x\"");
        let v: serde_json::Value = serde_json::from_slice(&other).unwrap();
        assert_eq!(v["@metadata"]["beat"], "logs-\"x\"");
        assert_eq!(v["@metadata"]["version"], crate::VERSION);
        // The format's name is written without escaping: every name is a plain word, and written so.
        for f in crate::formats::LogFormat::all() {
            let e = Event {
                format: f.name(),
                ..e.clone()
            };
            let mut out = Vec::new();
            e.write_with_metadata(&mut out);
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(v["@metadata"]["format"], f.name());
        }
    }

    #[test]
    fn documents_with_a_key_twice_are_refused() {
        assert!(check_document(r#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_ok());
        assert!(check_document(r#"{"a":1,"a":2}"#)
            .unwrap_err()
            .contains("duplicate key \"a\""));
        assert!(check_document(r#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(check_document(r#"{"a":1} x"#).is_err());
        assert!(check_document(r#"{"a":"#).is_err());
    }
}
