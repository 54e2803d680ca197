//! The times AWS's text logs write, text in, [`Timestamp`] out: RFC 3339 (ALB, WAF, CloudTrail, with a
//! fast path for AWS's `2018-07-02T22:23:00.186641Z`), CloudFront's separate date and time columns,
//! NLB's ISO 8601 without a zone, and the Common Log Format time of S3 server access logs.
//!
//! What must stay true: every parser returns `None` for text that is not a valid time of its form (a
//! field the caller then reports by name), never panics, and keeps the fraction digits the log wrote.

use crate::fields::{timestamp_from_parts, Timestamp};

#[inline]
fn digits2(b: &[u8], i: usize) -> Option<u32> {
    let a = b[i].wrapping_sub(b'0');
    let c = b[i + 1].wrapping_sub(b'0');
    if a > 9 || c > 9 {
        return None;
    }
    Some(a as u32 * 10 + c as u32)
}

/// Parses `YYYY-MM-DD` at `b[0..10]` and `HH:MM:SS` at `b[t..t+8]`.
#[inline]
fn date_time_parts(b: &[u8], t: usize) -> Option<(i32, u32, u32, u32, u32, u32)> {
    if b.len() < t + 8 || b[4] != b'-' || b[7] != b'-' || b[t + 2] != b':' || b[t + 5] != b':' {
        return None;
    }
    let y = digits2(b, 0)? * 100 + digits2(b, 2)?;
    Some((
        y as i32,
        digits2(b, 5)?,
        digits2(b, 8)?,
        digits2(b, t)?,
        digits2(b, t + 3)?,
        digits2(b, t + 6)?,
    ))
}

/// Parses an RFC 3339 time: the fast path is AWS's `2018-07-02T22:23:00.186641Z`; offsets other than `Z`
/// are converted to UTC. The fraction digits are kept.
#[inline]
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    parse_rfc3339_text(s).map(|(t, _)| t)
}

/// [`parse_rfc3339`], and whether `s` is already the text that [`Timestamp::write_rfc3339`] writes for
/// the time (`Z` and 3, 6 or 9 fraction digits, as AWS writes it): then the writer copies `s` instead
/// of printing the time again (see [`LineOut::set_time_text`](super::LineOut::set_time_text)).
#[inline]
pub fn parse_rfc3339_text(s: &str) -> Option<(Timestamp, bool)> {
    let b = s.as_bytes();
    if b.len() >= 20 && b[10] == b'T' && b[b.len() - 1] == b'Z' {
        let (y, mo, d, h, mi, sec) = date_time_parts(b, 11)?;
        let rest = &b[19..b.len() - 1];
        let (nanos, digits) = if rest.is_empty() {
            (0, 0)
        } else {
            parse_fraction(rest)?
        };
        let t = timestamp_from_parts(y, mo, d, h, mi, sec, nanos, digits)?;
        // The date and time were read from their fixed places as digits, so they print back the same;
        // the fraction does when it has the digits the writer prints.
        return Some((t, digits == t.digits));
    }
    let dt = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    let digits = s
        .find('.')
        .map(|dot| {
            s[dot + 1..]
                .bytes()
                .take_while(|c| c.is_ascii_digit())
                .count()
        })
        .unwrap_or(0);
    let t = Timestamp::from_datetime(dt.with_timezone(&chrono::Utc), digits.min(9) as u8);
    // An offset can carry 0000-01-01T00:30+01:00 into the year -1.
    Some((t.checked()?, false))
}

/// Parses `.ddd…` (1 to 9 digits) into nanoseconds and the digit count.
#[inline]
fn parse_fraction(rest: &[u8]) -> Option<(u32, u8)> {
    if rest[0] != b'.' || rest.len() < 2 || rest.len() > 10 {
        return None;
    }
    let mut v: u32 = 0;
    for &c in &rest[1..] {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u32;
    }
    let digits = (rest.len() - 1) as u32;
    Some((v * 10u32.pow(9 - digits), digits as u8))
}

/// Parses CloudFront's separate `YYYY-MM-DD` and `HH:MM:SS` columns (UTC).
#[inline]
pub fn parse_date_and_time(date: &str, time: &str) -> Option<Timestamp> {
    let d = date.as_bytes();
    let t = time.as_bytes();
    if d.len() != 10 || t.len() != 8 {
        return None;
    }
    let mut buf = [0u8; 19];
    buf[..10].copy_from_slice(d);
    buf[10] = b'T';
    buf[11..].copy_from_slice(t);
    let (y, mo, dd, h, mi, s) = date_time_parts(&buf, 11)?;
    timestamp_from_parts(y, mo, dd, h, mi, s, 0, 0)
}

/// Parses an ISO 8601 time that may lack the zone, which is then UTC: NLB writes
/// `2018-12-20T02:59:40`, without fraction or `Z`. With a `Z` or an offset it is read as
/// [`parse_rfc3339`] reads it, so that a line AWS one day writes with a zone still parses.
#[inline]
pub fn parse_iso_utc(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() == 19 && b[10] == b'T' {
        let (y, mo, d, h, mi, sec) = date_time_parts(b, 11)?;
        return timestamp_from_parts(y, mo, d, h, mi, sec, 0, 0);
    }
    if let Some(t) = parse_rfc3339(s) {
        return Some(t);
    }
    // A fraction and no zone.
    if b.len() > 20 && b[10] == b'T' && b[19] == b'.' {
        let (y, mo, d, h, mi, sec) = date_time_parts(b, 11)?;
        let (nanos, digits) = parse_fraction(&b[19..])?;
        return timestamp_from_parts(y, mo, d, h, mi, sec, nanos, digits);
    }
    None
}

/// Parses the Common Log Format time that S3 server access logs write between brackets,
/// `06/Feb/2019:00:00:38 +0000` (English month abbreviation, numeric offset), converted to UTC.
#[inline]
pub fn parse_clf_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() != 26
        || b[2] != b'/'
        || b[6] != b'/'
        || b[11] != b':'
        || b[14] != b':'
        || b[17] != b':'
        || b[20] != b' '
    {
        return None;
    }
    let month = match &b[3..6] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    let year = digits2(b, 7)? * 100 + digits2(b, 9)?;
    let t = timestamp_from_parts(
        year as i32,
        month,
        digits2(b, 0)?,
        digits2(b, 12)?,
        digits2(b, 15)?,
        digits2(b, 18)?,
        0,
        0,
    )?;
    let sign: i64 = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let offset = sign * (digits2(b, 22)? as i64 * 3600 + digits2(b, 24)? as i64 * 60);
    // The offset can carry the first or last hours of the calendar out of it.
    Timestamp {
        secs: t.secs - offset,
        ..t
    }
    .checked()
}
