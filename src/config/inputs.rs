//! `s3logsbeat.inputs[]`, checked once: each raw input in, an [`InputSettings`] out with its format
//! compiled ([`FormatSpec`]), its key regex compiled, its fields and tags merged with the global ones and
//! its source (SQS queues, or buckets with a time window) checked for the mode being run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;

use super::raw::Unmatched;
use super::raw::{self, InputType, RawConfig, RawInput};
pub use super::raw::{FieldNames, ParseErrorPolicy};
use super::values::{parse_time_bound, S3Uri};
use super::Problems;
use crate::formats::{FormatOptions, FormatSpec, LogFormat};

/// Default `max_line_bytes`: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// Names a key regex group may not take, because s3logsbeat writes these fields itself.
pub use crate::fields::RESERVED_NAMES;

/// The enrichment settings of one input.
#[derive(Clone, Debug)]
pub struct EnrichSettings {
    /// `beat.name`: the `name` setting, default the host name.
    pub beat_name: String,
    /// `beat.hostname`.
    pub hostname: String,
    /// `key_regex_fields`: named groups become fields.
    pub key_regex: Option<Regex>,
    /// Global `fields` merged with the input's (the input wins).
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Put `fields` at the top level of the event instead of under `fields`.
    pub fields_under_root: bool,
    /// Global `tags` followed by the input's.
    pub tags: Vec<String>,
    /// What to do with lines that do not parse.
    pub parse_errors: ParseErrorPolicy,
}

impl EnrichSettings {
    /// Settings with no key regex, fields or tags.
    pub fn new(beat_name: &str, hostname: &str) -> EnrichSettings {
        EnrichSettings {
            beat_name: beat_name.to_string(),
            hostname: hostname.to_string(),
            key_regex: None,
            fields: Default::default(),
            fields_under_root: false,
            tags: Vec::new(),
            parse_errors: ParseErrorPolicy::Ship,
        }
    }
}

/// Compiles a `key_regex_fields` value: a valid regex with at least one named group, none of which is a
/// field s3logsbeat writes itself. The error does not name the key (the caller does).
pub fn key_regex(re: &str) -> Result<Regex, String> {
    let r = Regex::new(re).map_err(|e| format!("not a valid regular expression: {e}"))?;
    if r.capture_names().flatten().next().is_none() {
        return Err("has no named group (?P<name>...): it would add no field".into());
    }
    if let Some(n) = r
        .capture_names()
        .flatten()
        .find(|n| RESERVED_NAMES.contains(n))
    {
        return Err(format!(
            "group name {n:?} is a field s3logsbeat writes itself ({})",
            RESERVED_NAMES.join(", ")
        ));
    }
    Ok(r)
}

/// AWS access of one input: the global `s3logsbeat.aws` block with the input's keys over it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// Region; `None`: from the environment or profile.
    pub region: Option<String>,
    /// Endpoint URL for S3 and SQS; `None`: AWS's (or `AWS_ENDPOINT_URL*`).
    pub endpoint: Option<String>,
    /// Path-style S3 addressing; `None`: only for a loopback endpoint.
    pub path_style: Option<bool>,
    /// Role to assume.
    pub role_arn: Option<String>,
    /// External id for the role.
    pub external_id: Option<String>,
    /// Shared-config profile.
    pub profile: Option<String>,
}

/// One validated, enabled input.
#[derive(Clone, Debug)]
pub struct InputSettings {
    /// Position in `s3logsbeat.inputs`.
    pub index: usize,
    /// What it reads.
    pub source: InputSource,
    /// How each object's format is chosen, and the formats with their options.
    pub formats: Formats,
    /// Enrichment (beat name, key regex, fields, tags, parse-error policy).
    pub enrich: EnrichSettings,
    /// Longest line, in bytes.
    pub max_line_bytes: usize,
    /// AWS access.
    pub aws: AwsSettings,
    /// Messages (sqs) or objects (s3) read at once.
    pub workers: usize,
    /// Field names: original or ECS (renamed before the processors run).
    pub field_names: FieldNames,
    /// The input's `processors`, then the global ones; applied to every event before it is published.
    pub processors: super::processors::Processors,
    /// What becomes of an object once every event of it is delivered: a backup, a delete.
    pub finalise: super::s3::Finalise,
}

