//! The config file as written: every key, its meaning, unit and default.
//!
//! Keys are the original s3logsbeat's (and libbeat's, for `name`, `fields`, `tags`, `queue.mem.*`,
//! `output.*`, `logging.*`). Dotted keys (`output.elasticsearch.hosts: [...]`) are expanded before these
//! structs see them. Every struct denies unknown keys, so a misspelt key is an error that names it.
//! Nothing here is interpreted: [`super::Settings`] validates these values once at start-up. The inputs'
//! keys are in `inputs.rs`, the outputs' in `outputs.rs`; the rest of the file is here.

use serde::{Deserialize, Serialize};

mod inputs;
mod outputs;

pub use inputs::*;
pub use outputs::*;

use super::tree::Value;
use super::values::{yes, Dur};

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
    /// `state`: where checkpoints and leases of inputs without a queue are kept. Default: files under
    /// `path.data`.
    #[serde(default)]
    pub state: State,
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
    /// OpenSearch's Index State Management (`output.opensearch` only): a policy installed with the
    /// template. Default: none.
    #[serde(default)]
    pub ism: Option<Ism>,
}

/// `setup.ism`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ism {
    /// Install the policy at start-up and with `setup`. Default: true when the block is present.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The policy's name. Default: `s3logsbeat`.
    #[serde(default)]
    pub policy_name: Option<String>,
    /// Roll an index over at this primary size (`50gb`). Needs a rollover alias on the indices.
    /// Default: no rollover.
    #[serde(default)]
    pub rollover_min_size: Option<String>,
    /// Roll an index over at this age (`1d`). Default: no rollover.
    #[serde(default)]
    pub rollover_min_index_age: Option<String>,
    /// Delete an index at this age (`30d`). Default: never.
    #[serde(default)]
    pub delete_min_index_age: Option<String>,
    /// Replace a policy of the same name. Default: false.
    #[serde(default)]
    pub overwrite: bool,
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

/// `state:`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// `state.s3`: keep the state in S3 instead, for containers and fleets. Default: none (files).
    #[serde(default)]
    pub s3: Option<StateS3>,
    /// How long a lease on an input is held without being renewed; another instance takes over this
    /// long after the holder died. Default: 1m.
    #[serde(default)]
    pub lease_duration: Option<Dur>,
}

/// `state.s3:`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StateS3 {
    /// The bucket. Required.
    #[serde(default)]
    pub bucket: Option<String>,
    /// The state object's key; leases are written beside it (`<key>.lease.<input>`). Default:
    /// `s3logsbeat/state.json`.
    #[serde(default)]
    pub key: Option<String>,
}
