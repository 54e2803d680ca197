//! Elastic Common Schema names (`field_names: ecs`): an event with the original s3logsbeat names in, the
//! same event with ECS names out, as Elastic's AWS integration (and Filebeat's aws module before it)
//! writes them (`source.ip`, `http.response.status_code`, `url.original`, `user_agent.original`,
//! `cloud.account.id`, `aws.elb.*`, `aws.vpcflow.*`, ...) plus what ECS derives (`event.outcome`,
//! `event.duration` in nanoseconds, `network.transport`, `cloud.provider`, `event.kind`/`category`/`type`,
//! `ecs.version`).
//!
//! Each AWS format has one `Mapping`: its table (original name → ECS name; a name listed twice is written
//! to both, as Elastic copies `account_id` to `cloud.account.id` and keeps `aws.vpcflow.account_id`),
//! where the fields the table does not name go (under `aws.<dataset>.`, so that a column AWS adds later is
//! not left under its own name; ALB, ELB and CloudFront keep theirs, as before), the values whose form
//! changes (epoch seconds → date, ...), and the fields derived from the others. `json` and `custom` have
//! none: their fields are the log's own, or the config's, and config validation warns when
//! `field_names: ecs` meets one of them.
//!
//! What must stay true: every field is kept (renamed, copied or converted, never dropped, except `-`
//! placeholders, which ECS leaves absent); `@timestamp`, `@metadata`, `log`, `beat`, `tags`, `fields`,
//! `message`, `error` and `ecs` are not touched; the index template takes its names and types from the same
//! mapping ([`ecs_fields`], [`added`]), so the template and the events cannot disagree.

use serde_json::{Map, Value};

use crate::config::LogFormat;
use crate::event::{cap_json_depth, Event, Timestamp, MAX_DOC_DEPTH};
use crate::outputs::elasticsearch::template::FieldType::{self, Date, Ip, Keyword, Long};

/// The ECS version the names follow.
pub const ECS_VERSION: &str = "8.11.0";

/// ALB: original name → ECS name.
const ALB: &[(&str, &str)] = &[
    ("type", "aws.elb.type"),
    ("elb", "aws.elb.name"),
    ("client_ip", "source.ip"),
    ("client_port", "source.port"),
    ("target_ip", "destination.ip"),
    ("target_port", "destination.port"),
    (
        "request_processing_time",
        "aws.elb.request_processing_time.sec",
    ),
    (
        "target_processing_time",
        "aws.elb.backend_processing_time.sec",
    ),
    (
        "response_processing_time",
        "aws.elb.response_processing_time.sec",
    ),
    ("elb_status_code", "http.response.status_code"),
    (
        "target_status_code",
        "aws.elb.backend.http.response.status_code",
    ),
    ("received_bytes", "http.request.body.bytes"),
    ("sent_bytes", "http.response.body.bytes"),
    ("request_verb", "http.request.method"),
    ("request_url", "url.original"),
    ("request_proto", "http.version"),
    ("user_agent", "user_agent.original"),
    ("ssl_cipher", "aws.elb.ssl_cipher"),
    ("ssl_protocol", "aws.elb.ssl_protocol"),
    ("target_group_arn", "aws.elb.target_group.arn"),
    ("trace_id", "aws.elb.trace_id"),
    ("domain_name", "destination.domain"),
    ("chosen_cert_arn", "aws.elb.chosen_cert.arn"),
    ("matched_rule_priority", "aws.elb.matched_rule_priority"),
    ("request_creation_time", "aws.elb.request_creation_time"),
    ("actions_executed", "aws.elb.action_executed"),
    ("redirect_url", "aws.elb.redirect_url"),
    ("error_reason", "aws.elb.error.reason"),
    ("target_port_list", "aws.elb.target_port"),
    ("target_status_code_list", "aws.elb.target_status_code"),
    ("classification", "aws.elb.classification"),
    ("classification_reason", "aws.elb.classification_reason"),
    ("conn_trace_id", "aws.elb.connection_trace_id"),
    ("transformed_host", "aws.elb.transformed_host"),
    ("transformed_uri", "aws.elb.transformed_uri"),
    (
        "request_transform_status",
        "aws.elb.request_transform_status",
    ),
];

/// Classic ELB.
const ELB: &[(&str, &str)] = &[
    ("elb", "aws.elb.name"),
    ("client_ip", "source.ip"),
    ("client_port", "source.port"),
    ("backend_ip", "destination.ip"),
    ("backend_port", "destination.port"),
    (
        "request_processing_time",
        "aws.elb.request_processing_time.sec",
    ),
    (
        "backend_processing_time",
        "aws.elb.backend_processing_time.sec",
    ),
    (
        "response_processing_time",
        "aws.elb.response_processing_time.sec",
    ),
    ("elb_status_code", "http.response.status_code"),
    (
        "backend_status_code",
        "aws.elb.backend.http.response.status_code",
    ),
    ("received_bytes", "http.request.body.bytes"),
    ("sent_bytes", "http.response.body.bytes"),
    ("request_verb", "http.request.method"),
    ("request_url", "url.original"),
    ("request_proto", "http.version"),
    ("user_agent", "user_agent.original"),
    ("ssl_cipher", "aws.elb.ssl_cipher"),
    ("ssl_protocol", "aws.elb.ssl_protocol"),
];

/// CloudFront standard logs.
const CLOUDFRONT: &[(&str, &str)] = &[
    ("x_edge_location", "aws.cloudfront.edge_location"),
    ("sc_bytes", "http.response.bytes"),
    ("c_ip", "source.ip"),
    ("c_port", "source.port"),
    ("cs_method", "http.request.method"),
    ("cs_host", "aws.cloudfront.distribution_domain"),
    ("cs_uri_stem", "url.path"),
    ("sc_status", "http.response.status_code"),
    ("cs_referer", "http.request.referrer"),
    ("cs_user_agent", "user_agent.original"),
    ("cs_uri_query", "url.query"),
    ("cs_cookie", "aws.cloudfront.cookie"),
    ("x_edge_result_type", "aws.cloudfront.edge_result_type"),
    ("x_edge_request_id", "http.request.id"),
    ("x_host_header", "url.domain"),
    ("cs_protocol", "url.scheme"),
    ("cs_bytes", "http.request.bytes"),
    ("time_taken", "aws.cloudfront.time_taken.sec"),
    ("x_forwarded_for", "aws.cloudfront.x_forwarded_for"),
    ("ssl_protocol", "aws.cloudfront.ssl_protocol"),
    ("ssl_cipher", "aws.cloudfront.ssl_cipher"),
    (
        "x_edge_response_result_type",
        "aws.cloudfront.edge_response_result_type",
    ),
    ("cs_protocol_version", "http.version"),
    ("fle_status", "aws.cloudfront.fle_status"),
    (
        "fle_encrypted_fields",
        "aws.cloudfront.fle_encrypted_fields",
    ),
    (
        "time_to_first_byte",
        "aws.cloudfront.time_to_first_byte.sec",
    ),
    (
        "x_edge_detailed_result_type",
        "aws.cloudfront.edge_detailed_result_type",
    ),
    ("sc_content_type", "http.response.mime_type"),
    ("sc_content_len", "http.response.body.bytes"),
    ("sc_range_start", "aws.cloudfront.range_start"),
    ("sc_range_end", "aws.cloudfront.range_end"),
];

