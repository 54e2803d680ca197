//! Routing: an object's bucket and key in, the format to read it with out (or none: unmatched).
//!
//! An input names one format, or `file_selectors` (Filebeat's name) that pick one by key regex, first
//! match wins, or `log_format: auto`, which recognises the key layouts AWS services write:
//!
//! | format | key |
//! |---|---|
//! | `alb` | `AWSLogs/<account>/elasticloadbalancing/<region>/.../<account>_elasticloadbalancing_<region>_app.<lb>...` |
//! | `alb_connection` | the same directory, file name starting `conn_log.` |
//! | `nlb` | the same directory, `..._net.<lb>...` |
//! | `elb` | the same directory, any other (classic) load balancer name |
//! | `cloudtrail` | `AWSLogs/[<org>/]<account>/CloudTrail/`, `CloudTrail-Insight/`, `CloudTrail-Digest/` (digests are skipped) |
//! | `vpcflow` | `AWSLogs/<account>/vpcflowlogs/`, or Hive-style `aws-service=vpcflowlogs/` |
//! | `waf` | `AWSLogs/<account>/WAFLogs/`, or a bucket or key containing `aws-waf-logs-` |
//! | `cloudfront` | a file name `<distribution>.YYYY-MM-DD-HH.<hash>[.gz]` |
//! | `s3access` | a file name `YYYY-MM-DD-HH-MM-SS-<16 hex digits>` |
//!
//! CloudWatch Logs through Firehose and `json`/`custom` logs have no layout of their own: they need a
//! `file_selectors` entry. What must stay true: routing never reads the object, and the same key always
//! gets the same answer.

use std::sync::LazyLock;

use regex::Regex;

use crate::config::{Fallback, FormatSpec, Formats, LogFormat};

/// The time AWS wrote into an object's file name: `YYYYMMDDTHHMMZ` between `_`s, as VPC flow logs, load
/// balancers and CloudTrail name their files (`..._vpcflowlogs_us-east-1_fl-1234_20180620T1620Z_fe123456.log.gz`:
/// the end of the aggregation interval). `None` when the file name has none, or it is not a time.
pub fn time_in_key(key: &str) -> Option<crate::event::Timestamp> {
    let name = key.rsplit('/').next().unwrap_or(key);
    name.split(['_', '.']).find_map(|part| {
        let b = part.as_bytes();
        if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            let t = part.get(r)?;
            t.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| t.parse().ok())?
        };
        crate::event::timestamp_from_parts(
            digits(0..4)? as i32,
            digits(4..6)?,
            digits(6..8)?,
            digits(9..11)?,
            digits(11..13)?,
            0,
            0,
            0,
        )
    })
}

/// The format of `key` in `bucket` (a key with `file_selectors`, `log_format`, or `auto`), or `None`
/// when no format was chosen.
pub fn choose<'s>(formats: &'s Formats, bucket: &str, key: &str) -> Option<&'s FormatSpec> {
    if let Some((_, spec)) = formats.selectors.iter().find(|(re, _)| re.is_match(key)) {
        return Some(spec);
    }
    match &formats.fallback {
        Fallback::Format(spec) => Some(spec),
        Fallback::Auto(specs) => {
            let f = recognise(bucket, key)?;
            specs.iter().find(|s| s.format() == f)
        }
        Fallback::None => None,
    }
}

static CLOUDFRONT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Z0-9]{6,}\.\d{4}-\d{2}-\d{2}-\d{2}\.[0-9A-Za-z]+(?:\.gz)?$").expect("valid")
});
static S3ACCESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}$").expect("valid")
});

