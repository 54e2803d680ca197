//! `output.*`, checked once: the raw blocks in, one [`OutputSettings`] out (exactly one output must be
//! enabled). Hosts are turned into URLs, credentials into the header they become, TLS files are read, the
//! index pattern is parsed, and every number is range-checked, so that `test config` refuses what `run`
//! would refuse and the outputs only build clients from settings that are known to be good.

use std::time::Duration;

use base64::Engine;

use super::index::{IndexPattern, DEFAULT_INDEX};
use super::raw::{self, Backoff};
use super::tls::{self, TlsSettings};
use super::values::format_duration;
use super::Problems;

/// Default `output.elasticsearch.worker`: bulk requests in flight per host, at most. Beats use 1; with
/// retries that no longer hold a request slot, a few more let the adaptive limit grow while Elasticsearch
/// keeps up.
pub const DEFAULT_ES_WORKER: usize = 4;

/// The default dead-letter index.
pub const DEFAULT_DEAD_LETTER_INDEX: &str = "s3logsbeat-deadletter";

/// A secret value: never printed by `Debug`, so settings can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The one enabled output.
#[derive(Clone, Debug)]
pub enum OutputSettings {
    /// `output.elasticsearch`.
    Elasticsearch(Box<ElasticsearchSettings>),
    /// `output.logstash`.
    Logstash(Box<LogstashSettings>),
    /// `output.console`.
    Console(ConsoleSettings),
    /// `output.file`.
    File(FileSettings),
}

impl OutputSettings {
    /// The config name: `elasticsearch`, `opensearch`, `logstash`, `console`, `file`.
    pub fn kind(&self) -> &'static str {
        match self {
            OutputSettings::Elasticsearch(es) if es.opensearch().is_some() => "opensearch",
            OutputSettings::Elasticsearch(_) => "elasticsearch",
            OutputSettings::Logstash(_) => "logstash",
            OutputSettings::Console(_) => "console",
            OutputSettings::File(_) => "file",
        }
    }

    /// Most events per batch the output takes.
    pub fn batch_size(&self) -> usize {
        match self {
            OutputSettings::Elasticsearch(es) => es.bulk_max_size,
            OutputSettings::Logstash(l) => l.bulk_max_size * l.pipelining,
            OutputSettings::Console(_) | OutputSettings::File(_) => 2048,
        }
    }

    /// Batches delivered at once. For Elasticsearch, twice the requests that may be in flight: a batch
    /// waiting out a retry backoff holds no request slot, so others take it meanwhile.
    pub fn workers(&self) -> usize {
        match self {
            OutputSettings::Elasticsearch(es) => 2 * es.workers,
            OutputSettings::Logstash(l) => l.workers,
            OutputSettings::Console(_) | OutputSettings::File(_) => 1,
        }
    }
}

/// Waits between retries: doubling from `init` up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffSettings {
    /// First wait.
    pub init: Duration,
    /// Longest wait.
    pub max: Duration,
}

/// Validated `output.elasticsearch`.
#[derive(Clone, Debug)]
pub struct ElasticsearchSettings {
    /// Base URLs (scheme, host, port and `path`), no trailing `/`; several mean failover.
    pub hosts: Vec<String>,
    /// The `Authorization` header value (`Basic …` or `ApiKey …`), if any.
    pub authorization: Option<Secret>,
    /// TLS for `https` hosts: the `ssl` block, or full verification against the system's roots.
    pub tls: TlsSettings,
    /// True if any host is `https`.
    pub uses_tls: bool,
    /// Where each event goes.
    pub index: IndexPattern,
    /// Ingest pipeline, if any.
    pub pipeline: Option<String>,
    /// Most events per bulk request.
    pub bulk_max_size: usize,
    /// Most bulk requests in flight: `worker` per host. The adaptive limit stays between 1 and this.
    pub workers: usize,
    /// gzip level of request bodies, 0 = off.
    pub compression_level: u32,
    /// HTTP request timeout.
    pub timeout: Duration,
    /// Waits between retries.
    pub backoff: BackoffSettings,
    /// Where permanently rejected documents go; `None` drops them (`non_indexable_policy.drop`).
    pub dead_letter_index: Option<String>,
    /// Query parameters of every bulk request (`parameters`).
    pub parameters: Vec<(String, String)>,
    /// Headers of every request (`headers`).
    pub headers: Vec<(String, String)>,
    /// HTTP(S) proxy (`proxy_url`).
    pub proxy: Option<String>,
    /// Elasticsearch, or OpenSearch and how it differs.
    pub flavor: Flavor,
}