/// WAF: the request's ECS fields; every other field goes under `aws.waf.` in snake_case.
const WAF: &[(&str, &str)] = &[
    ("action", "event.action"),
    ("httpRequest.clientIp", "source.ip"),
    ("httpRequest.country", "source.geo.country_iso_code"),
    ("httpRequest.httpMethod", "http.request.method"),
    ("httpRequest.uri", "url.path"),
    ("httpRequest.args", "url.query"),
    ("httpRequest.httpVersion", "http.version"),
    ("httpRequest.requestId", "http.request.id"),
    ("responseCodeSent", "http.response.status_code"),
];

/// NLB access logs, as Elastic's `elb_logs` pipeline reads them. `destination:port` is where the client
/// connected (the listener, or a VPC endpoint), AWS documents, so it is `destination.*` and not Elastic's
/// `aws.elb.backend.*`; the log format's own version, which Elastic does not keep, is `aws.elb.log_version`.
const NLB: &[(&str, &str)] = &[
    ("type", "aws.elb.type"),
    ("version", "aws.elb.log_version"),
    ("elb", "aws.elb.name"),
    ("listener", "aws.elb.listener"),
    ("client_ip", "source.ip"),
    ("client_port", "source.port"),
    ("destination_ip", "destination.ip"),
    ("destination_port", "destination.port"),
    ("connection_time", "aws.elb.connection_time.ms"),
    ("tls_handshake_time", "aws.elb.tls_handshake_time.ms"),
    ("received_bytes", "source.bytes"),
    ("sent_bytes", "destination.bytes"),
    ("incoming_tls_alert", "aws.elb.incoming_tls_alert"),
    ("chosen_cert_arn", "aws.elb.chosen_cert.arn"),
    ("chosen_cert_serial", "aws.elb.chosen_cert.serial"),
    ("tls_cipher", "aws.elb.ssl_cipher"),
    ("tls_protocol_version", "aws.elb.ssl_protocol"),
    ("tls_named_group", "aws.elb.tls_named_group"),
    ("domain_name", "destination.domain"),
    ("alpn_fe_protocol", "aws.elb.alpn_fe_protocol"),
    ("alpn_be_protocol", "aws.elb.alpn_be_protocol"),
    (
        "alpn_client_preference_list",
        "aws.elb.alpn_client_preference_list",
    ),
    (
        "tls_connection_creation_time",
        "aws.elb.tls_connection_creation_time",
    ),
];

/// ALB connection logs, as Elastic's `elb_logs` pipeline reads them: the client as `client.*`, the
/// listener port as `aws.elb.listener` (a keyword, beside NLB's listener ids), the certificate's validity
/// as two dates and a failed verification's reason apart (see [`convert`]).
const ALB_CONNECTION: &[(&str, &str)] = &[
    ("client_ip", "client.ip"),
    ("client_port", "client.port"),
    ("listener_port", "aws.elb.listener"),
    ("tls_protocol", "aws.elb.ssl_protocol"),
    ("tls_cipher", "aws.elb.ssl_cipher"),
    ("tls_handshake_latency", "aws.elb.tls_handshake_latency"),
    (
        "leaf_client_cert_subject",
        "aws.elb.leaf_client_cert_subject",
    ),
    (
        "leaf_client_cert_validity",
        "aws.elb.leaf_client_cert_validity",
    ),
    (
        "leaf_client_cert_serial_number",
        "aws.elb.leaf_client_cert_serial_number",
    ),
    ("tls_verify_status", "aws.elb.tls_verify_status"),
    ("conn_trace_id", "aws.elb.connection_trace_id"),
];

/// VPC and Transit Gateway flow logs, as Elastic's `vpcflow` pipeline writes them; every other column
/// (TGW's, the ECS task ids, `log_status`, a column AWS adds later) goes under `aws.vpcflow.` as named.
const VPCFLOW: &[(&str, &str)] = &[
    ("account_id", "aws.vpcflow.account_id"),
    ("account_id", "cloud.account.id"),
    ("srcaddr", "source.ip"),
    ("dstaddr", "destination.ip"),
    ("srcport", "source.port"),
    ("dstport", "destination.port"),
    ("protocol", "network.iana_number"),
    ("packets", "source.packets"),
    ("packets", "network.packets"),
    ("bytes", "source.bytes"),
    ("bytes", "network.bytes"),
    ("start", "event.start"),
    ("end", "event.end"),
    ("action", "aws.vpcflow.action"),
    ("action", "event.action"),
    ("instance_id", "aws.vpcflow.instance_id"),
    ("instance_id", "cloud.instance.id"),
    ("region", "cloud.region"),
    ("az_id", "cloud.availability_zone"),
    ("sublocation_type", "aws.vpcflow.sublocation.type"),
    ("sublocation_id", "aws.vpcflow.sublocation.id"),
    ("pkt_src_aws_service", "aws.vpcflow.pkt_src_service"),
    ("pkt_dst_aws_service", "aws.vpcflow.pkt_dst_service"),
    ("flow_direction", "network.direction"),
    ("ecs_cluster_arn", "orchestrator.cluster.id"),
    ("ecs_cluster_name", "orchestrator.cluster.name"),
    ("ecs_container_instance_arn", "orchestrator.resource.name"),
    ("ecs_container_instance_id", "orchestrator.resource.id"),
    ("ecs_service_name", "service.name"),
    ("reject_reason", "event.reason"),
];

/// S3 server access logs, as Elastic's `s3access` pipeline writes them: every field under
/// `aws.s3access.`, and the ECS ones beside them.
const S3ACCESS: &[(&str, &str)] = &[
    ("bucket_owner", "aws.s3access.bucket_owner"),
    ("bucket", "aws.s3access.bucket"),
    ("remote_ip", "aws.s3access.remote_ip"),
    ("remote_ip", "client.ip"),
    ("requester", "aws.s3access.requester"),
    ("requester", "client.user.id"),
    ("request_id", "aws.s3access.request_id"),
    ("request_id", "event.id"),
    ("operation", "aws.s3access.operation"),
    ("operation", "event.action"),
    ("key", "aws.s3access.key"),
    ("request_uri", "aws.s3access.request_uri"),
    ("http_status", "aws.s3access.http_status"),
    ("http_status", "http.response.status_code"),
    ("error_code", "aws.s3access.error_code"),
    ("error_code", "event.code"),
    ("bytes_sent", "aws.s3access.bytes_sent"),
    ("bytes_sent", "http.response.body.bytes"),
    ("object_size", "aws.s3access.object_size"),
    ("total_time", "aws.s3access.total_time"),
    ("turn_around_time", "aws.s3access.turn_around_time"),
    ("referer", "aws.s3access.referrer"),
    ("referer", "http.request.referrer"),
    ("user_agent", "aws.s3access.user_agent"),
    ("user_agent", "user_agent.original"),
    ("version_id", "aws.s3access.version_id"),
    ("host_id", "aws.s3access.host_id"),
    ("signature_version", "aws.s3access.signature_version"),
    ("cipher_suite", "aws.s3access.cipher_suite"),
    ("cipher_suite", "tls.cipher"),
    ("authentication_type", "aws.s3access.authentication_type"),
    ("host_header", "aws.s3access.host_header"),
    ("tls_version", "aws.s3access.tls_version"),
    ("access_point_arn", "aws.s3access.access_point_arn"),
    ("acl_required", "aws.s3access.acl_required"),
];

