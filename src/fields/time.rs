//! Time in events: a [`Timestamp`] (UTC, with the fraction digits the log wrote) in, its RFC 3339 text
//! out, written by arithmetic once per event; calendar parts to a timestamp, checked. What must stay
//! true: every timestamp a document carries is in the years 0000 to 9999 ([`Timestamp::in_range`]), and
//! the text equals chrono's for every second of them (the tests compare them across the calendar).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};

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
}
