//! Configuration: `s3logsbeat.yml` in, validated [`Settings`] out.
//!
//! [`load::load_file`] reads the YAML (dotted keys, `${VAR}`, `-E` overrides) into [`raw::RawConfig`];
//! [`Settings::validate`] checks it once, for the mode being run, and compiles what needs compiling
//! (regexes, layouts, times), so no other module parses a config string again. Every error names the
//! file and the key.

pub mod load;
pub mod raw;
pub mod values;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use regex::Regex;

use crate::enrich::{EnrichSettings, RESERVED_NAMES};
use crate::formats::json::JsonOptions;
use crate::formats::time::TimeFormat;
use crate::formats::{FormatSpec, LogFormat};
use crate::object::DEFAULT_MAX_LINE_BYTES;
use raw::{InputType, RawConfig, RawInput};
use values::{parse_time_bound, S3Uri};

/// A configuration mistake: the file, the key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: String,
    /// The key concerned, dotted (`s3logsbeat.inputs.0.log_format`).
    pub key: Option<String>,
    /// The line in the file, when the key is written there once.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Which inputs are being run; inputs of the other kind are not validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `run`: the `type: sqs` inputs.
    Sqs,
    /// `s3import`: the `type: s3` inputs.
    S3,
    /// `test config`: everything.
    All,
}

/// One validated, enabled input.
#[derive(Clone, Debug)]
pub struct InputSettings {
    /// Position in `s3logsbeat.inputs`.
    pub index: usize,
    /// What it reads.
    pub source: InputSource,
    /// The format and its options.
    pub format: FormatSpec,
    /// Enrichment (beat name, key regex, fields, tags, parse-error policy).
    pub enrich: EnrichSettings,
    /// Longest line, in bytes.
    pub max_line_bytes: usize,
    /// AWS access (global block merged with the input's).
    pub aws: raw::AwsBlock,
    /// Messages (sqs) or objects (s3) processed at once.
    pub workers: usize,
}

/// Where an input's objects come from.
#[derive(Clone, Debug)]
pub enum InputSource {
    /// S3 notifications on these queues.
    Sqs(SqsSettings),
    /// Objects in these buckets, with LastModified in `[since, to)`.
    S3 {
        /// Buckets and prefixes.
        buckets: Vec<S3Uri>,
        /// Inclusive lower bound.
        since: Option<DateTime<Utc>>,
        /// Exclusive upper bound.
        to: Option<DateTime<Utc>>,
    },
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
    /// Messages processed at once.
    pub workers: usize,
}

/// Which output is configured.
#[derive(Clone, Debug)]
pub enum OutputKind {
    /// `output.elasticsearch`.
    Elasticsearch(Box<raw::Elasticsearch>),
    /// `output.logstash`.
    Logstash(raw::Logstash),
    /// `output.console`.
    Console(raw::Console),
    /// `output.file`.
    File(raw::File),
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The file it came from.
    pub file: PathBuf,
    /// `beat.name`.
    pub beat_name: String,
    /// `beat.hostname`.
    pub hostname: String,
    /// Enabled inputs of the mode.
    pub inputs: Vec<InputSettings>,
    /// How long shutdown waits for deliveries.
    pub shutdown_timeout: Duration,
    /// `queue.mem`.
    pub queue: raw::MemQueue,
    /// The output.
    pub output: OutputKind,
    /// The file as parsed (defaults applied).
    pub raw: RawConfig,
}

/// The host name, as `beat.hostname` and the default `beat.name`.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

impl Settings {
    /// Loads and validates `file` for `mode`.
    pub fn load(
        file: &Path,
        overrides: &[String],
        mode: Mode,
    ) -> Result<Settings, Vec<ConfigError>> {
        let (raw, _) = load::load_file(file, overrides).map_err(|e| vec![e])?;
        Settings::validate(raw, file, mode)
    }

