//! A `type: cloudwatch_logs` input's keys in (Filebeat's aws-cloudwatch keys, so its configs move over),
//! validated [`CloudwatchLogsSettings`] out; and `state`, where such inputs keep their checkpoints and
//! leases ([`StateSettings`]).
//!
//! What must stay true: every key of another input type is refused on this one and these keys on the
//! others (each by name), and every duration is checked against what CloudWatch Logs and its quota allow.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::raw::{RawConfig, RawInput};
use super::values::parse_time_bound;
use super::Problems;
use crate::formats::LogFormat;

/// A validated `type: cloudwatch_logs` input.
#[derive(Clone, Debug)]
pub struct CloudwatchLogsSettings {
    /// Groups named whole, with the region each is in (`None`: the input's).
    pub names: Vec<(Option<String>, String)>,
    /// Name prefixes, discovered again every `scan_frequency`.
    pub prefixes: Vec<String>,
    /// The region of the groups given by name or prefix; `None`: the input's AWS region.
    pub region: Option<String>,
    /// Only these streams; empty: all.
    pub streams: Vec<String>,
    /// Only streams starting with this.
    pub stream_prefix: Option<String>,
    /// Where a group without a checkpoint starts.
    pub start: StartPosition,
    /// How often groups are found again and read up to now.
    pub scan_frequency: Duration,
    /// How far each read goes back before the checkpoint.
    pub latency: Duration,
    /// The longest one call may take.
    pub api_timeout: Duration,
    /// Groups read at once.
    pub workers: usize,
}

/// `start_position`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartPosition {
    /// The oldest event kept.
    Beginning,
    /// Events from the first read on.
    End,
    /// Events from this time on.
    At(DateTime<Utc>),
    /// Events from this long before the first read on.
    Back(Duration),
}

impl StartPosition {
    /// The first millisecond to read, when the first read is at `now_ms`.
    pub fn first_ms(self, now_ms: u64) -> u64 {
        match self {
            StartPosition::Beginning => 0,
            StartPosition::End => now_ms,
            StartPosition::At(t) => t.timestamp_millis().max(0) as u64,
            StartPosition::Back(d) => now_ms.saturating_sub(d.as_millis() as u64),
        }
    }
}

/// Where checkpoints and leases are kept (`state`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateSettings {
    /// `state.s3`: bucket and key; `None`: files under `path.data`.
    pub s3: Option<(String, String)>,
    /// How long a lease holds without renewal.
    pub lease_duration: Duration,
}

/// Default `state.lease_duration`.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// Checks `state`.
pub(super) fn state(raw: &RawConfig, p: &mut Problems) -> StateSettings {
    let s3 = Option::as_ref(&raw.state.s3).and_then(|s| {
        let Some(bucket) = s.bucket.clone().filter(|b| !b.is_empty()) else {
            p.push(
                "state.s3.bucket",
                "state.s3.bucket is required: the bucket that keeps the state object",
            );
            return None;
        };
        let key = s
            .key
            .clone()
            .unwrap_or_else(|| "s3logsbeat/state.json".to_string());
        if key.is_empty() || key.ends_with('/') {
            p.push(
                "state.s3.key",
                format!("state.s3.key {key:?} must name an object, not a folder"),
            );
        }
        Some((bucket, key))
    });
    let lease_duration = raw.state.lease_duration.map_or(DEFAULT_LEASE, |d| d.0);
    if lease_duration < Duration::from_secs(10) || lease_duration > Duration::from_secs(3600) {
        p.push(
            "state.lease_duration",
            "state.lease_duration must be between 10s and 1h",
        );
    }
    StateSettings { s3, lease_duration }
}

