//! Elastic Common Schema names (`field_names: ecs`): an event with its format's original names in, the
//! same event with ECS names out, as the format's descriptor maps them (`crate::formats::ecs::Ecs`: the
//! names of Elastic's AWS integration, and Filebeat's aws module before it) plus what every AWS event
//! gets (`ecs.version`, `cloud.provider`, `event.kind`, `event.module`, `event.dataset`,
//! `event.category`).
//!
//! A mapping's table renames fields (a name listed twice is copied to both; an object's name moves the
//! object); the fields it does not name go where its `rest` says; conversions change the form of some
//! values (epoch seconds → date, ...) and its `derive` adds the fields ECS derives from the others
//! (`event.outcome`, `event.duration` in nanoseconds, `network.transport`, ...). `json` and `custom` have
//! none: their fields are the log's own, or the config's, and config validation warns when
//! `field_names: ecs` meets one of them.
//!
//! What must stay true: every field is kept (renamed, copied or converted, never dropped, except `-`
//! placeholders, which ECS leaves absent); `@timestamp`, `@metadata`, `log`, `beat`, `tags`, `fields`,
//! `message`, `error` and `ecs` are not touched; the index template takes its names and types from the same
//! mapping ([`ecs_fields`], [`added`]), so the template and the events cannot disagree.

use serde_json::{Map, Value};

use crate::event::{cap_json_depth, Event, MAX_DOC_DEPTH};
use crate::formats::ecs::{merge, put, snake_case, Ecs, Rest};
use crate::formats::FieldType::{self, Keyword};
use crate::formats::LogFormat;

/// The ECS version the names follow.
pub const ECS_VERSION: &str = "8.11.0";

/// The ECS mapping of `format`, if it has one.
fn mapping(format: LogFormat) -> Option<&'static Ecs> {
    format.descriptor()?.ecs
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

/// The entries of `m`'s table that take the original field `path`: the first entry that names it or an
/// object holding it, with any later entry of the same name (a copy); and the rest of `path` below the
/// entry's name (empty when the entry names `path` itself).
fn entries<'m>(m: &'m Ecs, path: &'m str) -> (Vec<&'m str>, &'m str) {
    let holds = |from: &str| {
        path == from
            || path
                .strip_prefix(from)
                .is_some_and(|rest| rest.starts_with('.'))
    };
    let Some(&(from, _)) = m.table.iter().find(|(from, _)| holds(from)) else {
        return (Vec::new(), "");
    };
    let below = &path[from.len()..];
    let names = m
        .table
        .iter()
        .filter(|(f, _)| *f == from)
        .map(|(_, to)| *to)
        .collect();
    (names, below)
}

/// The ECS fields the original field `path` (dotted) of type `ty` becomes under `format`, with their
/// mapping types: one name for a rename, several for a copy or a split, the name itself for a kept field.
pub fn ecs_fields(format: LogFormat, path: &str, ty: FieldType) -> Vec<(String, FieldType)> {
    let Some(m) = mapping(format) else {
        return vec![(path.to_string(), ty)];
    };
    if KEPT.contains(&path.split('.').next().unwrap_or("")) {
        return vec![(path.to_string(), ty)];
    }
    let (names, below) = entries(m, path);
    if names.is_empty() {
        let name = match m.rest {
            Rest::Kept => path.to_string(),
            Rest::Under(prefix) => format!("{prefix}{path}"),
            Rest::Snake(prefix) => {
                let snake: Vec<String> = path.split('.').map(snake_case).collect();
                format!("{prefix}{}", snake.join("."))
            }
        };
        return vec![(name, ty)];
    }
    names
        .into_iter()
        .flat_map(|to| match m.conversions.iter().find(|c| c.name == to) {
            // A converted value (or object) becomes the conversion's fields.
            Some(c) => c.into.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            None => vec![(format!("{to}{below}"), ty)],
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

/// The fields `v` becomes under the ECS name `to`: the mapping's conversion of that name, if it has
/// one; `http.version` loses its `HTTP/`, as ECS writes it.
fn convert<'a>(m: &Ecs, to: &'a str, v: Value) -> Vec<(&'a str, Value)> {
    if let Some(c) = m.conversions.iter().find(|c| c.name == to) {
        return (c.convert)(v);
    }
    match v {
        Value::String(s) if to == "http.version" => {
            let s = s.strip_prefix("HTTP/").unwrap_or(&s).to_string();
            vec![(to, Value::String(s))]
        }
        v => vec![(to, v)],
    }
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
        for (name, v) in convert(m, to, v) {
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
    if let (Some(derive), false) = (m.derive, e.parse_failure) {
        derive(&mut out);
    }
    // The kept fields, in their place; the ECS ones after them.
    merge(&mut doc, out);
    let mut doc = Value::Object(doc);
    cap_json_depth(&mut doc, MAX_DOC_DEPTH, capped);
    e.doc = doc.to_string().into();
    Ok(())
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
    use crate::event::{EventId, Timestamp};
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

    fn line(spec: &crate::formats::FormatSpec, line: &str) -> Value {
        crate::formats::test_util::parse_one(spec, line).unwrap()
    }

    /// Issue 23 (7): `field_names: ecs` left NLB, ALB connection, VPC flow, S3 access, CloudTrail and
    /// CloudWatch events under their original names, silently.
    #[test]
    fn nlb_fields_get_elastics_elb_names() {
        use crate::formats::FormatSpec;
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
        use crate::formats::FormatSpec;
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
            &crate::formats::FormatSpec::Vpcflow,
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
                &crate::formats::FormatSpec::S3access,
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
            &line(&crate::formats::FormatSpec::Cloudtrail, record),
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
                &crate::formats::FormatSpec::Cloudtrail,
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
        for format in crate::formats::route::auto_formats().chain([LogFormat::Cloudwatch]) {
            assert!(has_mapping(format), "{format}");
            let table = mapping(format).unwrap().table;
            for (path, ty) in format.descriptor().unwrap().fields {
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