/// CloudTrail, as Elastic's `cloudtrail` pipeline writes it: these keys to ECS, the per-API objects under
/// `aws.cloudtrail.flattened.` with their own keys (mapped `flattened`), and every other key under
/// `aws.cloudtrail.` in snake_case (`recipientAccountId` → `recipient_account_id`, `userIdentity.arn` →
/// `user_identity.arn`, `resources[].ARN` → `resources[].arn`), as Elastic names them. An assumed role's
/// `sessionIssuer.userName` stays in `aws.cloudtrail.user_identity.session_context.session_issuer`
/// (Elastic moves it into `user.name`, over the identity's own `userName`).
const CLOUDTRAIL: &[(&str, &str)] = &[
    ("eventName", "event.action"),
    ("eventSource", "event.provider"),
    ("eventID", "event.id"),
    ("awsRegion", "cloud.region"),
    // An address or a service name: `source.ip` is derived when it is an address.
    ("sourceIPAddress", "source.address"),
    ("userAgent", "user_agent.original"),
    ("userIdentity.userName", "user.name"),
    ("userIdentity.principalId", "user.id"),
    ("userIdentity.accountId", "cloud.account.id"),
    (
        "userIdentity.sessionContext.attributes.creationDate",
        "aws.cloudtrail.user_identity.session_context.creation_date",
    ),
    (
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
    ),
    (
        "requestParameters",
        "aws.cloudtrail.flattened.request_parameters",
    ),
    (
        "responseElements",
        "aws.cloudtrail.flattened.response_elements",
    ),
    (
        "additionalEventData",
        "aws.cloudtrail.flattened.additional_eventdata",
    ),
    (
        "serviceEventDetails",
        "aws.cloudtrail.flattened.service_event_details",
    ),
    ("tlsDetails.cipherSuite", "tls.cipher"),
    (
        "tlsDetails.clientProvidedHostHeader",
        "tls.client.server_name",
    ),
];

/// CloudWatch Logs events: `message` stays, the envelope goes under `aws.cloudwatch.` as Filebeat's
/// `aws-cloudwatch` input names it, the entry's id is `event.id` and the owner account `cloud.account.id`.
/// `json` (`decode_json`) is the log's own content and keeps its name, as `json` events do.
const CLOUDWATCH: &[(&str, &str)] = &[
    ("id", "event.id"),
    ("log_group", "aws.cloudwatch.log_group"),
    ("log_stream", "aws.cloudwatch.log_stream"),
    ("owner", "cloud.account.id"),
    (
        "subscription_filters",
        "aws.cloudwatch.subscription_filters",
    ),
    ("json", "json"),
];

/// Where the fields a format's table does not name go.
#[derive(Clone, Copy)]
enum Rest {
    /// They keep their names (formats whose table names every field their parser writes).
    Kept,
    /// Under this prefix, as named (the line formats' names are snake_case already).
    Under(&'static str),
    /// Under this prefix, their keys in snake_case at every depth (JSON logs' camelCase).
    Snake(&'static str),
}

/// How one format's events get ECS names.
struct Mapping {
    /// `event.dataset`, as Filebeat's aws module names it (`event.module` is `aws`).
    dataset: &'static str,
    table: &'static [(&'static str, &'static str)],
    rest: Rest,
    /// `event.category`, where Elastic sets one for every event of the format.
    category: Option<&'static str>,
    /// The fields [`derive`] adds, with their mapping types (for the template).
    derived: &'static [(&'static str, FieldType)],
}

/// Derived by [`derive`] for the HTTP access logs.
const OUTCOME_DURATION: &[(&str, FieldType)] =
    &[("event.outcome", Keyword), ("event.duration", Long)];

fn mapping(format: LogFormat) -> Option<&'static Mapping> {
    Some(match format {
        LogFormat::Alb => &Mapping {
            dataset: "aws.elb",
            table: ALB,
            rest: Rest::Kept,
            category: Some("web"),
            derived: OUTCOME_DURATION,
        },
        LogFormat::Elb => &Mapping {
            dataset: "aws.elb",
            table: ELB,
            rest: Rest::Kept,
            category: Some("web"),
            derived: OUTCOME_DURATION,
        },
        LogFormat::Cloudfront => &Mapping {
            dataset: "aws.cloudfront",
            table: CLOUDFRONT,
            rest: Rest::Kept,
            category: Some("web"),
            derived: OUTCOME_DURATION,
        },
        LogFormat::Waf => &Mapping {
            dataset: "aws.waf",
            table: WAF,
            rest: Rest::Snake("aws.waf."),
            category: Some("web"),
            derived: &[],
        },
        LogFormat::Nlb => &Mapping {
            dataset: "aws.elb",
            table: NLB,
            rest: Rest::Under("aws.elb."),
            category: Some("network"),
            derived: &[],
        },
        LogFormat::AlbConnection => &Mapping {
            dataset: "aws.elb",
            table: ALB_CONNECTION,
            rest: Rest::Under("aws.elb."),
            category: Some("network"),
            derived: &[],
        },
        LogFormat::Vpcflow => &Mapping {
            dataset: "aws.vpcflow",
            table: VPCFLOW,
            rest: Rest::Under("aws.vpcflow."),
            category: Some("network"),
            derived: &[
                ("event.outcome", Keyword),
                ("event.type", Keyword),
                ("network.transport", Keyword),
                ("network.type", Keyword),
            ],
        },
        LogFormat::S3access => &Mapping {
            dataset: "aws.s3access",
            table: S3ACCESS,
            rest: Rest::Under("aws.s3access."),
            category: Some("web"),
            derived: &[
                ("event.outcome", Keyword),
                ("event.type", Keyword),
                ("event.duration", Long),
                ("http.request.method", Keyword),
                ("url.original", Keyword),
                ("http.version", Keyword),
            ],
        },
        LogFormat::Cloudtrail => &Mapping {
            dataset: "aws.cloudtrail",
            table: CLOUDTRAIL,
            rest: Rest::Snake("aws.cloudtrail."),
            // Elastic sets a category only for the IAM and sign-in calls it lists.
            category: None,
            derived: &[
                ("event.outcome", Keyword),
                ("event.type", Keyword),
                ("source.ip", Ip),
            ],
        },
        LogFormat::Cloudwatch => &Mapping {
            dataset: "aws.cloudwatch",
            table: CLOUDWATCH,
            rest: Rest::Under("aws.cloudwatch."),
            category: None,
            derived: &[],
        },
        LogFormat::Json | LogFormat::Custom | LogFormat::Auto => return None,
    })
}

/// True if `format`'s events get ECS names under `field_names: ecs` (`json` and `custom` do not).
pub fn has_mapping(format: LogFormat) -> bool {
    mapping(format).is_some()
}

/// Fields of every event that keep their names.
const KEPT: [&str; 9] = [
    "@timestamp",
    "@metadata",
    "log",
    "beat",
    "tags",
    "fields",
    "message",
    "error",
    "ecs",
];

/// The ECS fields the original field `path` (dotted) of type `ty` becomes under `format`, with their
/// mapping types: one name for a rename, several for a copy or a split, the name itself for a kept field.
pub fn ecs_fields(format: LogFormat, path: &str, ty: FieldType) -> Vec<(String, FieldType)> {
    let Some(m) = mapping(format) else {
        return vec![(path.to_string(), ty)];
    };
    if KEPT.contains(&path.split('.').next().unwrap_or("")) {
        return vec![(path.to_string(), ty)];
    }
    let mut names: Vec<String> = m
        .table
        .iter()
        .filter(|(from, _)| *from == path)
        .map(|(_, to)| (*to).to_string())
        .collect();
    if names.is_empty() {
        names.push(match m.rest {
            Rest::Kept => path.to_string(),
            Rest::Under(prefix) => format!("{prefix}{path}"),
            Rest::Snake(prefix) => {
                let snake: Vec<String> = path.split('.').map(snake_case).collect();
                format!("{prefix}{}", snake.join("."))
            }
        });
    }
    names
        .into_iter()
        .flat_map(|n| match converted(format, &n) {
            Some(list) => list.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            None => vec![(n, ty)],
        })
        .collect()
}

