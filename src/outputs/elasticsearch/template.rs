//! The Elasticsearch index template: the formats in use in, a composable template (`_index_template`
//! body) out, with real mappings: `ip` for addresses, numbers for codes, ports, sizes and durations,
//! `date` for times, `keyword` for the rest (strings the parsers add later, and `fields.*`, map to
//! `keyword` by a dynamic template).
//!
//! Each format's table below must name every field its parser writes, with a type that accepts the values
//! it writes: `tests/component/template.rs` parses every sample and checks each field against the template, so the
//! tables cannot drift from the parsers.

use serde_json::{json, Map, Value};

use crate::config::{FieldNames, LogFormat, TemplateSettings};

/// A field's mapping type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Exact strings (ids, names, URLs, enumerations).
    Keyword,
    /// Free text (a raw line, an error message, a user agent).
    Text,
    /// IPv4 or IPv6 address.
    Ip,
    /// Whole numbers (codes, ports, bytes, counts).
    Long,
    /// Seconds with a fraction.
    Double,
    /// A time (RFC 3339).
    Date,
    /// An object of any shape, indexed as keyword leaves under one field (CloudTrail's
    /// `requestParameters`: thousands of API shapes that would otherwise explode the mapping and
    /// conflict with one another).
    Flattened,
}

impl FieldType {
    fn mapping(self) -> Value {
        match self {
            FieldType::Keyword => json!({"type": "keyword", "ignore_above": 1024}),
            FieldType::Text => json!({"type": "text"}),
            FieldType::Ip => json!({"type": "ip"}),
            FieldType::Long => json!({"type": "long"}),
            FieldType::Double => json!({"type": "double"}),
            FieldType::Date => json!({"type": "date"}),
            FieldType::Flattened => json!({"type": "flattened"}),
        }
    }
}

use FieldType::{Date, Double, Flattened, Ip, Keyword, Long, Text};

/// Fields of every event: enrichment, and what a line that did not parse carries.
pub const COMMON: &[(&str, FieldType)] = &[
    ("@timestamp", Date),
    ("message", Text),
    ("error.message", Text),
    ("log.file.path", Keyword),
    ("log.offset", Long),
    ("log.flags", Keyword),
    ("beat.name", Keyword),
    ("beat.hostname", Keyword),
    ("beat.version", Keyword),
    ("tags", Keyword),
];

/// ALB access log fields.
pub const ALB: &[(&str, FieldType)] = &[
    ("type", Keyword),
    ("elb", Keyword),
    ("client_ip", Ip),
    ("client_port", Long),
    ("target_ip", Ip),
    ("target_port", Long),
    ("request_processing_time", Double),
    ("target_processing_time", Double),
    ("response_processing_time", Double),
    ("elb_status_code", Long),
    ("target_status_code", Long),
    ("received_bytes", Long),
    ("sent_bytes", Long),
    ("request_verb", Keyword),
    ("request_url", Keyword),
    ("request_proto", Keyword),
    ("user_agent", Keyword),
    ("ssl_cipher", Keyword),
    ("ssl_protocol", Keyword),
    ("target_group_arn", Keyword),
    ("trace_id", Keyword),
    ("domain_name", Keyword),
    ("chosen_cert_arn", Keyword),
    ("matched_rule_priority", Long),
    ("request_creation_time", Date),
    ("actions_executed", Keyword),
    ("redirect_url", Keyword),
    ("error_reason", Keyword),
    ("target_port_list", Keyword),
    ("target_status_code_list", Keyword),
    ("classification", Keyword),
    ("classification_reason", Keyword),
    ("conn_trace_id", Keyword),
    ("transformed_host", Keyword),
    ("transformed_uri", Keyword),
    ("request_transform_status", Keyword),
];

/// Classic ELB access log fields.
pub const ELB: &[(&str, FieldType)] = &[
    ("elb", Keyword),
    ("client_ip", Ip),
    ("client_port", Long),
    ("backend_ip", Ip),
    ("backend_port", Long),
    ("request_processing_time", Double),
    ("backend_processing_time", Double),
    ("response_processing_time", Double),
    ("elb_status_code", Long),
    ("backend_status_code", Long),
    ("received_bytes", Long),
    ("sent_bytes", Long),
    ("request_verb", Keyword),
    ("request_url", Keyword),
    ("request_proto", Keyword),
    ("user_agent", Keyword),
    ("ssl_cipher", Keyword),
    ("ssl_protocol", Keyword),
];

