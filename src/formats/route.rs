//! `log_format: auto`: an object's bucket and key in, the format whose key layout it is out (or none).
//!
//! Each format's descriptor says which keys AWS writes it under ([`super::Descriptor::recognises`]);
//! this module asks them, and holds what several layouts share: the load balancers' directory and file
//! names, and the time AWS writes into a file name. An input's `file_selectors` and `log_format` come
//! first (`config::Formats::choose`); CloudWatch Logs through Firehose and `json`/`custom` logs have no
//! layout of their own and need a `file_selectors` entry.
//!
//! What must stay true: routing never reads the object; the same key always gets the same answer; no key
//! AWS writes is recognised by two formats (each format's tests check its keys against every layout).

use super::LogFormat;

/// The time AWS wrote into an object's file name: `YYYYMMDDTHHMMZ` between `_`s, as VPC flow logs, load
/// balancers and CloudTrail name their files (`..._vpcflowlogs_us-east-1_fl-1234_20180620T1620Z_fe123456.log.gz`:
/// the end of the aggregation interval). `None` when the file name has none, or it is not a time.
pub fn time_in_key(key: &str) -> Option<crate::fields::Timestamp> {
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
        crate::fields::timestamp_from_parts(
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

/// The format whose key layout `key` (in `bucket`) is, if any: the one descriptor that recognises it.
pub fn recognise(bucket: &str, key: &str) -> Option<LogFormat> {
    super::ALL
        .iter()
        .find(|d| d.recognises.is_some_and(|r| r(bucket, key)))
        .map(|d| d.format)
}

/// Every format `log_format: auto` can recognise, in the order the documentation lists them.
pub fn auto_formats() -> impl Iterator<Item = LogFormat> {
    super::ALL
        .iter()
        .filter(|d| d.recognises.is_some())
        .map(|d| d.format)
}

/// The file name of a key in the directory where load balancers write their logs
/// (`AWSLogs/<account>/elasticloadbalancing/<region>/<yyyy>/<mm>/<dd>/`), if it is one.
pub fn load_balancer_file(key: &str) -> Option<&str> {
    (key.contains("/elasticloadbalancing/") || key.starts_with("elasticloadbalancing/"))
        .then(|| key.rsplit('/').next().unwrap_or(key))
}

/// The load balancer's name in the file name of an access log,
/// `<account>_elasticloadbalancing_<region>_<lb>_<time>_...`: its prefix (`app.`, `net.`, none) says
/// its kind. `None` for a connection log (`conn_log.`) or a file of another name.
pub fn load_balancer(key: &str) -> Option<&str> {
    let file = load_balancer_file(key)?;
    if file.starts_with("conn_log.") || !file.contains("_elasticloadbalancing_") {
        return None;
    }
    Some(file.split('_').nth(3).unwrap_or(""))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks that each `(bucket, key)` is recognised by `format` and by no other format.
    pub(crate) fn assert_recognised(format: LogFormat, keys: &[(&str, &str)]) {
        for (bucket, key) in keys {
            let by: Vec<&str> = super::super::ALL
                .iter()
                .filter(|d| d.recognises.is_some_and(|r| r(bucket, key)))
                .map(|d| d.name)
                .collect();
            assert_eq!(by, [format.name()], "{bucket}/{key}");
            assert_eq!(recognise(bucket, key), Some(format), "{bucket}/{key}");
        }
    }

    #[test]
    fn keys_of_no_aws_layout_are_not_recognised() {
        for (bucket, key) in [
            (
                "b",
                "firehose/2024/01/01/00/stream-1-2024-01-01-00-00-00-uuid.gz",
            ),
            ("b", "random/file.log"),
            (
                "b",
                "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2024/01/02/notes.txt",
            ),
        ] {
            assert_eq!(recognise(bucket, key), None, "{bucket}/{key}");
        }
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