/// The ECS name of the original field `path` of `format` (`None`: it keeps its name); the first one
/// where it is written to several.
pub fn ecs_name(format: LogFormat, path: &str) -> Option<String> {
    let (name, _) = ecs_fields(format, path, Keyword).into_iter().next()?;
    (name != path).then_some(name)
}

/// The fields ECS adds to `format`'s events, with their mapping types (for the template).
pub fn added(format: LogFormat) -> Vec<(&'static str, FieldType)> {
    let Some(m) = mapping(format) else {
        return Vec::new();
    };
    let mut v = vec![
        ("ecs.version", Keyword),
        ("cloud.provider", Keyword),
        ("event.kind", Keyword),
        ("event.module", Keyword),
        ("event.dataset", Keyword),
    ];
    if m.category.is_some() {
        v.push(("event.category", Keyword));
    }
    v.extend_from_slice(m.derived);
    v
}

/// ECS names whose values change form on the way, and the fields each becomes (name, type) for the
/// template; [`convert`] does it to the values. Every other name keeps its value and type.
fn converted(format: LogFormat, to: &str) -> Option<&'static [(&'static str, FieldType)]> {
    Some(match (format, to) {
        // Epoch seconds; a value outside the years 0000 to 9999 stays a number, beside.
        (LogFormat::Vpcflow, "event.start") => {
            &[("event.start", Date), ("aws.vpcflow.start", Long)]
        }
        (LogFormat::Vpcflow, "event.end") => &[("event.end", Date), ("aws.vpcflow.end", Long)],
        // ECS keeps the protocol number as a keyword.
        (LogFormat::Vpcflow, "network.iana_number") => &[("network.iana_number", Keyword)],
        // A port where NLB writes listener ids.
        (LogFormat::AlbConnection, "aws.elb.listener") => &[("aws.elb.listener", Keyword)],
        // `NotBefore=…;NotAfter=…` as two dates; written otherwise, it stays as it is.
        (LogFormat::AlbConnection, "aws.elb.leaf_client_cert_validity") => &[
            ("aws.elb.leaf_client_cert_not_before", Date),
            ("aws.elb.leaf_client_cert_not_after", Date),
            ("aws.elb.leaf_client_cert_validity", Keyword),
        ],
        // `Failed:<reason>` as the status and the reason.
        (LogFormat::AlbConnection, "aws.elb.tls_verify_status") => &[
            ("aws.elb.tls_verify_status", Keyword),
            ("aws.elb.tls_error_code", Keyword),
        ],
        _ => return None,
    })
}

/// The fields `v` becomes under the ECS name `to` (see [`converted`]; `http.version` loses its `HTTP/`).
fn convert(format: LogFormat, to: &str, v: Value) -> Vec<(&str, Value)> {
    let Some(list) = converted(format, to) else {
        return match v {
            Value::String(s) if to == "http.version" => {
                let s = s.strip_prefix("HTTP/").unwrap_or(&s).to_string();
                vec![(to, Value::String(s))]
            }
            v => vec![(to, v)],
        };
    };
    let name = |i: usize| list[i].0;
    match to {
        "event.start" | "event.end" => match v.as_i64().and_then(epoch_seconds) {
            Some(date) => vec![(name(0), Value::String(date))],
            None => vec![(name(1), v)],
        },
        "network.iana_number" | "aws.elb.listener" => match v {
            Value::Number(n) => vec![(name(0), Value::String(n.to_string()))],
            v => vec![(name(0), v)],
        },
        "aws.elb.leaf_client_cert_validity" => {
            let dates = v.as_str().and_then(|s| {
                let (before, after) = s.split_once(';')?;
                let before = before.strip_prefix("NotBefore=")?;
                let after = after.strip_prefix("NotAfter=")?;
                let ok = |d: &str| chrono::DateTime::parse_from_rfc3339(d).is_ok();
                (ok(before) && ok(after)).then(|| (before.to_string(), after.to_string()))
            });
            match dates {
                Some((before, after)) => vec![
                    (name(0), Value::String(before)),
                    (name(1), Value::String(after)),
                ],
                None => vec![(name(2), v)],
            }
        }
        "aws.elb.tls_verify_status" => match v.as_str().and_then(|s| s.split_once(':')) {
            Some((status, reason)) => vec![
                (name(0), Value::String(status.to_string())),
                (name(1), Value::String(reason.to_string())),
            ],
            None => vec![(name(0), v)],
        },
        _ => vec![(to, v)],
    }
}

/// Epoch seconds as an RFC 3339 time, if within the years 0000 to 9999.
fn epoch_seconds(secs: i64) -> Option<String> {
    let ms = secs.checked_mul(1000)?;
    Some(Timestamp::from_millis(ms).checked()?.to_rfc3339())
}