/// CloudFront standard log fields.
pub const CLOUDFRONT: &[(&str, FieldType)] = &[
    ("x_edge_location", Keyword),
    ("sc_bytes", Long),
    ("c_ip", Ip),
    ("cs_method", Keyword),
    ("cs_host", Keyword),
    ("cs_uri_stem", Keyword),
    ("sc_status", Long),
    ("cs_referer", Keyword),
    ("cs_user_agent", Keyword),
    ("cs_uri_query", Keyword),
    ("cs_cookie", Keyword),
    ("x_edge_result_type", Keyword),
    ("x_edge_request_id", Keyword),
    ("x_host_header", Keyword),
    ("cs_protocol", Keyword),
    ("cs_bytes", Long),
    ("time_taken", Double),
    ("x_forwarded_for", Keyword),
    ("ssl_protocol", Keyword),
    ("ssl_cipher", Keyword),
    ("x_edge_response_result_type", Keyword),
    ("cs_protocol_version", Keyword),
    ("fle_status", Keyword),
    ("fle_encrypted_fields", Keyword),
    ("c_port", Long),
    ("time_to_first_byte", Double),
    ("x_edge_detailed_result_type", Keyword),
    ("sc_content_type", Keyword),
    ("sc_content_len", Long),
    ("sc_range_start", Long),
    ("sc_range_end", Long),
];

/// AWS WAF log fields (JSON; the nested lists are mapped by the dynamic templates).
pub const WAF: &[(&str, FieldType)] = &[
    ("action", Keyword),
    ("formatVersion", Long),
    ("httpRequest.args", Keyword),
    ("httpRequest.clientIp", Ip),
    ("httpRequest.country", Keyword),
    ("httpRequest.httpMethod", Keyword),
    ("httpRequest.httpVersion", Keyword),
    ("httpRequest.requestId", Keyword),
    ("httpRequest.uri", Keyword),
    ("httpSourceId", Keyword),
    ("httpSourceName", Keyword),
    ("terminatingRuleId", Keyword),
    ("terminatingRuleType", Keyword),
    ("webaclId", Keyword),
    ("responseCodeSent", Long),
    ("captchaResponse.responseCode", Long),
    ("captchaResponse.solveTimestamp", Long),
    ("captchaResponse.failureReason", Keyword),
    ("challengeResponse.responseCode", Long),
    ("challengeResponse.solveTimestamp", Long),
    ("challengeResponse.failureReason", Keyword),
];

/// VPC and Transit Gateway flow log fields (the documented ones; columns AWS adds later are strings,
/// mapped as `keyword` by the dynamic template).
pub const VPCFLOW: &[(&str, FieldType)] = &[
    ("version", Long),
    ("account_id", Keyword),
    ("interface_id", Keyword),
    ("srcaddr", Ip),
    ("dstaddr", Ip),
    ("srcport", Long),
    ("dstport", Long),
    ("protocol", Long),
    ("packets", Long),
    ("bytes", Long),
    ("start", Long),
    ("end", Long),
    ("action", Keyword),
    ("log_status", Keyword),
    ("vpc_id", Keyword),
    ("subnet_id", Keyword),
    ("instance_id", Keyword),
    ("tcp_flags", Long),
    ("type", Keyword),
    ("pkt_srcaddr", Ip),
    ("pkt_dstaddr", Ip),
    ("region", Keyword),
    ("az_id", Keyword),
    ("sublocation_type", Keyword),
    ("sublocation_id", Keyword),
    ("pkt_src_aws_service", Keyword),
    ("pkt_dst_aws_service", Keyword),
    ("flow_direction", Keyword),
    ("traffic_path", Long),
    ("ecs_cluster_arn", Keyword),
    ("ecs_cluster_name", Keyword),
    ("ecs_container_instance_arn", Keyword),
    ("ecs_container_instance_id", Keyword),
    ("ecs_container_id", Keyword),
    ("ecs_second_container_id", Keyword),
    ("ecs_service_name", Keyword),
    ("ecs_task_definition_arn", Keyword),
    ("ecs_task_arn", Keyword),
    ("ecs_task_id", Keyword),
    ("reject_reason", Keyword),
    ("resource_type", Keyword),
    ("tgw_id", Keyword),
    ("tgw_attachment_id", Keyword),
    ("tgw_src_vpc_account_id", Keyword),
    ("tgw_dst_vpc_account_id", Keyword),
    ("tgw_src_vpc_id", Keyword),
    ("tgw_dst_vpc_id", Keyword),
    ("tgw_src_subnet_id", Keyword),
    ("tgw_dst_subnet_id", Keyword),
    ("tgw_src_eni", Keyword),
    ("tgw_dst_eni", Keyword),
    ("tgw_src_az_id", Keyword),
    ("tgw_dst_az_id", Keyword),
    ("tgw_pair_attachment_id", Keyword),
    ("packets_lost_no_route", Long),
    ("packets_lost_blackhole", Long),
    ("packets_lost_ttl_expired", Long),
];

