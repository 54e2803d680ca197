//! The config file as written: every key, its meaning, unit and default.
//!
//! Keys are the original s3logsbeat's (and libbeat's, for `name`, `fields`, `tags`, `queue.mem.*`,
//! `output.*`, `logging.*`). Dotted keys (`output.elasticsearch.hosts: [...]`) are expanded before these
//! structs see them. Every struct denies unknown keys, so a misspelt key is an error that names it.
//! Nothing here is interpreted: [`super::Settings`] validates these values once at start-up.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::format::{FormatOptions, LogFormat};
use super::inputs::{FieldNames, ParseErrorPolicy};
use super::tree::Value;
use super::values::{ByteSize, Dur};

/// The whole file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The inputs and their common settings.
    pub s3logsbeat: S3LogsBeat,
    /// `beat.name` of every event. Default: the host name.
    #[serde(default)]
    pub name: Option<String>,
    /// Tags added to every event (`tags: [...]`). Default: none.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Fields added to every event, under `fields` (or at the top level with `fields_under_root`).
    /// Default: none.
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Put `fields` at the top level of events. Default: false.
    #[serde(default)]
    pub fields_under_root: bool,
    /// `original` (the original s3logsbeat's field names) or `ecs` (Elastic Common Schema, as Filebeat's
    /// aws module). Default: original.
    #[serde(default)]
    pub field_names: FieldNames,
    /// The publish queue.
    #[serde(default)]
    pub queue: Queue,
    /// Where events go: exactly one output must be configured.
    #[serde(default)]
    pub output: Outputs,
    /// Logging.
    #[serde(default)]
    pub logging: Logging,
    /// The monitoring endpoint (`/`, `/stats`, `/metrics`, `/health`).
    #[serde(default)]
    pub http: Http,
    /// `path.home`, `path.config`, `path.data`, `path.logs`.
    #[serde(default)]
    pub path: Paths,
    /// `setup.template.*` (the index template); `setup.kibana`, `setup.dashboards` and `setup.ilm` are
    /// accepted from beats configs and ignored with a warning.
    #[serde(default)]
    pub setup: Setup,
    /// Processors applied to every event, in order (`add_fields`, `drop_fields`, `rename`, `add_tags`,
    /// `drop_event`, `decode_json_fields`, each with an optional `when`). Default: none.
    #[serde(default)]
    pub processors: Vec<Value>,
    /// Runtime threads. Default: one per CPU.
    #[serde(default)]
    pub max_procs: Option<usize>,
    /// Elastic Cloud: `cloud.id` sets `output.elasticsearch.hosts`, `cloud.auth` its `user:password`.
    #[serde(default)]
    pub cloud: Cloud,
    /// libbeat's self-monitoring (`xpack.monitoring.*`): not supported (the monitoring endpoint serves
    /// the same counters); accepted with a warning.
    #[serde(default)]
    pub xpack: Option<Value>,
    /// libbeat 7's name for `xpack.monitoring`: accepted with a warning.
    #[serde(default)]
    pub monitoring: Option<Value>,
}

/// `http:` (the monitoring endpoint, as in beats).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Serve the endpoint. Default: false.
    #[serde(default)]
    pub enabled: bool,
    /// Address to listen on. Default: 127.0.0.1 (`localhost` is read as that).
    #[serde(default = "default_http_host")]
    pub host: String,
    /// Port. Default: 5066.
    #[serde(default = "default_http_port")]
    pub port: u16,
    /// When `/health` answers 503.
    #[serde(default)]
    pub health: HealthLimits,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            enabled: false,
            host: default_http_host(),
            port: default_http_port(),
            health: HealthLimits::default(),
        }
    }
}

fn default_http_host() -> String {
    "127.0.0.1".into()
}
fn default_http_port() -> u16 {
    5066
}

/// `http.health`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthLimits {
    /// Unhealthy when the output has not delivered for this long while events wait. Default: 5m.
    #[serde(default = "five_minutes")]
    pub output_unreachable: Dur,
    /// Unhealthy when no poll has succeeded for this many long-poll waits. Default: 3.
    #[serde(default = "three")]
    pub missed_polls: u32,
}