/// Renames `e`'s fields to ECS (nothing for `json` and `custom`). The renamed document stays within
/// [`MAX_DOC_DEPTH`] levels (deeper objects and arrays kept as their JSON text, counted in `capped`).
/// `Err` names the event whose document cannot be read: it is never passed on with its old names.
pub fn apply(format: LogFormat, e: &mut Event, capped: &mut u64) -> Result<(), String> {
    let Some(m) = mapping(format) else {
        return Ok(());
    };
    let mut doc = match e.read_doc()? {
        Value::Object(doc) => doc,
        _ => return Err(format!("the document of event {} is not an object", e.id)),
    };
    let mut out = Map::new();
    // A field listed twice is taken once and written to both names.
    let mut taken: Vec<(&str, Value)> = Vec::new();
    for (from, to) in m.table {
        let v = match taken.iter().find(|(f, _)| f == from) {
            Some((_, v)) => v.clone(),
            None => match take(&mut doc, from) {
                Some(v) => {
                    taken.push((from, v.clone()));
                    v
                }
                None => continue,
            },
        };
        for (name, v) in convert(format, to, v) {
            put(&mut out, name, v);
        }
    }
    let prefix = match m.rest {
        Rest::Kept => None,
        Rest::Under(p) => Some((p, false)),
        Rest::Snake(p) => Some((p, true)),
    };
    if let Some((prefix, snake)) = prefix {
        let rest: Vec<String> = doc
            .keys()
            .filter(|k| !KEPT.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in rest {
            let Some(v) = doc.remove(&k) else { continue };
            if v.as_object().is_some_and(Map::is_empty) {
                continue;
            }
            let (name, v) = if snake {
                (format!("{prefix}{}", snake_case(&k)), snake_keys(v))
            } else {
                (format!("{prefix}{k}"), v)
            };
            // Into what the table already put there (`aws.cloudtrail.user_identity.*`).
            put(&mut out, &name, v);
        }
    }
    // A line that did not parse has only `message` and `error`: ECS's kind for it, and nothing derived
    // from fields it does not have (an S3 access line without an error code would be a success).
    let kind = if e.parse_failure {
        "pipeline_error"
    } else {
        "event"
    };
    put(&mut out, "ecs.version", Value::from(ECS_VERSION));
    put(&mut out, "cloud.provider", Value::from("aws"));
    put(&mut out, "event.kind", Value::from(kind));
    if let Some(c) = m.category {
        put(&mut out, "event.category", Value::from(vec![c]));
    }
    put(&mut out, "event.module", Value::from("aws"));
    put(&mut out, "event.dataset", Value::from(m.dataset));
    if !e.parse_failure {
        derive(format, &mut out);
    }
    // The kept fields, in their place; the ECS ones after them.
    merge(&mut doc, out);
    let mut doc = Value::Object(doc);
    cap_json_depth(&mut doc, MAX_DOC_DEPTH, capped);
    e.doc = doc.to_string().into();
    Ok(())
}

/// Adds what ECS derives from `out`'s fields: the formats' `derived` fields.
fn derive(format: LogFormat, out: &mut Map<String, Value>) {
    let str_at =
        |out: &Map<String, Value>, p: &str| get(out, p).and_then(Value::as_str).map(str::to_string);
    match format {
        LogFormat::Alb | LogFormat::Elb | LogFormat::Cloudfront => {
            let status = get(out, "http.response.status_code").and_then(Value::as_u64);
            let outcome = match status {
                Some(s) if s < 400 => "success",
                Some(_) => "failure",
                None => "unknown",
            };
            let secs = if format == LogFormat::Cloudfront {
                get(out, "aws.cloudfront.time_taken.sec").and_then(Value::as_f64)
            } else {
                [
                    "aws.elb.request_processing_time.sec",
                    "aws.elb.backend_processing_time.sec",
                    "aws.elb.response_processing_time.sec",
                ]
                .iter()
                .map(|p| get(out, p).and_then(Value::as_f64).filter(|v| *v >= 0.0))
                .sum::<Option<f64>>()
            };
            put(out, "event.outcome", Value::from(outcome));
            if let Some(s) = secs {
                put(out, "event.duration", Value::from((s * 1e9).round() as u64));
            }
        }
        LogFormat::Vpcflow => {
            let action = str_at(out, "aws.vpcflow.action");
            let (outcome, kind) = match action.as_deref() {
                Some("ACCEPT") => (Some("success"), Some("allowed")),
                Some("REJECT") => (Some("failure"), Some("denied")),
                _ => (None, None),
            };
            if let Some(o) = outcome {
                put(out, "event.outcome", Value::from(o));
            }
            let types: Vec<&str> = std::iter::once("connection").chain(kind).collect();
            put(out, "event.type", Value::from(types));
            if let Some(t) = str_at(out, "network.iana_number").and_then(|n| transport(&n)) {
                put(out, "network.transport", Value::from(t));
            }
            if let Some(ip) = str_at(out, "source.ip") {
                let t = if ip.contains(':') { "ipv6" } else { "ipv4" };
                put(out, "network.type", Value::from(t));
            }
        }
        LogFormat::S3access => {
            let failed = get(out, "aws.s3access.error_code").is_some();
            put(
                out,
                "event.outcome",
                Value::from(if failed { "failure" } else { "success" }),
            );
            put(out, "event.type", Value::from(vec!["access"]));
            if let Some(ms) = get(out, "aws.s3access.total_time").and_then(Value::as_u64) {
                put(
                    out,
                    "event.duration",
                    Value::from(ms.saturating_mul(1_000_000)),
                );
            }
            // `GET /bucket/key?query HTTP/1.1`; a lifecycle line has none.
            if let Some(uri) = str_at(out, "aws.s3access.request_uri") {
                let mut words = uri.split(' ');
                let method = words.next().unwrap_or("");
                let rest: Vec<&str> = words.collect();
                if let Some((version, url)) = rest.split_last() {
                    if let (Some(v), false) = (version.strip_prefix("HTTP/"), url.is_empty()) {
                        put(out, "http.request.method", Value::from(method));
                        put(out, "url.original", Value::from(url.join(" ")));
                        put(out, "http.version", Value::from(v));
                    }
                }
            }
        }
        LogFormat::Cloudtrail => {
            if let Some(a) = str_at(out, "source.address") {
                if a.parse::<std::net::IpAddr>().is_ok() {
                    put(out, "source.ip", Value::from(a));
                }
            }
            let failed = get(out, "aws.cloudtrail.error_code").is_some()
                || get(out, "aws.cloudtrail.error_message").is_some();
            let mut outcome = if failed { "failure" } else { "success" }.to_string();
            // A console sign-in says how it went in its response.
            if str_at(out, "event.action").as_deref() == Some("ConsoleLogin") {
                if let Some(r) = str_at(
                    out,
                    "aws.cloudtrail.flattened.response_elements.ConsoleLogin",
                ) {
                    outcome = r.to_lowercase();
                }
            }
            put(out, "event.outcome", Value::from(outcome));
            put(out, "event.type", Value::from(vec!["info"]));
        }
        _ => {}
    }
}

/// ECS's `network.transport` of an IANA protocol number, for the protocols flow logs carry.
fn transport(number: &str) -> Option<&'static str> {
    Some(match number {
        "0" => "hopopt",
        "1" => "icmp",
        "2" => "igmp",
        "6" => "tcp",
        "8" => "egp",
        "17" => "udp",
        "47" => "gre",
        "50" => "esp",
        "58" => "ipv6-icmp",
        "112" => "vrrp",
        "132" => "sctp",
        _ => return None,
    })
}

/// Removes the dotted `path` from `doc` (and the parents it leaves empty); `-` counts as absent.
fn take(doc: &mut Map<String, Value>, path: &str) -> Option<Value> {
    let v = match path.split_once('.') {
        None => doc.remove(path)?,
        Some((head, rest)) => {
            let child = doc.get_mut(head)?.as_object_mut()?;
            let v = take(child, rest);
            if child.is_empty() {
                doc.remove(head);
            }
            v?
        }
    };
    (v != "-").then_some(v)
}

fn get<'a>(doc: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    match path.split_once('.') {
        None => doc.get(path),
        Some((head, rest)) => get(doc.get(head)?.as_object()?, rest),
    }
}

/// Puts `v` at the dotted `path`, making the objects on the way; an object put where one is already is
/// merged into it.
fn put(doc: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => match (doc.get_mut(path), v) {
            (Some(Value::Object(existing)), Value::Object(m)) => merge(existing, m),
            (_, v) => {
                doc.insert(path.to_string(), v);
            }
        },
        Some((head, rest)) => {
            let slot = doc
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(m) = slot {
                put(m, rest, v);
            }
        }
    }
}

/// Merges `from` into `into`, objects into objects at every depth (keys as they are, dots included).
fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(existing)), Value::Object(m)) => merge(existing, m),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// `terminatingRuleId` → `terminating_rule_id`.
pub fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c);
        }
    }
    out
}