/// S3 server access log fields.
pub const S3ACCESS: &[(&str, FieldType)] = &[
    ("bucket_owner", Keyword),
    ("bucket", Keyword),
    ("remote_ip", Ip),
    ("requester", Keyword),
    ("request_id", Keyword),
    ("operation", Keyword),
    ("key", Keyword),
    ("request_uri", Keyword),
    ("http_status", Long),
    ("error_code", Keyword),
    ("bytes_sent", Long),
    ("object_size", Long),
    ("total_time", Long),
    ("turn_around_time", Long),
    ("referer", Keyword),
    ("user_agent", Keyword),
    ("version_id", Keyword),
    ("host_id", Keyword),
    ("signature_version", Keyword),
    ("cipher_suite", Keyword),
    ("authentication_type", Keyword),
    ("host_header", Keyword),
    ("tls_version", Keyword),
    ("access_point_arn", Keyword),
    ("acl_required", Keyword),
];

/// NLB access log fields.
pub const NLB: &[(&str, FieldType)] = &[
    ("type", Keyword),
    ("version", Keyword),
    ("elb", Keyword),
    ("listener", Keyword),
    ("client_ip", Ip),
    ("client_port", Long),
    ("destination_ip", Ip),
    ("destination_port", Long),
    ("connection_time", Long),
    ("tls_handshake_time", Long),
    ("received_bytes", Long),
    ("sent_bytes", Long),
    ("incoming_tls_alert", Keyword),
    ("chosen_cert_arn", Keyword),
    ("chosen_cert_serial", Keyword),
    ("tls_cipher", Keyword),
    ("tls_protocol_version", Keyword),
    ("tls_named_group", Keyword),
    ("domain_name", Keyword),
    ("alpn_fe_protocol", Keyword),
    ("alpn_be_protocol", Keyword),
    ("alpn_client_preference_list", Keyword),
    ("tls_connection_creation_time", Date),
];

/// ALB connection log fields.
pub const ALB_CONNECTION: &[(&str, FieldType)] = &[
    ("client_ip", Ip),
    ("client_port", Long),
    ("listener_port", Long),
    ("tls_protocol", Keyword),
    ("tls_cipher", Keyword),
    ("tls_handshake_latency", Double),
    ("leaf_client_cert_subject", Keyword),
    ("leaf_client_cert_validity", Keyword),
    ("leaf_client_cert_serial_number", Keyword),
    ("tls_verify_status", Keyword),
    ("conn_trace_id", Keyword),
];

/// CloudTrail record fields: CloudTrail's own keys. The per-API objects are flattened; the rest of the
/// nested keys (`insightDetails`, `tlsDetails`, ...) are mapped dynamically.
pub const CLOUDTRAIL: &[(&str, FieldType)] = &[
    ("eventVersion", Keyword),
    ("eventTime", Date),
    ("eventSource", Keyword),
    ("eventName", Keyword),
    ("eventType", Keyword),
    ("eventCategory", Keyword),
    ("eventID", Keyword),
    ("awsRegion", Keyword),
    // An address, or a service name (`cloudtrail.amazonaws.com`).
    ("sourceIPAddress", Keyword),
    ("userAgent", Keyword),
    ("requestID", Keyword),
    ("sharedEventID", Keyword),
    ("recipientAccountId", Keyword),
    ("errorCode", Keyword),
    ("errorMessage", Text),
    ("apiVersion", Keyword),
    ("vpcEndpointId", Keyword),
    ("userIdentity.type", Keyword),
    ("userIdentity.principalId", Keyword),
    ("userIdentity.arn", Keyword),
    ("userIdentity.accountId", Keyword),
    ("userIdentity.accessKeyId", Keyword),
    ("userIdentity.userName", Keyword),
    ("userIdentity.invokedBy", Keyword),
    ("userIdentity.sessionContext.attributes.creationDate", Date),
    (
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        Keyword,
    ),
    ("userIdentity.sessionContext.sessionIssuer.type", Keyword),
    (
        "userIdentity.sessionContext.sessionIssuer.principalId",
        Keyword,
    ),
    ("userIdentity.sessionContext.sessionIssuer.arn", Keyword),
    (
        "userIdentity.sessionContext.sessionIssuer.accountId",
        Keyword,
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.userName",
        Keyword,
    ),
    ("requestParameters", Flattened),
    ("responseElements", Flattened),
    ("additionalEventData", Flattened),
    ("serviceEventDetails", Flattened),
    ("resources.ARN", Keyword),
    ("resources.accountId", Keyword),
    ("resources.type", Keyword),
    ("insightDetails.state", Keyword),
    ("insightDetails.eventSource", Keyword),
    ("insightDetails.eventName", Keyword),
    ("insightDetails.insightType", Keyword),
];

