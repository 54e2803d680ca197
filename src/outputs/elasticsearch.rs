//! `output.elasticsearch`: `_bulk` with `create` and the event's `_id`, reading every item's status.
//!
//! Reference: Elasticsearch's bulk API (`shared/reference/elasticsearch-bulk.md` in the team notes).
//! What must stay true:
//! - An item is done when its status is 2xx, or 409 (`create` of an `_id` that exists: delivered before,
//!   e.g. by a redelivered SQS message). 429 and 5xx items are retried, with backoff, until they succeed.
//!   Any other 4xx is permanent: the event goes to the dead-letter index as a string with the error, or is
//!   dropped only under `non_indexable_policy.drop`. Nothing is decided from `"errors":true` alone.
//! - A whole-request failure (connection error, timeout, 429, 5xx, 401/403) is retried on the next host
//!   after a backoff; nothing is dropped. 413 splits the request in halves; a single document that is still
//!   too large is a permanent rejection.
//! - No `_type` in the action line, so 7.x and 8.x both accept it.

use std::borrow::Cow;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;

use crate::config::raw;
use crate::event::{write_json_str, Event};
use crate::metrics::Metrics;
use crate::queue::Batch;
use crate::shutdown::Shutdown;

use super::{Aborted, SetupError};

/// The default index, as the original's minus its version.
pub const DEFAULT_INDEX: &str = "s3logsbeat-%{+yyyy.MM.dd}";
/// The default dead-letter index.
pub const DEFAULT_DEAD_LETTER_INDEX: &str = "s3logsbeat-deadletter";

/// One piece of an index name pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// `%{+yyyy.MM.dd}`: the event's date (UTC), as a chrono format.
    Date(String),
    /// `%{[a][b]}`: a field of the event.
    Field(Vec<String>),
}

/// `index`: literal text, `%{+yyyy.MM.dd}` dates and `%{[field]}` references, parsed once.
#[derive(Clone, Debug)]
pub struct IndexPattern {
    parts: Vec<Part>,
    has_fields: bool,
}

impl IndexPattern {
    /// Parses a pattern; errors say what is wrong.
    pub fn parse(s: &str) -> Result<IndexPattern, String> {
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find("%{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_string()));
            }
            let end = rest[start..]
                .find('}')
                .map(|e| start + e)
                .ok_or_else(|| format!("index {s:?}: unclosed %{{"))?;
            let inner = &rest[start + 2..end];
            if let Some(fmt) = inner.strip_prefix('+') {
                parts.push(Part::Date(joda_to_chrono(fmt)));
            } else if inner.starts_with('[') && inner.ends_with(']') {
                let path: Vec<String> = inner[1..inner.len() - 1]
                    .split("][")
                    .map(str::to_string)
                    .collect();
                if path.iter().any(|p| p.is_empty()) {
                    return Err(format!("index {s:?}: empty field name in %{{{inner}}}"));
                }
                parts.push(Part::Field(path));
            } else {
                return Err(format!(
                    "index {s:?}: %{{{inner}}} is neither a date (%{{+yyyy.MM.dd}}) nor a field (%{{[field]}})"
                ));
            }
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        let has_fields = parts.iter().any(|p| matches!(p, Part::Field(_)));
        Ok(IndexPattern { parts, has_fields })
    }

    /// The index of an event (lower-cased, as Elasticsearch requires).
    pub fn render(&self, e: &Event) -> String {
        let doc = self.has_fields.then(|| e.doc_json());
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Literal(l) => out.push_str(l),
                Part::Date(f) => {
                    if let Some(dt) = e.timestamp.to_datetime() {
                        out.push_str(&dt.format(f).to_string());
                    }
                }
                Part::Field(path) => {
                    let mut v = doc.as_ref();
                    for k in path {
                        v = v.and_then(|v| v.get(k));
                    }
                    match v {
                        Some(serde_json::Value::String(s)) => out.push_str(s),
                        Some(serde_json::Value::Null) | None => {}
                        Some(other) => out.push_str(&other.to_string()),
                    }
                }
            }
        }
        out.to_lowercase()
    }
}