impl Default for HealthLimits {
    fn default() -> Self {
        HealthLimits {
            output_unreachable: five_minutes(),
            missed_polls: three(),
        }
    }
}

fn five_minutes() -> Dur {
    Dur::secs(300)
}
fn three() -> u32 {
    3
}

/// `path:`. Every path defaults from `path.home`, the directory of the binary.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    /// The installation's home. Default: the binary's directory.
    #[serde(default)]
    pub home: Option<String>,
    /// Where the config file is looked for. Default: `path.home`.
    #[serde(default)]
    pub config: Option<String>,
    /// Data (nothing is stored there today). Default: `path.home/data`.
    #[serde(default)]
    pub data: Option<String>,
    /// Log files (`logging.to_files`). Default: `path.home/logs`.
    #[serde(default)]
    pub logs: Option<String>,
}

/// `setup:`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// The index template.
    #[serde(default)]
    pub template: Template,
    /// Kibana: dashboards are not shipped; accepted with a warning.
    #[serde(default)]
    pub kibana: Option<Value>,
    /// Dashboards: not shipped; accepted with a warning.
    #[serde(default)]
    pub dashboards: Option<Value>,
    /// Index lifecycle management: not managed; accepted with a warning.
    #[serde(default)]
    pub ilm: Option<Value>,
}

/// `setup.template`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Install the index template when the daemon starts (it never blocks or fails delivery).
    /// Default: true, as in beats.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The template's name. Default: `s3logsbeat`.
    #[serde(default)]
    pub name: Option<String>,
    /// The index pattern it applies to. Default: `s3logsbeat-*`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// libbeat's fields file: the mappings are built in; accepted with a warning.
    #[serde(default)]
    pub fields: Option<String>,
    /// Replace a template of the same name. Default: false.
    #[serde(default)]
    pub overwrite: bool,
    /// Index settings merged into the template (`index.number_of_shards`, ...). Default: none.
    #[serde(default)]
    pub settings: Option<Value>,
}

impl Default for Template {
    fn default() -> Self {
        Template {
            enabled: true,
            name: None,
            pattern: None,
            fields: None,
            overwrite: false,
            settings: None,
        }
    }
}

/// `cloud:`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cloud {
    /// Elastic Cloud id (`name:base64(host$es-id$kibana-id)`). Default: none.
    #[serde(default)]
    pub id: Option<String>,
    /// `user:password` for the cloud deployment. Default: none.
    #[serde(default)]
    pub auth: Option<String>,
}

/// `s3logsbeat:`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3LogsBeat {
    /// The inputs: `type: sqs` for the daemon (`run`), `type: s3` for `s3import`. Required, non-empty.
    #[serde(default)]
    pub inputs: Vec<RawInput>,
    /// On SIGINT/SIGTERM, how long to wait for in-flight events to be delivered before exiting.
    /// Default: 0 (the original's default).
    #[serde(default)]
    pub shutdown_timeout: Dur,
    /// AWS access for every input (an input's own `aws` block overrides single keys). Default: the
    /// standard credential chain and region.
    #[serde(default)]
    pub aws: Option<AwsBlock>,
}

/// `s3logsbeat.aws` and `s3logsbeat.inputs[].aws`. Credentials come from the standard chain (environment,
/// profile, web identity, instance role); `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SQS` and
/// `AWS_ENDPOINT_URL_S3` are honoured.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AwsBlock {
    /// Region. Default: from the environment or profile.
    #[serde(default)]
    pub region: Option<String>,
    /// Endpoint URL for S3 and SQS (an S3-compatible store, a VPC endpoint, moto). Default: AWS's.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Path-style S3 addressing (`http://host/bucket/key`). Default: false, true for a loopback endpoint.
    #[serde(default)]
    pub path_style: Option<bool>,
    /// Role to assume for S3 and SQS calls. Default: none.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// External id for `role_arn`. Default: none.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Shared-config profile to use. Default: `AWS_PROFILE` or `default`.
    #[serde(default)]
    pub profile: Option<String>,
}

/// The kind of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    /// S3 event notifications from SQS queues (`run`).
    Sqs,
    /// Objects already in buckets (`s3import`).
    S3,
}