fn snake_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (snake_case(&k), snake_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(snake_keys).collect()),
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventId;
    use serde_json::json;

    fn event(doc: &str) -> Event {
        Event {
            id: EventId([0; 16]),
            timestamp: Timestamp::from_millis(0),
            format: "alb",
            doc: doc.into(),
            parse_failure: false,
        }
    }

    #[test]
    fn alb_fields_get_ecs_names_outcome_and_duration() {
        let mut e = event(
            r#"{"@timestamp":"2018-07-02T22:23:00.186641Z","type":"http","elb":"app/lb/1","client_ip":"192.168.131.39","client_port":2817,"target_ip":"10.0.0.1","target_port":80,"request_processing_time":0.001,"target_processing_time":0.002,"response_processing_time":0.0,"elb_status_code":502,"sent_bytes":366,"request_verb":"GET","request_url":"http://x/","request_proto":"HTTP/1.1","user_agent":"curl","trace_id":"-","log":{"offset":0},"tags":["a"]}"#,
        );
        apply(LogFormat::Alb, &mut e, &mut 0).unwrap();
        let v: Value = serde_json::from_str(&e.doc).unwrap();
        assert_eq!(v["source"]["ip"], "192.168.131.39");
        assert_eq!(v["source"]["port"], 2817);
        assert_eq!(v["destination"]["ip"], "10.0.0.1");
        assert_eq!(v["http"]["response"]["status_code"], 502);
        assert_eq!(v["http"]["request"]["method"], "GET");
        assert_eq!(v["http"]["version"], "1.1");
        assert_eq!(v["url"]["original"], "http://x/");
        assert_eq!(v["user_agent"]["original"], "curl");
        assert_eq!(v["aws"]["elb"]["name"], "app/lb/1");
        assert_eq!(v["event"]["outcome"], "failure");
        assert_eq!(v["event"]["duration"], 3_000_000);
        assert_eq!(v["cloud"]["provider"], "aws");
        assert!(
            v["aws"]["elb"].get("trace_id").is_none(),
            "`-` is absent in ECS"
        );
        assert!(v.get("client_ip").is_none() && v.get("elb").is_none());
        assert_eq!(v["log"]["offset"], 0);
        assert_eq!(v["tags"], serde_json::json!(["a"]));
    }

    #[test]
    fn waf_fields_go_under_aws_waf_in_snake_case() {
        let mut e = event(
            r#"{"@timestamp":"t","action":"BLOCK","terminatingRuleId":"r1","httpRequest":{"clientIp":"1.1.1.1","country":"AU","headers":[{"name":"Host","value":"h"}],"uri":"/u"},"captchaResponse":{"responseCode":405}}"#,
        );
        apply(LogFormat::Waf, &mut e, &mut 0).unwrap();
        let v: Value = serde_json::from_str(&e.doc).unwrap();
        assert_eq!(v["event"]["action"], "BLOCK");
        assert_eq!(v["source"]["ip"], "1.1.1.1");
        assert_eq!(v["source"]["geo"]["country_iso_code"], "AU");
        assert_eq!(v["url"]["path"], "/u");
        assert_eq!(v["aws"]["waf"]["terminating_rule_id"], "r1");
        assert_eq!(
            v["aws"]["waf"]["http_request"]["headers"][0]["name"],
            "Host"
        );
        assert_eq!(v["aws"]["waf"]["captcha_response"]["response_code"], 405);
        assert!(v.get("httpRequest").is_none());
        assert_eq!(
            ecs_name(LogFormat::Waf, "captchaResponse.responseCode").as_deref(),
            Some("aws.waf.captcha_response.response_code")
        );
    }

    /// `format`'s parsed document through [`apply`]: a valid document (no key twice) comes out.
    fn ecs(format: LogFormat, doc: &Value) -> Value {
        let mut e = event(&doc.to_string());
        apply(format, &mut e, &mut 0).unwrap();
        crate::event::check_document(&e.doc).unwrap();
        serde_json::from_str(&e.doc).unwrap()
    }

    fn line(spec: &crate::config::FormatSpec, line: &str) -> Value {
        crate::formats::test_util::parse_one(spec, line).unwrap()
    }

    /// Issue 23 (7): `field_names: ecs` left NLB, ALB connection, VPC flow, S3 access, CloudTrail and
    /// CloudWatch events under their original names, silently.
    #[test]
    fn nlb_fields_get_elastics_elb_names() {
        use crate::config::FormatSpec;
        let v = ecs(
            LogFormat::Nlb,
            &line(
                &FormatSpec::Nlb,
                concat!(
                    "tls 2.0 2020-04-01T08:51:42 net/my-nlb/c6e77e28c25b2234 g3d4b5e8bb8464cd ",
                    "192.168.131.39:2817 10.0.0.1:80 5 2 98 246 21 ",
                    "arn:aws:acm:us-east-2:671290407336:certificate/2a10 0A1B ",
                    "ECDHE-RSA-AES128-SHA tlsv12 secp256r1 my-nlb.elb.us-east-2.amazonaws.com ",
                    "h2 h2 \"h2\",\"http/1.1\" 2020-04-01T08:51:20"
                ),
            ),
        );
        assert_eq!(
            v,
            json!({
                "@timestamp": "2020-04-01T08:51:42.000Z",
                "aws": {"elb": {
                    "type": "tls", "log_version": "2.0", "name": "net/my-nlb/c6e77e28c25b2234",
                    "listener": "g3d4b5e8bb8464cd",
                    "connection_time": {"ms": 5}, "tls_handshake_time": {"ms": 2},
                    "incoming_tls_alert": "21",
                    "chosen_cert": {"arn": "arn:aws:acm:us-east-2:671290407336:certificate/2a10", "serial": "0A1B"},
                    "ssl_cipher": "ECDHE-RSA-AES128-SHA", "ssl_protocol": "tlsv12",
                    "tls_named_group": "secp256r1",
                    "alpn_fe_protocol": "h2", "alpn_be_protocol": "h2",
                    "alpn_client_preference_list": ["h2", "http/1.1"],
                    "tls_connection_creation_time": "2020-04-01T08:51:20.000Z",
                }},
                "source": {"ip": "192.168.131.39", "port": 2817, "bytes": 98},
                "destination": {
                    "ip": "10.0.0.1", "port": 80, "bytes": 246,
                    "domain": "my-nlb.elb.us-east-2.amazonaws.com",
                },
                "ecs": {"version": ECS_VERSION},
                "cloud": {"provider": "aws"},
                "event": {"kind": "event", "category": ["network"], "module": "aws", "dataset": "aws.elb"},
            })
        );
    }

    #[test]
    fn alb_connection_fields_get_elastics_elb_names_validity_as_dates() {
        use crate::config::FormatSpec;
        let sample = concat!(
            "2024-10-04T17:05:15.514108Z 192.168.131.39 36280 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 ",
            "4.036 \"CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US\" ",
            "NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z FEF257372D5C14D4 Success TID_1a2b"
        );
        let v = ecs(
            LogFormat::AlbConnection,
            &line(&FormatSpec::AlbConnection, sample),
        );
        assert_eq!(
            v,
            json!({
                "@timestamp": "2024-10-04T17:05:15.514108Z",
                "client": {"ip": "192.168.131.39", "port": 36280},
                "aws": {"elb": {
                    "listener": "443",
                    "ssl_protocol": "TLSv1.2", "ssl_cipher": "ECDHE-RSA-AES128-GCM-SHA256",
                    "tls_handshake_latency": 4.036,
                    "leaf_client_cert_subject": "CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US",
                    "leaf_client_cert_not_before": "2023-09-21T22:43:21Z",
                    "leaf_client_cert_not_after": "2026-06-17T22:43:21Z",
                    "leaf_client_cert_serial_number": "FEF257372D5C14D4",
                    "tls_verify_status": "Success",
                    "connection_trace_id": "TID_1a2b",
                }},
                "ecs": {"version": ECS_VERSION},
                "cloud": {"provider": "aws"},
                "event": {"kind": "event", "category": ["network"], "module": "aws", "dataset": "aws.elb"},
            })
        );
        // A failed verification's reason apart; a validity written otherwise kept as it is.
        let failed = sample
            .replace(" Success ", " Failed:ClientCertNotTrusted ")
            .replace("NotBefore=2023-09-21T22:43:21Z;", "NotBefore=soon;");
        let v = ecs(
            LogFormat::AlbConnection,
            &line(&FormatSpec::AlbConnection, &failed),
        );
        let elb = &v["aws"]["elb"];
        assert_eq!(elb["tls_verify_status"], "Failed");
        assert_eq!(elb["tls_error_code"], "ClientCertNotTrusted");
        assert_eq!(
            elb["leaf_client_cert_validity"],
            "NotBefore=soon;NotAfter=2026-06-17T22:43:21Z"
        );
        assert!(elb.get("leaf_client_cert_not_after").is_none(), "{v}");
    }

    #[test]
    fn vpcflow_fields_get_elastics_names_times_as_dates() {
        let lines = crate::formats::test_util::parse_lines(
            &crate::config::FormatSpec::Vpcflow,
            &[
                concat!(
                    "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id ",
                    "vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id ",
                    "action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service ",
                    "traffic-path flow-direction log-status"
                ),
                concat!(
                    "5 52.95.128.179 10.0.0.71 80 34210 6 1616729292 1616729349 IPv4 14 15044 123456789012 ",
                    "vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ",
                    "ap-southeast-2 apse2-az3 - - ACCEPT 19 52.95.128.179 10.0.0.71 S3 - - ingress OK"
                ),
                concat!(
                    "version account-id srcaddr dstaddr protocol start end action log-status ",
                    "ecs-cluster-name ecs-service-name ecs-task-id reject-reason tgw-id some-new-column"
                ),
                "8 123456789012 2001:db8::1 10.0.0.2 17 1 99999999999999 REJECT OK web svc t1 BPA tgw-1 x",
            ],
        );
        let v = ecs(LogFormat::Vpcflow, lines[0].as_ref().unwrap());
        assert_eq!(
            v,
            json!({
                "@timestamp": "2021-03-26T03:28:12.000Z",
                "aws": {"vpcflow": {
                    "version": 5, "account_id": "123456789012", "action": "ACCEPT",
                    "instance_id": "i-0c50d5961bcb2d47b", "type": "IPv4",
                    "vpc_id": "vpc-abcdefab012345678", "subnet_id": "subnet-aaaaaaaa012345678",
                    "interface_id": "eni-1235b8ca123456789", "tcp_flags": 19,
                    "pkt_srcaddr": "52.95.128.179", "pkt_dstaddr": "10.0.0.71",
                    "pkt_src_service": "S3", "log_status": "OK",
                }},
                "source": {"ip": "52.95.128.179", "port": 80, "packets": 14, "bytes": 15044},
                "destination": {"ip": "10.0.0.71", "port": 34210},
                "network": {
                    "iana_number": "6", "transport": "tcp", "type": "ipv4",
                    "packets": 14, "bytes": 15044, "direction": "ingress",
                },
                "cloud": {
                    "provider": "aws", "account": {"id": "123456789012"},
                    "instance": {"id": "i-0c50d5961bcb2d47b"},
                    "region": "ap-southeast-2", "availability_zone": "apse2-az3",
                },
                "ecs": {"version": ECS_VERSION},
                "event": {
                    "start": "2021-03-26T03:28:12.000Z", "end": "2021-03-26T03:29:09.000Z",
                    "action": "ACCEPT", "outcome": "success", "type": ["connection", "allowed"],
                    "kind": "event", "category": ["network"], "module": "aws", "dataset": "aws.vpcflow",
                },
            })
        );
        // ECS task fields to `orchestrator`/`service`, the reason to `event.reason`, TGW's and unknown
        // columns under `aws.vpcflow`; an `end` no date can hold stays a number.
        let v = ecs(LogFormat::Vpcflow, lines[1].as_ref().unwrap());
        assert_eq!(v["orchestrator"]["cluster"]["name"], "web");
        assert_eq!(v["service"]["name"], "svc");
        assert_eq!(v["event"]["reason"], "BPA");
        assert_eq!(v["event"]["outcome"], "failure");
        assert_eq!(v["event"]["type"], json!(["connection", "denied"]));
        assert_eq!(v["event"]["start"], "1970-01-01T00:00:01.000Z");
        assert!(v["event"].get("end").is_none(), "{v}");
        assert_eq!(v["aws"]["vpcflow"]["end"], 99999999999999_i64);
        assert_eq!(v["aws"]["vpcflow"]["ecs_task_id"], "t1");
        assert_eq!(v["aws"]["vpcflow"]["tgw_id"], "tgw-1");
        assert_eq!(v["aws"]["vpcflow"]["some_new_column"], "x");
        assert_eq!(v["network"]["transport"], "udp");
        assert_eq!(v["network"]["type"], "ipv6");
    }

    #[test]
    fn s3access_fields_go_under_aws_s3access_with_the_ecs_ones_beside() {
        let owner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be";
        let v = ecs(
            LogFormat::S3access,
            &line(
                &crate::config::FormatSpec::S3access,
                &format!(
                    "{owner} DOC-EXAMPLE-BUCKET1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 {owner} \
                     A1206F460EXAMPLE REST.GET.BUCKETPOLICY - \"GET /DOC-EXAMPLE-BUCKET1?policy HTTP/1.1\" \
                     404 NoSuchBucketPolicy 297 - 38 - \"-\" \"S3Console/0.4\" - hid= SigV4 \
                     ECDHE-RSA-AES128-GCM-SHA256 AuthHeader DOC-EXAMPLE-BUCKET1.s3.us-west-1.amazonaws.com \
                     TLSV1.2 - Yes"
                ),
            ),
        );
        assert_eq!(
            v,
            json!({
                "@timestamp": "2019-02-06T00:00:38.000Z",
                "aws": {"s3access": {
                    "bucket_owner": owner, "bucket": "DOC-EXAMPLE-BUCKET1", "remote_ip": "192.0.2.3",
                    "requester": owner, "request_id": "A1206F460EXAMPLE",
                    "operation": "REST.GET.BUCKETPOLICY",
                    "request_uri": "GET /DOC-EXAMPLE-BUCKET1?policy HTTP/1.1", "http_status": 404,
                    "error_code": "NoSuchBucketPolicy", "bytes_sent": 297, "total_time": 38,
                    "user_agent": "S3Console/0.4", "host_id": "hid=", "signature_version": "SigV4",
                    "cipher_suite": "ECDHE-RSA-AES128-GCM-SHA256", "authentication_type": "AuthHeader",
                    "host_header": "DOC-EXAMPLE-BUCKET1.s3.us-west-1.amazonaws.com",
                    "tls_version": "TLSV1.2", "acl_required": "Yes",
                }},
                "client": {"ip": "192.0.2.3", "user": {"id": owner}},
                "http": {
                    "request": {"method": "GET"}, "version": "1.1",
                    "response": {"status_code": 404, "body": {"bytes": 297}},
                },
                "url": {"original": "/DOC-EXAMPLE-BUCKET1?policy"},
                "user_agent": {"original": "S3Console/0.4"},
                "tls": {"cipher": "ECDHE-RSA-AES128-GCM-SHA256"},
                "ecs": {"version": ECS_VERSION},
                "cloud": {"provider": "aws"},
                "event": {
                    "id": "A1206F460EXAMPLE", "action": "REST.GET.BUCKETPOLICY", "code": "NoSuchBucketPolicy",
                    "outcome": "failure", "duration": 38_000_000, "type": ["access"],
                    "kind": "event", "category": ["web"], "module": "aws", "dataset": "aws.s3access",
                },
            })
        );
    }

    #[test]
    fn cloudtrail_keys_get_elastics_names_the_rest_under_aws_cloudtrail() {
        let record = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROA1:bob",
            "arn":"arn:aws:sts::123456789012:assumed-role/Admin/bob","accountId":"123456789012","accessKeyId":"ASIA1",
            "sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROA1","arn":"arn:aws:iam::123456789012:role/Admin",
            "accountId":"123456789012","userName":"Admin"},"attributes":{"creationDate":"2021-01-01T00:00:00Z",
            "mfaAuthenticated":"false"}}},"eventTime":"2021-01-01T00:01:00Z","eventSource":"s3.amazonaws.com",
            "eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","userAgent":"aws-cli/2",
            "errorCode":"AccessDenied","errorMessage":"Access Denied","requestParameters":{"bucketName":"b","Host":"b.s3.amazonaws.com"},
            "responseElements":null,"requestID":"R1","eventID":"E1","readOnly":true,
            "resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k"}],"eventType":"AwsApiCall",
            "managementEvent":false,"recipientAccountId":"123456789012","eventCategory":"Data",
            "tlsDetails":{"tlsVersion":"TLSv1.2","cipherSuite":"ECDHE-RSA-AES128-GCM-SHA256",
            "clientProvidedHostHeader":"b.s3.amazonaws.com"}}"#;
        let v = ecs(
            LogFormat::Cloudtrail,
            &line(&crate::config::FormatSpec::Cloudtrail, record),
        );
        assert_eq!(
            v,
            json!({
                "@timestamp": "2021-01-01T00:01:00.000Z",
                "event": {
                    "action": "GetObject", "provider": "s3.amazonaws.com", "id": "E1",
                    "outcome": "failure", "type": ["info"],
                    "kind": "event", "module": "aws", "dataset": "aws.cloudtrail",
                },
                "cloud": {"region": "us-east-1", "account": {"id": "123456789012"}, "provider": "aws"},
                "source": {"address": "192.0.2.1", "ip": "192.0.2.1"},
                "user_agent": {"original": "aws-cli/2"},
                "user": {"id": "AROA1:bob"},
                "tls": {"cipher": "ECDHE-RSA-AES128-GCM-SHA256", "client": {"server_name": "b.s3.amazonaws.com"}},
                "aws": {"cloudtrail": {
                    "event_version": "1.08", "event_time": "2021-01-01T00:01:00Z",
                    "error_code": "AccessDenied", "error_message": "Access Denied",
                    "request_id": "R1", "read_only": true, "event_type": "AwsApiCall",
                    "management_event": false, "recipient_account_id": "123456789012",
                    "event_category": "Data",
                    "resources": [{"type": "AWS::S3::Object", "arn": "arn:aws:s3:::b/k"}],
                    "tls_details": {"tls_version": "TLSv1.2"},
                    "flattened": {"request_parameters": {"bucketName": "b", "Host": "b.s3.amazonaws.com"}},
                    "user_identity": {
                        "type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/Admin/bob",
                        "access_key_id": "ASIA1",
                        "session_context": {
                            "creation_date": "2021-01-01T00:00:00Z", "mfa_authenticated": "false",
                            "session_issuer": {
                                "type": "Role", "principal_id": "AROA1",
                                "arn": "arn:aws:iam::123456789012:role/Admin",
                                "account_id": "123456789012", "user_name": "Admin",
                            },
                        },
                    },
                }},
                "ecs": {"version": ECS_VERSION},
            })
        );
        // A console sign-in's outcome is its response's; a service as the source is no `source.ip`.
        let v = ecs(
            LogFormat::Cloudtrail,
            &line(
                &crate::config::FormatSpec::Cloudtrail,
                r#"{"eventTime":"2021-01-01T00:00:00Z","eventName":"ConsoleLogin","sourceIPAddress":"signin.amazonaws.com",
                    "userIdentity":{"type":"IAMUser","userName":"alice"},"responseElements":{"ConsoleLogin":"Failure"},
                    "additionalEventData":{"MFAUsed":"No"}}"#,
            ),
        );
        assert_eq!(v["event"]["outcome"], "failure");
        assert_eq!(v["source"], json!({"address": "signin.amazonaws.com"}));
        assert_eq!(v["user"]["name"], "alice");
        assert_eq!(
            v["aws"]["cloudtrail"]["flattened"]["additional_eventdata"]["MFAUsed"],
            "No"
        );
    }

    #[test]
    fn cloudwatch_message_stays_the_envelope_goes_under_aws_cloudwatch() {
        let v = ecs(
            LogFormat::Cloudwatch,
            &json!({
                "@timestamp": "2015-05-28T15:27:35.000Z", "message": "{\"level\":\"error\"}",
                "id": "3195310660696698337", "log_group": "CloudTrail/logs",
                "log_stream": "111111111111_CloudTrail/logs_us-east-1", "owner": "111111111111",
                "subscription_filters": ["Destination"], "json": {"level": "error"},
                "log": {"offset": 245},
            }),
        );
        assert_eq!(
            v,
            json!({
                "@timestamp": "2015-05-28T15:27:35.000Z", "message": "{\"level\":\"error\"}",
                "log": {"offset": 245},
                "json": {"level": "error"},
                "aws": {"cloudwatch": {
                    "log_group": "CloudTrail/logs", "log_stream": "111111111111_CloudTrail/logs_us-east-1",
                    "subscription_filters": ["Destination"],
                }},
                "cloud": {"account": {"id": "111111111111"}, "provider": "aws"},
                "ecs": {"version": ECS_VERSION},
                "event": {"id": "3195310660696698337", "kind": "event", "module": "aws", "dataset": "aws.cloudwatch"},
            })
        );
    }

    /// Never silent: every field an AWS format's parser writes (the template's table) gets an ECS name,
    /// unless it is one of the kept fields or the table keeps it by name.
    #[test]
    fn every_aws_field_has_an_ecs_name() {
        for format in crate::config::format::AUTO_FORMATS
            .into_iter()
            .chain([LogFormat::Cloudwatch])
        {
            assert!(has_mapping(format), "{format}");
            let table = mapping(format).unwrap().table;
            for (path, ty) in crate::outputs::elasticsearch::template::fields(format) {
                let kept = KEPT.contains(&path.split('.').next().unwrap())
                    || table.contains(&(*path, *path));
                for (name, _) in ecs_fields(format, path, *ty) {
                    assert!(kept || name != *path, "{format}: {path} keeps its name");
                }
            }
        }
        assert!(!has_mapping(LogFormat::Json) && !has_mapping(LogFormat::Custom));
    }

    #[test]
    fn a_line_that_did_not_parse_is_a_pipeline_error_with_nothing_derived() {
        for format in [LogFormat::S3access, LogFormat::Cloudtrail, LogFormat::Alb] {
            let mut e = event(
                r#"{"@timestamp":"2019-02-06T00:00:38.000Z","message":"garbage","error":{"message":"bad"},"log":{"offset":0}}"#,
            );
            e.parse_failure = true;
            apply(format, &mut e, &mut 0).unwrap();
            let v: Value = serde_json::from_str(&e.doc).unwrap();
            assert_eq!(v["event"]["kind"], "pipeline_error", "{format}");
            assert!(v["event"].get("outcome").is_none(), "{format}: {v}");
            assert_eq!(v["message"], "garbage");
            assert_eq!(v["error"]["message"], "bad");
        }
    }

    #[test]
    fn json_events_keep_their_names() {
        let mut e = event(r#"{"client_ip":"1.2.3.4"}"#);
        apply(LogFormat::Json, &mut e, &mut 0).unwrap();
        assert_eq!(e.doc, r#"{"client_ip":"1.2.3.4"}"#);
    }
}