/// The cluster an `ElasticsearchSettings` ships to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `output.elasticsearch`.
    Elasticsearch,
    /// `output.opensearch`.
    OpenSearch(super::opensearch::OpenSearchSettings),
}

impl ElasticsearchSettings {
    /// The output's key: `output.elasticsearch` or `output.opensearch`.
    pub fn key(&self) -> &'static str {
        match self.flavor {
            Flavor::Elasticsearch => "output.elasticsearch",
            Flavor::OpenSearch(_) => "output.opensearch",
        }
    }

    /// The OpenSearch settings, for `output.opensearch`.
    pub fn opensearch(&self) -> Option<&super::opensearch::OpenSearchSettings> {
        match &self.flavor {
            Flavor::OpenSearch(o) => Some(o),
            Flavor::Elasticsearch => None,
        }
    }
}

/// Validated `output.logstash`.
#[derive(Clone, Debug)]
pub struct LogstashSettings {
    /// `host:port` of each Logstash (port 5044 when none is given).
    pub hosts: Vec<String>,
    /// Spread batches over every host.
    pub loadbalance: bool,
    /// zlib level of windows, 0 = off.
    pub compression_level: u32,
    /// Most events per window.
    pub bulk_max_size: usize,
    /// How long to wait for an ACK (and for connecting).
    pub timeout: Duration,
    /// Windows in flight per connection.
    pub pipelining: usize,
    /// Batches at once: `worker` per host with `loadbalance`, else `worker`.
    pub workers: usize,
    /// Waits between reconnections.
    pub backoff: BackoffSettings,
    /// TLS, when `ssl` is present and not disabled.
    pub tls: Option<TlsSettings>,
    /// `@metadata.beat` of the events (`index`). Default: `s3logsbeat`.
    pub index: String,
}

/// Validated `output.console`.
#[derive(Clone, Debug)]
pub struct ConsoleSettings {
    /// Indent each event.
    pub pretty: bool,
}

/// Validated `output.file`.
#[derive(Clone, Debug)]
pub struct FileSettings {
    /// Directory of the files.
    pub path: std::path::PathBuf,
    /// Base name of the files.
    pub filename: String,
    /// Rotate when a file would grow past this many bytes.
    pub rotate_bytes: u64,
    /// Files kept, the current one included.
    pub number_of_files: u32,
}