impl InputType {
    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            InputType::Sqs => "sqs",
            InputType::S3 => "s3",
        }
    }
}

/// `s3logsbeat.inputs[]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    /// `sqs` or `s3`. Required.
    #[serde(rename = "type")]
    pub kind: Option<InputType>,
    /// A disabled input is skipped. Default: true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `type: sqs`: the queue URLs to poll. Required for sqs.
    #[serde(default)]
    pub queues_url: Vec<String>,
    /// `type: s3`: `s3://bucket[/prefix]` to import. Required for s3.
    #[serde(default)]
    pub buckets: Vec<String>,
    /// The format of the objects (`alb`, `elb`, `cloudfront`, `waf`, `json`, `vpcflow`, `s3access`,
    /// `nlb`, `alb_connection`, `cloudtrail`, `cloudwatch`, `custom`), or `auto` to recognise it from
    /// each object's key. Required unless `file_selectors` are given.
    pub log_format: Option<LogFormat>,
    /// The format's options (`json`, `custom`, `cloudwatch`); not allowed for the others.
    #[serde(default)]
    pub log_format_options: Option<FormatOptions>,
    /// Formats chosen by key: the first selector whose `regex` matches the object's key gives its
    /// format; a key no selector matches takes `log_format`. Default: none.
    #[serde(default)]
    pub file_selectors: Vec<RawFileSelector>,
    /// What to do with an object whose format could not be chosen (no selector matches it and
    /// `log_format` is absent, or `auto` does not know its key): `delete` its notification (counted
    /// as `s3_objects_unmatched`) or `keep` it (it comes back after the visibility timeout, until the
    /// queue's redrive policy moves it away). Default: delete.
    #[serde(default)]
    pub unmatched: Option<Unmatched>,
    /// A regular expression applied to each object's key; its named groups become event fields (and
    /// replace a parsed field of the same name). A key that does not match adds no fields. Default: none.
    #[serde(default)]
    pub key_regex_fields: Option<String>,
    /// `type: sqs`: pause between two polls of a queue that came back empty. Default: 0 (long polling
    /// does the waiting).
    #[serde(default)]
    pub poll_frequency: Option<Dur>,
    /// `type: sqs`: long-polling wait of one ReceiveMessage, 0 to 20s. Default: 20s.
    #[serde(default)]
    pub wait_time: Option<Dur>,
    /// `type: sqs`: messages asked for per ReceiveMessage, 1 to 10. Default: 10.
    #[serde(default)]
    pub max_number_of_messages: Option<u32>,
    /// `type: sqs`: visibility timeout set on receive; while a message's objects are still in flight it is
    /// extended every half of this, so a large object is never processed twice. Up to 12h. Default: 300s.
    #[serde(default)]
    pub visibility_timeout: Option<Dur>,
    /// `type: sqs`: how often each queue's depth is read (GetQueueAttributes) for the monitoring
    /// endpoint's queue metrics, `0s` for never; only with `http.enabled`. 1s to 1h. Default: 15s.
    #[serde(default)]
    pub queue_metrics_interval: Option<Dur>,
    /// `type: sqs`: messages (for `s3`: objects) processed at once per input. Default: 5.
    #[serde(default)]
    pub workers: Option<usize>,
    /// AWS access for this input, overriding `s3logsbeat.aws` key by key.
    #[serde(default)]
    pub aws: Option<AwsBlock>,
    /// `type: s3`: import objects whose LastModified is at or after this time (RFC 3339, or
    /// `2018-10-15T01:00` in UTC). Default: no lower bound.
    #[serde(default)]
    pub since: Option<String>,
    /// `type: s3`: import objects whose LastModified is before this time. Default: no upper bound.
    #[serde(default)]
    pub to: Option<String>,
    /// What to do with a line that does not parse: `ship` it as an event tagged
    /// `_s3logsbeat_parse_failure` with the raw line in `message`, or `drop` it (counted). Default: ship.
    #[serde(default)]
    pub parse_errors: ParseErrorPolicy,
    /// Longest line read, in bytes (or with a unit: `1MiB`); a longer line is cut there and flagged
    /// `log.flags: [truncated]`. Default: 1MiB.
    #[serde(default)]
    pub max_line_bytes: Option<ByteSize>,
    /// Fields added to this input's events (merged over the global `fields`). Default: none.
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Put this input's `fields` at the top level of events. Default: the global setting.
    #[serde(default)]
    pub fields_under_root: Option<bool>,
    /// This input's field names (`original` or `ecs`). Default: the global `field_names`.
    #[serde(default)]
    pub field_names: Option<FieldNames>,
    /// Processors for this input's events, run before the global `processors`. Default: none.
    #[serde(default)]
    pub processors: Vec<Value>,
    /// Tags added to this input's events, after the global `tags`. Default: none.
    #[serde(default)]
    pub tags: Vec<String>,
}