    /// Validates a parsed config for `mode`; returns every problem found, not only the first.
    pub fn validate(raw: RawConfig, file: &Path, mode: Mode) -> Result<Settings, Vec<ConfigError>> {
        let fname = file.display().to_string();
        let mut errors = Vec::new();
        let push = |errors: &mut Vec<ConfigError>, key: String, message: String| {
            errors.push(ConfigError {
                file: fname.clone(),
                key: Some(key),
                line: None,
                message,
            })
        };
        let hostname = hostname();
        let beat_name = raw.name.clone().unwrap_or_else(|| hostname.clone());

        if raw.s3logsbeat.inputs.is_empty() {
            push(
                &mut errors,
                "s3logsbeat.inputs".into(),
                "s3logsbeat.inputs is missing or empty: configure at least one input".into(),
            );
        }
        let mut inputs = Vec::new();
        for (i, input) in raw.s3logsbeat.inputs.iter().enumerate() {
            let key = format!("s3logsbeat.inputs.{i}");
            let Some(kind) = input.kind else {
                push(
                    &mut errors,
                    format!("{key}.type"),
                    format!("{key}.type is required: sqs or s3"),
                );
                continue;
            };
            let wanted = match mode {
                Mode::Sqs => kind == InputType::Sqs,
                Mode::S3 => kind == InputType::S3,
                Mode::All => true,
            };
            if !wanted || !input.enabled {
                continue;
            }
            match validate_input(&raw, input, i, kind, &beat_name, &hostname) {
                Ok(s) => inputs.push(s),
                Err(list) => {
                    for (k, m) in list {
                        push(&mut errors, k, m);
                    }
                }
            }
        }
        if !raw.s3logsbeat.inputs.is_empty() && inputs.is_empty() && errors.is_empty() {
            let what = match mode {
                Mode::Sqs => "no enabled input of type sqs: `run` has nothing to do (s3 inputs are for `s3import`)",
                Mode::S3 => "no enabled input of type s3: `s3import` has nothing to do (sqs inputs are for `run`)",
                Mode::All => "every input is disabled",
            };
            push(&mut errors, "s3logsbeat.inputs".into(), what.into());
        }

        let q = &raw.queue.mem;
        if q.events == 0 {
            push(
                &mut errors,
                "queue.mem.events".into(),
                "queue.mem.events must be at least 1".into(),
            );
        }
        if q.flush.min_events == 0 {
            push(
                &mut errors,
                "queue.mem.flush.min_events".into(),
                "queue.mem.flush.min_events must be at least 1".into(),
            );
        }

        let output = match validate_output(&raw) {
            Ok(o) => Some(o),
            Err((k, m)) => {
                push(&mut errors, k, m);
                None
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Settings {
            file: file.to_path_buf(),
            beat_name,
            hostname,
            inputs,
            shutdown_timeout: raw.s3logsbeat.shutdown_timeout.0,
            queue: raw.queue.mem.clone(),
            output: output.expect("no errors"),
            raw,
        })
    }
}

type KeyErrors = Vec<(String, String)>;

fn validate_input(
    raw: &RawConfig,
    input: &RawInput,
    i: usize,
    kind: InputType,
    beat_name: &str,
    hostname: &str,
) -> Result<InputSettings, KeyErrors> {
    let key = format!("s3logsbeat.inputs.{i}");
    let mut errs: KeyErrors = Vec::new();
    let format = match input.log_format {
        None => {
            errs.push((
                format!("{key}.log_format"),
                format!("{key}.log_format is required: alb, elb, cloudfront, waf or json"),
            ));
            None
        }
        Some(f) => match validate_format(input, f, &key) {
            Ok(spec) => Some(spec),
            Err(e) => {
                errs.push(e);
                None
            }
        },
    };

    let key_regex = match &input.key_regex_fields {
        None => None,
        Some(re) => match Regex::new(re) {
            Err(e) => {
                errs.push((
                    format!("{key}.key_regex_fields"),
                    format!("{key}.key_regex_fields: not a valid regular expression: {e}"),
                ));
                None
            }
            Ok(r) => {
                if r.capture_names().flatten().next().is_none() {
                    errs.push((
                        format!("{key}.key_regex_fields"),
                        format!("{key}.key_regex_fields has no named group (?P<name>...): it would add no field"),
                    ));
                }
                for n in r.capture_names().flatten() {
                    if RESERVED_NAMES.contains(&n) {
                        errs.push((
                            format!("{key}.key_regex_fields"),
                            format!("{key}.key_regex_fields: group name {n:?} is a field s3logsbeat writes itself ({})", RESERVED_NAMES.join(", ")),
                        ));
                    }
                }
                Some(r)
            }
        },
    };

    let source = match kind {
        InputType::Sqs => {
            if input.queues_url.is_empty() {
                errs.push((
                    format!("{key}.queues_url"),
                    format!(
                        "{key}.queues_url is required for type sqs: the SQS queue URLs to poll"
                    ),
                ));
            }
            for (j, q) in input.queues_url.iter().enumerate() {
                if !(q.starts_with("https://") || q.starts_with("http://")) {
                    errs.push((
                        format!("{key}.queues_url.{j}"),
                        format!("{key}.queues_url.{j}: {q:?} is not a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)"),
                    ));
                }
            }
            for (k, present) in [
                ("buckets", !input.buckets.is_empty()),
                ("since", input.since.is_some()),
                ("to", input.to.is_some()),
            ] {
                if present {
                    errs.push((
                        format!("{key}.{k}"),
                        format!("{key}.{k} only applies to type s3"),
                    ));
                }
            }
            let wait_time = input.wait_time.map_or(Duration::from_secs(20), |d| d.0);
            if wait_time > Duration::from_secs(20) {
                errs.push((
                    format!("{key}.wait_time"),
                    format!("{key}.wait_time must be at most 20s (SQS's long-polling limit)"),
                ));
            }
            let max_messages = input.max_number_of_messages.unwrap_or(10);
            if !(1..=10).contains(&max_messages) {
                errs.push((
                    format!("{key}.max_number_of_messages"),
                    format!("{key}.max_number_of_messages must be between 1 and 10"),
                ));
            }
            let visibility_timeout = input
                .visibility_timeout
                .map_or(Duration::from_secs(300), |d| d.0);
            if visibility_timeout < Duration::from_secs(2)
                || visibility_timeout > Duration::from_secs(12 * 3600)
            {
                errs.push((
                    format!("{key}.visibility_timeout"),
                    format!("{key}.visibility_timeout must be between 2s and 12h"),
                ));
            }
            InputSource::Sqs(SqsSettings {
                queues: input.queues_url.clone(),
                poll_frequency: input.poll_frequency.map(|d| d.0).unwrap_or_default(),
                wait_time,
                max_messages: max_messages as i32,
                visibility_timeout,
                workers: input.workers.unwrap_or(5),
            })
        }
        InputType::S3 => {
            if input.buckets.is_empty() {
                errs.push((
                    format!("{key}.buckets"),
                    format!(
                        "{key}.buckets is required for type s3: s3://bucket or s3://bucket/prefix"
                    ),
                ));
            }
            for (k, present) in [
                ("queues_url", !input.queues_url.is_empty()),
                ("wait_time", input.wait_time.is_some()),
                (
                    "max_number_of_messages",
                    input.max_number_of_messages.is_some(),
                ),
                ("visibility_timeout", input.visibility_timeout.is_some()),
                ("poll_frequency", input.poll_frequency.is_some()),
            ] {
                if present {
                    errs.push((
                        format!("{key}.{k}"),
                        format!("{key}.{k} only applies to type sqs"),
                    ));
                }
            }
            let mut buckets = Vec::new();
            for (j, b) in input.buckets.iter().enumerate() {
                match S3Uri::parse(b) {
                    Ok(u) => buckets.push(u),
                    Err(m) => errs.push((
                        format!("{key}.buckets.{j}"),
                        format!("{key}.buckets.{j}: {m}"),
                    )),
                }
            }
            let mut bound = |name: &str, v: &Option<String>| match v {
                None => None,
                Some(s) => match parse_time_bound(s) {
                    Ok(t) => Some(t),
                    Err(m) => {
                        errs.push((format!("{key}.{name}"), format!("{key}.{name}: {m}")));
                        None
                    }
                },
            };
            let since = bound("since", &input.since);
            let to = bound("to", &input.to);
            if let (Some(s), Some(t)) = (since, to) {
                if s >= t {
                    errs.push((
                        format!("{key}.to"),
                        format!("{key}: since ({s}) must be before to ({t})"),
                    ));
                }
            }
            InputSource::S3 { buckets, since, to }
        }
    };

    if input.workers == Some(0) {
        errs.push((
            format!("{key}.workers"),
            format!("{key}.workers must be at least 1"),
        ));
    }
    let aws = merge_aws(raw.s3logsbeat.aws.as_ref(), input.aws.as_ref());
    if let Some(e) = &aws.endpoint {
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            errs.push((
                format!("{key}.aws.endpoint"),
                format!("aws.endpoint {e:?} must be a URL (http://host:port or https://host)"),
            ));
        }
    }
    let max_line_bytes = match input.max_line_bytes {
        None => DEFAULT_MAX_LINE_BYTES,
        Some(b) if b.0 == 0 => {
            errs.push((
                format!("{key}.max_line_bytes"),
                format!("{key}.max_line_bytes must be at least 1"),
            ));
            DEFAULT_MAX_LINE_BYTES
        }
        Some(b) => usize::try_from(b.0).unwrap_or(usize::MAX),
    };

