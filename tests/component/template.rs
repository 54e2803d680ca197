//! The index template against the parsers: every field of every sample and golden case is declared in
//! its format's table (json's own fields excepted: they are the log's), with a type that accepts the value
//! written; and `export template` prints that template.

use std::process::Command;

use crate::common::*;
use s3logsbeat::config::{FieldNames, LogFormat};
use s3logsbeat::outputs::elasticsearch::template::{type_of, FieldType};
use serde_json::Value;

/// Every leaf of `doc` as (dotted path, value); array items are checked one by one under the array's path.
fn leaves<'a>(prefix: &str, doc: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match doc {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                leaves(prefix, v, out);
            }
        }
        _ => out.push((prefix.to_string(), doc)),
    }
}

fn accepts(t: FieldType, v: &Value) -> bool {
    match t {
        FieldType::Keyword | FieldType::Text => v.is_string(),
        FieldType::Flattened => !v.is_null(),
        FieldType::Ip => v
            .as_str()
            .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
        FieldType::Long => v.is_i64() || v.is_u64(),
        FieldType::Double => v.is_number(),
        FieldType::Boolean => v.is_boolean(),
        FieldType::Date => v.as_str().is_some_and(is_date),
    }
}

/// What Elasticsearch's default date format (`strict_date_optional_time`) reads: RFC 3339, an offset
/// without its colon (`+0000`, as Suricata writes it), or no zone at all (UTC).
fn is_date(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
        || chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z").is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
}

/// Checks one parsed object under both namings; returns how many fields were checked.
fn check(format: LogFormat, name: &str, data: &[u8]) -> usize {
    check_named(format, FieldNames::Original, name, data)
        + check_named(format, FieldNames::Ecs, name, data)
}

fn check_named(format: LogFormat, names: FieldNames, name: &str, data: &[u8]) -> usize {
    let spec = spec(format.name());
    let settings = s3logsbeat::config::EnrichSettings::new("n", "h");
    let parsed = parse_object(&spec, &settings, "k.log", data, 1 << 16, 1 << 20);
    let mut checked = 0;
    for e in &parsed.events {
        let mut e = e.clone();
        if names == FieldNames::Ecs {
            s3logsbeat::event::ecs::apply(format, &mut e, &mut 0).unwrap();
        }
        let doc: Value = serde_json::from_str(&e.doc).unwrap();
        if names == FieldNames::Ecs && format != LogFormat::Json {
            ecs_shaped(format, name, &doc);
        }
        let mut fields = Vec::new();
        leaves("", &doc, &mut fields);
        for (path, v) in fields {
            // WAF's nested lists (headers, labels, rule lists) are mapped dynamically.
            let declared = type_of(format, names, &path);
            match declared {
                Some(t) => {
                    assert!(
                        accepts(t, v),
                        "{name} ({names:?}): {path} = {v} does not fit the template's {t:?}"
                    );
                    checked += 1;
                }
                None if format == LogFormat::Json => {}
                None if format == LogFormat::Waf => {}
                // CloudTrail's nested keys beyond the declared ones are mapped dynamically.
                None if format == LogFormat::Cloudtrail => {}
                None => panic!("{name}: {path} = {v} is not in the {format:?} {names:?} template"),
            }
        }
    }
    checked
}

/// ECS's field sets (8.11), and the custom ones Elastic's AWS integration writes (`aws`) or beats do
/// (`beat`, `fields`).
const ECS_TOP_LEVEL: &[&str] = &[
    "@timestamp",
    "@metadata",
    "agent",
    "as",
    "client",
    "cloud",
    "container",
    "data_stream",
    "destination",
    "dns",
    "ecs",
    "error",
    "event",
    "file",
    "geo",
    "group",
    "host",
    "http",
    "labels",
    "log",
    "message",
    "network",
    "observer",
    "orchestrator",
    "organization",
    "process",
    "related",
    "rule",
    "server",
    "service",
    "source",
    "tags",
    "threat",
    "tls",
    "trace",
    "transaction",
    "url",
    "user",
    "user_agent",
    "aws",
    "beat",
    "fields",
];

/// Issue 23 (7): under `field_names: ecs` an AWS format's event carries its `event.module` and
/// `event.dataset` and keeps no field under its original top-level name (a failed line keeps its
/// `message` and `error`, which ECS names already).
fn ecs_shaped(format: LogFormat, name: &str, doc: &Value) {
    assert_eq!(doc["event"]["module"], "aws", "{name} ({format:?}): {doc}");
    assert!(
        doc["event"]["dataset"]
            .as_str()
            .is_some_and(|d| d.starts_with("aws.")),
        "{name} ({format:?}): {doc}"
    );
    for k in doc.as_object().unwrap().keys() {
        // A CloudWatch event's decoded `json` is the log's own, as `json` events keep their names.
        let own = format == LogFormat::Cloudwatch && k == "json";
        assert!(
            own || ECS_TOP_LEVEL.contains(&k.as_str()),
            "{name} ({format:?}): {k} is not an ECS field set: {doc}"
        );
    }
}