/// How an input chooses the format of an object (see `crate::formats::route`).
#[derive(Clone, Debug)]
pub struct Formats {
    /// `file_selectors`, in order: the first whose regex matches the key wins.
    pub selectors: Vec<(regex::Regex, FormatSpec)>,
    /// For keys no selector matches.
    pub fallback: Fallback,
    /// What happens to an object no format was chosen for.
    pub unmatched: Unmatched,
}

/// The format of keys that no `file_selectors` entry matches.
#[derive(Clone, Debug)]
pub enum Fallback {
    /// `log_format: <format>`.
    Format(FormatSpec),
    /// `log_format: auto`: recognised from the key; these are the formats it can give, with their
    /// default options.
    Auto(Vec<FormatSpec>),
    /// No `log_format`: the key is unmatched.
    None,
}

impl Formats {
    /// One format for every object (tests, `parse --format`).
    pub fn one(spec: FormatSpec) -> Formats {
        Formats {
            selectors: Vec::new(),
            fallback: Fallback::Format(spec),
            unmatched: Unmatched::Delete,
        }
    }

    /// `log_format: auto`, without selectors.
    pub fn auto() -> Formats {
        Formats {
            selectors: Vec::new(),
            fallback: Fallback::Auto(
                crate::formats::route::auto_formats()
                    .map(|f| {
                        FormatSpec::build(f, &FormatOptions::default(), |o| o.to_string())
                            .expect("auto formats take no required option")
                    })
                    .collect(),
            ),
            unmatched: Unmatched::Delete,
        }
    }

    /// The format of `key` in `bucket`: the first `file_selectors` entry whose regex matches the key,
    /// else `log_format` (under `auto`, the format whose AWS key layout it is); `None` when no format
    /// was chosen (the object is unmatched).
    pub fn choose(&self, bucket: &str, key: &str) -> Option<&FormatSpec> {
        if let Some((_, spec)) = self.selectors.iter().find(|(re, _)| re.is_match(key)) {
            return Some(spec);
        }
        match &self.fallback {
            Fallback::Format(spec) => Some(spec),
            Fallback::Auto(specs) => {
                let f = crate::formats::route::recognise(bucket, key)?;
                specs.iter().find(|s| s.format() == f)
            }
            Fallback::None => None,
        }
    }

    /// Every format the input can read, in order (for the index template).
    pub fn all(&self) -> Vec<&FormatSpec> {
        let mut v: Vec<&FormatSpec> = self.selectors.iter().map(|(_, s)| s).collect();
        match &self.fallback {
            Fallback::Format(s) => v.push(s),
            Fallback::Auto(specs) => v.extend(specs),
            Fallback::None => {}
        }
        v
    }
}

/// Where an input's objects come from.
#[derive(Clone, Debug)]
pub enum InputSource {
    /// S3 notifications on these queues.
    Sqs(SqsSettings),
    /// Objects in these buckets, with LastModified in `[since, to)` (`s3import`).
    S3(S3Settings),
    /// A bucket's prefixes, listed again and again by the daemon.
    S3Poll(super::s3::S3PollSettings),
    /// Log groups in CloudWatch Logs.
    CloudwatchLogs(super::cloudwatch::CloudwatchLogsSettings),
}

/// A validated `type: sqs` input.
#[derive(Clone, Debug)]
pub struct SqsSettings {
    /// Queue URLs.
    pub queues: Vec<String>,
    /// Pause after an empty poll.
    pub poll_frequency: Duration,
    /// Long-poll wait (0..=20 s).
    pub wait_time: Duration,
    /// Messages per receive (1..=10).
    pub max_messages: i32,
    /// Visibility timeout set on receive and renewed while in flight.
    pub visibility_timeout: Duration,
    /// How often each queue's depth is read for the monitoring endpoint; `None`: never.
    pub queue_metrics_interval: Option<Duration>,
}

/// Default `queue_metrics_interval`.
pub const DEFAULT_QUEUE_METRICS_INTERVAL: Duration = Duration::from_secs(15);