/// Checks `output` (and `cloud.*`, which configures Elasticsearch); every problem goes to `p`.
pub(super) fn validate(
    o: &raw::Outputs,
    cloud: &raw::Cloud,
    p: &mut Problems,
) -> Option<OutputSettings> {
    let mut enabled = Vec::new();
    let mut es = o.elasticsearch.clone();
    if cloud.id.is_some() || cloud.auth.is_some() {
        let mut e = es.take().unwrap_or_else(|| {
            super::tree::from_value(&super::tree::Value::Null).expect("every key has a default")
        });
        apply_cloud(&mut e, cloud, p);
        es = Some(e);
    }
    if let Some(es) = es.as_ref().filter(|x| x.enabled) {
        for (key, there) in [
            ("aws", es.aws.is_some()),
            ("document_id", es.document_id.is_some()),
        ] {
            if there {
                p.push(
                    format!("output.elasticsearch.{key}"),
                    format!("output.elasticsearch.{key} only applies to output.opensearch"),
                );
            }
        }
        enabled.push(
            elasticsearch(es, "output.elasticsearch", p)
                .map(|s| OutputSettings::Elasticsearch(Box::new(s))),
        );
    }
    if let Some(os) = o.opensearch.as_ref().filter(|x| x.enabled) {
        let es = elasticsearch(os, "output.opensearch", p);
        let first = es.as_ref().and_then(|e| e.hosts.first().cloned());
        let added = super::opensearch::validate(os, first.as_deref(), p);
        enabled.push(es.zip(added).map(|(mut es, added)| {
            es.flavor = Flavor::OpenSearch(added);
            OutputSettings::Elasticsearch(Box::new(es))
        }));
    }
    if let Some(ls) = o.logstash.as_ref().filter(|x| x.enabled) {
        enabled.push(logstash(ls, p).map(|s| OutputSettings::Logstash(Box::new(s))));
    }
    if let Some(c) = o.console.as_ref().filter(|x| x.enabled) {
        enabled.push(Some(OutputSettings::Console(ConsoleSettings {
            pretty: c.pretty,
        })));
    }
    if let Some(f) = o.file.as_ref().filter(|x| x.enabled) {
        enabled.push(file(f, p).map(OutputSettings::File));
    }
    match enabled.len() {
        1 => enabled.pop().flatten(),
        0 => {
            p.push("output", "no output configured: set one of output.elasticsearch, output.opensearch, output.logstash, output.console or output.file");
            None
        }
        _ => {
            p.push("output", "more than one output is enabled: keep exactly one of output.elasticsearch, output.opensearch, output.logstash, output.console, output.file");
            None
        }
    }
}

/// `cloud.id` (`name:base64(host$es-id$kibana-id)`) sets the Elasticsearch host, `cloud.auth` its
/// credentials, as beats do.
fn apply_cloud(es: &mut raw::Elasticsearch, cloud: &raw::Cloud, p: &mut Problems) {
    if let Some(id) = &cloud.id {
        match decode_cloud_id(id) {
            Some(url) => es.hosts = vec![url],
            None => p.push(
                "cloud.id",
                "cloud.id is not an Elastic Cloud id (name:base64 of host$es-id$kibana-id)",
            ),
        }
    }
    if let Some(auth) = &cloud.auth {
        match auth.split_once(':') {
            Some((u, pw)) => {
                es.username = Some(u.to_string());
                es.password = Some(pw.to_string());
            }
            None => p.push("cloud.auth", "cloud.auth must be user:password"),
        }
    }
}

/// The Elasticsearch URL of an Elastic Cloud id.
pub fn decode_cloud_id(id: &str) -> Option<String> {
    let b64 = id.rsplit_once(':').map_or(id, |(_, b)| b);
    let text = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let text = String::from_utf8(text).ok()?;
    let mut parts = text.split('$');
    let host = parts.next().filter(|h| !h.is_empty())?;
    let es = parts.next().filter(|e| !e.is_empty())?;
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h, p),
        _ => (host, "443"),
    };
    Some(format!("https://{es}.{host}:{port}"))
}

fn backoff(b: &Backoff, prefix: &str, p: &mut Problems) -> BackoffSettings {
    if b.init.0.is_zero() {
        p.push(
            format!("{prefix}.backoff.init"),
            format!("{prefix}.backoff.init must be more than 0"),
        );
    }
    if b.max.0 < b.init.0 {
        p.push(
            format!("{prefix}.backoff.max"),
            format!(
                "{prefix}.backoff.max ({}) must not be less than backoff.init ({})",
                format_duration(b.max.0),
                format_duration(b.init.0)
            ),
        );
    }
    BackoffSettings {
        init: b.init.0,
        max: b.max.0.max(b.init.0),
    }
}