/// The format a cloudwatch_logs input applies to each message: `log_format` (default `plain`); `auto`
/// and `file_selectors` name objects' keys and mean nothing here. Its options are built as every
/// input's are (`config/inputs.rs`).
pub(super) fn format(input: &RawInput, key: &str, p: &mut Problems) -> Option<LogFormat> {
    if !input.file_selectors.is_empty() {
        p.push(
            format!("{key}.file_selectors"),
            format!("{key}.file_selectors does not apply to type cloudwatch_logs: log events have no key; set log_format"),
        );
    }
    match input.log_format {
        None => Some(LogFormat::Plain),
        Some(LogFormat::Auto) => {
            p.push(
                format!("{key}.log_format"),
                format!("{key}.log_format auto does not apply to type cloudwatch_logs: log events have no key; name the format of the messages (plain by default)"),
            );
            None
        }
        Some(f) => Some(f),
    }
}

/// Checks a `type: cloudwatch_logs` input's own keys.
pub(super) fn validate(input: &RawInput, key: &str, p: &mut Problems) -> CloudwatchLogsSettings {
    for (k, there) in [
        ("queues_url", !input.queues_url.is_empty()),
        ("buckets", !input.buckets.is_empty()),
        ("since", input.since.is_some()),
        ("to", input.to.is_some()),
        ("wait_time", input.wait_time.is_some()),
        (
            "max_number_of_messages",
            input.max_number_of_messages.is_some(),
        ),
        ("visibility_timeout", input.visibility_timeout.is_some()),
        ("poll_frequency", input.poll_frequency.is_some()),
        (
            "queue_metrics_interval",
            input.queue_metrics_interval.is_some(),
        ),
        ("key_regex_fields", input.key_regex_fields.is_some()),
        ("unmatched", input.unmatched.is_some()),
    ] {
        if there {
            p.push(
                format!("{key}.{k}"),
                format!("{key}.{k} does not apply to type cloudwatch_logs"),
            );
        }
    }
    let mut names = Vec::new();
    for (j, arn) in input.log_group_arn.0.iter().enumerate() {
        match group_arn(arn) {
            Ok((region, name)) => names.push((Some(region), name)),
            Err(m) => p.push(
                format!("{key}.log_group_arn.{j}"),
                format!("{key}.log_group_arn: {arn:?} {m}"),
            ),
        }
    }
    for n in &input.log_group_name.0 {
        if n.is_empty() {
            p.push(
                format!("{key}.log_group_name"),
                format!("{key}.log_group_name: a log group name is not empty"),
            );
        } else {
            names.push((None, n.clone()));
        }
    }
    let prefixes = input.log_group_name_prefix.0.clone();
    if names.is_empty() && prefixes.is_empty() && p.is_empty() {
        p.push(
            format!("{key}.log_group_name"),
            format!("{key}: type cloudwatch_logs needs log_group_arn, log_group_name or log_group_name_prefix: the log groups to read"),
        );
    }
    if !input.log_streams.is_empty() && input.log_stream_prefix.is_some() {
        p.push(
            format!("{key}.log_stream_prefix"),
            format!("{key}: log_streams and log_stream_prefix cannot both be set (CloudWatch Logs takes one or the other)"),
        );
    }
    if input.log_streams.len() > 100 {
        p.push(
            format!("{key}.log_streams"),
            format!("{key}.log_streams: at most 100 streams (FilterLogEvents' limit)"),
        );
    }
    let start = match input.start_position.as_deref() {
        None | Some("beginning") => StartPosition::Beginning,
        Some("end") => StartPosition::End,
        Some(s) if s.starts_with('-') => match super::values::parse_duration(&s[1..]) {
            Ok(d) => StartPosition::Back(d),
            Err(m) => {
                p.push(
                    format!("{key}.start_position"),
                    format!("{key}.start_position {s:?}: {m}"),
                );
                StartPosition::Beginning
            }
        },
        Some(s) => match parse_time_bound(s) {
            Ok(t) => StartPosition::At(t),
            Err(m) => {
                p.push(
                    format!("{key}.start_position"),
                    format!("{key}.start_position must be beginning, end, an RFC 3339 time or a duration back such as -2h: {m}"),
                );
                StartPosition::Beginning
            }
        },
    };
    let scan_frequency = input
        .scan_frequency
        .map_or(Duration::from_secs(60), |d| d.0);
    if scan_frequency < Duration::from_secs(1) || scan_frequency > Duration::from_secs(24 * 3600) {
        p.push(
            format!("{key}.scan_frequency"),
            format!("{key}.scan_frequency must be between 1s and 24h"),
        );
    }
    let latency = input.latency.map_or(Duration::from_secs(120), |d| d.0);
    if latency > Duration::from_secs(24 * 3600) {
        p.push(
            format!("{key}.latency"),
            format!("{key}.latency must be at most 24h"),
        );
    }
    let api_timeout = input.api_timeout.map_or(Duration::from_secs(120), |d| d.0);
    if api_timeout < Duration::from_secs(1) || api_timeout > Duration::from_secs(600) {
        p.push(
            format!("{key}.api_timeout"),
            format!("{key}.api_timeout must be between 1s and 10m"),
        );
    }
    let workers = input.number_of_workers.unwrap_or(1);
    if workers == 0 || workers > 64 {
        p.push(
            format!("{key}.number_of_workers"),
            format!("{key}.number_of_workers must be between 1 and 64"),
        );
    }
    CloudwatchLogsSettings {
        names,
        prefixes,
        region: input.region_name.clone(),
        streams: input.log_streams.clone(),
        stream_prefix: input.log_stream_prefix.clone(),
        start,
        scan_frequency,
        latency,
        api_timeout,
        workers: workers.clamp(1, 64),
    }
}