#[test]
fn every_field_the_parsers_write_is_declared_with_a_fitting_type() {
    let mut checked = 0;
    for (format, file) in [
        (LogFormat::Alb, "alb-aws-docs.log"),
        (LogFormat::Elb, "elb-logstash-patterns.log"),
        (LogFormat::Cloudfront, "cloudfront-aws-docs.log"),
        (LogFormat::Cloudfront, "cloudfront-logstash-patterns.log"),
        (LogFormat::Waf, "waf-aws-docs.ndjson"),
        (LogFormat::Vpcflow, "vpcflow-aws-docs-default-format-v2.log"),
        (LogFormat::Vpcflow, "vpcflow-aws-docs-custom-format-1.log"),
        (LogFormat::Vpcflow, "vpcflow-aws-docs-custom-format-4.log"),
        (LogFormat::Nlb, "nlb-aws-docs.log"),
        (LogFormat::AlbConnection, "alb-connection-aws-docs.log"),
        (LogFormat::S3access, "s3access-aws-docs.log"),
        (LogFormat::S3access, "s3access-logstash-patterns.log"),
        (
            LogFormat::Cloudtrail,
            "cloudtrail-aws-docs-example-01-StartInstances.json",
        ),
        (
            LogFormat::Cloudtrail,
            "cloudtrail-aws-docs-example-03-CreateKeyPair.json",
        ),
        (
            LogFormat::Cloudtrail,
            "cloudtrail-aws-docs-example-04-CreateUser.json",
        ),
        (
            LogFormat::Cloudtrail,
            "cloudtrail-aws-docs-example-07-AwsCloudTrailInsight.json",
        ),
        (
            LogFormat::Cloudwatch,
            "cloudwatch-aws-docs-decoded-subscription-data-line165.json",
        ),
        (
            LogFormat::NetworkFirewall,
            "network-firewall-handwritten.log",
        ),
        (
            LogFormat::Route53Resolver,
            "route53-resolver-handwritten.log",
        ),
    ] {
        checked += check(format, file, &sample(file));
    }
    let cases: Vec<Value> = serde_json::from_slice(
        &std::fs::read(repo().join("tests/data/golden/s3logsbeat-golden-cases.json")).unwrap(),
    )
    .unwrap();
    for c in &cases {
        let Some(format) = LogFormat::from_name(c["format"].as_str().unwrap()) else {
            continue;
        };
        if format == LogFormat::Json {
            continue;
        }
        let name = c["name"].as_str().unwrap();
        checked += check(format, name, c["input"].as_str().unwrap().as_bytes());
    }
    assert!(checked > 500, "only {checked} fields checked");
}