fn level(v: Option<u32>, default: u32, key: &str, p: &mut Problems) -> u32 {
    let l = v.unwrap_or(default);
    if l > 9 {
        p.push(key, format!("{key} {l} is out of range 0..9"));
    }
    l.min(9)
}

fn at_least_one(v: Option<usize>, default: usize, key: &str, p: &mut Problems) -> usize {
    let n = v.unwrap_or(default);
    if n == 0 {
        p.push(key, format!("{key} must be at least 1"));
    }
    n.max(1)
}

fn positive(
    v: Option<super::values::Dur>,
    default: Duration,
    key: &str,
    p: &mut Problems,
) -> Duration {
    let d = v.map_or(default, |d| d.0);
    if d.is_zero() {
        p.push(key, format!("{key} must be more than 0"));
        return default;
    }
    d
}

/// Checks `output.elasticsearch`, or the same keys under `output.opensearch` (`k`, the key named in
/// problems).
pub(super) fn elasticsearch(
    c: &raw::Elasticsearch,
    k: &str,
    p: &mut Problems,
) -> Option<ElasticsearchSettings> {
    let before = p.len();
    if c.hosts.is_empty() {
        p.push(
            format!("{k}.hosts"),
            format!("{k}.hosts is required: at least one host:port or URL"),
        );
    }
    let protocol = match c.protocol.as_deref() {
        None => None,
        Some(s @ ("http" | "https")) => Some(s),
        Some(other) => {
            p.push(
                format!("{k}.protocol"),
                format!("{k}.protocol {other:?} is neither http nor https"),
            );
            None
        }
    };
    let path = c.path.as_deref().unwrap_or("").trim_matches('/');
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    let mut hosts = Vec::new();
    for (i, h) in c.hosts.iter().enumerate() {
        let key = format!("{k}.hosts.{i}");
        let h = h.trim().trim_end_matches('/');
        let base = match h.split_once("://") {
            Some((scheme @ ("http" | "https"), _)) => {
                if let Some(proto) = protocol.filter(|p| *p != scheme) {
                    p.push(
                        key.clone(),
                        format!("{key}: {h:?} says {scheme}:// but {k}.protocol is {proto}: remove one of them"),
                    );
                }
                h.to_string()
            }
            Some((scheme, _)) => {
                p.push(
                    key.clone(),
                    format!("{key}: {h:?}: {scheme}:// is not http:// or https://"),
                );
                continue;
            }
            None => format!("{}://{h}", protocol.unwrap_or("http")),
        };
        match url::Url::parse(&base) {
            Ok(u) if u.host().is_some() => hosts.push(format!("{base}{path}")),
            Ok(_) => p.push(key.clone(), format!("{key}: {h:?} has no host")),
            Err(e) => p.push(
                key.clone(),
                format!("{key}: {h:?} is not a host or URL: {e}"),
            ),
        }
    }
    let uses_tls = hosts.iter().any(|h| h.starts_with("https://"));
    let authorization = match (&c.username, &c.password, &c.api_key) {
        (_, _, Some(_)) if c.username.is_some() => {
            p.push(format!("{k}.api_key"), format!("{k}.api_key and {k}.username exclude each other: choose one way to authenticate"));
            None
        }
        (_, _, Some(k)) => {
            // `id:api_key` is encoded here; a value without `:` is already the encoded form.
            let encoded = if k.contains(':') {
                base64::engine::general_purpose::STANDARD.encode(k)
            } else {
                k.clone()
            };
            Some(Secret(format!("ApiKey {encoded}")))
        }
        (Some(u), pw, None) => {
            let cred = format!("{u}:{}", pw.as_deref().unwrap_or(""));
            Some(Secret(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(cred)
            )))
        }
        (None, Some(_), None) => {
            p.push(
                format!("{k}.password"),
                format!("{k}.password is set without {k}.username"),
            );
            None
        }
        (None, None, None) => None,
    };
    let tls = match &c.ssl {
        Some(ssl) if ssl.enabled != Some(false) => tls::validate(ssl, k, p).unwrap_or_default(),
        _ => TlsSettings::default(),
    };
    let index = match IndexPattern::parse(c.index.as_deref().unwrap_or(DEFAULT_INDEX)) {
        Ok(i) => Some(i),
        Err(m) => {
            p.push(format!("{k}.index"), format!("{k}.index {m}"));
            None
        }
    };
    let dead_letter_index = match &c.non_indexable_policy {
        None => Some(DEFAULT_DEAD_LETTER_INDEX.to_string()),
        Some(n) if n.drop.is_some() && n.dead_letter_index.is_some() => {
            p.push(
                format!("{k}.non_indexable_policy"),
                format!("{k}.non_indexable_policy: choose drop or dead_letter_index, not both"),
            );
            None
        }
        Some(n) if n.drop.is_some() => None,
        Some(n) => {
            let name = n
                .dead_letter_index
                .as_ref()
                .and_then(|d| d.index.clone())
                .unwrap_or_else(|| DEFAULT_DEAD_LETTER_INDEX.to_string());
            // Checked as the name it is (no pattern, no lower-casing): a dead-letter index Elasticsearch
            // refuses would turn every rejection into a second one.
            let key = format!("{k}.non_indexable_policy.dead_letter_index.index");
            let why = if name.chars().any(|c| c.is_uppercase()) {
                Some("is not valid: it has upper-case letters".to_string())
            } else {
                crate::config::index::check_name(&name).err()
            };
            match why {
                Some(why) => {
                    p.push(key.clone(), format!("{key} {name:?} {why}"));
                    None
                }
                None => Some(name),
            }
        }
    };
    // Every check runs before anything is given up, so all problems are reported at once.
    let workers =
        at_least_one(c.worker, DEFAULT_ES_WORKER, &format!("{k}.worker"), p) * c.hosts.len().max(1);
    let bulk_max_size = at_least_one(c.bulk_max_size, 1600, &format!("{k}.bulk_max_size"), p);
    let compression_level = level(c.compression_level, 1, &format!("{k}.compression_level"), p);
    let timeout = positive(
        c.timeout,
        Duration::from_secs(90),
        &format!("{k}.timeout"),
        p,
    );
    let backoff = backoff(&c.backoff, k, p);
    for (name, value) in &c.headers {
        let bad_name = name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if bad_name || value.contains(['\r', '\n']) {
            p.push(
                format!("{k}.headers.{name}"),
                format!("{k}.headers.{name}: not a valid HTTP header"),
            );
        }
    }
    let proxy = c.proxy_url.clone().filter(|u| !u.is_empty());
    if let Some(u) = &proxy {
        if !(u.starts_with("http://") || u.starts_with("https://")) || url::Url::parse(u).is_err() {
            p.push(
                format!("{k}.proxy_url"),
                format!("{k}.proxy_url {u:?} is not an http:// or https:// proxy URL"),
            );
        }
    }
    if p.len() > before {
        return None;
    }
    Some(ElasticsearchSettings {
        authorization,
        tls,
        uses_tls,
        index: index?,
        pipeline: c.pipeline.clone().filter(|s| !s.is_empty()),
        bulk_max_size,
        workers,
        compression_level,
        timeout,
        backoff,
        dead_letter_index,
        hosts,
        parameters: c
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        headers: c
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        proxy,
        flavor: Flavor::Elasticsearch,
    })
}