/// CloudWatch Logs event fields. `json` (`decode_json`) is flattened: log groups disagree on the types
/// of their keys, and a flattened field still answers `json.level: error`.
pub const CLOUDWATCH: &[(&str, FieldType)] = &[
    ("message", Text),
    ("id", Keyword),
    ("log_group", Keyword),
    ("log_stream", Keyword),
    ("owner", Keyword),
    ("subscription_filters", Keyword),
    ("json", Flattened),
];

/// The table of `format`; `json` and `custom` have none (their fields are the log's own, or the
/// config's: dynamic mappings).
pub fn fields(format: LogFormat) -> &'static [(&'static str, FieldType)] {
    match format {
        LogFormat::Alb => ALB,
        LogFormat::Elb => ELB,
        LogFormat::Cloudfront => CLOUDFRONT,
        LogFormat::Waf => WAF,
        LogFormat::Vpcflow => VPCFLOW,
        LogFormat::S3access => S3ACCESS,
        LogFormat::Nlb => NLB,
        LogFormat::AlbConnection => ALB_CONNECTION,
        LogFormat::Cloudtrail => CLOUDTRAIL,
        LogFormat::Cloudwatch => CLOUDWATCH,
        LogFormat::Json | LogFormat::Custom | LogFormat::Auto => &[],
    }
}

/// Every field the template declares for `format` under `names`: the common ones, the format's table
/// (renamed, copied or converted by [`crate::event::ecs::ecs_fields`] under ECS), and what ECS adds
/// ([`crate::event::ecs::added`]).
pub fn declared(format: LogFormat, names: FieldNames) -> Vec<(String, FieldType)> {
    let mut out: Vec<(String, FieldType)> =
        COMMON.iter().map(|(n, t)| (n.to_string(), *t)).collect();
    for (n, t) in fields(format) {
        match names {
            FieldNames::Ecs => out.extend(crate::event::ecs::ecs_fields(format, n, *t)),
            FieldNames::Original => out.push((n.to_string(), *t)),
        }
    }
    if names == FieldNames::Ecs {
        out.extend(
            crate::event::ecs::added(format)
                .into_iter()
                .map(|(n, t)| (n.to_string(), t)),
        );
    }
    out
}

/// The mapping type of `path` (dotted) for `format` under `names`, if the template declares it.
pub fn type_of(format: LogFormat, names: FieldNames, path: &str) -> Option<FieldType> {
    let declared = declared(format, names);
    declared
        .iter()
        .find(|(n, _)| n == path)
        .or_else(|| {
            // A leaf inside a flattened object is that object's.
            declared.iter().find(|(n, t)| {
                *t == Flattened
                    && path
                        .strip_prefix(n.as_str())
                        .is_some_and(|r| r.starts_with('.'))
            })
        })
        .map(|(_, t)| *t)
}

/// The formats the inputs read and the names they write them with, each pair once: what the template
/// covers.
pub fn formats_in_use(inputs: &[crate::config::InputSettings]) -> Vec<(LogFormat, FieldNames)> {
    let mut formats: Vec<(LogFormat, FieldNames)> = inputs
        .iter()
        .flat_map(|i| {
            i.formats
                .all()
                .into_iter()
                .map(|f| (f.format(), i.field_names))
        })
        .collect();
    formats.sort_by_key(|(f, n)| (f.name(), *n == FieldNames::Ecs));
    formats.dedup();
    formats
}

/// The `_index_template` body for `inputs` (format and field names of each; a field in several has one
/// type in all).
pub fn template(inputs: &[(LogFormat, FieldNames)], t: &TemplateSettings) -> Value {
    let mut properties = Map::new();
    for (format, names) in inputs {
        for (name, ty) in declared(*format, *names) {
            insert(&mut properties, &name, ty.mapping());
        }
    }
    let mut settings = json!({
        "index": {
            // WAF and JSON logs can carry many fields.
            "mapping": {"total_fields": {"limit": 10000}},
        }
    });
    merge(&mut settings, &t.settings);
    json!({
        "index_patterns": [t.pattern],
        // Above Elasticsearch's built-in `logs-*-*` templates (100), below hand-made ones.
        "priority": 150,
        "_meta": {"managed_by": "s3logsbeat", "version": env!("CARGO_PKG_VERSION")},
        "template": {
            "settings": settings,
            "mappings": {
                "date_detection": false,
                "dynamic_templates": [
                    {"strings_as_keyword": {
                        "match_mapping_type": "string",
                        "mapping": {"type": "keyword", "ignore_above": 1024},
                    }},
                ],
                "properties": properties,
            },
        },
    })
}