    if !errs.is_empty() {
        return Err(errs);
    }
    let mut fields = raw.fields.clone();
    for (k, v) in &input.fields {
        fields.insert(k.clone(), v.clone());
    }
    let mut tags = raw.tags.clone();
    tags.extend(input.tags.iter().cloned());
    Ok(InputSettings {
        index: i,
        source,
        format: format.expect("no errors"),
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
        workers: input.workers.unwrap_or(5),
    })
}

/// The input's `aws` keys over the global ones.
fn merge_aws(global: Option<&raw::AwsBlock>, input: Option<&raw::AwsBlock>) -> raw::AwsBlock {
    let g = global.cloned().unwrap_or_default();
    let Some(i) = input else { return g };
    raw::AwsBlock {
        region: i.region.clone().or(g.region),
        endpoint: i.endpoint.clone().or(g.endpoint),
        path_style: i.path_style.or(g.path_style),
        role_arn: i.role_arn.clone().or(g.role_arn),
        external_id: i.external_id.clone().or(g.external_id),
        profile: i.profile.clone().or(g.profile),
    }
}

fn validate_format(
    input: &RawInput,
    f: LogFormat,
    key: &str,
) -> Result<FormatSpec, (String, String)> {
    let okey = format!("{key}.log_format_options");
    match (f, &input.log_format_options) {
        (LogFormat::Json, None) => Err((
            okey.clone(),
            format!("{okey} is required for log_format json: timestamp_field and timestamp_format"),
        )),
        (LogFormat::Json, Some(o)) => {
            let field = o
                .timestamp_field
                .clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    (
                        format!("{okey}.timestamp_field"),
                        format!("{okey}.timestamp_field is required for log_format json"),
                    )
                })?;
            let fmt = o.timestamp_format.as_deref().ok_or_else(|| {
                (
                    format!("{okey}.timestamp_format"),
                    format!("{okey}.timestamp_format is required for log_format json"),
                )
            })?;
            let tf = TimeFormat::from_config(fmt).map_err(|m| {
                (
                    format!("{okey}.timestamp_format"),
                    format!("{okey}.timestamp_format: {m}"),
                )
            })?;
            Ok(FormatSpec::json(JsonOptions {
                timestamp_field: field,
                timestamp_format: tf,
            }))
        }
        (other, Some(_)) => Err((
            okey.clone(),
            format!("{okey} only applies to log_format json, not {other}"),
        )),
        (other, None) => Ok(FormatSpec::plain(other)),
    }
}