fn logstash(c: &raw::Logstash, p: &mut Problems) -> Option<LogstashSettings> {
    const K: &str = "output.logstash";
    let before = p.len();
    if c.hosts.is_empty() {
        p.push(
            format!("{K}.hosts"),
            format!("{K}.hosts is required: at least one host:port"),
        );
    }
    let mut hosts = Vec::new();
    for (i, h) in c.hosts.iter().enumerate() {
        let h = h.trim();
        let key = format!("{K}.hosts.{i}");
        if h.contains("://") {
            p.push(
                key,
                format!("{K}.hosts.{i}: {h:?}: write host:port, without a scheme"),
            );
            continue;
        }
        let hp = match h.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && !host.ends_with(':') => {
                match port.parse::<u16>() {
                    Ok(_) => h.to_string(),
                    Err(_) => {
                        p.push(
                            key,
                            format!("{K}.hosts.{i}: {h:?}: {port:?} is not a port number"),
                        );
                        continue;
                    }
                }
            }
            // A bare name, or an IPv6 address without brackets and port.
            _ => format!("{h}:5044"),
        };
        if hp.starts_with(':') {
            p.push(key, format!("{K}.hosts.{i}: {h:?} has no host"));
            continue;
        }
        hosts.push(hp);
    }
    let tls = match &c.ssl {
        Some(ssl) if ssl.enabled != Some(false) => tls::validate(ssl, K, p),
        _ => None,
    };
    let worker = at_least_one(c.worker, 1, &format!("{K}.worker"), p);
    let settings = LogstashSettings {
        loadbalance: c.loadbalance,
        compression_level: level(c.compression_level, 3, &format!("{K}.compression_level"), p),
        bulk_max_size: at_least_one(c.bulk_max_size, 2048, &format!("{K}.bulk_max_size"), p),
        timeout: positive(
            c.timeout,
            Duration::from_secs(30),
            &format!("{K}.timeout"),
            p,
        ),
        pipelining: at_least_one(c.pipelining, 2, &format!("{K}.pipelining"), p),
        workers: worker * if c.loadbalance { hosts.len().max(1) } else { 1 },
        backoff: backoff(&c.backoff, K, p),
        tls,
        hosts,
        index: c
            .index
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| "s3logsbeat".into()),
    };
    (p.len() == before).then_some(settings)
}

