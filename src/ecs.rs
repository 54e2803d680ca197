//! Elastic Common Schema names (`field_names: ecs`): an event with the original s3logsbeat names in, the
//! same event with ECS names out, as Filebeat's aws module writes them (`source.ip`,
//! `http.response.status_code`, `url.original`, `user_agent.original`, `aws.elb.*`, ...) plus what ECS
//! derives (`event.outcome` from the status code, `event.duration` in nanoseconds from the processing
//! times, `cloud.provider`, `event.kind`/`category`, `ecs.version`).
//!
//! What must stay true: every field is kept (renamed, never dropped, except `-` placeholders, which ECS
//! leaves absent); `@timestamp`, `@metadata`, `log`, `beat`, `tags`, `fields`, `message` and `error` are
//! not touched; the renaming is a fixed table per format, which [`ecs_name`] also gives the index
//! template, so the template and the events cannot disagree. `json` events keep their own names.

use serde_json::{Map, Value};

use crate::config::LogFormat;
use crate::event::{cap_json_depth, Event, MAX_DOC_DEPTH};

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

/// Fields ECS adds, with their mapping type names (for the template).
pub const ADDED: &[(&str, crate::template::FieldType)] = &[
    ("ecs.version", crate::template::FieldType::Keyword),
    ("cloud.provider", crate::template::FieldType::Keyword),
    ("event.kind", crate::template::FieldType::Keyword),
    ("event.category", crate::template::FieldType::Keyword),
    ("event.outcome", crate::template::FieldType::Keyword),
    ("event.duration", crate::template::FieldType::Long),
    ("event.module", crate::template::FieldType::Keyword),
    ("event.dataset", crate::template::FieldType::Keyword),
];

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

fn table(format: LogFormat) -> &'static [(&'static str, &'static str)] {
    match format {
        LogFormat::Alb => ALB,
        LogFormat::Elb => ELB,
        LogFormat::Cloudfront => CLOUDFRONT,
        LogFormat::Waf => WAF,
        // The other formats keep their own (AWS's) names under `field_names: ecs` for now.
        _ => &[],
    }
}

/// The ECS name of the original field `path` of `format` (`None`: it keeps its name).
pub fn ecs_name(format: LogFormat, path: &str) -> Option<String> {
    if let Some((_, to)) = table(format).iter().find(|(from, _)| *from == path) {
        return Some((*to).to_string());
    }
    if format == LogFormat::Waf && !KEPT.contains(&path.split('.').next().unwrap_or("")) {
        let snake: Vec<String> = path.split('.').map(snake_case).collect();
        return Some(format!("aws.waf.{}", snake.join(".")));
    }
    None
}

/// `module.dataset` of a format, as Filebeat names them.
fn dataset(format: LogFormat) -> Option<(&'static str, &'static str)> {
    match format {
        LogFormat::Alb | LogFormat::Elb => Some(("aws", "aws.elb")),
        LogFormat::Cloudfront => Some(("aws", "aws.cloudfront")),
        LogFormat::Waf => Some(("aws", "aws.waf")),
        _ => None,
    }
}

/// Renames `e`'s fields to ECS (nothing for `json`). The renamed document stays within
/// [`MAX_DOC_DEPTH`] levels (deeper objects and arrays kept as their JSON text, counted in `capped`).
/// `Err` names the event whose document cannot be read: it is never passed on with its old names.
pub fn apply(format: LogFormat, e: &mut Event, capped: &mut u64) -> Result<(), String> {
    let Some((module, dataset)) = dataset(format) else {
        return Ok(());
    };
    let mut doc = match e.read_doc()? {
        Value::Object(doc) => doc,
        _ => return Err(format!("the document of event {} is not an object", e.id)),
    };
    let mut out = Map::new();
    for (from, to) in table(format) {
        if let Some(v) = take(&mut doc, from) {
            put(&mut out, to, tidy(to, v));
        }
    }
    if format == LogFormat::Waf {
        let rest: Vec<String> = doc
            .keys()
            .filter(|k| !KEPT.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in rest {
            if let Some(v) = doc.remove(&k) {
                if v.as_object().is_some_and(Map::is_empty) {
                    continue;
                }
                put(
                    &mut out,
                    &format!("aws.waf.{}", snake_case(&k)),
                    snake_keys(v),
                );
            }
        }
    }
    let status = get(&out, "http.response.status_code").and_then(Value::as_u64);
    let outcome = match status {
        Some(s) if s < 400 => "success",
        Some(_) => "failure",
        None => "unknown",
    };
    let duration_secs = match format {
        LogFormat::Alb | LogFormat::Elb => [
            "aws.elb.request_processing_time.sec",
            "aws.elb.backend_processing_time.sec",
            "aws.elb.response_processing_time.sec",
        ]
        .iter()
        .map(|p| get(&out, p).and_then(Value::as_f64).filter(|v| *v >= 0.0))
        .sum::<Option<f64>>(),
        LogFormat::Cloudfront => get(&out, "aws.cloudfront.time_taken.sec").and_then(Value::as_f64),
        _ => None,
    };
    put(&mut out, "ecs.version", Value::from(ECS_VERSION));
    put(&mut out, "cloud.provider", Value::from("aws"));
    put(&mut out, "event.kind", Value::from("event"));
    put(&mut out, "event.category", Value::from(vec!["web"]));
    put(&mut out, "event.module", Value::from(module));
    put(&mut out, "event.dataset", Value::from(dataset));
    if format != LogFormat::Waf {
        put(&mut out, "event.outcome", Value::from(outcome));
    }
    if let Some(s) = duration_secs {
        put(
            &mut out,
            "event.duration",
            Value::from((s * 1e9).round() as u64),
        );
    }
    // The kept fields, in their place; the ECS ones after them.
    for (k, v) in out {
        match doc.get_mut(&k) {
            Some(Value::Object(existing)) if v.is_object() => {
                if let Value::Object(m) = v {
                    existing.extend(m);
                }
            }
            _ => {
                doc.insert(k, v);
            }
        }
    }
    let mut doc = Value::Object(doc);
    cap_json_depth(&mut doc, MAX_DOC_DEPTH, capped);
    e.doc = doc.to_string().into();
    Ok(())
}

/// ECS leaves `-` placeholders absent and writes `http.version` without `HTTP/`.
fn tidy(to: &str, v: Value) -> Value {
    match v {
        Value::String(s) if to == "http.version" => {
            Value::String(s.strip_prefix("HTTP/").unwrap_or(&s).to_string())
        }
        v => v,
    }
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

/// Puts `v` at the dotted `path`, making the objects on the way.
fn put(doc: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            doc.insert(path.to_string(), v);
        }
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
    use crate::event::{EventId, Timestamp};

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

    #[test]
    fn json_events_keep_their_names() {
        let mut e = event(r#"{"client_ip":"1.2.3.4"}"#);
        apply(LogFormat::Json, &mut e, &mut 0).unwrap();
        assert_eq!(e.doc, r#"{"client_ip":"1.2.3.4"}"#);
    }
}
