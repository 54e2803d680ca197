//! Value types of the config file: durations, byte sizes, `since`/`to` times and `s3://` URIs.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// `true`: the serde default of a switch that is on unless the file turns it off.
pub(super) fn yes() -> bool {
    true
}

/// A duration: a Go-style string (`300ms`, `5s`, `1m30s`, `2h`) or a bare number of seconds (`5`, `0.5`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Dur {
    /// `n` seconds.
    pub const fn secs(n: u64) -> Dur {
        Dur(Duration::from_secs(n))
    }
}

/// Parses a Go-style duration or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return secs_to_duration(secs).ok_or_else(|| format!("invalid duration {s:?}"));
    }
    let bad = || {
        format!("invalid duration {s:?}: expected a number of seconds or a duration like 300ms, 5s, 1m30s, 2h")
    };
    if t.starts_with('-') {
        return Err(format!("invalid duration {s:?}: must not be negative"));
    }
    let mut total = 0f64;
    let mut rest = t;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * mult;
        rest = &rest[unit_len..];
    }
    secs_to_duration(total).ok_or_else(bad)
}

fn secs_to_duration(secs: f64) -> Option<Duration> {
    if !secs.is_finite() || !(0.0..=1e12).contains(&secs) {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 5s, 1m30s or a number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                Ok(Dur(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                u64::try_from(v)
                    .map(|v| Dur(Duration::from_secs(v)))
                    .map_err(|_| E::custom(format!("invalid duration {v}: must not be negative")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                secs_to_duration(v)
                    .map(Dur)
                    .ok_or_else(|| E::custom(format!("invalid duration {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                parse_duration(v).map(Dur).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

/// Formats a duration the way the config accepts it (`1.5s`, `300ms`).
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// A size in bytes: a number, or a string with a unit (`512KiB`, `1MiB`, `1MB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// Parses a byte size.
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..split].parse().map_err(|_| {
        format!("invalid size {s:?}: expected bytes, or a number with KiB, MiB, KB or MB")
    })?;
    let mult = match t[split..].trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1024,
        "MiB" | "M" => 1024 * 1024,
        "GiB" | "G" => 1024 * 1024 * 1024,
        "KB" | "kB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "invalid size {s:?}: unknown unit {other:?} (use KiB, MiB, GiB, KB, MB or GB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("invalid size {s:?}: too large"))
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size in bytes, such as 1048576 or 1MiB")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("invalid size {v}: must not be negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_byte_size(v).map(ByteSize).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

/// Parses `since`/`to`: RFC 3339 (`2018-10-15T01:00:00Z`, `…+02:00`), or the shorter forms the original's
/// README shows, taken as UTC: `2018-10-15T01:00`, `2018-10-15T01:00:00`, `2018-10-15 01:00`, `2018-10-15`.
pub fn parse_time_bound(s: &str) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    let normalized = t.replacen(' ', "T", 1);
    let normalized = normalized.strip_suffix('Z').unwrap_or(&normalized);
    for layout in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(normalized, layout) {
            return Ok(n.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(normalized, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    Err(format!(
        "invalid time {s:?}: expected RFC 3339 (2018-10-15T01:00:00Z) or 2018-10-15T01:00 (UTC)"
    ))
}

/// A `buckets` entry: `s3://bucket` or `s3://bucket/prefix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Uri {
    /// The bucket.
    pub bucket: String,
    /// The key prefix to list (may be empty; taken as written, with or without a trailing `/`).
    pub prefix: String,
}

impl S3Uri {
    /// Parses `s3://bucket[/prefix]`.
    pub fn parse(s: &str) -> Result<S3Uri, String> {
        let rest = s.strip_prefix("s3://").ok_or_else(|| {
            format!("invalid S3 URI {s:?}: expected s3://bucket or s3://bucket/prefix")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("invalid S3 URI {s:?}: the bucket name is empty"));
        }
        Ok(S3Uri {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("20").unwrap(), Duration::from_secs(20));
        assert_eq!(parse_duration("0.5").unwrap(), Duration::from_millis(500));
        for bad in ["", "abc", "5x", "-1s", "s", "1m-", "-3"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(20)), "20s");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_byte_size("512 KiB").unwrap(), 512 * 1024);
        assert_eq!(parse_byte_size("1000").unwrap(), 1000);
        assert_eq!(parse_byte_size("2MB").unwrap(), 2_000_000);
        assert!(parse_byte_size("1 parsec").is_err());
        assert!(parse_byte_size("MiB").is_err());
    }

    #[test]
    fn time_bounds_accept_the_readme_forms() {
        let want = "2018-10-15T01:00:00+00:00";
        for s in [
            "2018-10-15T01:00",
            "2018-10-15T01:00:00",
            "2018-10-15T01:00:00Z",
            "2018-10-15 01:00",
            "2018-10-15T03:00:00+02:00",
        ] {
            assert_eq!(parse_time_bound(s).unwrap().to_rfc3339(), want, "{s}");
        }
        assert_eq!(
            parse_time_bound("2018-10-15").unwrap().to_rfc3339(),
            "2018-10-15T00:00:00+00:00"
        );
        assert!(parse_time_bound("15/10/2018").is_err());
    }

    #[test]
    fn s3_uris() {
        assert_eq!(
            S3Uri::parse("s3://valid.com/a/b/c").unwrap(),
            S3Uri {
                bucket: "valid.com".into(),
                prefix: "a/b/c".into()
            }
        );
        assert_eq!(S3Uri::parse("s3://valid.com/").unwrap().prefix, "");
        // The original panicked on this one.
        assert_eq!(S3Uri::parse("s3://bucket").unwrap().bucket, "bucket");
        assert!(S3Uri::parse("s3://").is_err());
        assert!(S3Uri::parse("bucket/x").is_err());
    }
}