/// A validated `type: s3` input.
#[derive(Clone, Debug)]
pub struct S3Settings {
    /// Buckets and prefixes.
    pub buckets: Vec<S3Uri>,
    /// Inclusive lower bound of LastModified.
    pub since: Option<DateTime<Utc>>,
    /// Exclusive upper bound of LastModified.
    pub to: Option<DateTime<Utc>>,
}

/// Checks input `i`; every problem goes to `p`.
pub(super) fn validate(
    raw: &RawConfig,
    input: &RawInput,
    i: usize,
    kind: InputType,
    beat_name: &str,
    hostname: &str,
    p: &mut Problems,
) -> Option<InputSettings> {
    let key = format!("s3logsbeat.inputs.{i}");
    let before = p.len();
    let formats = if kind == InputType::CloudwatchLogs {
        super::cloudwatch::format(input, &key, p)
            .and_then(|f| build_format(f, input.log_format_options.as_ref(), &key, p))
            .map(Formats::one)
    } else {
        formats(input, &key, p)
    };

    let key_regex = input.key_regex_fields.as_deref().and_then(|re| {
        key_regex(re)
            .map_err(|m| {
                p.push(
                    format!("{key}.key_regex_fields"),
                    format!("{key}.key_regex_fields: {m}"),
                )
            })
            .ok()
    });

    let only = |p: &mut Problems, present: &[(&str, bool)], kind: &str| {
        for (k, there) in present {
            if *there {
                p.push(
                    format!("{key}.{k}"),
                    format!("{key}.{k} only applies to type {kind}"),
                );
            }
        }
    };
    let source = match kind {
        InputType::Sqs => {
            if input.queues_url.is_empty() {
                p.push(
                    format!("{key}.queues_url"),
                    format!(
                        "{key}.queues_url is required for type sqs: the SQS queue URLs to poll"
                    ),
                );
            }
            for (j, q) in input.queues_url.iter().enumerate() {
                if !(q.starts_with("https://") || q.starts_with("http://")) {
                    p.push(
                        format!("{key}.queues_url.{j}"),
                        format!("{key}.queues_url.{j}: {q:?} is not a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)"),
                    );
                }
            }
            super::cloudwatch::refuse_keys(input, &key, "sqs", p);
            super::s3::refuse_polling_keys(input, &key, "sqs", p);
            only(
                p,
                &[
                    ("bucket_arn", input.bucket_arn.is_some()),
                    ("non_aws_bucket_name", input.non_aws_bucket_name.is_some()),
                ],
                "s3",
            );
            only(
                p,
                &[
                    ("buckets", !input.buckets.is_empty()),
                    ("since", input.since.is_some()),
                    ("to", input.to.is_some()),
                ],
                "s3",
            );
            let wait_time = input.wait_time.map_or(Duration::from_secs(20), |d| d.0);
            if wait_time > Duration::from_secs(20) {
                p.push(
                    format!("{key}.wait_time"),
                    format!("{key}.wait_time must be at most 20s (SQS's long-polling limit)"),
                );
            }
            let max_messages = input.max_number_of_messages.unwrap_or(10);
            if !(1..=10).contains(&max_messages) {
                p.push(
                    format!("{key}.max_number_of_messages"),
                    format!("{key}.max_number_of_messages must be between 1 and 10"),
                );
            }
            let visibility_timeout = input
                .visibility_timeout
                .map_or(Duration::from_secs(300), |d| d.0);
            if visibility_timeout < Duration::from_secs(2)
                || visibility_timeout > Duration::from_secs(12 * 3600)
            {
                p.push(
                    format!("{key}.visibility_timeout"),
                    format!("{key}.visibility_timeout must be between 2s and 12h"),
                );
            }
            let queue_metrics_interval = input
                .queue_metrics_interval
                .map_or(DEFAULT_QUEUE_METRICS_INTERVAL, |d| d.0);
            // Under a second is more calls than a gauge read every few seconds needs; over an hour the
            // depth says little about now.
            if !queue_metrics_interval.is_zero()
                && (queue_metrics_interval < Duration::from_secs(1)
                    || queue_metrics_interval > Duration::from_secs(3600))
            {
                p.push(
                    format!("{key}.queue_metrics_interval"),
                    format!("{key}.queue_metrics_interval must be 0s (off) or between 1s and 1h"),
                );
            }
            InputSource::Sqs(SqsSettings {
                queues: input.queues_url.clone(),
                poll_frequency: input.poll_frequency.map(|d| d.0).unwrap_or_default(),
                wait_time,
                max_messages: max_messages.clamp(1, 10) as i32,
                visibility_timeout,
                queue_metrics_interval: (!queue_metrics_interval.is_zero())
                    .then_some(queue_metrics_interval),
            })
        }
        InputType::S3 if super::s3::is_polling(input) => {
            super::cloudwatch::refuse_keys(input, &key, "s3", p);
            refuse_sqs_keys(input, &key, p);
            InputSource::S3Poll(super::s3::validate_polling(input, &key, p))
        }
        InputType::S3 => {
            super::s3::refuse_polling_keys(input, &key, "s3 with buckets (s3import)", p);
            if input.buckets.is_empty() {
                p.push(
                    format!("{key}.buckets"),
                    format!(
                        "{key}.buckets is required for type s3: s3://bucket or s3://bucket/prefix (s3import), or bucket_arn to poll the bucket (run)"
                    ),
                );
            }
            super::cloudwatch::refuse_keys(input, &key, "s3", p);
            refuse_sqs_keys(input, &key, p);
            let mut buckets = Vec::new();
            for (j, b) in input.buckets.iter().enumerate() {
                match S3Uri::parse(b) {
                    Ok(u) => buckets.push(u),
                    Err(m) => p.push(
                        format!("{key}.buckets.{j}"),
                        format!("{key}.buckets.{j}: {m}"),
                    ),
                }
            }
            let mut bound = |name: &str, v: &Option<String>| {
                let s = v.as_deref()?;
                parse_time_bound(s)
                    .map_err(|m| p.push(format!("{key}.{name}"), format!("{key}.{name}: {m}")))
                    .ok()
            };
            let since = bound("since", &input.since);
            let to = bound("to", &input.to);
            if let (Some(s), Some(t)) = (since, to) {
                if s >= t {
                    p.push(
                        format!("{key}.to"),
                        format!("{key}: since ({s}) must be before to ({t})"),
                    );
                }
            }
            InputSource::S3(S3Settings { buckets, since, to })
        }
        InputType::CloudwatchLogs => {
            super::s3::refuse_polling_keys(input, &key, "cloudwatch_logs", p);
            only(
                p,
                &[
                    ("bucket_arn", input.bucket_arn.is_some()),
                    ("non_aws_bucket_name", input.non_aws_bucket_name.is_some()),
                    ("backup_to_bucket_arn", input.backup_to_bucket_arn.is_some()),
                    (
                        "non_aws_backup_to_bucket_name",
                        input.non_aws_backup_to_bucket_name.is_some(),
                    ),
                    ("delete_after_read", input.delete_after_read.is_some()),
                ],
                "sqs or s3",
            );
            InputSource::CloudwatchLogs(super::cloudwatch::validate(input, &key, p))
        }
    };
    let finalise = match &source {
        InputSource::Sqs(_) => super::s3::validate_finalise(input, &key, None, p),
        InputSource::S3(s) => {
            let listed: Vec<(String, String)> = s
                .buckets
                .iter()
                .map(|u| (u.bucket.clone(), u.prefix.clone()))
                .collect();
            super::s3::validate_finalise(input, &key, Some(&listed), p)
        }
        InputSource::S3Poll(s) => {
            let listed: Vec<(String, String)> = s
                .prefixes
                .iter()
                .map(|pre| (s.bucket.clone(), pre.clone()))
                .collect();
            super::s3::validate_finalise(input, &key, Some(&listed), p)
        }
        InputSource::CloudwatchLogs(_) => Default::default(),
    };
    let s3_kind = kind == InputType::S3;
    if input.workers.is_some() && input.number_of_workers.is_some() && s3_kind {
        p.push(
            format!("{key}.number_of_workers"),
            format!("{key}: give workers or number_of_workers (Filebeat's name), not both"),
        );
    }

    if input.workers == Some(0) {
        p.push(
            format!("{key}.workers"),
            format!("{key}.workers must be at least 1"),
        );
    }
    let aws = merge_aws(raw.s3logsbeat.aws.as_ref(), input.aws.as_ref());
    if let Some(e) = &aws.endpoint {
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            let k = if input.aws.as_ref().is_some_and(|a| a.endpoint.is_some()) {
                format!("{key}.aws.endpoint")
            } else {
                "s3logsbeat.aws.endpoint".to_string()
            };
            p.push(
                k,
                format!("aws.endpoint {e:?} must be a URL (http://host:port or https://host)"),
            );
        }
    }
    let max_line_bytes = match input.max_line_bytes {
        None => DEFAULT_MAX_LINE_BYTES,
        Some(b) if b.0 == 0 => {
            p.push(
                format!("{key}.max_line_bytes"),
                format!("{key}.max_line_bytes must be at least 1"),
            );
            DEFAULT_MAX_LINE_BYTES
        }
        Some(b) => usize::try_from(b.0).unwrap_or(usize::MAX),
    };

    let field_names = input.field_names.unwrap_or(raw.field_names);
    if let (FieldNames::Ecs, Some(f)) = (field_names, &formats) {
        warn_without_ecs_names(f, &key, p);
    }

    let processors = super::processors::compile(
        &input.processors,
        &format!("s3logsbeat.inputs.{i}.processors"),
        p,
    );
    if p.len() > before {
        return None;
    }
    let mut fields = raw.fields.clone();
    for (k, v) in &input.fields {
        fields.insert(k.clone(), v.clone());
    }
    let mut tags = raw.tags.clone();
    tags.extend(input.tags.iter().cloned());
    Some(InputSettings {
        index: i,
        source,
        formats: formats?,
        enrich: EnrichSettings {
            beat_name: beat_name.to_string(),
            hostname: hostname.to_string(),
            key_regex,
            fields,
            fields_under_root: input.fields_under_root.unwrap_or(raw.fields_under_root),
            tags,
            parse_errors: input.parse_errors,
        },
        max_line_bytes,
        aws,
        workers: input
            .workers
            .or(if s3_kind {
                input.number_of_workers
            } else {
                None
            })
            .unwrap_or(5)
            .max(1),
        field_names,
        processors,
        finalise,
    })
}