/// Puts `mapping` at the dotted `path` in a `properties` tree.
fn insert(properties: &mut Map<String, Value>, path: &str, mapping: Value) {
    match path.split_once('.') {
        None => {
            properties.entry(path.to_string()).or_insert(mapping);
        }
        Some((head, rest)) => {
            let node = properties
                .entry(head.to_string())
                .or_insert_with(|| json!({"properties": {}}));
            if let Some(Value::Object(children)) = node.get_mut("properties") {
                insert(children, rest, mapping);
            }
        }
    }
}

/// Deep-merges `extra` into `base` (index settings: `setup.template.settings`, dotted keys allowed).
fn merge(base: &mut Value, extra: &Value) {
    let Value::Object(extra) = extra else {
        return;
    };
    for (k, v) in extra {
        // `index.number_of_shards: 1` and `index: {number_of_shards: 1}` mean the same.
        let (head, rest) = match k.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (k.as_str(), None),
        };
        let v = match rest {
            Some(r) => {
                let mut nested = Value::Null;
                let mut m = Map::new();
                m.insert(r.to_string(), v.clone());
                merge_into_null(&mut nested, Value::Object(m));
                nested
            }
            None => v.clone(),
        };
        let slot = base
            .as_object_mut()
            .expect("settings are an object")
            .entry(head.to_string())
            .or_insert(Value::Null);
        if slot.is_object() && v.is_object() {
            merge(slot, &v);
        } else {
            *slot = v;
        }
    }
}

fn merge_into_null(slot: &mut Value, v: Value) {
    *slot = json!({});
    merge(slot, &v);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: Value) -> TemplateSettings {
        TemplateSettings {
            enabled: true,
            name: "s3logsbeat".into(),
            pattern: "s3logsbeat-*".into(),
            overwrite: false,
            settings: extra,
        }
    }

    #[test]
    fn mappings_are_typed_and_nested() {
        let t = template(
            &[(LogFormat::Alb, FieldNames::Original)],
            &settings(json!({})),
        );
        let p = &t["template"]["mappings"]["properties"];
        assert_eq!(p["@timestamp"]["type"], "date");
        assert_eq!(p["client_ip"]["type"], "ip");
        assert_eq!(p["elb_status_code"]["type"], "long");
        assert_eq!(p["target_processing_time"]["type"], "double");
        assert_eq!(p["request_url"]["type"], "keyword");
        assert_eq!(
            p["log"]["properties"]["file"]["properties"]["path"]["type"],
            "keyword"
        );
        assert_eq!(p["log"]["properties"]["offset"]["type"], "long");
        assert_eq!(t["index_patterns"], json!(["s3logsbeat-*"]));
        assert!(p.get("c_ip").is_none(), "only the formats asked for");
    }

    #[test]
    fn index_settings_merge_dotted_or_nested() {
        let t = template(
            &[],
            &settings(json!({"index.number_of_shards": 1, "index": {"codec": "best_compression"}})),
        );
        let s = &t["template"]["settings"]["index"];
        assert_eq!(s["number_of_shards"], 1);
        assert_eq!(s["codec"], "best_compression");
        assert_eq!(s["mapping"]["total_fields"]["limit"], 10000);
    }

    #[test]
    fn a_field_in_two_formats_or_namings_has_one_type() {
        let all = [
            LogFormat::Alb,
            LogFormat::Elb,
            LogFormat::Cloudfront,
            LogFormat::Waf,
            LogFormat::Vpcflow,
            LogFormat::S3access,
            LogFormat::Nlb,
            LogFormat::AlbConnection,
            LogFormat::Cloudtrail,
            LogFormat::Cloudwatch,
        ];
        for names in [FieldNames::Original, FieldNames::Ecs] {
            for a in all {
                for b in all {
                    for (n, t) in declared(a, names) {
                        // The one known clash: a flow log's `version` is an integer (2 to 8), NLB's is
                        // the string "2.0". In one index, whichever input comes first maps it; keyword
                        // takes 2 as "2", and long coerces "2.0" to 2.
                        if n == "version" {
                            continue;
                        }
                        if let Some((_, u)) = declared(b, names).iter().find(|(m, _)| *m == n) {
                            assert_eq!(t, *u, "{n} in {a:?} and {b:?} ({names:?})");
                        }
                    }
                }
            }
        }
    }
}
