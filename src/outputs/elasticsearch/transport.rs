//! HTTP to Elasticsearch: an encoded bulk body and a host in, a decoded [`Response`] out. The transport
//! also holds what every request shares: the hosts and their health ([`Hosts`], with a probe for each
//! host in backoff) and the limit of requests in flight ([`Limiter`]). The body is gzip'ed as it is
//! encoded, a slice at a time, in one go outside the runtime's scheduling ([`Transport::encode`]), since
//! compressing a few MB at once is too long to hold a runtime thread.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::bulk::{self, Action, Response};
use super::concurrency::Limiter;
use super::hosts::{Host, Hosts, PROBE_EVERY};
use super::sigv4::Signer;
use crate::config::{ElasticsearchSettings, Secret};
use crate::error::chain;
use crate::ops::metrics::Metrics;
use crate::outputs::compress::{Compressors, Framing};
use crate::outputs::SetupError;
use crate::shutdown::Shutdown;

/// Uncompressed bytes encoded before they are compressed: small enough to stay in the CPU's cache.
pub const SLICE_BYTES: usize = 32 * 1024;

/// A bulk request's body, ready to send.
#[derive(Debug)]
pub struct Body {
    /// What goes on the wire.
    pub bytes: Vec<u8>,
    /// Whether `bytes` is gzip'ed.
    pub gzip: bool,
    /// The NDJSON's size before compression.
    pub raw_bytes: usize,
}

/// The HTTP side of the Elasticsearch output.
#[derive(Debug)]
pub struct Transport {
    client: reqwest::Client,
    /// The hosts and their health.
    pub hosts: Arc<Hosts>,
    /// Bulk requests in flight.
    pub limiter: Limiter,
    authorization: Option<Secret>,
    pipeline: Option<String>,
    parameters: Vec<(String, String)>,
    /// gzip for the bodies when `compression_level` is above 0.
    gzip: Option<Compressors>,
    metrics: Arc<Metrics>,
    /// Probes of hosts in backoff; stopped with the transport.
    probes: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// SigV4 signing (`output.opensearch.aws`).
    signer: Option<Arc<Signer>>,
    /// Documents with their `_id`, or without (`output.opensearch.document_id: none`).
    ids: bulk::DocumentIds,
    /// `output.opensearch`.
    opensearch: bool,
}

/// Sends `req`, signed when there is a signer: the response, or why there is none.
async fn send(
    client: &reqwest::Client,
    signer: Option<&Signer>,
    req: reqwest::RequestBuilder,
) -> Result<reqwest::Response, String> {
    let mut req = req.build().map_err(|e| chain(&e))?;
    if let Some(s) = signer {
        s.sign(&mut req).await?;
    }
    client.execute(req).await.map_err(|e| chain(&e))
}