fn validate_output(raw: &RawConfig) -> Result<OutputKind, (String, String)> {
    let o = &raw.output;
    let mut enabled = Vec::new();
    if let Some(es) = o.elasticsearch.as_ref().filter(|x| x.enabled) {
        if es.hosts.is_empty() {
            return Err((
                "output.elasticsearch.hosts".into(),
                "output.elasticsearch.hosts is required: at least one host:port or URL".into(),
            ));
        }
        if let Some(l) = es.compression_level.filter(|l| *l > 9) {
            return Err((
                "output.elasticsearch.compression_level".into(),
                format!("output.elasticsearch.compression_level {l} is out of range 0..9"),
            ));
        }
        if matches!(es.bulk_max_size, Some(0)) || matches!(es.worker, Some(0)) {
            return Err((
                "output.elasticsearch".into(),
                "output.elasticsearch.bulk_max_size and worker must be at least 1".into(),
            ));
        }
        if let Some(p) = &es.non_indexable_policy {
            if p.drop.is_some() && p.dead_letter_index.is_some() {
                return Err((
                    "output.elasticsearch.non_indexable_policy".into(),
                    "output.elasticsearch.non_indexable_policy: choose drop or dead_letter_index, not both".into(),
                ));
            }
        }
        enabled.push(OutputKind::Elasticsearch(Box::new(es.clone())));
    }
    if let Some(ls) = o.logstash.as_ref().filter(|x| x.enabled) {
        if ls.hosts.is_empty() {
            return Err((
                "output.logstash.hosts".into(),
                "output.logstash.hosts is required: at least one host:port".into(),
            ));
        }
        if let Some(l) = ls.compression_level.filter(|l| *l > 9) {
            return Err((
                "output.logstash.compression_level".into(),
                format!("output.logstash.compression_level {l} is out of range 0..9"),
            ));
        }
        enabled.push(OutputKind::Logstash(ls.clone()));
    }
    if let Some(c) = o.console.as_ref().filter(|x| x.enabled) {
        enabled.push(OutputKind::Console(c.clone()));
    }
    if let Some(f) = o.file.as_ref().filter(|x| x.enabled) {
        if f.path.as_deref().unwrap_or("").is_empty() {
            return Err((
                "output.file.path".into(),
                "output.file.path is required: the directory to write to".into(),
            ));
        }
        if let Some(n) = f.number_of_files.filter(|n| !(2..=1024).contains(n)) {
            return Err((
                "output.file.number_of_files".into(),
                format!("output.file.number_of_files {n} is out of range 2..1024"),
            ));
        }
        enabled.push(OutputKind::File(f.clone()));
    }
    match enabled.len() {
        1 => Ok(enabled.remove(0)),
        0 => Err((
            "output".into(),
            "no output configured: set one of output.elasticsearch, output.logstash, output.console or output.file".into(),
        )),
        _ => Err((
            "output".into(),
            "more than one output is enabled: keep exactly one of output.elasticsearch, output.logstash, output.console, output.file".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
s3logsbeat:
  inputs:
    - type: sqs
      queues_url: ["https://sqs.eu-west-1.amazonaws.com/123/q"]
      log_format: alb
      key_regex_fields: '^(?P<environment>[^\-]+)-(?P<application>[^/]+)/'
      poll_frequency: 5s
    - type: s3
      buckets: ["s3://bucket/prefix", "s3://other"]
      log_format: json
      log_format_options:
        timestamp_field: ts
        timestamp_format: "time:2006-01-02 15:04:05"
      since: 2018-10-15T01:00
      to: "2018-10-16T00:00:00Z"
output.console:
  pretty: false
"#;

    fn settings(text: &str, overrides: &[&str], mode: Mode) -> Result<Settings, Vec<ConfigError>> {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let (raw, _) = load::load_str(text, "s3logsbeat.yml", &o).map_err(|e| vec![e])?;
        Settings::validate(raw, Path::new("s3logsbeat.yml"), mode)
    }

    fn first_error(text: &str, overrides: &[&str], mode: Mode) -> String {
        settings(text, overrides, mode).unwrap_err()[0].to_string()
    }

    #[test]
    fn the_original_keys_load() {
        let s = settings(BASE, &[], Mode::All).unwrap();
        assert_eq!(s.inputs.len(), 2);
        assert!(matches!(s.output, OutputKind::Console(_)));
        match &s.inputs[1].source {
            InputSource::S3 { buckets, since, to } => {
                assert_eq!(buckets[1].bucket, "other");
                assert_eq!(since.unwrap().to_rfc3339(), "2018-10-15T01:00:00+00:00");
                assert!(to.is_some());
            }
            other => panic!("{other:?}"),
        }
        match &s.inputs[0].source {
            InputSource::Sqs(q) => {
                assert_eq!(q.poll_frequency, Duration::from_secs(5));
                assert_eq!(q.wait_time, Duration::from_secs(20));
                assert_eq!(q.max_messages, 10);
                assert_eq!(q.visibility_timeout, Duration::from_secs(300));
                assert_eq!(q.workers, 5);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.queue.events, 4096);
        assert_eq!(s.queue.flush.timeout.0, Duration::from_secs(1));
    }

    #[test]
    fn unknown_and_misspelt_keys_name_the_key_the_file_and_the_line() {
        let text = BASE.replace("      log_format: alb\n", "      log_fromat: alb\n");
        let e = first_error(&text, &[], Mode::All);
        assert!(
            e.starts_with("s3logsbeat.yml:6: unknown key s3logsbeat.inputs.0.log_fromat"),
            "{e}"
        );
        let e = first_error(BASE, &["output.console.prety=true"], Mode::All);
        assert!(e.contains("unknown key output.console.prety"), "{e}");
        let e = first_error(
            &format!("{BASE}setup.template.enabled: false\n"),
            &[],
            Mode::All,
        );
        assert!(e.contains("unknown key setup"), "{e}");
    }

    #[test]
    fn wrong_types_name_the_key_and_what_was_expected() {
        let e = first_error(
            BASE,
            &["s3logsbeat.inputs.0.poll_frequency=soon"],
            Mode::All,
        );
        assert!(e.contains("s3logsbeat.inputs.0.poll_frequency"), "{e}");
        assert!(e.contains("invalid duration \"soon\""), "{e}");
        let e = first_error(BASE, &["queue.mem.events=many"], Mode::All);
        assert!(
            e.contains("queue.mem.events") && e.contains("expected usize"),
            "{e}"
        );
        let e = first_error(BASE, &["s3logsbeat.inputs.0.log_format=apache"], Mode::All);
        assert!(e.contains("unknown variant `apache`"), "{e}");
    }

    #[test]
    fn invalid_inputs_of_the_other_mode_do_not_break_this_one() {
        let broken_s3 = ["s3logsbeat.inputs.1.buckets=[\"bucket-without-scheme\"]"];
        assert!(settings(BASE, &broken_s3, Mode::Sqs).is_ok());
        let e = first_error(BASE, &broken_s3, Mode::S3);
        assert!(e.contains("s3logsbeat.inputs.1.buckets.0"), "{e}");
        assert!(settings(BASE, &broken_s3, Mode::All).is_err());
        let broken_sqs = ["s3logsbeat.inputs.0.queues_url=[]"];
        assert!(settings(BASE, &broken_sqs, Mode::S3).is_ok());
        assert!(settings(BASE, &broken_sqs, Mode::Sqs).is_err());
    }

    #[test]
    fn semantic_errors_name_their_key() {
        let cases: &[(&str, &str)] = &[
            (
                "s3logsbeat.inputs.0.key_regex_fields=(unclosed",
                "s3logsbeat.inputs.0.key_regex_fields: not a valid regular expression",
            ),
            (
                "s3logsbeat.inputs.0.key_regex_fields=^(?P<log>x)",
                "group name \"log\"",
            ),
            (
                "s3logsbeat.inputs.1.log_format_options.timestamp_format=epoch",
                "unknown timestamp format \"epoch\"",
            ),
            (
                "s3logsbeat.inputs.1.since=yesterday",
                "s3logsbeat.inputs.1.since: invalid time",
            ),
            ("s3logsbeat.inputs.1.to=2018-10-14", "must be before to"),
            (
                "s3logsbeat.inputs.0.log_format_options.timestamp_field=x",
                "only applies to log_format json",
            ),
            ("output.file.path=/tmp", "more than one output"),
            ("output.console.enabled=false", "no output configured"),
            (
                "s3logsbeat.inputs.0.type=kinesis",
                "unknown variant `kinesis`",
            ),
        ];
        for (o, want) in cases {
            let e = first_error(BASE, &[o], Mode::All);
            assert!(e.contains(want), "-E {o}: {e}");
        }
        let e = first_error(
            "s3logsbeat:\n  inputs: []\noutput.console: {}\n",
            &[],
            Mode::All,
        );
        assert!(e.contains("s3logsbeat.inputs is missing or empty"), "{e}");
        let e = first_error("output.console: {}\n", &[], Mode::All);
        assert!(e.contains("missing required key s3logsbeat"), "{e}");
        let no_opts = "s3logsbeat:\n  inputs:\n    - {type: sqs, queues_url: ['https://q'], log_format: json}\noutput.console: {}\n";
        let e = first_error(no_opts, &[], Mode::Sqs);
        assert!(e.contains("log_format_options is required"), "{e}");
    }

    #[test]
    fn global_and_input_fields_and_tags_merge() {
        let s = settings(
            BASE,
            &[
                "fields.env=prod",
                "fields.team=a",
                "tags=[g]",
                "s3logsbeat.inputs.0.fields.team=b",
                "s3logsbeat.inputs.0.tags=[i]",
                "name=shipper",
            ],
            Mode::Sqs,
        )
        .unwrap();
        let e = &s.inputs[0].enrich;
        assert_eq!(e.fields["env"], "prod");
        assert_eq!(e.fields["team"], "b");
        assert_eq!(e.tags, vec!["g", "i"]);
        assert_eq!(e.beat_name, "shipper");
    }
}
