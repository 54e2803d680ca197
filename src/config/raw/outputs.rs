//! The config file as written, its outputs: `output.elasticsearch`, `output.logstash`,
//! `output.console`, `output.file`, with their TLS (`ssl`) and `backoff` blocks. Each key's meaning, unit
//! and default; nothing is interpreted here (`config/outputs.rs` validates).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::tree::Value;
use super::super::values::{yes, Dur};

/// `output:`; exactly one must be present and enabled.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    /// `output.elasticsearch`.
    #[serde(default)]
    pub elasticsearch: Option<Elasticsearch>,
    /// `output.opensearch`: the keys of `output.elasticsearch`, with `aws` (SigV4) and `document_id`.
    #[serde(default)]
    pub opensearch: Option<Elasticsearch>,
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
    /// `output.opensearch` only: sign every request with AWS Signature Version 4 (Amazon OpenSearch
    /// Service and Serverless). Default: not signed.
    #[serde(default)]
    pub aws: Option<SigV4Block>,
    /// `output.opensearch` only: `event` (each document's `_id` is the event's deterministic id) or `none`
    /// (an `index` action without `_id`, as Serverless time-series collections need; a retried bulk
    /// may then index a document twice). Default: event.
    #[serde(default)]
    pub document_id: Option<DocumentId>,
}

/// `output.opensearch.aws`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SigV4Block {
    /// The region signed for. Default: the one in the host name (`*.<region>.es.amazonaws.com`,
    /// `*.<region>.aoss.amazonaws.com`), else `s3logsbeat.aws.region`, else the environment's.
    #[serde(default)]
    pub region: Option<String>,
    /// `es` (managed domains, legacy Elasticsearch domains included) or `aoss` (Serverless). Default: from
    /// the host name (`aoss` for `*.aoss.amazonaws.com`), else `es`.
    #[serde(default)]
    pub service: Option<String>,
    /// A role to assume for signing. Default: none (the credentials of the standard chain).
    #[serde(default)]
    pub role_arn: Option<String>,
    /// The external id of `role_arn`. Default: none.
    #[serde(default)]
    pub external_id: Option<String>,
    /// A shared-config profile for the credentials. Default: `AWS_PROFILE` or `default`.
    #[serde(default)]
    pub profile: Option<String>,
}

/// `output.opensearch.document_id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentId {
    /// The event's deterministic id: a repeat is the same document.
    #[default]
    Event,
    /// No `_id`: OpenSearch picks one (Serverless time-series collections refuse ids).
    None,
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