fn yes() -> bool {
    true
}

/// One of an input's `file_selectors`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawFileSelector {
    /// A regular expression matched against the object's key (anywhere in it). Required.
    pub regex: Option<String>,
    /// The format of the objects it matches (not `auto`). Required.
    pub log_format: Option<LogFormat>,
    /// That format's options.
    #[serde(default)]
    pub log_format_options: Option<FormatOptions>,
}

/// What happens to an object no format was chosen for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmatched {
    /// Counted; its message is deleted once the message's other objects are done.
    #[default]
    Delete,
    /// Counted; its message is kept (it comes back after the visibility timeout).
    Keep,
}

/// `queue:`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// `queue.mem`: the in-memory publish queue.
    #[serde(default)]
    pub mem: MemQueue,
}

/// `queue.mem`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MemQueue {
    /// Events the queue holds; when full, reading pauses and polling stops. Default: 4096.
    #[serde(default = "default_queue_events")]
    pub events: usize,
    /// When to hand a batch to the output.
    #[serde(default)]
    pub flush: Flush,
}

impl Default for MemQueue {
    fn default() -> Self {
        MemQueue {
            events: default_queue_events(),
            flush: Flush::default(),
        }
    }
}

fn default_queue_events() -> usize {
    4096
}

/// `queue.mem.flush`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Flush {
    /// A batch is sent when it has this many events. Default: 2048.
    #[serde(default = "default_min_events")]
    pub min_events: usize,
    /// ... or when its oldest event has waited this long. Default: 1s.
    #[serde(default = "default_flush_timeout")]
    pub timeout: Dur,
}

impl Default for Flush {
    fn default() -> Self {
        Flush {
            min_events: default_min_events(),
            timeout: default_flush_timeout(),
        }
    }
}

fn default_min_events() -> usize {
    2048
}

fn default_flush_timeout() -> Dur {
    Dur::secs(1)
}

/// `output:`; exactly one must be present and enabled.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    /// `output.elasticsearch`.
    #[serde(default)]
    pub elasticsearch: Option<Elasticsearch>,
    /// `output.logstash`.
    #[serde(default)]
    pub logstash: Option<Logstash>,
    /// `output.console`.
    #[serde(default)]
    pub console: Option<Console>,
    /// `output.file`.
    #[serde(default)]
    pub file: Option<File>,
    /// libbeat's Kafka output: not supported (an error when enabled: events would not go where meant).
    #[serde(default)]
    pub kafka: Option<Value>,
    /// libbeat's Redis output: not supported (an error when enabled).
    #[serde(default)]
    pub redis: Option<Value>,
}

/// `ssl:` of an output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ssl {
    /// Use TLS. Default: true when this block is present (or the host URL says https).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// PEM files of the CAs to trust, in addition to the system's. Default: none.
    #[serde(default)]
    pub certificate_authorities: Vec<String>,
    /// `full` (certificate and host name), `certificate` (certificate only) or `none`. Default: full.
    #[serde(default)]
    pub verification_mode: Option<String>,
    /// Client certificate (PEM) for mutual TLS. Default: none.
    #[serde(default)]
    pub certificate: Option<String>,
    /// Client key (PEM) for mutual TLS. Default: none.
    #[serde(default)]
    pub key: Option<String>,
    /// Passphrase of an encrypted key: not supported (an error when set; decrypt the key file).
    #[serde(default)]
    pub key_passphrase: Option<String>,
    /// TLS versions. rustls speaks TLS 1.2 and 1.3; a list without either is an error, older versions
    /// in it are ignored with a warning. Default: TLSv1.2, TLSv1.3.
    #[serde(default)]
    pub supported_protocols: Vec<String>,
    /// Cipher suites: rustls's safe defaults are always used; a non-empty list is ignored with a warning.
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    /// Curve types: as `cipher_suites`.
    #[serde(default)]
    pub curve_types: Vec<String>,
}