/// The AWS log format that writes keys like `key` (in `bucket`), if any.
pub fn recognise(bucket: &str, key: &str) -> Option<LogFormat> {
    let file = key.rsplit('/').next().unwrap_or(key);
    if key.contains("/elasticloadbalancing/") || key.starts_with("elasticloadbalancing/") {
        return Some(if file.starts_with("conn_log.") {
            LogFormat::AlbConnection
        } else if file.contains("_elasticloadbalancing_") {
            // `<account>_elasticloadbalancing_<region>_<lb>_...`: the load balancer's name says its kind.
            let lb = file.split('_').nth(3).unwrap_or("");
            if lb.starts_with("app.") {
                LogFormat::Alb
            } else if lb.starts_with("net.") {
                LogFormat::Nlb
            } else {
                LogFormat::Elb
            }
        } else {
            return None;
        });
    }
    if [
        "/CloudTrail/",
        "/CloudTrail-Digest/",
        "/CloudTrail-Insight/",
    ]
    .iter()
    .any(|d| key.contains(d) || key.starts_with(&d[1..]))
    {
        return Some(LogFormat::Cloudtrail);
    }
    if key.contains("/vpcflowlogs/")
        || key.starts_with("vpcflowlogs/")
        || key.contains("aws-service=vpcflowlogs/")
    {
        return Some(LogFormat::Vpcflow);
    }
    if key.contains("/WAFLogs/")
        || bucket.starts_with("aws-waf-logs-")
        || key.contains("aws-waf-logs-")
    {
        return Some(LogFormat::Waf);
    }
    if CLOUDFRONT.is_match(file) {
        return Some(LogFormat::Cloudfront);
    }
    if S3ACCESS.is_match(file) {
        return Some(LogFormat::S3access);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FormatOptions, Unmatched};

    #[test]
    fn aws_key_layouts_are_recognised() {
        let cases: &[(&str, &str, Option<LogFormat>)] = &[
            ("b", "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2024/01/02/123456789012_elasticloadbalancing_us-east-2_app.my-lb.1234567890abcdef_20240102T0005Z_172.160.001.192_20sg8hgm.log.gz", Some(LogFormat::Alb)),
            ("b", "pre/AWSLogs/123456789012/elasticloadbalancing/us-east-2/2024/01/02/123456789012_elasticloadbalancing_us-east-2_net.my-nlb.1234567890abcdef_20240102T0005Z_20sg8hgm.log.gz", Some(LogFormat::Nlb)),
            ("b", "AWSLogs/123456789012/elasticloadbalancing/us-west-2/2014/02/15/123456789012_elasticloadbalancing_us-west-2_my-loadbalancer_20140215T2340Z_172.160.001.192_20sg8hgm.log", Some(LogFormat::Elb)),
            ("b", "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2024/01/02/conn_log.123456789012_elasticloadbalancing_us-east-2_app.my-lb.1234567890abcdef_20240102T0005Z_172.160.001.192_20sg8hgm.log.gz", Some(LogFormat::AlbConnection)),
            ("b", "AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/01/123456789012_CloudTrail_us-east-1_20240101T0000Z_abcdefabcdefabcd.json.gz", Some(LogFormat::Cloudtrail)),
            ("b", "AWSLogs/o-abc/123456789012/CloudTrail-Digest/us-east-2/2015/08/17/x.json.gz", Some(LogFormat::Cloudtrail)),
            ("b", "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/01/01/123456789012_vpcflowlogs_us-east-1_fl-1234_20240101T0000Z_hash.log.gz", Some(LogFormat::Vpcflow)),
            ("b", "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2024/month=01/day=01/x.log.gz", Some(LogFormat::Vpcflow)),
            ("aws-waf-logs-prod", "2024/01/01/00/firehose-1-2024-01-01-00-00-00-uuid", Some(LogFormat::Waf)),
            ("b", "AWSLogs/123456789012/WAFLogs/us-east-1/acl/2024/01/01/00/00/x.log.gz", Some(LogFormat::Waf)),
            ("b", "cf/E2QWRUHAPOMQZL.2024-01-01-00.a1b2c3d4.gz", Some(LogFormat::Cloudfront)),
            ("b", "E2QWRUHAPOMQZL.2019-12-13-21.9d8c7b6a", Some(LogFormat::Cloudfront)),
            ("b", "logs/2019-02-06-00-00-38-5F8D9AB3C0B2A1E0", Some(LogFormat::S3access)),
            ("b", "logs/123456789012/us-east-1/src-bucket/2024/01/01/2024-01-01-00-00-00-5F8D9AB3C0B2A1E0", Some(LogFormat::S3access)),
            ("b", "firehose/2024/01/01/00/stream-1-2024-01-01-00-00-00-uuid.gz", None),
            ("b", "random/file.log", None),
        ];
        for (bucket, key, want) in cases {
            assert_eq!(recognise(bucket, key), *want, "{bucket}/{key}");
        }
    }

    #[test]
    fn selectors_first_then_the_fallback() {
        let spec = |f| FormatSpec::build(f, &FormatOptions::default(), |o| o.to_string()).unwrap();
        let mut formats = Formats {
            selectors: vec![
                (
                    Regex::new("^firehose/").unwrap(),
                    spec(LogFormat::Cloudwatch),
                ),
                (
                    Regex::new("/CloudTrail/").unwrap(),
                    spec(LogFormat::Vpcflow),
                ),
            ],
            fallback: Fallback::Auto(
                crate::config::format::AUTO_FORMATS
                    .iter()
                    .map(|f| spec(*f))
                    .collect(),
            ),
            unmatched: Unmatched::Delete,
        };
        let f = |formats: &Formats, key: &str| choose(formats, "b", key).map(|s| s.format());
        assert_eq!(f(&formats, "firehose/x"), Some(LogFormat::Cloudwatch));
        assert_eq!(
            f(&formats, "AWSLogs/1/CloudTrail/x"),
            Some(LogFormat::Vpcflow),
            "a selector wins over auto"
        );
        assert_eq!(
            f(&formats, "AWSLogs/1/vpcflowlogs/x"),
            Some(LogFormat::Vpcflow)
        );
        assert_eq!(f(&formats, "other"), None);
        formats.fallback = Fallback::Format(spec(LogFormat::Alb));
        assert_eq!(f(&formats, "other"), Some(LogFormat::Alb));
        formats.fallback = Fallback::None;
        assert_eq!(f(&formats, "other"), None);
    }

    #[test]
    fn the_time_in_an_aws_file_name() {
        let t = |k: &str| time_in_key(k).map(|t| t.to_rfc3339());
        assert_eq!(
            t("AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz"),
            Some("2018-06-20T16:20:00.000Z".into())
        );
        assert_eq!(
            t("AWSLogs/1/elasticloadbalancing/us-east-2/2016/05/01/1_elasticloadbalancing_us-east-2_app.my-lb.1234_20140215T2340Z_172.160.001.192_20sg8hgm.log.gz"),
            Some("2014-02-15T23:40:00.000Z".into())
        );
        for none in [
            "a/b.log",
            "x_20181340T1620Z_y.log",
            "x_2018062OT1620Z_y",
            "20180620T1620Z/x.log",
        ] {
            assert_eq!(t(none), None, "{none}");
        }
    }
}
