//! The config file as written, its inputs: `s3logsbeat.inputs` and the settings they share with
//! `s3logsbeat:` (`aws`, `field_names`, `parse_errors`, `file_selectors`, ...). Each key's meaning, unit
//! and default; nothing is interpreted here (`config/inputs.rs` validates).

use serde::{Deserialize, Serialize};

use super::super::format::{FormatOptions, LogFormat};
use super::super::tree::Value;
use super::super::values::{yes, ByteSize, Dur};

/// What to do with a line that does not parse (`parse_errors` of an input).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParseErrorPolicy {
    /// Ship it as an event with the raw line in `message` and the reason in `error.message`.
    #[default]
    Ship,
    /// Count it and drop it.
    Drop,
}

/// The names events' fields get (`field_names`, global or per input).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldNames {
    /// The original s3logsbeat's names (`client_ip`, `elb_status_code`, ...).
    #[default]
    Original,
    /// Elastic Common Schema names, as Filebeat's aws module writes them (`source.ip`,
    /// `http.response.status_code`, `aws.elb.*`, ...).
    Ecs,
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
#[serde(rename_all = "snake_case")]
pub enum InputType {
    /// S3 event notifications from SQS queues (`run`).
    Sqs,
    /// Objects already in buckets (`s3import`).
    S3,
    /// Log groups in CloudWatch Logs, polled (`run`).
    CloudwatchLogs,
}

impl InputType {
    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            InputType::Sqs => "sqs",
            InputType::S3 => "s3",
            InputType::CloudwatchLogs => "cloudwatch_logs",
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
    /// `type: cloudwatch_logs`: log groups by ARN (`arn:aws:logs:<region>:<account>:log-group:<name>`,
    /// a trailing `:*` allowed), one or a list. The region in the ARN is the one read. One of
    /// `log_group_arn`, `log_group_name`, `log_group_name_prefix` is required.
    #[serde(default)]
    pub log_group_arn: Strings,
    /// `type: cloudwatch_logs`: log groups by name, one or a list, in `region_name`.
    #[serde(default)]
    pub log_group_name: Strings,
    /// `type: cloudwatch_logs`: every log group whose name starts with this, one or a list; found again
    /// every `scan_frequency`, so a group created later is read and a deleted one dropped.
    #[serde(default)]
    pub log_group_name_prefix: Strings,
    /// `type: cloudwatch_logs`: the region of the groups named by name or prefix. Default: the input's
    /// AWS region.
    #[serde(default)]
    pub region_name: Option<String>,
    /// `type: cloudwatch_logs`: read only these log streams of each group. Default: all.
    #[serde(default)]
    pub log_streams: Vec<String>,
    /// `type: cloudwatch_logs`: read only the log streams whose name starts with this. Default: all.
    #[serde(default)]
    pub log_stream_prefix: Option<String>,
    /// `type: cloudwatch_logs`: where a group without a checkpoint starts: `beginning`, `end` (now), an
    /// RFC 3339 time, or a duration back from now (`-2h`). Default: beginning.
    #[serde(default)]
    pub start_position: Option<String>,
    /// `type: cloudwatch_logs`: how often the groups are found again and each is read up to now.
    /// Default: 1m.
    #[serde(default)]
    pub scan_frequency: Option<Dur>,
    /// `type: cloudwatch_logs`: how late CloudWatch may make an event visible: each read goes back this
    /// far before the checkpoint, and events already delivered in that window are not sent again.
    /// Default: 2m.
    #[serde(default)]
    pub latency: Option<Dur>,
    /// `type: cloudwatch_logs`: the longest one CloudWatch Logs call may take. Default: 120s.
    #[serde(default)]
    pub api_timeout: Option<Dur>,
    /// `type: cloudwatch_logs`: groups read at the same time. Default: 1. `type: s3` polling: objects
    /// read at the same time (Filebeat's name for `workers`). Default: 5.
    #[serde(default)]
    pub number_of_workers: Option<usize>,
    /// `type: s3` polling (`run`): the bucket to list, `arn:aws:s3:::<bucket>`. With it (or
    /// `non_aws_bucket_name`) an `s3` input is polled by the daemon; without, it is for `s3import`.
    #[serde(default)]
    pub bucket_arn: Option<String>,
    /// `type: s3` polling: the bucket of an S3-compatible store (with `aws.endpoint` and
    /// `aws.path_style`), instead of `bucket_arn`.
    #[serde(default)]
    pub non_aws_bucket_name: Option<String>,
    /// `type: s3` polling: the key prefixes to list, one or a list; each has its own cursor and lease.
    /// Default: the whole bucket (one prefix, `""`).
    #[serde(default)]
    pub bucket_list_prefix: Strings,
    /// `type: s3` polling: pause between two listings of a prefix. Default: 120s (Filebeat's).
    #[serde(default)]
    pub bucket_list_interval: Option<Dur>,
    /// `type: s3` polling: how long after a later key an out-of-order key (CloudTrail delivers out of key
    /// order) is still found: delivered keys of this window are remembered and listed again, up to 10,000
    /// per prefix. Default: 1h.
    #[serde(default)]
    pub bucket_list_lookback: Option<Dur>,
    /// `type: s3` polling: objects whose LastModified is before this time (RFC 3339) are not read.
    /// Default: no bound.
    #[serde(default)]
    pub start_timestamp: Option<String>,
    /// `type: s3` polling: objects whose LastModified is older than this when listed are not read.
    /// Default: no bound.
    #[serde(default)]
    pub ignore_older: Option<Dur>,
    /// After every event of an object is delivered (or dead-lettered): copy it to this bucket,
    /// `arn:aws:s3:::<bucket>`, as `backup_to_bucket_prefix` + its key. Not for an object that could not be
    /// read. Default: no copy.
    #[serde(default)]
    pub backup_to_bucket_arn: Option<String>,
    /// The backup bucket of an S3-compatible store, instead of `backup_to_bucket_arn`.
    #[serde(default)]
    pub non_aws_backup_to_bucket_name: Option<String>,
    /// Put before each key in the backup bucket, as written (`done/` gives `done/<key>`; `done` gives
    /// `done<key>`). Default: none.
    #[serde(default)]
    pub backup_to_bucket_prefix: Option<String>,
    /// Delete the object once its backup is written. Needs a backup bucket. Default: false.
    #[serde(default)]
    pub delete_after_backup: Option<bool>,
    /// Delete the object once every event of it is delivered, keeping no copy. Default: false.
    #[serde(default)]
    pub delete_after_read: Option<bool>,
}

/// A string or a list of strings (`log_group_name: a` or `log_group_name: [a, b]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(from = "OneOrMany", into = "Vec<String>")]
pub struct Strings(pub Vec<String>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrMany> for Strings {
    fn from(v: OneOrMany) -> Strings {
        match v {
            OneOrMany::One(s) => Strings(vec![s]),
            OneOrMany::Many(v) => Strings(v),
        }
    }
}

impl From<Strings> for Vec<String> {
    fn from(s: Strings) -> Vec<String> {
        s.0
    }
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