/// The keys of `type: cloudwatch_logs` set on an input of another type (`kind`): each is a problem.
pub(super) fn refuse_keys(input: &RawInput, key: &str, kind: &str, p: &mut Problems) {
    for (k, there) in [
        ("log_group_arn", !input.log_group_arn.0.is_empty()),
        ("log_group_name", !input.log_group_name.0.is_empty()),
        (
            "log_group_name_prefix",
            !input.log_group_name_prefix.0.is_empty(),
        ),
        ("region_name", input.region_name.is_some()),
        ("log_streams", !input.log_streams.is_empty()),
        ("log_stream_prefix", input.log_stream_prefix.is_some()),
        ("start_position", input.start_position.is_some()),
        ("scan_frequency", input.scan_frequency.is_some()),
        ("latency", input.latency.is_some()),
        ("api_timeout", input.api_timeout.is_some()),
        (
            "number_of_workers",
            input.number_of_workers.is_some() && kind != "s3",
        ),
    ] {
        if there {
            p.push(
                format!("{key}.{k}"),
                format!("{key}.{k} only applies to type cloudwatch_logs, not {kind}"),
            );
        }
    }
}

/// The region and name of a log group ARN (`arn:aws:logs:<region>:<account>:log-group:<name>[:*]`).
pub fn group_arn(arn: &str) -> Result<(String, String), &'static str> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", _partition, "logs", region, _account, "log-group", name]
            if !region.is_empty() && !name.is_empty() =>
        {
            let name = name.strip_suffix(":*").unwrap_or(name);
            Ok((region.to_string(), name.to_string()))
        }
        _ => Err("is not a log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_arns_give_region_and_name() {
        assert_eq!(
            group_arn("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f:*").unwrap(),
            ("eu-west-1".to_string(), "/aws/lambda/f".to_string())
        );
        assert_eq!(
            group_arn("arn:aws-cn:logs:cn-north-1:1:log-group:app")
                .unwrap()
                .1,
            "app"
        );
        assert!(group_arn("arn:aws:s3:::bucket").is_err());
        assert!(group_arn("/aws/lambda/f").is_err());
    }

    #[test]
    fn start_positions_resolve_against_the_first_read() {
        let now = 10_000_000;
        assert_eq!(StartPosition::Beginning.first_ms(now), 0);
        assert_eq!(StartPosition::End.first_ms(now), now);
        assert_eq!(
            StartPosition::Back(Duration::from_secs(2)).first_ms(now),
            now - 2000
        );
    }
}
