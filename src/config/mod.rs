//! Configuration: `s3logsbeat.yml` in, validated [`Settings`] out.
//!
//! [`load::load_file`] reads the YAML (dotted keys, `${VAR}`, `-E` overrides) into `raw::RawConfig`;
//! [`Settings::validate`] checks it once, for the mode being run, and compiles what needs compiling
//! (formats and time layouts, regexes, index patterns, TLS files, credentials), so no other module parses
//! a config string or opens a config file again, and `test config` refuses exactly what `run` refuses.
//! Every problem is reported, each with the file and line of its key (or the `-E` that set it).
//!
//! What must stay true: this module is read by every other and reaches none of them but the formats
//! library (`crate::formats`, which checks `log_format` and its options and imports nothing of this
//! module) and the event's value types that library stands on; nothing outside it reads `raw`.

pub mod cloudwatch;
pub mod compat;
pub mod index;
pub mod inputs;
pub mod load;
pub mod logging;
pub mod opensearch;
pub mod outputs;
pub mod paths;
pub mod positions;
pub mod processors;
mod raw;
pub mod redact;
pub mod s3;
pub mod tls;
pub mod tree;
pub mod values;
pub mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The formats library, as `format` to the raw layer (`raw.rs` reads `log_format` and its options into
/// its types).
use crate::formats as format;
pub use crate::formats::{
    CloudwatchOptions, CustomSpec, FormatOptions, FormatSpec, JsonOptions, LogFormat, TimeFormat,
};
pub use cloudwatch::{CloudwatchLogsSettings, StartPosition, StateSettings};
pub use index::{IndexPart, IndexPattern};
pub use inputs::{
    key_regex, AwsSettings, EnrichSettings, Fallback, FieldNames, Formats, InputSettings,
    InputSource, ParseErrorPolicy, S3Settings, SqsSettings, DEFAULT_MAX_LINE_BYTES, RESERVED_NAMES,
};
pub use logging::{Level, LogFileSettings, LoggingSettings};
pub use outputs::{
    BackoffSettings, ConsoleSettings, ElasticsearchSettings, FileSettings, LogstashSettings,
    OutputSettings, Secret,
};
pub use raw::Unmatched;
pub use tls::{ClientIdentity, TlsSettings, Verification};

use load::Loaded;
use raw::InputType;

/// Readers publish events in chunks of at most this many (an object's events between two waits for
/// queue space); a smaller queue takes smaller chunks ([`chunk_events`]).
pub const PUBLISH_CHUNK_EVENTS: usize = 512;

/// The chunk a reader reserves and publishes in, for a publish queue of `queue_events`: half the queue
/// at most, so that a small queue (libbeat accepts any) still holds a batch beside a reader's chunk.
pub fn chunk_events(queue_events: usize) -> usize {
    PUBLISH_CHUNK_EVENTS.min(queue_events / 2).max(1)
}

/// A configuration mistake: where it is, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: String,
    /// The key concerned, dotted (`s3logsbeat.inputs.0.log_format`).
    pub key: Option<String>,
    /// The line of the key (or of its nearest written parent) in the file.
    pub line: Option<usize>,
    /// The `-E key=value` that set the value, when it came from there.
    pub set_by: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// A problem with the file as a whole.
    pub fn in_file(file: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_string(),
            key: None,
            line: None,
            set_by: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        match (&self.set_by, self.line) {
            (Some(o), _) => write!(f, ": {o}")?,
            (None, Some(l)) => write!(f, ":{l}")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Problems found while validating, by key; turned into [`ConfigError`]s with their places at the end.
/// Warnings are kept beside them: keys accepted from beats configs and ignored.
#[derive(Debug, Default)]
pub struct Problems {
    list: Vec<(String, String)>,
    warnings: Vec<(String, String)>,
}

impl Problems {
    /// A key accepted but ignored, or a choice made for the user: logged at start-up and by
    /// `test config`, never fatal.
    pub fn warn(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.warnings.push((key.into(), message.into()));
    }

    /// A problem with `key`.
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.list.push((key.into(), message.into()));
    }

    /// How many so far (a validator compares before and after to know whether its part was good).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True if none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

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

/// `queue.mem`, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSettings {
    /// Events the publish queue holds (queued and in delivery).
    pub events: usize,
    /// A batch leaves when it has this many events...
    pub flush_min_events: usize,
    /// ... or when its first event has waited this long.
    pub flush_timeout: Duration,
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
    pub queue: QueueSettings,
    /// The output.
    pub output: OutputSettings,
    /// `logging`.
    pub logging: LoggingSettings,
    /// The monitoring endpoint, if enabled.
    pub http: Option<HttpSettings>,
    /// `path.*`.
    pub paths: paths::PathSettings,
    /// `setup.template`.
    pub template: TemplateSettings,
    /// `processors`, compiled.
    pub processors: processors::Processors,
    /// Runtime threads (`max_procs`); `None`: one per CPU.
    pub max_procs: Option<usize>,
    /// Keys accepted and ignored, or choices worth saying: one line each at start-up and in `test config`.
    pub warnings: Vec<ConfigError>,
    /// Keys whose values came from environment variables (`${VAR}`): `export config` hides them.
    pub from_env: Vec<String>,
    /// `state`: where inputs without a queue keep checkpoints and leases.
    pub state: StateSettings,
}

/// The monitoring endpoint (`http.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// Where to listen.
    pub addr: std::net::SocketAddr,
    /// `/health` answers 503 when the output has not delivered for this long while events wait.
    pub output_unreachable: Duration,
    /// ... or when no poll succeeded for this many long-poll waits.
    pub missed_polls: u32,
}

/// The index template (`setup.template.*`).
#[derive(Clone, Debug)]
pub struct TemplateSettings {
    /// Install it at start-up.
    pub enabled: bool,
    /// Its name.
    pub name: String,
    /// The index pattern it covers.
    pub pattern: String,
    /// Replace one of the same name.
    pub overwrite: bool,
    /// Index settings to merge in.
    pub settings: serde_json::Value,
    /// `setup.ism`: OpenSearch's lifecycle policy, installed with the template.
    pub ism: Option<opensearch::IsmSettings>,
}

/// The host name, as `beat.hostname` and the default `beat.name`.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

impl Settings {
    /// Loads and validates `file` for `mode`; every problem found, each with its place.
    pub fn load(
        file: &Path,
        overrides: &[String],
        mode: Mode,
    ) -> Result<Settings, Vec<ConfigError>> {
        Settings::validate(load::load_file(file, overrides)?, file, mode)
    }

    /// Validates a loaded config for `mode`; returns every problem found, not only the first.
    pub fn validate(loaded: Loaded, file: &Path, mode: Mode) -> Result<Settings, Vec<ConfigError>> {
        let Loaded {
            raw,
            tree,
            source,
            mut errors,
        } = loaded;
        let mut p = Problems::default();
        let hostname = hostname();
        let beat_name = raw.name.clone().unwrap_or_else(|| hostname.clone());

        if raw.s3logsbeat.inputs.is_empty() {
            p.push(
                "s3logsbeat.inputs",
                "s3logsbeat.inputs is missing or empty: configure at least one input",
            );
        }
        let mut inputs = Vec::new();
        let mut wanted_inputs = 0;
        for (i, input) in raw.s3logsbeat.inputs.iter().enumerate() {
            let key = format!("s3logsbeat.inputs.{i}");
            let Some(kind) = input.kind else {
                p.push(
                    format!("{key}.type"),
                    format!("{key}.type is required: sqs, s3 or cloudwatch_logs"),
                );
                continue;
            };
            let wanted = match mode {
                Mode::Sqs => {
                    kind == InputType::Sqs
                        || kind == InputType::CloudwatchLogs
                        || (kind == InputType::S3 && s3::is_polling(input))
                }
                Mode::S3 => kind == InputType::S3 && !s3::is_polling(input),
                Mode::All => true,
            };
            if !wanted || !input.enabled {
                continue;
            }
            wanted_inputs += 1;
            if let Some(s) = inputs::validate(&raw, input, i, kind, &beat_name, &hostname, &mut p) {
                inputs.push(s);
            }
        }
        if !raw.s3logsbeat.inputs.is_empty() && wanted_inputs == 0 {
            let what = match mode {
                Mode::Sqs => "no enabled input of type sqs, cloudwatch_logs or s3 with bucket_arn: `run` has nothing to do (s3 inputs with buckets are for `s3import`)",
                Mode::S3 => "no enabled input of type s3 with buckets: `s3import` has nothing to do (sqs inputs and s3 inputs with bucket_arn are for `run`)",
                Mode::All => "every input is disabled",
            };
            p.push("s3logsbeat.inputs", what);
        }

        let q = &raw.queue.mem;
        if q.events == 0 {
            p.push("queue.mem.events", "queue.mem.events must be at least 1");
        }
        if q.flush.min_events == 0 {
            p.push(
                "queue.mem.flush.min_events",
                "queue.mem.flush.min_events must be at least 1",
            );
        }
        if q.flush.timeout.0.is_zero() {
            p.push(
                "queue.mem.flush.timeout",
                "queue.mem.flush.timeout must be more than 0",
            );
        }

        compat::check(&raw, &tree, &mut p);
        let output = outputs::validate(&raw.output, &raw.cloud, &mut p);
        let paths = paths::PathSettings::from_raw(&raw.path);
        let logging = logging::validate(&raw.logging, &paths.logs, &mut p);
        let processors = processors::compile(&raw.processors, "processors", &mut p);
        // Beats order: an input's own processors, then the global ones.
        for s in &mut inputs {
            s.processors.0.extend(processors.0.iter().cloned());
        }
        let http = http(&raw.http, &mut p);
        let state = cloudwatch::state(&raw, &mut p);
        let index = match &output {
            Some(OutputSettings::Elasticsearch(es)) => Some(&es.index),
            _ => None,
        };
        let mut template = template(&raw.setup.template, index, &mut p);
        template.ism = opensearch::ism(
            raw.setup.ism.as_ref(),
            matches!(&output, Some(o) if o.kind() == "opensearch"),
            &mut p,
        );
        if raw.max_procs == Some(0) {
            p.push("max_procs", "max_procs must be at least 1");
        }
        let warnings: Vec<ConfigError> = p
            .warnings
            .iter()
            .map(|(k, m)| source.error(Some(k), m.clone()))
            .collect();

        for (key, message) in p.list {
            // A key whose value was taken out as wrong is already reported.
            if !source.was_removed(&key) {
                errors.push(source.error(Some(&key), message));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let Some(output) = output else {
            return Err(vec![source.error(Some("output"), "the output is not valid")]);
        };
        Ok(Settings {
            file: file.to_path_buf(),
            beat_name,
            hostname,
            inputs,
            shutdown_timeout: raw.s3logsbeat.shutdown_timeout.0,
            queue: QueueSettings {
                events: q.events,
                // As libbeat: a batch leaves once it has flush.min_events or as many as the queue can
                // hold beside a reader's chunk, whichever is fewer; more would only leave on the timeout.
                flush_min_events: q
                    .flush
                    .min_events
                    .min(q.events.saturating_sub(chunk_events(q.events)))
                    .max(1),
                flush_timeout: q.flush.timeout.0,
            },
            output,
            logging,
            http,
            paths,
            template,
            processors,
            max_procs: raw.max_procs,
            warnings,
            from_env: source.from_env.clone(),
            state,
        })
    }
}

fn http(h: &raw::Http, p: &mut Problems) -> Option<HttpSettings> {
    if !h.enabled {
        return None;
    }
    let host = if h.host == "localhost" {
        "127.0.0.1"
    } else {
        h.host.trim_matches(['[', ']'])
    };
    let Ok(ip) = host.parse::<std::net::IpAddr>() else {
        p.push(
            "http.host",
            format!(
                "http.host {:?} is not an IP address (127.0.0.1, 0.0.0.0, ::1 or localhost)",
                h.host
            ),
        );
        return None;
    };
    if h.health.output_unreachable.0.is_zero() || h.health.missed_polls == 0 {
        p.push(
            "http.health",
            "http.health.output_unreachable and missed_polls must be more than 0",
        );
    }
    Some(HttpSettings {
        addr: std::net::SocketAddr::new(ip, h.port),
        output_unreachable: h.health.output_unreachable.0,
        missed_polls: h.health.missed_polls,
    })
}

/// Elasticsearch 8's built-in index templates that make matching names data streams (priority 100).
const BUILT_IN_TEMPLATES: [&str; 4] = ["logs-*-*", "metrics-*-*", "traces-*-*", "synthetics-*-*"];

/// `setup.template.*` against the index the output writes (`index`, for Elasticsearch): the pattern
/// defaults to the index setting's text before its first `%{`, then `*`, so that the template covers
/// the indices it is for; a pattern set by hand that does not cover them, and indices that Elasticsearch's
/// built-in data stream templates also match, are warnings.
fn template(t: &raw::Template, index: Option<&IndexPattern>, p: &mut Problems) -> TemplateSettings {
    let settings = match &t.settings {
        None | Some(tree::Value::Null) => serde_json::json!({}),
        Some(v) => match serde_json::to_value(v) {
            Ok(j @ serde_json::Value::Object(_)) => j,
            _ => {
                p.push(
                    "setup.template.settings",
                    "setup.template.settings must be a mapping of index settings",
                );
                serde_json::json!({})
            }
        },
    };
    // Beats write the version into template names and patterns; it is the one reference expanded there.
    let expand = |key: &str, v: String, p: &mut Problems| {
        let v = v
            .replace("%{[beat.version]}", env!("CARGO_PKG_VERSION"))
            .replace("%{[agent.version]}", env!("CARGO_PKG_VERSION"));
        if v.contains("%{") {
            p.warn(
                key,
                format!("{key} {v:?}: only %{{[beat.version]}} is expanded here; the rest is used as written"),
            );
        }
        v
    };
    let name = expand(
        "setup.template.name",
        t.name.clone().unwrap_or_else(|| "s3logsbeat".into()),
        p,
    );
    let derived = index.and_then(IndexPattern::template_pattern);
    let pattern = match (&t.pattern, &derived) {
        (Some(set), _) => expand("setup.template.pattern", set.clone(), p),
        (None, Some(d)) => d.clone(),
        (None, None) => "s3logsbeat-*".into(),
    };
    if let Some(index) = index {
        let sample = index.sample().to_lowercase();
        if t.enabled && !glob_match(&pattern, &sample) {
            let how = match &derived {
                Some(d) => format!("set it to {d:?}, or leave it out to have it follow the index"),
                None => "set it to cover them".to_string(),
            };
            p.warn(
                "setup.template.pattern",
                format!(
                    "setup.template.pattern {pattern:?} does not match the indices output.elasticsearch.index                      writes (such as {sample:?}): they would get dynamic mappings (addresses and numbers as                      strings); {how}"
                ),
            );
        }
        if let Some(b) = BUILT_IN_TEMPLATES.iter().find(|b| glob_match(b, &sample)) {
            p.warn(
                "output.elasticsearch.index",
                format!(
                    "output.elasticsearch.index writes indices such as {sample:?}, which Elasticsearch 8's                      built-in template {b:?} also matches (it makes them data streams wherever our template                      is not installed): prefer names outside it, such as                      \"s3logsbeat-%{{[@metadata][format]}}-%{{+yyyy.MM.dd}}\""
                ),
            );
        }
    }
    TemplateSettings {
        enabled: t.enabled,
        pattern,
        name,
        overwrite: t.overwrite,
        settings,
        ism: None,
    }
}

/// True if `name` matches `pattern`, whose only wildcard is `*` (any text), as index patterns are read.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
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
        let loaded = load::load_str(text, "s3logsbeat.yml", &o)?;
        Settings::validate(loaded, Path::new("s3logsbeat.yml"), mode)
    }

    fn first_error(text: &str, overrides: &[&str], mode: Mode) -> String {
        settings(text, overrides, mode).unwrap_err()[0].to_string()
    }

    #[test]
    fn a_cloudwatch_logs_input_builds_its_format_as_every_input_does() {
        let text = "s3logsbeat:\n  inputs:\n    - type: cloudwatch_logs\n      log_group_name: g\n      log_format: json\noutput.console: {}\n";
        let e = first_error(text, &[], Mode::Sqs);
        assert!(
            e.contains("log_format_options is required for log_format json"),
            "{e}"
        );
        let plain = text.replace("      log_format: json\n", "");
        let s = settings(&plain, &[], Mode::Sqs).unwrap();
        assert_eq!(s.inputs[0].formats.all()[0].format(), LogFormat::Plain);
    }

    #[test]
    fn an_s3_input_polls_only_with_filebeats_keys_and_never_lists_its_backups() {
        let poll = "s3logsbeat:\n  inputs:\n    - type: s3\n      bucket_arn: \"arn:aws:s3:::logs\"\n      bucket_list_prefix: [AWSLogs/]\n      number_of_workers: 3\n      log_format: auto\n      backup_to_bucket_arn: \"arn:aws:s3:::logs\"\n      backup_to_bucket_prefix: done/\n      delete_after_backup: true\noutput.console: {}\n";
        let s = settings(poll, &[], Mode::Sqs).unwrap();
        let InputSource::S3Poll(p) = &s.inputs[0].source else {
            panic!("polled by run: {:?}", s.inputs[0].source)
        };
        assert_eq!(
            (p.bucket.as_str(), p.prefixes.clone()),
            ("logs", vec!["AWSLogs/".to_string()])
        );
        assert_eq!(
            s.inputs[0].workers, 3,
            "number_of_workers is Filebeat's workers"
        );
        let f = &s.inputs[0].finalise;
        assert!(f.delete && f.backup.as_ref().is_some_and(|b| b.prefix == "done/"));
        // s3import does not take it.
        let e = first_error(poll, &[], Mode::S3);
        assert!(e.contains("s3import` has nothing to do"), "{e}");
        // The original's s3 inputs are s3import's: run does not poll them.
        let original = "s3logsbeat:\n  inputs:\n    - type: s3\n      buckets: [\"s3://logs/AWSLogs/\"]\n      log_format: alb\noutput.console: {}\n";
        let e = first_error(original, &[], Mode::Sqs);
        assert!(e.contains("`run` has nothing to do"), "{e}");
        assert!(settings(original, &[], Mode::S3).is_ok());
        // A backup under a listed prefix would be listed again.
        let looping = poll.replace("done/", "AWSLogs/done/");
        let e = first_error(&looping, &[], Mode::Sqs);
        assert!(
            e.contains("backup_to_bucket_prefix") && e.contains("listed again")
                || e.contains("read and backed up again"),
            "{e}"
        );
        let whole = poll.replace("      bucket_list_prefix: [AWSLogs/]\n", "");
        assert!(first_error(&whole, &[], Mode::Sqs).contains("backed up again"));
        let import_loop = original.replace(
            "      log_format: alb\n",
            "      log_format: alb\n      backup_to_bucket_arn: \"arn:aws:s3:::logs\"\n      backup_to_bucket_prefix: AWSLogs/x/\n",
        );
        assert!(first_error(&import_loop, &[], Mode::S3).contains("backed up again"));
        // Mixed forms, a delete without a copy said two ways, a prefix under another.
        let mixed = poll.replace(
            "      log_format: auto\n",
            "      log_format: auto\n      since: 2020-01-01T00:00:00Z\n",
        );
        assert!(first_error(&mixed, &[], Mode::Sqs).contains("since is s3import's key"));
        let both = poll.replace(
            "      delete_after_backup: true\n",
            "      delete_after_read: true\n",
        );
        assert!(first_error(&both, &[], Mode::Sqs).contains("say delete_after_backup"));
        let nested = poll.replace("[AWSLogs/]", "[AWSLogs/, AWSLogs/1/]");
        assert!(first_error(&nested, &[], Mode::Sqs).contains("listed twice"));
        let sqs = "s3logsbeat:\n  inputs:\n    - type: sqs\n      queues_url: [\"https://sqs.eu-west-1.amazonaws.com/1/q\"]\n      log_format: alb\n      delete_after_backup: true\noutput.console: {}\n";
        assert!(first_error(sqs, &[], Mode::Sqs).contains("needs a backup bucket"));
    }

    #[test]
    fn the_original_keys_load() {
        let s = settings(BASE, &[], Mode::All).unwrap();
        assert_eq!(s.inputs.len(), 2);
        assert!(matches!(s.output, OutputSettings::Console(_)));
        match &s.inputs[1].source {
            InputSource::S3(s) => {
                assert_eq!(s.buckets[1].bucket, "other");
                assert_eq!(s.since.unwrap().to_rfc3339(), "2018-10-15T01:00:00+00:00");
                assert!(s.to.is_some());
            }
            other => panic!("{other:?}"),
        }
        match &s.inputs[0].source {
            InputSource::Sqs(q) => {
                assert_eq!(q.poll_frequency, Duration::from_secs(5));
                assert_eq!(q.wait_time, Duration::from_secs(20));
                assert_eq!(q.max_messages, 10);
                assert_eq!(q.visibility_timeout, Duration::from_secs(300));
                assert_eq!(q.queue_metrics_interval, Some(Duration::from_secs(15)));
                assert_eq!(s.inputs[0].workers, 5);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.queue.events, 4096);
        assert_eq!(s.queue.flush_timeout, Duration::from_secs(1));
    }

    #[test]
    fn queue_metrics_interval_is_off_or_within_its_bounds_and_only_for_sqs() {
        let interval = |v: &str| {
            let s = settings(
                BASE,
                &[&format!("s3logsbeat.inputs.0.queue_metrics_interval={v}")],
                Mode::All,
            )?;
            match &s.inputs[0].source {
                InputSource::Sqs(q) => Ok::<_, Vec<ConfigError>>(q.queue_metrics_interval),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(interval("0s").unwrap(), None);
        assert_eq!(interval("1s").unwrap(), Some(Duration::from_secs(1)));
        assert_eq!(interval("1h").unwrap(), Some(Duration::from_secs(3600)));
        for bad in ["500ms", "61m"] {
            let e = interval(bad).unwrap_err()[0].to_string();
            assert!(
                e.contains("s3logsbeat.inputs.0.queue_metrics_interval must be 0s (off) or between 1s and 1h"),
                "{bad}: {e}"
            );
        }
        let e = first_error(
            BASE,
            &["s3logsbeat.inputs.1.queue_metrics_interval=15s"],
            Mode::All,
        );
        assert!(
            e.contains("s3logsbeat.inputs.1.queue_metrics_interval only applies to type sqs"),
            "{e}"
        );
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
            &format!("{BASE}setup.tempalte.enabled: false\n"),
            &[],
            Mode::All,
        );
        assert!(e.contains("unknown key setup.tempalte"), "{e}");
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
            e.contains("queue.mem.events") && e.contains("expected a whole number (0 or more)"),
            "{e}"
        );
        let e = first_error(BASE, &["s3logsbeat.inputs.0.log_format=apache"], Mode::All);
        assert!(e.contains("unknown value \"apache\""), "{e}");
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
                "unknown value \"kinesis\": expected one of sqs, s3, cloudwatch_logs",
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
    fn routing_and_format_options_are_checked_with_their_line() {
        let text = r#"
s3logsbeat:
  inputs:
    - type: sqs
      queues_url: ["https://sqs.eu-west-1.amazonaws.com/123/q"]
      log_format: auto
      unmatched: keep
      file_selectors:
        - regex: '^cw/'
          log_format: cloudwatch
          log_format_options: {decode_json: true}
        - regex: '^app/'
          log_format: custom
          log_format_options:
            pattern: '^(?P<t>\S+) (?P<n>\d+)'
            timestamp_field: t
            timestamp_format: timeISO8601
            types: {n: integer}
output.console: {}
"#;
        let s = settings(text, &[], Mode::All).unwrap();
        let f = &s.inputs[0].formats;
        assert_eq!(f.selectors.len(), 2);
        assert_eq!(f.unmatched, Unmatched::Keep);
        assert!(matches!(&f.selectors[0].1, FormatSpec::Cloudwatch(o) if o.decode_json));
        assert!(matches!(f.fallback, inputs::Fallback::Auto(ref v) if v.len() == 11));

        let cases: &[(&str, &str)] = &[
            (
                "s3logsbeat.inputs.0.file_selectors.0.regex=(",
                "s3logsbeat.inputs.0.file_selectors.0.regex: regex parse error",
            ),
            (
                "s3logsbeat.inputs.0.file_selectors.1.log_format=auto",
                "a selector names a format",
            ),
            (
                "s3logsbeat.inputs.0.file_selectors.0.log_format_options.pattern=x",
                "file_selectors.0.log_format_options.pattern only applies to log_format custom, not cloudwatch",
            ),
            (
                "s3logsbeat.inputs.0.file_selectors.1.log_format_options.types.n=int64",
                "types.n: unknown type \"int64\"",
            ),
            (
                "s3logsbeat.inputs.0.file_selectors.1.log_format_options.timestamp_field=when",
                "\"when\" is not a named group of the pattern (t, n)",
            ),
            (
                "s3logsbeat.inputs.0.unmatched=drop",
                "unmatched",
            ),
        ];
        for (o, want) in cases {
            let e = first_error(text, &[o], Mode::All);
            assert!(e.contains(want), "-E {o}: {e}");
        }
        // The line of a problem in the file.
        let bad = text.replace(
            "log_format: cloudwatch",
            "log_format: cloudwatch\n          regex2: x",
        );
        let e = first_error(&bad, &[], Mode::All);
        assert!(e.starts_with("s3logsbeat.yml:"), "{e}");
        let bad = text.replace("decode_json: true", "decode_json: true, timestamp_field: x");
        let e = first_error(&bad, &[], Mode::All);
        assert!(
            e.starts_with("s3logsbeat.yml:11: ")
                && e.contains("timestamp_field only applies to log_format json and custom"),
            "{e}"
        );
        let none = "s3logsbeat:\n  inputs:\n    - {type: sqs, queues_url: ['https://q']}\noutput.console: {}\n";
        let e = first_error(none, &[], Mode::Sqs);
        assert!(
            e.contains("log_format is required") && e.contains("auto, or file_selectors"),
            "{e}"
        );
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

    /// Issue 23: the template stayed `s3logsbeat-*` whatever the index, so the recommended
    /// `logs-%{[@metadata][format]}-...` indices got dynamic mappings (no `ip`), without a word.
    #[test]
    fn the_template_pattern_follows_the_index() {
        let with = |index: &str, extra: &str| {
            let text = BASE.replace(
                "output.console:\n  pretty: false\n",
                &format!("output.elasticsearch:\n  hosts: [es]\n  index: {index:?}\n{extra}"),
            );
            settings(&text, &[], Mode::All).unwrap()
        };
        let warned =
            |s: &Settings, what: &str| s.warnings.iter().any(|w| w.to_string().contains(what));
        let s = with("s3logsbeat-%{+yyyy.MM.dd}", "");
        assert_eq!(s.template.pattern, "s3logsbeat-*");
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let s = with("s3logsbeat-%{[@metadata][format]}-%{+yyyy.MM.dd}", "");
        assert_eq!(s.template.pattern, "s3logsbeat-*");
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let s = with("Web-%{[fields][env]}", "");
        assert_eq!(s.template.pattern, "web-*");
        // The recommended names of before: covered now, and the built-in data stream template named.
        let s = with("logs-%{[@metadata][format]}-%{+yyyy.MM.dd}", "");
        assert_eq!(s.template.pattern, "logs-*");
        assert!(
            warned(&s, "built-in template \"logs-*-*\""),
            "{:?}",
            s.warnings
        );
        // A pattern set by hand that misses the indices.
        let s = with(
            "alb-%{+yyyy.MM.dd}",
            "setup.template.pattern: s3logsbeat-*\n",
        );
        assert_eq!(s.template.pattern, "s3logsbeat-*");
        assert!(
            warned(&s, "does not match the indices") && warned(&s, "\"alb-*\""),
            "{:?}",
            s.warnings
        );
        // A name that starts with a field: no pattern to derive, and the default misses it.
        let s = with("%{[fields][env]}-alb", "");
        assert_eq!(s.template.pattern, "s3logsbeat-*");
        assert!(warned(&s, "set it to cover them"), "{:?}", s.warnings);
        // No warning when the template is not installed at all.
        let s = with(
            "alb-%{+yyyy.MM.dd}",
            "setup.template.enabled: false\nsetup.template.pattern: x-*\n",
        );
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    /// Issue 23 (7): `field_names: ecs` covered 4 of the 10 AWS formats, silently. Every AWS format has
    /// ECS names now; a format without them (`json`, `custom`) is a warning naming the input and the format.
    #[test]
    fn field_names_ecs_warns_of_formats_without_ecs_names() {
        let warnings = |text: &str, overrides: &[&str]| -> Vec<String> {
            let s = settings(text, overrides, Mode::All).unwrap();
            s.warnings.iter().map(ToString::to_string).collect()
        };
        // The original names: nothing to say.
        assert!(warnings(BASE, &[]).is_empty());
        // Global `ecs`: the alb input is mapped, the json one is not.
        let w = warnings(BASE, &["field_names=ecs"]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("s3logsbeat.inputs.1: log_format json has no ECS mapping"),
            "{w:?}"
        );
        // Per input, every AWS format and `auto` included: only the selector that reads `custom`.
        let text = BASE.replace(
            "      log_format: alb\n",
            "      log_format: auto\n      field_names: ecs\n      file_selectors:\n        \
             - {regex: '^flow/', log_format: vpcflow}\n        \
             - {regex: '^trail/', log_format: cloudtrail}\n        \
             - {regex: '^cw/', log_format: cloudwatch}\n        \
             - {regex: '^app/', log_format: custom, log_format_options: {pattern: '(?P<t>\\S+)', \
             timestamp_field: t, timestamp_format: timeISO8601}}\n",
        );
        let w = warnings(&text, &[]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains(
                "s3logsbeat.inputs.0.file_selectors.3: log_format custom has no ECS mapping"
            ),
            "{w:?}"
        );
        for f in crate::formats::route::auto_formats() {
            assert!(f.descriptor().is_some_and(|d| d.ecs.is_some()), "{f}");
        }
    }

    #[test]
    fn index_patterns_match_as_elasticsearch_reads_them() {
        for (p, n, m) in [
            ("logs-*-*", "logs-alb-2024", true),
            ("logs-*-*", "logs-alb", false),
            ("s3logsbeat-*", "s3logsbeat-x", true),
            ("s3logsbeat-*", "s3logsbeat", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("exact", "exact", true),
            ("*", "", true),
        ] {
            assert_eq!(glob_match(p, n), m, "{p} {n}");
        }
    }

    /// Issue 23: a queue under 513 events was refused (an internal chunk of 512 leaked into the config),
    /// and the advice given did not work; libbeat accepts small queues.
    #[test]
    fn small_queues_are_accepted_and_their_batches_fit() {
        for (events, min_events) in [(1, 1), (4, 2), (64, 32), (600, 300), (4096, 2048)] {
            let s = settings(BASE, &[&format!("queue.mem.events={events}")], Mode::All)
                .unwrap_or_else(|e| panic!("{events}: {e:?}"));
            assert_eq!(s.queue.events, events);
            assert_eq!(s.queue.flush_min_events, min_events, "{events}");
            assert!(
                s.queue.flush_min_events + chunk_events(events) <= events.max(2),
                "{events}"
            );
        }
    }
}