impl Drop for Transport {
    fn drop(&mut self) {
        for p in self
            .probes
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            p.abort();
        }
    }
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
        if let Some(p) = &s.proxy {
            let proxy = reqwest::Proxy::all(p).map_err(|e| SetupError {
                key: "output.elasticsearch.proxy_url".into(),
                message: chain(&e),
            })?;
            b = b.proxy(proxy);
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &s.headers {
            let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(k.as_bytes()),
                reqwest::header::HeaderValue::from_str(v),
            ) else {
                return Err(SetupError {
                    key: format!("output.elasticsearch.headers.{k}"),
                    message: "not a valid HTTP header".into(),
                });
            };
            headers.insert(name, value);
        }
        b = b.default_headers(headers);
        let client = b.build().map_err(|e| SetupError {
            key: "output.elasticsearch".into(),
            message: format!("cannot build the HTTP client: {}", chain(&e)),
        })?;
        Ok(Transport {
            client,
            hosts: Arc::new(Hosts::new(&s.hosts, s.backoff)),
            // One request per host to start with; it grows up to the cap while responses are clean.
            limiter: Limiter::new(s.hosts.len(), s.workers),
            authorization: s.authorization.clone(),
            pipeline: s.pipeline.clone(),
            parameters: s.parameters.clone(),
            gzip: (s.compression_level > 0)
                .then(|| Compressors::new(Framing::Gzip, s.compression_level)),
            metrics,
            probes: Mutex::new(Vec::new()),
            opensearch: s.opensearch().is_some(),
            ids: match s.opensearch().map(|o| o.document_id) {
                Some(crate::config::opensearch::DocumentId::None) => bulk::DocumentIds::None,
                _ => bulk::DocumentIds::Event,
            },
            signer: s
                .opensearch()
                .and_then(|o| o.sigv4.as_ref())
                .map(|v| Arc::new(Signer::new(v))),
        })
    }

    /// Documents go with their event's `_id`.
    pub fn sends_ids(&self) -> bool {
        self.ids == bulk::DocumentIds::Event
    }

    /// The output is `output.opensearch`.
    pub fn is_opensearch(&self) -> bool {
        self.opensearch
    }

    /// The signer, for `output.opensearch` with `aws`.
    pub fn signer(&self) -> Option<&Signer> {
        self.signer.as_deref()
    }

    /// `host` failed a whole request: puts it in backoff, and starts its probe if none runs.
    pub fn host_failed(&self, host: &Arc<Host>, shutdown: &Shutdown) -> Duration {
        let (wait, start_probe) = self.hosts.failed(host);
        if start_probe {
            let (client, auth, hosts, host, shutdown, signer) = (
                self.client.clone(),
                self.authorization.clone(),
                self.hosts.clone(),
                host.clone(),
                shutdown.clone(),
                self.signer.clone(),
            );
            let probe = tokio::spawn(async move {
                // Until the host is up again (a request or this probe found it so), or shutdown.
                while hosts.is_down(&host) && shutdown.sleep(PROBE_EVERY).await {
                    let mut req = client.head(format!("{}/", host.url));
                    if let Some(a) = &auth {
                        req = req.header("Authorization", a.0.as_str());
                    }
                    if matches!(send(&client, signer.as_deref(), req).await, Ok(r) if r.status().is_success())
                    {
                        tracing::info!(target: "s3logsbeat::elasticsearch", host = %host.url, "elasticsearch answers again");
                        hosts.succeeded(&host);
                    }
                }
                hosts.probe_done(&host);
            });
            let mut probes = self.probes.lock().unwrap_or_else(|e| e.into_inner());
            probes.retain(|p| !p.is_finished());
            probes.push(probe);
        }
        wait
    }

    /// A request outside the bulk path (`test output`, the index template) to `base` (a host URL):
    /// the status and body, or why there is none (DNS, connection, TLS, timeout).
    pub async fn request(
        &self,
        method: reqwest::Method,
        base: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, String), String> {
        let mut req = self.client.request(method, format!("{base}{path}"));
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a.0.as_str());
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let resp = send(&self.client, self.signer(), req).await?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| chain(&e))?;
        Ok((status, text))
    }

    /// The body of a bulk request of `actions`, gzip'ed when `compression_level` is above 0.
    ///
    /// Compressed as it is encoded, a slice of [`SLICE_BYTES`] at a time, so the whole uncompressed body
    /// (2.5 MB for 2,048 ALB events) never exists. It runs in one go, in [`tokio::task::block_in_place`]
    /// on a multi-threaded runtime: the runtime hands this worker's other tasks to another thread
    /// meanwhile. Yielding between slices instead put the runtime between every two slices, and while
    /// the readers kept both cores parsing each resumption waited for one of them: a batch took many
    /// times its CPU time to encode, and the queue's slots it held stayed taken. `size_hint` is about
    /// the uncompressed size. An error is the compressor's.
    pub fn encode<'a>(
        &self,
        actions: impl Iterator<Item = Action<'a>>,
        size_hint: usize,
    ) -> std::io::Result<Body> {
        let encode = || self.encode_now(actions, size_hint);
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(encode),
            _ => encode(),
        }
    }

    fn encode_now<'a>(
        &self,
        actions: impl Iterator<Item = Action<'a>>,
        size_hint: usize,
    ) -> std::io::Result<Body> {
        let Some(gzip) = &self.gzip else {
            let bytes = bulk::encode_all(actions, size_hint, self.ids);
            return Ok(Body {
                raw_bytes: bytes.len(),
                bytes,
                gzip: false,
            });
        };
        let mut stream = gzip.stream(size_hint);
        let mut slice = Vec::with_capacity(SLICE_BYTES + SLICE_BYTES / 4);
        let mut raw_bytes = 0;
        for a in actions {
            bulk::encode_as(&mut slice, a, self.ids);
            if slice.len() >= SLICE_BYTES {
                stream.write(&slice)?;
                raw_bytes += slice.len();
                slice.clear();
            }
        }
        stream.write(&slice)?;
        raw_bytes += slice.len();
        Ok(Body {
            bytes: stream.finish()?,
            gzip: true,
            raw_bytes,
        })
    }

    /// Sends one bulk body of `actions` documents to `host`.
    pub async fn bulk(&self, host: &Host, body: Body, actions: usize) -> Response {
        let mut url = format!("{}/_bulk?filter_path={}", host.url, bulk::FILTER_PATH);
        if let Some(p) = &self.pipeline {
            url.push_str("&pipeline=");
            url.push_str(&crate::percent::encode(p, crate::percent::Set::QueryValue));
        }
        for (k, v) in &self.parameters {
            url.push('&');
            url.push_str(&crate::percent::encode(k, crate::percent::Set::QueryValue));
            url.push('=');
            url.push_str(&crate::percent::encode(v, crate::percent::Set::QueryValue));
        }
        let mut req = self
            .client
            .post(&url)
            .header("Content-Type", "application/x-ndjson")
            .header("Accept", "application/json");
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a.0.as_str());
        }
        let sent = body.raw_bytes;
        req = if body.gzip {
            req.header("Content-Encoding", "gzip").body(body.bytes)
        } else {
            req.body(body.bytes)
        };
        Metrics::add(&self.metrics.output_requests, 1);
        tracing::debug!(target: "s3logsbeat::elasticsearch", host = %host.url, items = actions, bytes = sent, "bulk request");
        let began = std::time::Instant::now();
        let response = match send(&self.client, self.signer(), req).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.bytes().await {
                    Ok(b) if status == 403 && self.signer.is_some() => {
                        Response::Unauthorized(super::sigv4::explain_403(
                            &String::from_utf8_lossy(&b),
                            self.signer().expect("checked"),
                        ))
                    }
                    Ok(b) => bulk::decode(status, &b, actions),
                    // A 200 whose body was cut short: whether the items were indexed is unknown, so
                    // they are all sent again (their ids make that harmless).
                    Err(e) => Response::Retry(format!("reading the response: {}", chain(&e))),
                }
            }
            Err(e) => Response::Retry(e),
        };
        let live = &self.metrics.live;
        live.request_seconds.observe(began.elapsed().as_secs_f64());
        match &response {
            // Answered, even with rejections or "busy": reachable.
            Response::Items(_) | Response::TooLarge | Response::Busy(_) => live.output_ok(),
            Response::Retry(why) | Response::Unauthorized(why) => {
                live.output_failed(&format!("{}: {why}", host.url))
            }
        }
        response
    }
}