/// The keys of `type: sqs` set on an `s3` input: each is a problem.
fn refuse_sqs_keys(input: &RawInput, key: &str, p: &mut Problems) {
    for (k, there) in [
        ("queues_url", !input.queues_url.is_empty()),
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
    ] {
        if there {
            p.push(
                format!("{key}.{k}"),
                format!("{key}.{k} only applies to type sqs"),
            );
        }
    }
}

/// Under `field_names: ecs`, each format of the input that has no ECS names (`json`, `custom`: their
/// fields are the log's own, or the config's) is a warning naming the input and the format: its events
/// go out under their own names beside the others' ECS ones, which is better said at start-up than found
/// in the index.
fn warn_without_ecs_names(formats: &Formats, key: &str, p: &mut Problems) {
    let why = "has no ECS mapping: under field_names: ecs its events keep their own field names";
    for (j, (_, spec)) in formats.selectors.iter().enumerate() {
        let f = spec.format();
        if f.descriptor().is_some_and(|d| d.ecs.is_none()) {
            let skey = format!("{key}.file_selectors.{j}");
            p.warn(
                format!("{skey}.log_format"),
                format!("{skey}: log_format {f} {why}"),
            );
        }
    }
    let (fallback, auto): (Vec<&FormatSpec>, bool) = match &formats.fallback {
        Fallback::Format(s) => (vec![s], false),
        Fallback::Auto(specs) => (specs.iter().collect(), true),
        Fallback::None => (Vec::new(), false),
    };
    for spec in fallback {
        let f = spec.format();
        if f.descriptor().is_some_and(|d| d.ecs.is_none()) {
            let what = if auto {
                format!("log_format auto reads {f}, which")
            } else {
                format!("log_format {f}")
            };
            p.warn(format!("{key}.log_format"), format!("{key}: {what} {why}"));
        }
    }
}

