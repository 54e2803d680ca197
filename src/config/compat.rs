//! Keys that configs from the original (libbeat 6) carry and s3logsbeat does not implement. Each is
//! accepted with one warning naming it, unless ignoring it would change what is delivered or where: then
//! it is an error that says so (another output, a proxy to go through, an encrypted key, TLS versions
//! rustls does not speak).

use super::raw::{RawConfig, Ssl};
use super::Problems;

/// Checks the libbeat keys; warnings and errors go to `p`. `tree` is the config as written: a key
/// written with no value (`setup.kibana:`) is there although it reads as nothing.
pub(super) fn check(raw: &RawConfig, tree: &super::tree::Value, p: &mut Problems) {
    let ignored = |p: &mut Problems, key: &str, why: &str| {
        p.warn(
            key,
            format!("{key} is accepted from beats configs and ignored: {why}"),
        );
    };
    let written = |path: &str| {
        let mut cur = Some(tree);
        for part in path.split('.') {
            cur = cur.and_then(|c| c.as_mapping()).and_then(|m| m.get(part));
        }
        cur.is_some()
    };
    for (key, why) in [
        ("setup.kibana", "s3logsbeat does not load Kibana dashboards"),
        ("setup.dashboards", "s3logsbeat does not ship Kibana dashboards"),
        ("setup.ilm", "index lifecycle is not managed; set it in the index template's settings"),
        ("setup.template.fields", "the template's mappings are built in (`export template` shows them)"),
        ("xpack", "self-monitoring is not shipped to Elasticsearch; use the http endpoint (/stats, /metrics)"),
        ("monitoring", "self-monitoring is not shipped to Elasticsearch; use the http endpoint (/stats, /metrics)"),
    ] {
        if written(key) {
            ignored(p, key, why);
        }
    }
    if raw.logging.to_syslog == Some(true) {
        ignored(
            p,
            "logging.to_syslog",
            "logs go to stderr (journald keeps them under systemd) and/or to files",
        );
    }
    if raw.logging.to_eventlog == Some(true) {
        ignored(
            p,
            "logging.to_eventlog",
            "logs go to stderr and/or to files",
        );
    }
    for (name, block) in [("kafka", &raw.output.kafka), ("redis", &raw.output.redis)] {
        let enabled = block
            .as_ref()
            .is_some_and(|b| b.get("enabled").and_then(super::tree::Value::as_bool) != Some(false));
        if enabled {
            p.push(
                format!("output.{name}"),
                format!(
                    "output.{name} is not supported: s3logsbeat delivers to output.elasticsearch, \
                     output.logstash, output.console or output.file (set output.{name}.enabled: false to keep the block)"
                ),
            );
        }
    }
    if let Some(es) = raw.output.elasticsearch.as_ref().filter(|e| e.enabled) {
        if let Some(ssl) = &es.ssl {
            tls(ssl, "output.elasticsearch", p);
        }
        if es.max_retries.is_some() {
            ignored(
                p,
                "output.elasticsearch.max_retries",
                "events are retried until delivered or dead-lettered, never dropped",
            );
        }
    }
    if let Some(ls) = raw.output.logstash.as_ref().filter(|l| l.enabled) {
        if let Some(ssl) = &ls.ssl {
            tls(ssl, "output.logstash", p);
        }
        if ls.max_retries.is_some() {
            ignored(
                p,
                "output.logstash.max_retries",
                "events are retried until delivered, never dropped",
            );
        }
        if ls.ttl.is_some() {
            ignored(
                p,
                "output.logstash.ttl",
                "connections are kept while they work",
            );
        }
        if ls.slow_start.is_some() {
            ignored(
                p,
                "output.logstash.slow_start",
                "windows are bulk_max_size from the start",
            );
        }
        if ls.proxy_use_local_resolver.is_some() {
            ignored(
                p,
                "output.logstash.proxy_use_local_resolver",
                "no proxy is used",
            );
        }
        if ls.proxy_url.as_deref().is_some_and(|u| !u.is_empty()) {
            p.push(
                "output.logstash.proxy_url",
                "output.logstash.proxy_url is not supported: a SOCKS5 proxy for Logstash would be bypassed, sending events another way than meant",
            );
        }
    }
}

/// TLS keys rustls cannot honour.
fn tls(ssl: &Ssl, prefix: &str, p: &mut Problems) {
    let key = |k: &str| format!("{prefix}.ssl.{k}");
    if ssl.key_passphrase.as_deref().is_some_and(|s| !s.is_empty()) {
        p.push(
            key("key_passphrase"),
            format!("{}: encrypted keys are not supported: decrypt the key (openssl pkey -in key.pem -out plain.pem)", key("key_passphrase")),
        );
    }
    if !ssl.supported_protocols.is_empty() {
        let modern = ssl
            .supported_protocols
            .iter()
            .any(|v| v == "TLSv1.2" || v == "TLSv1.3");
        if !modern {
            p.push(
                key("supported_protocols"),
                format!(
                    "{}: s3logsbeat speaks TLSv1.2 and TLSv1.3 only, and none of them is listed",
                    key("supported_protocols")
                ),
            );
        } else if ssl
            .supported_protocols
            .iter()
            .any(|v| v != "TLSv1.2" && v != "TLSv1.3")
        {
            p.warn(
                key("supported_protocols"),
                format!(
                    "{}: versions before TLSv1.2 are not spoken and are ignored",
                    key("supported_protocols")
                ),
            );
        }
    }
    if !ssl.cipher_suites.is_empty() {
        p.warn(
            key("cipher_suites"),
            format!(
                "{} is ignored: rustls's safe defaults are used",
                key("cipher_suites")
            ),
        );
    }
    if !ssl.curve_types.is_empty() {
        p.warn(
            key("curve_types"),
            format!(
                "{} is ignored: rustls's safe defaults are used",
                key("curve_types")
            ),
        );
    }
}