fn file(f: &raw::File, p: &mut Problems) -> Option<FileSettings> {
    const K: &str = "output.file";
    let before = p.len();
    let path = f.path.clone().unwrap_or_default();
    if path.is_empty() {
        p.push(
            format!("{K}.path"),
            format!("{K}.path is required: the directory to write to"),
        );
    }
    let number_of_files = f.number_of_files.unwrap_or(7);
    if !(2..=1024).contains(&number_of_files) {
        p.push(
            format!("{K}.number_of_files"),
            format!("{K}.number_of_files {number_of_files} is out of range 2..1024"),
        );
    }
    let kb = f.rotate_every_kb.unwrap_or(10240);
    if kb == 0 {
        p.push(
            format!("{K}.rotate_every_kb"),
            format!("{K}.rotate_every_kb must be at least 1"),
        );
    }
    let filename = f.filename.clone().unwrap_or_else(|| "s3logsbeat".into());
    if filename.is_empty() || filename.contains('/') {
        p.push(
            format!("{K}.filename"),
            format!("{K}.filename {filename:?} must be a file name, not empty and without /"),
        );
    }
    (p.len() == before).then(|| FileSettings {
        path: path.into(),
        filename,
        rotate_bytes: kb.saturating_mul(1024),
        number_of_files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es(yaml: &str) -> Result<ElasticsearchSettings, Vec<(String, String)>> {
        let c: raw::Elasticsearch = super::super::yaml::from_str(yaml).unwrap();
        let mut p = Problems::default();
        elasticsearch(&c, "output.elasticsearch", &mut p).ok_or(p.list)
    }

    fn ls(yaml: &str) -> Result<LogstashSettings, Vec<(String, String)>> {
        let c: raw::Logstash = super::super::yaml::from_str(yaml).unwrap();
        let mut p = Problems::default();
        logstash(&c, &mut p).ok_or(p.list)
    }

    #[test]
    fn elasticsearch_hosts_protocol_path_and_auth() {
        let e = es("hosts: [\"es1:9200\", \"https://es2:9243/\"]\nprotocol: https\npath: proxy/es\nusername: u\npassword: p\n").unwrap();
        assert_eq!(
            e.hosts,
            vec!["https://es1:9200/proxy/es", "https://es2:9243/proxy/es"]
        );
        assert_eq!(e.authorization, Some(Secret("Basic dTpw".into())));
        assert!(e.uses_tls);
        assert_eq!(e.workers, 2 * DEFAULT_ES_WORKER, "worker per host");
        assert_eq!(e.bulk_max_size, 1600);
        assert_eq!(e.compression_level, 1);
        assert_eq!(
            e.dead_letter_index.as_deref(),
            Some(DEFAULT_DEAD_LETTER_INDEX)
        );
        assert!(
            !format!("{e:?}").contains("dTpw"),
            "Debug hides the credentials"
        );
        let e =
            es("hosts: [es]\napi_key: \"id:secret\"\nnon_indexable_policy: {drop: {}}\n").unwrap();
        assert_eq!(e.authorization, Some(Secret("ApiKey aWQ6c2VjcmV0".into())));
        assert_eq!(e.hosts, vec!["http://es"]);
        assert!(!e.uses_tls);
        assert!(e.dead_letter_index.is_none());
        let e =
            es("hosts: [es]\nnon_indexable_policy: {dead_letter_index: {index: dlq}}\n").unwrap();
        assert_eq!(e.dead_letter_index.as_deref(), Some("dlq"));
        // G5 (fuzz findings of 2026-12-07): accepted, and every dead-letter write then refused.
        for (bad, why) in [
            ("Bad Index/x", "upper-case"),
            ("bad index", "contains a space"),
            ("_dl", "starts with -, _ or +"),
            ("dl:x", "contains a space or one of"),
        ] {
            let errs = es(&format!(
                "hosts: [es]\nnon_indexable_policy: {{dead_letter_index: {{index: {bad:?}}}}}\n"
            ))
            .unwrap_err();
            assert!(
                errs.iter()
                    .any(|(k, m)| k.ends_with("dead_letter_index.index") && m.contains(why)),
                "{bad}: {errs:?}"
            );
        }
    }

    #[test]
    fn elasticsearch_mistakes_are_all_reported() {
        let errs = es("hosts: [\"ftp://x\", \"https://y\"]\nprotocol: http\ncompression_level: 12\nworker: 0\nbackoff: {init: 2s, max: 1s}\nindex: \"%{[]}\"\napi_key: k\nusername: u\n").unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
        for k in [
            "output.elasticsearch.hosts.0",
            "output.elasticsearch.hosts.1",
            "output.elasticsearch.compression_level",
            "output.elasticsearch.worker",
            "output.elasticsearch.backoff.max",
            "output.elasticsearch.index",
            "output.elasticsearch.api_key",
        ] {
            assert!(keys.contains(&k), "{k} in {errs:?}");
        }
        let errs = es("hosts: []\n").unwrap_err();
        assert_eq!(errs[0].0, "output.elasticsearch.hosts");
    }

    #[test]
    fn logstash_hosts_get_the_default_port_and_workers_follow_loadbalance() {
        let l =
            ls("hosts: [a, \"b:5045\", \"[::1]:5046\"]\nloadbalance: true\nworker: 2\n").unwrap();
        assert_eq!(l.hosts, vec!["a:5044", "b:5045", "[::1]:5046"]);
        assert_eq!(l.workers, 6);
        assert_eq!(
            (l.bulk_max_size, l.pipelining, l.compression_level),
            (2048, 2, 3)
        );
        let errs = ls("hosts: [\"tcp://a:1\", \"b:port\"]\npipelining: 0\n").unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "output.logstash.hosts.0",
                "output.logstash.hosts.1",
                "output.logstash.pipelining"
            ]
        );
    }
}