/// The input's `aws` keys over the global ones.
fn merge_aws(global: Option<&raw::AwsBlock>, input: Option<&raw::AwsBlock>) -> AwsSettings {
    let g = global.cloned().unwrap_or_default();
    let i = input.cloned().unwrap_or_default();
    AwsSettings {
        region: i.region.or(g.region),
        endpoint: i.endpoint.or(g.endpoint),
        path_style: i.path_style.or(g.path_style),
        role_arn: i.role_arn.or(g.role_arn),
        external_id: i.external_id.or(g.external_id),
        profile: i.profile.or(g.profile),
    }
}

/// Builds one format and its options; problems are reported under `key` (`...log_format_options.<o>`).
fn build_format(
    format: LogFormat,
    opts: Option<&FormatOptions>,
    key: &str,
    p: &mut Problems,
) -> Option<FormatSpec> {
    let okey = format!("{key}.log_format_options");
    let required = format.descriptor().map_or(&[][..], |d| d.required);
    if !required.is_empty() && opts.is_none() {
        let what = crate::formats::join_names(required, "and");
        p.push(
            okey.clone(),
            format!("{okey} is required for log_format {format}: {what}"),
        );
        return None;
    }
    let default = FormatOptions::default();
    match FormatSpec::build(format, opts.unwrap_or(&default), |o| format!("{okey}.{o}")) {
        Ok(s) => Some(s),
        Err((o, m)) => {
            p.push(format!("{okey}.{o}"), m);
            None
        }
    }
}

