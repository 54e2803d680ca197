//! HTTP to Elasticsearch: an encoded bulk body in, a decoded [`Response`] out, for one host at a time.
//!
//! Hosts are tried in turn: a whole-request failure moves the next request to the next host
//! ([`Transport::fail_over`]), so one dead host does not hold back the others. The body is gzip'ed off
//! the async workers (`spawn_blocking`), since compressing a few MB is too long to block a runtime thread.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::bulk::{self, Response};
use crate::config::{ElasticsearchSettings, Secret};
use crate::error::chain;
use crate::metrics::Metrics;
use crate::outputs::SetupError;

/// The HTTP side of the Elasticsearch output.
#[derive(Debug)]
pub struct Transport {
    client: reqwest::Client,
    hosts: Vec<String>,
    next_host: AtomicUsize,
    authorization: Option<Secret>,
    pipeline: Option<String>,
    compression: u32,
    metrics: Arc<Metrics>,
}

impl Transport {
    /// Builds the HTTP client (TLS only when a host is `https`).
    pub fn new(s: &ElasticsearchSettings, metrics: Arc<Metrics>) -> Result<Transport, SetupError> {
        let mut b = reqwest::Client::builder()
            .timeout(s.timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60));
        if s.uses_tls {
            let tls = crate::outputs::tls::client_config(&s.tls);
            b = b.tls_backend_preconfigured((*tls).clone());
        }
        let client = b.build().map_err(|e| SetupError {
            key: "output.elasticsearch".into(),
            message: format!("cannot build the HTTP client: {}", chain(&e)),
        })?;
        Ok(Transport {
            client,
            hosts: s.hosts.clone(),
            next_host: AtomicUsize::new(0),
            authorization: s.authorization.clone(),
            pipeline: s.pipeline.clone(),
            compression: s.compression_level,
            metrics,
        })
    }

    /// The next request goes to the next host.
    pub fn fail_over(&self) {
        self.next_host.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends one bulk body of `actions` documents; `Err` is the host, for messages, with the response.
    pub async fn bulk(&self, body: Vec<u8>, actions: usize) -> (String, Response) {
        let host = self.hosts[self.next_host.load(Ordering::Relaxed) % self.hosts.len()].clone();
        let mut url = format!("{host}/_bulk?filter_path={}", bulk::FILTER_PATH);
        if let Some(p) = &self.pipeline {
            url.push_str("&pipeline=");
            url.push_str(&crate::percent::encode(p, crate::percent::Set::QueryValue));
        }
        let mut req = self
            .client
            .post(&url)
            .header("Content-Type", "application/x-ndjson")
            .header("Accept", "application/json");
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a.0.as_str());
        }
        let sent = body.len();
        req = if self.compression > 0 {
            let level = self.compression;
            let gz = tokio::task::spawn_blocking(move || {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(body.len() / 4),
                    flate2::Compression::new(level),
                );
                enc.write_all(&body).and_then(|_| enc.finish())
            })
            .await;
            match gz {
                Ok(Ok(gz)) => req.header("Content-Encoding", "gzip").body(gz),
                Ok(Err(e)) => return (host, Response::Retry(format!("gzip: {e}"))),
                Err(e) => return (host, Response::Retry(format!("gzip task: {e}"))),
            }
        } else {
            req.body(body)
        };
        Metrics::add(&self.metrics.output_requests, 1);
        tracing::debug!(target: "s3logsbeat::elasticsearch", host = %host, items = actions, bytes = sent, "bulk request");
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return (host, Response::Retry(chain(&e))),
        };
        let status = resp.status().as_u16();
        match resp.bytes().await {
            Ok(b) => {
                let r = bulk::decode(status, &b, actions);
                (host, r)
            }
            Err(e) => (
                host,
                Response::Retry(format!("reading the response: {}", chain(&e))),
            ),
        }
    }
}