/// Joda date tokens (libbeat's `%{+yyyy.MM.dd}`) as chrono's.
fn joda_to_chrono(f: &str) -> String {
    let mut out = String::new();
    let mut rest = f;
    let table = [
        ("yyyy", "%Y"),
        ("YYYY", "%Y"),
        ("yy", "%y"),
        ("MM", "%m"),
        ("dd", "%d"),
        ("HH", "%H"),
        ("mm", "%M"),
        ("ss", "%S"),
        ("ww", "%V"),
    ];
    'outer: while !rest.is_empty() {
        for (j, c) in table {
            if let Some(r) = rest.strip_prefix(j) {
                out.push_str(c);
                rest = r;
                continue 'outer;
            }
        }
        let ch = rest.chars().next().expect("not empty");
        if ch == '%' {
            out.push_str("%%");
        } else {
            out.push(ch);
        }
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// One document to send.
struct Item<'a> {
    index: String,
    id: String,
    doc: Cow<'a, str>,
    /// This is already a dead-letter document: a permanent rejection of it is logged and dropped.
    dead_letter: bool,
    source: &'a Event,
}

/// A permanent rejection.
struct Rejected<'a> {
    item: Item<'a>,
    status: u16,
    error: serde_json::Value,
}

/// What a bulk request came back with.
enum Outcome {
    /// Per-item statuses, in request order.
    Items(Vec<ItemStatus>),
    /// 413: too large.
    TooLarge,
    /// Whole-request failure to retry.
    Retry(String),
}

#[derive(Debug, Deserialize)]
struct BulkResponse {
    #[serde(default)]
    items: Vec<std::collections::HashMap<String, ItemStatus>>,
}