/// `backoff:` of an output.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// First wait after a failure. Default: 1s.
    #[serde(default = "one_sec")]
    pub init: Dur,
    /// Longest wait between retries. Default: 60s.
    #[serde(default = "sixty_secs")]
    pub max: Dur,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            init: one_sec(),
            max: sixty_secs(),
        }
    }
}

fn one_sec() -> Dur {
    Dur::secs(1)
}
fn sixty_secs() -> Dur {
    Dur::secs(60)
}

/// `output.elasticsearch`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Elasticsearch {
    /// Use this output. Default: true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `host:port` or URLs; several give failover. Required.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// `http` or `https` for hosts given without a scheme. Default: http.
    #[serde(default)]
    pub protocol: Option<String>,
    /// A path prefix in front of every request (behind a proxy). Default: none.
    #[serde(default)]
    pub path: Option<String>,
    /// Basic authentication user. Default: none.
    #[serde(default)]
    pub username: Option<String>,
    /// Basic authentication password. Default: none.
    #[serde(default)]
    pub password: Option<String>,
    /// API key as `id:api_key` (or already base64-encoded). Default: none.
    #[serde(default)]
    pub api_key: Option<String>,
    /// TLS settings.
    #[serde(default)]
    pub ssl: Option<Ssl>,
    /// Index name; `%{+yyyy.MM.dd}` is the event's `@timestamp` date (UTC) and `%{[field]}` an event
    /// field. Default: `s3logsbeat-%{+yyyy.MM.dd}`.
    #[serde(default)]
    pub index: Option<String>,
    /// Ingest pipeline for every document. Default: none.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Most events in one bulk request. Default: 1600.
    #[serde(default)]
    pub bulk_max_size: Option<usize>,
    /// Most bulk requests in flight per host; the adaptive limit (halved on 429, grown on success) stays
    /// between 1 and this. Default: 4.
    #[serde(default)]
    pub worker: Option<usize>,
    /// gzip level of request bodies, 0 (off) to 9. Default: 1.
    #[serde(default)]
    pub compression_level: Option<u32>,
    /// HTTP request timeout. Default: 90s.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Waits between retries.
    #[serde(default)]
    pub backoff: Backoff,
    /// Accepted for configs from the original; ignored: events are retried until delivered, never dropped.
    #[serde(default)]
    pub max_retries: Option<i64>,
    /// What to do with documents Elasticsearch rejects for good (mapping errors): a dead-letter index
    /// (default) or `drop: {}`.
    #[serde(default)]
    pub non_indexable_policy: Option<NonIndexablePolicy>,
    /// Query parameters added to every bulk request. Default: none.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// HTTP headers added to every request. Default: none.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// An HTTP(S) proxy for every request (`http://proxy:3128`). Default: none.
    #[serde(default)]
    pub proxy_url: Option<String>,
}

/// `output.elasticsearch.non_indexable_policy`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NonIndexablePolicy {
    /// Drop rejected documents (counted and logged).
    #[serde(default)]
    pub drop: Option<BTreeMap<String, serde_json::Value>>,
    /// Index rejected documents, as a string with the error, into another index.
    #[serde(default)]
    pub dead_letter_index: Option<DeadLetterIndex>,
}

/// `non_indexable_policy.dead_letter_index`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterIndex {
    /// The index. Default: `s3logsbeat-deadletter`.
    #[serde(default)]
    pub index: Option<String>,
}