#[test]
fn export_template_prints_the_template_for_the_configured_formats() {
    let dir = TempDir::new("template");
    let inputs = [
        "    - {type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q'], log_format: alb}".to_string(),
        "    - {type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/r'], log_format: cloudfront}".to_string(),
    ];
    let cfg = write_config(
        &dir,
        &config_text(
            None,
            &inputs,
            "output.elasticsearch.hosts: ['http://127.0.0.1:9200']\n",
            "setup.template:\n  name: shop\n  pattern: 'shop-*'\n  settings:\n    index.number_of_shards: 1\n",
        ),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_s3logsbeat"))
        .args(["export", "template", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["index_patterns"], serde_json::json!(["shop-*"]));
    assert_eq!(t["template"]["settings"]["index"]["number_of_shards"], 1);
    let p = &t["template"]["mappings"]["properties"];
    assert_eq!(p["client_ip"]["type"], "ip");
    assert_eq!(p["c_ip"]["type"], "ip");
    assert_eq!(p["sc_status"]["type"], "long");
    assert!(p.get("backend_ip").is_none(), "elb is not configured");

    // --format picks one format whatever the config says.
    let out = Command::new(env!("CARGO_BIN_EXE_s3logsbeat"))
        .args(["export", "template", "--format", "elb", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &t["template"]["mappings"]["properties"];
    assert_eq!(p["backend_ip"]["type"], "ip");
    assert!(p.get("c_ip").is_none());
}

#[test]
fn ecs_names_per_format_as_filebeats_aws_module() {
    let settings = s3logsbeat::config::EnrichSettings::new("n", "h");
    let first = |format: LogFormat, file: &str| -> Value {
        let parsed = parse_object(
            &spec(format.name()),
            &settings,
            "k.log",
            &sample(file),
            1 << 16,
            1 << 20,
        );
        let mut e = parsed.events[0].clone();
        s3logsbeat::event::ecs::apply(format, &mut e, &mut 0).unwrap();
        serde_json::from_str(&e.doc).unwrap()
    };
    let alb = first(LogFormat::Alb, "alb-aws-docs.log");
    assert_eq!(alb["source"]["ip"], "192.168.131.39");
    assert_eq!(alb["source"]["port"], 2817);
    assert_eq!(alb["destination"]["ip"], "10.0.0.1");
    assert_eq!(alb["destination"]["port"], 80);
    assert_eq!(alb["http"]["request"]["method"], "GET");
    assert_eq!(alb["http"]["response"]["status_code"], 200);
    assert_eq!(alb["url"]["original"], "http://www.example.com:80/");
    assert_eq!(alb["user_agent"]["original"], "curl/7.46.0");
    assert_eq!(
        alb["aws"]["elb"]["name"],
        "app/my-loadbalancer/50dc6c495c0c9188"
    );
    assert_eq!(alb["aws"]["elb"]["backend_processing_time"]["sec"], 0.001);
    assert_eq!(alb["cloud"]["provider"], "aws");
    assert_eq!(alb["event"]["outcome"], "success");
    assert_eq!(alb["event"]["duration"], 1_000_000);
    assert!(alb.get("client_ip").is_none());

    let elb = first(LogFormat::Elb, "elb-logstash-patterns.log");
    assert_eq!(elb["source"]["ip"], "192.168.131.39");
    assert_eq!(elb["destination"]["ip"], "10.0.0.1");
    assert_eq!(
        elb["aws"]["elb"]["backend"]["http"]["response"]["status_code"],
        200
    );
    assert_eq!(elb["http"]["version"], "1.1");

    let cf = first(LogFormat::Cloudfront, "cloudfront-aws-docs.log");
    assert_eq!(cf["source"]["ip"], "192.0.2.100");
    assert_eq!(cf["url"]["path"], "/index.html");
    assert_eq!(cf["http"]["response"]["status_code"], 200);
    assert_eq!(cf["event"]["duration"], 1_000_000);

    let waf = first(LogFormat::Waf, "waf-aws-docs.ndjson");
    assert_eq!(waf["source"]["ip"], "1.1.1.1");
    assert_eq!(waf["event"]["action"], "BLOCK");
    assert_eq!(waf["aws"]["waf"]["terminating_rule_id"], "STMTest_SQLi_XSS");
    assert!(waf.get("httpRequest").is_none());

    // Issue 23 (7): the other six formats, as Elastic's AWS integration names them.
    let nlb = first(LogFormat::Nlb, "nlb-aws-docs.log");
    assert_eq!(nlb["source"]["ip"], "192.168.131.39");
    assert_eq!(nlb["source"]["bytes"], 98);
    assert_eq!(nlb["destination"]["bytes"], 246);
    assert_eq!(nlb["aws"]["elb"]["connection_time"]["ms"], 5);
    assert_eq!(nlb["aws"]["elb"]["ssl_protocol"], "tlsv12");
    assert_eq!(nlb["event"]["category"], serde_json::json!(["network"]));
    assert!(nlb.get("client_ip").is_none() && nlb.get("elb").is_none());

    let conn = first(LogFormat::AlbConnection, "alb-connection-aws-docs.log");
    assert_eq!(conn["client"]["ip"], "192.168.131.39");
    assert_eq!(conn["aws"]["elb"]["listener"], "443");
    assert_eq!(
        conn["aws"]["elb"]["leaf_client_cert_not_after"],
        "2026-06-17T22:43:21Z"
    );
    assert_eq!(conn["aws"]["elb"]["tls_verify_status"], "Success");

    let flow = first(LogFormat::Vpcflow, "vpcflow-aws-docs-default-format-v2.log");
    assert_eq!(flow["source"]["ip"], "172.31.16.139");
    assert_eq!(flow["destination"]["port"], 22);
    assert_eq!(flow["network"]["iana_number"], "6");
    assert_eq!(flow["network"]["transport"], "tcp");
    assert_eq!(flow["source"]["bytes"], 4249);
    assert_eq!(flow["event"]["start"], "2014-12-14T04:06:50.000Z");
    assert_eq!(flow["event"]["end"], "2014-12-14T04:07:50.000Z");
    assert_eq!(flow["event"]["outcome"], "success");
    assert_eq!(flow["cloud"]["account"]["id"], "123456789010");
    assert_eq!(
        flow["aws"]["vpcflow"]["interface_id"],
        "eni-1235b8ca123456789"
    );
    assert!(flow.get("srcaddr").is_none());

    let s3 = first(LogFormat::S3access, "s3access-aws-docs.log");
    assert_eq!(s3["client"]["ip"], "192.0.2.3");
    assert_eq!(s3["http"]["response"]["status_code"], 200);
    assert_eq!(s3["http"]["request"]["method"], "GET");
    assert_eq!(s3["event"]["action"], "REST.GET.VERSIONING");
    assert_eq!(s3["event"]["duration"], 7_000_000);
    assert_eq!(s3["aws"]["s3access"]["bucket"], "DOC-EXAMPLE-BUCKET1");

    let trail = first(
        LogFormat::Cloudtrail,
        "cloudtrail-aws-docs-example-01-StartInstances.json",
    );
    assert_eq!(trail["event"]["action"], "StartInstances");
    assert_eq!(trail["event"]["provider"], "ec2.amazonaws.com");
    assert_eq!(trail["source"]["ip"], "205.251.233.176");
    assert_eq!(trail["user"]["name"], "Alice");
    assert_eq!(trail["cloud"]["region"], "us-east-2");
    assert_eq!(
        trail["aws"]["cloudtrail"]["flattened"]["request_parameters"]["instancesSet"]["items"][0]
            ["instanceId"],
        "i-ebeaf9e2"
    );
    assert!(trail.get("eventName").is_none() && trail.get("userIdentity").is_none());

    let cw = first(
        LogFormat::Cloudwatch,
        "cloudwatch-aws-docs-decoded-subscription-data-line165.json",
    );
    assert_eq!(cw["aws"]["cloudwatch"]["log_group"], "CloudTrail/logs");
    assert_eq!(cw["cloud"]["account"]["id"], "111111111111");
    assert_eq!(
        cw["event"]["id"],
        "31953106606966983378809025079804211143289615424298221568"
    );
    assert!(cw["message"].is_string() && cw.get("log_group").is_none());
}

/// Issue 23 (7): `field_names: ecs` on an input one of whose formats has no ECS mapping (`json`,
/// `custom`) is a warning naming the input and the format, from `test config` as at start-up.
#[test]
fn test_config_warns_of_a_format_without_ecs_names() {
    let dir = TempDir::new("template-ecs-warn");
    let inputs = [
        "    - {type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q'], log_format: alb, field_names: ecs}".to_string(),
        "    - {type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/r'], log_format: json, field_names: ecs, log_format_options: {timestamp_field: t, timestamp_format: timeISO8601}}".to_string(),
    ];
    let cfg = write_config(
        &dir,
        &config_text(None, &inputs, "output.console: {}\n", ""),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_s3logsbeat"))
        .args(["test", "config", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning:")
            && stderr.contains("s3logsbeat.inputs.1")
            && stderr.contains("log_format json has no ECS mapping"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3logsbeat.inputs.0"), "{stderr}");
}

#[test]
fn the_ecs_template_maps_the_ecs_names() {
    let dir = TempDir::new("template-ecs");
    let input = "    - {type: sqs, queues_url: ['https://sqs.us-east-1.amazonaws.com/1/q'], log_format: alb}".to_string();
    let cfg = write_config(
        &dir,
        &config_text(None, &[input], "output.console: {}\n", "field_names: ecs\n"),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_s3logsbeat"))
        .args(["export", "template", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &t["template"]["mappings"]["properties"];
    assert_eq!(p["source"]["properties"]["ip"]["type"], "ip");
    assert_eq!(
        p["http"]["properties"]["response"]["properties"]["status_code"]["type"],
        "long"
    );
    assert_eq!(p["event"]["properties"]["duration"]["type"], "long");
    assert!(p.get("client_ip").is_none(), "no original names under ecs");
}

/// Issue 24 (3): the two formats added as one module each, named as Elastic's `firewall_logs` and
/// `route53_resolver_logs` pipelines name them.
#[test]
fn ecs_names_of_network_firewall_and_route53_resolver_logs() {
    let settings = s3logsbeat::config::EnrichSettings::new("n", "h");
    let all = |format: LogFormat, file: &str| -> Vec<Value> {
        let parsed = parse_object(
            &spec(format.name()),
            &settings,
            "k.log",
            &sample(file),
            1 << 16,
            1 << 20,
        );
        parsed
            .events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                s3logsbeat::event::ecs::apply(format, &mut e, &mut 0).unwrap();
                serde_json::from_str(&e.doc).unwrap()
            })
            .collect()
    };
    let fw = all(
        LogFormat::NetworkFirewall,
        "network-firewall-handwritten.log",
    );
    let flow = &fw[0];
    assert_eq!(flow["@timestamp"], "2023-11-14T22:15:05.059525Z");
    assert_eq!(flow["observer"]["name"], "test-firewall");
    assert_eq!(flow["observer"]["type"], "firewall");
    assert_eq!(flow["cloud"]["availability_zone"], "us-east-1a");
    assert_eq!(flow["cloud"]["region"], "us-east-1");
    assert_eq!(flow["source"]["ip"], "10.0.1.44");
    assert_eq!(flow["source"]["port"], 59772);
    assert_eq!(flow["destination"]["ip"], "203.0.113.10");
    assert_eq!(flow["network"]["transport"], "tcp");
    assert_eq!(flow["network"]["protocol"], "http");
    assert_eq!(flow["network"]["type"], "ipv4");
    assert_eq!(flow["aws"]["firewall"]["flow"]["id"], "2031903400513076");
    assert_eq!(flow["aws"]["firewall"]["flow"]["pkts"], 6);
    assert_eq!(flow["aws"]["firewall"]["tcp_flags"], "1b");
    assert_eq!(flow["event"]["kind"], "event");
    assert_eq!(flow["event"]["type"], serde_json::json!(["connection"]));
    assert_eq!(flow["event"]["dataset"], "aws.firewall_logs");
    let blocked = &fw[1];
    assert_eq!(blocked["event"]["kind"], "alert");
    assert_eq!(
        blocked["event"]["type"],
        serde_json::json!(["connection", "denied"])
    );
    assert_eq!(blocked["rule"]["id"], "1000003");
    assert_eq!(blocked["rule"]["name"], "Deny all other TCP traffic");
    assert_eq!(blocked["event"]["severity"], 3);
    assert_eq!(blocked["url"]["original"], "/admin");
    assert_eq!(blocked["http"]["version"], "1.1");
    assert_eq!(blocked["aws"]["firewall"]["alert"]["action"], "blocked");
    let tls = &fw[2];
    assert_eq!(tls["tls"]["client"]["server_name"], "www.example.com");
    assert_eq!(tls["destination"]["domain"], "www.example.com");
    assert_eq!(tls["tls"]["version"], "1.2");
    assert_eq!(tls["tls"]["version_protocol"], "tls");
    assert_eq!(
        tls["tls"]["server"]["x509"]["serial_number"],
        "0A1B2C3D4E5F"
    );
    assert_eq!(fw[3]["network"]["type"], "ipv6");
    assert!(fw.iter().all(|d| d.get("firewall_name").is_none()));

    let dns = all(
        LogFormat::Route53Resolver,
        "route53-resolver-handwritten.log",
    );
    let a = &dns[0];
    assert_eq!(a["@timestamp"], "2023-11-14T22:13:20.000Z");
    assert_eq!(a["dns"]["question"]["name"], "www.example.com");
    assert_eq!(a["dns"]["question"]["type"], "A");
    assert_eq!(a["dns"]["response_code"], "NOERROR");
    assert_eq!(a["dns"]["answers"][0]["data"], "192.0.2.10");
    assert_eq!(a["source"]["port"], 38900);
    assert_eq!(a["network"]["transport"], "udp");
    assert_eq!(a["network"]["iana_number"], "17");
    assert_eq!(a["cloud"]["account"]["id"], "123456789012");
    assert_eq!(a["cloud"]["instance"]["id"], "i-0123456789abcdef0");
    assert_eq!(a["aws"]["vpc_id"], "vpc-0123456789abcdef0");
    assert_eq!(a["aws"]["route53"]["version"], "1.100000");
    assert_eq!(a["event"]["outcome"], "success");
    assert_eq!(a["event"]["dataset"], "aws.route53_resolver_logs");
    assert_eq!(dns[1]["dns"]["answers"][0]["name"], "app-lb.example.net");
    assert_eq!(dns[2]["event"]["outcome"], "failure");
    assert_eq!(
        dns[2]["aws"]["route53"]["srcids"]["resolver_endpoint"],
        "rslvr-in-0123456789abcdef0"
    );
    assert_eq!(dns[3]["aws"]["route53"]["firewall"]["action"], "BLOCK");
    assert_eq!(dns[4]["network"]["type"], "ipv6");
    assert!(dns.iter().all(|d| d.get("query_name").is_none()));
}