#[derive(Debug, Deserialize)]
struct ItemStatus {
    status: u16,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// The Elasticsearch output.
#[derive(Debug)]
pub struct Elasticsearch {
    client: reqwest::Client,
    hosts: Vec<String>,
    next_host: AtomicUsize,
    auth: Option<String>,
    index: IndexPattern,
    pipeline: Option<String>,
    bulk_max_size: usize,
    workers: usize,
    compression: u32,
    backoff_init: Duration,
    backoff_max: Duration,
    dead_letter_index: Option<String>,
    metrics: Arc<Metrics>,
}

impl Elasticsearch {
    /// From `output.elasticsearch`.
    pub fn new(c: &raw::Elasticsearch, metrics: Arc<Metrics>) -> Result<Elasticsearch, SetupError> {
        let err = |key: &str, message: String| SetupError {
            key: format!("output.elasticsearch.{key}"),
            message,
        };
        let protocol = c.protocol.as_deref().unwrap_or("http");
        if protocol != "http" && protocol != "https" {
            return Err(err(
                "protocol",
                format!("{protocol:?} is neither http nor https"),
            ));
        }
        let path = c
            .path
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string();
        let path = if path.is_empty() || path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        let mut hosts = Vec::new();
        for h in &c.hosts {
            let base = if h.starts_with("http://") || h.starts_with("https://") {
                h.trim_end_matches('/').to_string()
            } else {
                format!("{protocol}://{}", h.trim_end_matches('/'))
            };
            reqwest::Url::parse(&base)
                .map_err(|e| err("hosts", format!("{h:?} is not a host or URL: {e}")))?;
            hosts.push(format!("{base}{path}"));
        }
        let mut b = reqwest::Client::builder()
            .timeout(c.timeout.map_or(Duration::from_secs(90), |d| d.0))
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60));
        if let Some(ssl) = &c.ssl {
            for ca in &ssl.certificate_authorities {
                let pem = std::fs::read(ca).map_err(|e| {
                    err(
                        "ssl.certificate_authorities",
                        format!("cannot read {ca}: {e}"),
                    )
                })?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    err(
                        "ssl.certificate_authorities",
                        format!("{ca} is not PEM: {e}"),
                    )
                })?;
                b = b.tls_certs_merge(certs);
            }
            match ssl.verification_mode.as_deref().unwrap_or("full") {
                "full" | "strict" => {}
                "certificate" => b = b.tls_danger_accept_invalid_hostnames(true),
                "none" => b = b.tls_danger_accept_invalid_certs(true),
                other => {
                    return Err(err(
                        "ssl.verification_mode",
                        format!("{other:?}: expected full, certificate or none"),
                    ))
                }
            }
            if let (Some(cert), Some(key)) = (&ssl.certificate, &ssl.key) {
                let mut pem = std::fs::read(cert)
                    .map_err(|e| err("ssl.certificate", format!("cannot read {cert}: {e}")))?;
                pem.extend(
                    std::fs::read(key)
                        .map_err(|e| err("ssl.key", format!("cannot read {key}: {e}")))?,
                );
                let id = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| err("ssl.certificate", e.to_string()))?;
                b = b.identity(id);
            }
        }
        let client = b
            .build()
            .map_err(|e| err("ssl", format!("cannot build the HTTP client: {e}")))?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let auth = match (&c.api_key, &c.username) {
            (Some(k), _) if k.contains(':') => Some(format!("ApiKey {}", b64.encode(k))),
            (Some(k), _) => Some(format!("ApiKey {k}")),
            (None, Some(u)) => Some(format!(
                "Basic {}",
                b64.encode(format!("{u}:{}", c.password.as_deref().unwrap_or("")))
            )),
            (None, None) => None,
        };
        let index = IndexPattern::parse(c.index.as_deref().unwrap_or(DEFAULT_INDEX))
            .map_err(|m| err("index", m))?;
        let dead_letter_index = match &c.non_indexable_policy {
            Some(p) if p.drop.is_some() => None,
            Some(p) => Some(
                p.dead_letter_index
                    .as_ref()
                    .and_then(|d| d.index.clone())
                    .unwrap_or_else(|| DEFAULT_DEAD_LETTER_INDEX.into()),
            ),
            None => Some(DEFAULT_DEAD_LETTER_INDEX.into()),
        };
        Ok(Elasticsearch {
            client,
            hosts,
            next_host: AtomicUsize::new(0),
            auth,
            index,
            pipeline: c.pipeline.clone(),
            bulk_max_size: c.bulk_max_size.unwrap_or(1600),
            workers: c.worker.unwrap_or(1),
            compression: c.compression_level.unwrap_or(1),
            backoff_init: c.backoff.init.0.max(Duration::from_millis(10)),
            backoff_max: c.backoff.max.0.max(c.backoff.init.0),
            dead_letter_index,
            metrics,
        })
    }

    /// `bulk_max_size`.
    pub fn bulk_max_size(&self) -> usize {
        self.bulk_max_size
    }

    /// `worker` × hosts: concurrent bulk requests.
    pub fn workers(&self) -> usize {
        self.workers * self.hosts.len().max(1)
    }

    /// Delivers a batch.
    pub async fn publish(&self, batch: &Batch, shutdown: &Shutdown) -> Result<(), Aborted> {
        let events: Vec<&Event> = batch.events().collect();
        for part in events.chunks(self.bulk_max_size.max(1)) {
            let items = part
                .iter()
                .map(|e| Item {
                    index: self.index.render(e),
                    id: e.id.to_string(),
                    doc: Cow::Borrowed(e.doc.as_str()),
                    dead_letter: false,
                    source: e,
                })
                .collect();
            let rejected = self.send_until_done(items, shutdown).await?;
            self.handle_rejected(rejected, shutdown).await?;
        }
        Ok(())
    }

    /// Sends items until each is delivered or permanently rejected; returns the rejections.
    fn send_until_done<'a>(
        &'a self,
        items: Vec<Item<'a>>,
        shutdown: &'a Shutdown,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Rejected<'a>>, Aborted>> + Send + 'a>> {
        Box::pin(async move {
            let mut pending = items;
            let mut rejected = Vec::new();
            let mut backoff = self.backoff_init;
            while !pending.is_empty() {
                if shutdown.is_aborted() {
                    return Err(Aborted);
                }
                let outcome = {
                    let mut abort = shutdown.clone();
                    tokio::select! {
                        o = self.bulk(&pending) => o,
                        // A request still in flight at abort is abandoned: its events are not acknowledged.
                        _ = abort.aborted() => return Err(Aborted),
                    }
                };
                match outcome {
                    Outcome::Items(statuses) => {
                        let mut retry = Vec::new();
                        let before = pending.len();
                        for (item, st) in pending.into_iter().zip(statuses) {
                            match st.status {
                                200..=299 | 409 => {}
                                429 | 500..=599 => retry.push(item),
                                s => rejected.push(Rejected {
                                    item,
                                    status: s,
                                    error: st.error.unwrap_or(serde_json::Value::Null),
                                }),
                            }
                        }
                        if !retry.is_empty() {
                            Metrics::add(&self.metrics.output_retries, retry.len() as u64);
                            tracing::warn!(
                                retry = retry.len(),
                                of = before,
                                "elasticsearch: items rejected with 429/5xx; retrying them in {:?}",
                                backoff
                            );
                            if !shutdown.sleep(backoff).await {
                                return Err(Aborted);
                            }
                            // Progress (some items went through) keeps the wait short.
                            backoff = if retry.len() < before {
                                self.backoff_init
                            } else {
                                (backoff * 2).min(self.backoff_max)
                            };
                        }
                        pending = retry;
                    }
                    Outcome::TooLarge if pending.len() > 1 => {
                        let second = pending.split_off(pending.len() / 2);
                        tracing::warn!(
                            events = pending.len() + second.len(),
                            "elasticsearch: request too large (413); splitting it"
                        );
                        rejected.extend(self.send_until_done(pending, shutdown).await?);
                        rejected.extend(self.send_until_done(second, shutdown).await?);
                        pending = Vec::new();
                    }
                    Outcome::TooLarge => {
                        let item = pending.pop().expect("one item");
                        rejected.push(Rejected {
                            item,
                            status: 413,
                            error: serde_json::json!({"type": "request_too_large", "reason": "a single document is larger than http.max_content_length"}),
                        });
                    }
                    Outcome::Retry(why) => {
                        Metrics::add(&self.metrics.output_retries, pending.len() as u64);
                        tracing::warn!(
                            error = %why,
                            events = pending.len(),
                            "elasticsearch: bulk request failed; retrying in {:?}",
                            backoff
                        );
                        self.next_host.fetch_add(1, Ordering::Relaxed);
                        if !shutdown.sleep(backoff).await {
                            return Err(Aborted);
                        }
                        backoff = (backoff * 2).min(self.backoff_max);
                    }
                }
            }
            Ok(rejected)
        })
    }

    /// Dead-letters (or drops) permanent rejections.
    async fn handle_rejected(
        &self,
        rejected: Vec<Rejected<'_>>,
        shutdown: &Shutdown,
    ) -> Result<(), Aborted> {
        if rejected.is_empty() {
            return Ok(());
        }
        let mut letters = Vec::new();
        for r in rejected {
            let reason = r
                .error
                .get("reason")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            let etype = r
                .error
                .get("type")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            match (&self.dead_letter_index, r.item.dead_letter) {
                (Some(dl), false) => {
                    tracing::warn!(
                        id = %r.item.id, index = %r.item.index, status = r.status, error_type = %etype, reason = %reason,
                        "elasticsearch: document rejected; writing it to the dead-letter index {dl}"
                    );
                    let mut doc = Vec::new();
                    doc.extend_from_slice(b"{\"@timestamp\":");
                    write_json_str(
                        &mut doc,
                        &Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
                    );
                    doc.extend_from_slice(b",\"message\":");
                    write_json_str(&mut doc, &r.item.doc);
                    doc.extend_from_slice(b",\"error\":{\"status\":");
                    doc.extend_from_slice(r.status.to_string().as_bytes());
                    doc.extend_from_slice(b",\"type\":");
                    write_json_str(&mut doc, &etype);
                    doc.extend_from_slice(b",\"reason\":");
                    write_json_str(&mut doc, &reason);
                    doc.extend_from_slice(b"},\"index\":");
                    write_json_str(&mut doc, &r.item.index);
                    doc.push(b'}');
                    letters.push(Item {
                        index: dl.clone(),
                        id: r.item.id,
                        doc: Cow::Owned(String::from_utf8(doc).expect("JSON writer writes UTF-8")),
                        dead_letter: true,
                        source: r.item.source,
                    });
                }
                (None, _) | (_, true) => {
                    Metrics::add(&self.metrics.events_dropped, 1);
                    tracing::error!(
                        id = %r.item.id, index = %r.item.index, status = r.status, error_type = %etype, reason = %reason,
                        dead_letter = r.item.dead_letter,
                        "elasticsearch: document rejected; dropped (non_indexable_policy.drop, or the dead-letter index refused it)"
                    );
                }
            }
        }
        if letters.is_empty() {
            return Ok(());
        }
        let n = letters.len() as u64;
        let again = self.send_until_done(letters, shutdown).await?;
        Metrics::add(&self.metrics.events_dead_lettered, n - again.len() as u64);
        Box::pin(self.handle_rejected(again, shutdown)).await
    }

    /// One bulk request.
    async fn bulk(&self, items: &[Item<'_>]) -> Outcome {
        let mut body = Vec::with_capacity(items.iter().map(|i| i.doc.len() + 100).sum());
        for i in items {
            body.extend_from_slice(b"{\"create\":{\"_index\":");
            write_json_str(&mut body, &i.index);
            body.extend_from_slice(b",\"_id\":");
            write_json_str(&mut body, &i.id);
            body.extend_from_slice(b"}}\n");
            body.extend_from_slice(i.doc.as_bytes());
            body.push(b'\n');
        }
        let host = &self.hosts[self.next_host.load(Ordering::Relaxed) % self.hosts.len()];
        let mut url = format!("{host}/_bulk?filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason");
        if let Some(p) = &self.pipeline {
            url.push_str("&pipeline=");
            url.push_str(&urlencode(p));
        }
        let mut req = self
            .client
            .post(&url)
            .header("Content-Type", "application/x-ndjson")
            .header("Accept", "application/json");
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let sent = body.len();
        if self.compression > 0 {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(self.compression),
            );
            let _ = enc.write_all(&body);
            match enc.finish() {
                Ok(gz) => req = req.header("Content-Encoding", "gzip").body(gz),
                Err(_) => req = req.body(body),
            }
        } else {
            req = req.body(body);
        }
        Metrics::add(&self.metrics.output_requests, 1);
        tracing::debug!(target: "s3logsbeat::elasticsearch", host = %host, items = items.len(), bytes = sent, "bulk request");
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Retry(format!("{host}: {}", crate::fetch::chain(&e))),
        };
        let status = resp.status().as_u16();
        let text = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Retry(format!(
                    "{host}: reading the response: {}",
                    crate::fetch::chain(&e)
                ))
            }
        };
        match status {
            200 => {}
            413 => return Outcome::TooLarge,
            401 | 403 => {
                tracing::error!(host = %host, status, "elasticsearch: authentication failed; check username/password/api_key");
                return Outcome::Retry(format!("{host}: HTTP {status}: {}", snippet(&text)));
            }
            s => return Outcome::Retry(format!("{host}: HTTP {s}: {}", snippet(&text))),
        }
        let parsed: BulkResponse = match serde_json::from_slice(&text) {
            Ok(p) => p,
            Err(e) => {
                return Outcome::Retry(format!(
                    "{host}: unreadable bulk response ({e}): {}",
                    snippet(&text)
                ))
            }
        };
        if parsed.items.len() != items.len() {
            return Outcome::Retry(format!(
                "{host}: bulk response has {} items for {} actions",
                parsed.items.len(),
                items.len()
            ));
        }
        Outcome::Items(
            parsed
                .items
                .into_iter()
                .map(|mut m| {
                    m.remove("create").unwrap_or(ItemStatus {
                        status: 500,
                        error: Some(serde_json::json!({"type": "s3logsbeat", "reason": "item has no create result"})),
                    })
                })
                .collect(),
        )
    }
}

fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(300)]);
    s.into_owned()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventId, Timestamp};

    fn ev(doc: &str) -> Event {
        Event {
            id: EventId([1; 16]),
            timestamp: Timestamp::from_millis(1_553_360_693_208),
            format: "alb",
            doc: doc.into(),
            parse_failure: false,
        }
    }

    fn es(yaml: &str) -> Result<Elasticsearch, SetupError> {
        let c: raw::Elasticsearch = serde_yaml::from_str(yaml).unwrap();
        Elasticsearch::new(&c, Arc::new(Metrics::default()))
    }

    #[test]
    fn hosts_protocol_path_and_auth() {
        let e = es("hosts: [\"es1:9200\", \"https://es2:9243/\"]\nprotocol: https\npath: proxy/es\nusername: u\npassword: p\n").unwrap();
        assert_eq!(
            e.hosts,
            vec!["https://es1:9200/proxy/es", "https://es2:9243/proxy/es"]
        );
        assert_eq!(e.auth.as_deref(), Some("Basic dTpw"));
        assert_eq!(e.workers(), 2);
        assert_eq!(e.bulk_max_size(), 1600);
        assert_eq!(
            e.dead_letter_index.as_deref(),
            Some(DEFAULT_DEAD_LETTER_INDEX)
        );
        let e =
            es("hosts: [es]\napi_key: \"id:secret\"\nnon_indexable_policy: {drop: {}}\n").unwrap();
        assert_eq!(e.auth.as_deref(), Some("ApiKey aWQ6c2VjcmV0"));
        assert!(e.dead_letter_index.is_none());
        let err = es("hosts: [es]\nprotocol: ftp\n").unwrap_err();
        assert_eq!(err.key, "output.elasticsearch.protocol");
        let err =
            es("hosts: [es]\nssl: {certificate_authorities: [/nonexistent/ca.pem]}\n").unwrap_err();
        assert!(
            err.to_string().contains("cannot read /nonexistent/ca.pem"),
            "{err}"
        );
        let err = es("hosts: [es]\nssl: {verification_mode: maybe}\n").unwrap_err();
        assert_eq!(err.key, "output.elasticsearch.ssl.verification_mode");
    }

    #[test]
    fn index_patterns() {
        let e = ev(r#"{"@timestamp":"x","environment":"Prod","k":{"app":"shop"}}"#);
        assert_eq!(
            IndexPattern::parse(DEFAULT_INDEX).unwrap().render(&e),
            "s3logsbeat-2019.03.23"
        );
        assert_eq!(
            IndexPattern::parse("logs-%{[environment]}-%{[k][app]}-%{+yyyy.MM}")
                .unwrap()
                .render(&e),
            "logs-prod-shop-2019.03"
        );
        assert_eq!(
            IndexPattern::parse("x-%{[missing]}").unwrap().render(&e),
            "x-"
        );
        assert!(IndexPattern::parse("x-%{foo}").is_err());
        assert!(IndexPattern::parse("x-%{+yyyy").is_err());
        assert!(IndexPattern::parse("x-%{[]}").is_err());
    }
}