/// `output.logstash`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Logstash {
    /// Use this output. Default: true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `host:port` of Logstash beats inputs. Required.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Spread batches over all hosts instead of using the first that works. Default: false.
    #[serde(default)]
    pub loadbalance: bool,
    /// zlib level of windows, 0 (off) to 9. Default: 3.
    #[serde(default)]
    pub compression_level: Option<u32>,
    /// Most events in one window. Default: 2048.
    #[serde(default)]
    pub bulk_max_size: Option<usize>,
    /// Wait this long for an acknowledgement before resending the window. Default: 30s.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Windows in flight per connection. Default: 2.
    #[serde(default)]
    pub pipelining: Option<usize>,
    /// Connections per host. Default: 1.
    #[serde(default)]
    pub worker: Option<usize>,
    /// TLS settings.
    #[serde(default)]
    pub ssl: Option<Ssl>,
    /// Waits between reconnections.
    #[serde(default)]
    pub backoff: Backoff,
    /// Accepted for configs from the original; ignored: events are retried until delivered.
    #[serde(default)]
    pub max_retries: Option<i64>,
    /// Sets `@metadata.beat`, which Logstash pipelines use to name indices. Default: `s3logsbeat`.
    #[serde(default)]
    pub index: Option<String>,
    /// Reconnect after this long: not supported (connections are kept); accepted with a warning.
    #[serde(default)]
    pub ttl: Option<Dur>,
    /// Start with small windows: not supported (windows are `bulk_max_size`); accepted with a warning.
    #[serde(default)]
    pub slow_start: Option<bool>,
    /// A SOCKS5 proxy: not supported (an error when set: events would not go through it).
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// For `proxy_url`: accepted with a warning.
    #[serde(default)]
    pub proxy_use_local_resolver: Option<bool>,
}

/// `output.console`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Console {
    /// Use this output. Default: true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Indent each event over several lines. Default: false (one line per event).
    #[serde(default)]
    pub pretty: bool,
}

/// `output.file`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// Use this output. Default: true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Directory of the files. Required.
    #[serde(default)]
    pub path: Option<String>,
    /// Base name of the files. Default: `s3logsbeat`.
    #[serde(default)]
    pub filename: Option<String>,
    /// Rotate when a file reaches this size, in KiB. Default: 10240.
    #[serde(default)]
    pub rotate_every_kb: Option<u64>,
    /// Rotated files kept, 2 to 1024. Default: 7.
    #[serde(default)]
    pub number_of_files: Option<u32>,
}

/// `logging:`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// `error`, `warning`, `info` or `debug`. Default: info.
    #[serde(default)]
    pub level: Option<String>,
    /// Debug selectors to enable (`-d` adds to these). Default: none.
    #[serde(default)]
    pub selectors: Vec<String>,
    /// Log to stderr. Default: true, unless `to_files` is set (beats' `-e` forces it).
    #[serde(default)]
    pub to_stderr: Option<bool>,
    /// Log to rotating files in `logging.files.path`. Default: false.
    #[serde(default)]
    pub to_files: Option<bool>,
    /// The log files.
    #[serde(default)]
    pub files: Option<LogFiles>,
    /// One JSON object per line (time, level, message, fields) instead of text. Default: false.
    #[serde(default)]
    pub json: bool,
    /// The periodic counters line.
    #[serde(default)]
    pub metrics: Option<LogMetrics>,
    /// Syslog: not supported; accepted with a warning (use journald or files).
    #[serde(default)]
    pub to_syslog: Option<bool>,
    /// Windows event log: not supported; accepted with a warning.
    #[serde(default)]
    pub to_eventlog: Option<bool>,
}

/// `logging.files`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogFiles {
    /// Directory. Default: `path.logs`.
    #[serde(default)]
    pub path: Option<String>,
    /// Base name. Default: `s3logsbeat`.
    #[serde(default)]
    pub name: Option<String>,
    /// Rotate when a file reaches this many bytes. Default: 10485760 (10 MiB).
    #[serde(default)]
    pub rotateeverybytes: Option<u64>,
    /// Rotated files kept. Default: 7.
    #[serde(default)]
    pub keepfiles: Option<u32>,
    /// Unix permissions of the files, octal (`0600`). Default: 0600.
    #[serde(default)]
    pub permissions: Option<Value>,
}

/// `logging.metrics`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogMetrics {
    /// Log the counters periodically. Default: true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// How often. Default: 30s.
    #[serde(default)]
    pub period: Option<Dur>,
}