/// The input's `log_format`, `file_selectors` and `unmatched`.
fn formats(input: &RawInput, key: &str, p: &mut Problems) -> Option<Formats> {
    let before = p.len();
    let mut selectors = Vec::new();
    for (j, sel) in input.file_selectors.iter().enumerate() {
        let skey = format!("{key}.file_selectors.{j}");
        let re = match sel.regex.as_deref() {
            None => {
                p.push(
                    format!("{skey}.regex"),
                    format!("{skey}.regex is required: a regular expression matched against each object's key"),
                );
                None
            }
            Some(r) => regex::Regex::new(r)
                .map_err(|e| p.push(format!("{skey}.regex"), format!("{skey}.regex: {e}")))
                .ok(),
        };
        let spec = match sel.log_format {
            None => {
                p.push(
                    format!("{skey}.log_format"),
                    format!("{skey}.log_format is required: {}", LogFormat::names()),
                );
                None
            }
            Some(LogFormat::Auto) => {
                p.push(
                    format!("{skey}.log_format"),
                    format!("{skey}.log_format: a selector names a format (auto applies to the input's log_format)"),
                );
                None
            }
            Some(f) => build_format(f, sel.log_format_options.as_ref(), &skey, p),
        };
        if let (Some(re), Some(spec)) = (re, spec) {
            selectors.push((re, spec));
        }
    }
    let fallback = match input.log_format {
        None if input.file_selectors.is_empty() => {
            p.push(
                format!("{key}.log_format"),
                format!(
                    "{key}.log_format is required: {}, auto, or file_selectors",
                    LogFormat::names()
                ),
            );
            None
        }
        None => Some(Fallback::None),
        Some(LogFormat::Auto) => {
            if input.log_format_options.is_some() {
                p.push(
                    format!("{key}.log_format_options"),
                    format!("{key}.log_format_options: log_format auto uses each format's defaults; give options in file_selectors"),
                );
            }
            Some(Formats::auto().fallback)
        }
        Some(f) => build_format(f, input.log_format_options.as_ref(), key, p).map(Fallback::Format),
    };
    if p.len() > before {
        return None;
    }
    Some(Formats {
        selectors,
        fallback: fallback?,
        unmatched: input.unmatched.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            fallback: Formats::auto().fallback,
            unmatched: Unmatched::Delete,
        };
        let f = |formats: &Formats, key: &str| formats.choose("b", key).map(|s| s.format());
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
}
