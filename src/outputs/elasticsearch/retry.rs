//! Sending until done: items in, the permanent rejections out. 429 and 5xx items are sent again after
//! the batch's [`Backoff`] (jittered; reset whenever some items went through), while other batches go
//! on; a whole-request failure rests its host (its own backoff, in [`hosts`](super::hosts)) and the items
//! go to the next host that is up; a 413 splits the request in halves, and a single document that is
//! still too large is a permanent rejection. Only an abort gives up.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::bulk::{Action, Response};
use super::hosts::PROBE_EVERY;
use super::Elasticsearch;
use crate::ack::AckGroup;
use crate::backoff::Backoff;
use crate::event::HexId;
use crate::ops::metrics::Metrics;
use crate::outputs::Aborted;
use crate::shutdown::Shutdown;

/// One document to send.
#[derive(Debug)]
pub struct Item<'a> {
    /// Its index (events of one format and day share one).
    pub index: Arc<str>,
    /// Its `_id`.
    pub id: HexId,
    /// The document.
    pub doc: Cow<'a, str>,
    /// This is already a dead-letter document: a permanent rejection of it is not dead-lettered again;
    /// its group keeps the work.
    pub dead_letter: bool,
    /// The unit of work the event belongs to (its SQS message, its imported object).
    pub group: &'a AckGroup,
}

/// A permanent rejection.
#[derive(Debug)]
pub struct Rejected<'a> {
    /// The document.
    pub item: Item<'a>,
    /// Its status.
    pub status: u16,
    /// `error.type`.
    pub error_type: String,
    /// `error.reason`.
    pub reason: String,
}

type Sending<'a> = Pin<Box<dyn Future<Output = Result<Vec<Rejected<'a>>, Aborted>> + Send + 'a>>;

impl Elasticsearch {
    /// Sends items until each is delivered or permanently rejected; returns the rejections.
    ///
    /// Each request waits for a host that is up and for a permit of the in-flight limit, and holds the
    /// permit only while on the wire. Items answered 429/5xx wait out this batch's backoff without a
    /// permit, so other batches go on meanwhile; a whole-request failure puts its host in backoff and
    /// the items go to the next host that is up.
    pub(super) fn send_until_done<'a>(
        &'a self,
        items: Vec<Item<'a>>,
        shutdown: &'a Shutdown,
    ) -> Sending<'a> {
        Box::pin(async move {
            let mut pending = items;
            let mut rejected = Vec::new();
            let mut backoff = Backoff::from(self.backoff);
            let t = &self.transport;
            while !pending.is_empty() {
                if shutdown.is_aborted() {
                    return Err(Aborted);
                }
                let host = match t.hosts.pick() {
                    Ok(h) => h,
                    Err(wait) => {
                        // Every host is in backoff: wait for the first to come back (or its probe).
                        if !shutdown.sleep(wait.min(PROBE_EVERY)).await {
                            return Err(Aborted);
                        }
                        continue;
                    }
                };
                let size: usize = pending.iter().map(|i| i.doc.len() + 100).sum();
                let actions = pending.iter().map(|i| Action {
                    index: &i.index,
                    id: i.id.as_str(),
                    doc: &i.doc,
                });
                let request = async {
                    let body = match t.encode(actions, size) {
                        Ok(b) => b,
                        Err(e) => return Response::Retry(format!("gzip: {e}")),
                    };
                    let _permit = t.limiter.acquire().await;
                    t.bulk(&host, body, pending.len()).await
                };
                // A request still in flight at abort is abandoned: its events are not acknowledged.
                let Some(response) = shutdown.unless_aborted(request).await else {
                    return Err(Aborted);
                };
                match response {
                    Response::Items(statuses) => {
                        t.hosts.succeeded(&host);
                        let overloaded = statuses.iter().any(|s| s.status == 429);
                        t.limiter.record(overloaded);
                        let mut retry = Vec::new();
                        let before = pending.len();
                        for (item, st) in pending.into_iter().zip(statuses) {
                            match st.status {
                                200..=299 | 409 => {}
                                429 | 500..=599 => retry.push(item),
                                s => rejected.push(Rejected {
                                    status: s,
                                    error_type: st.error_type().to_string(),
                                    reason: st.reason().to_string(),
                                    item,
                                }),
                            }
                        }
                        if !retry.is_empty() {
                            Metrics::add(&self.metrics.output_retries, retry.len() as u64);
                            let wait = backoff.next();
                            tracing::warn!(
                                retry = retry.len(),
                                of = before,
                                "elasticsearch: items rejected with 429/5xx; retrying them in {:?}",
                                wait
                            );
                            if !shutdown.sleep(wait).await {
                                return Err(Aborted);
                            }
                            // Progress (some items went through) keeps the next wait short; only a
                            // request that moved nothing doubles it.
                            if retry.len() < before {
                                backoff.reset();
                            }
                        }
                        pending = retry;
                    }
                    Response::TooLarge if pending.len() > 1 => {
                        t.hosts.succeeded(&host);
                        let second = pending.split_off(pending.len() / 2);
                        tracing::warn!(
                            events = pending.len() + second.len(),
                            "elasticsearch: request too large (413); splitting it"
                        );
                        rejected.extend(self.send_until_done(pending, shutdown).await?);
                        rejected.extend(self.send_until_done(second, shutdown).await?);
                        pending = Vec::new();
                    }
                    Response::TooLarge => {
                        t.hosts.succeeded(&host);
                        let item = pending.pop().expect("one item");
                        rejected.push(Rejected {
                            item,
                            status: 413,
                            error_type: "request_too_large".into(),
                            reason: "a single document is larger than http.max_content_length"
                                .into(),
                        });
                    }
                    Response::Unauthorized(why) | Response::Busy(why) | Response::Retry(why) => {
                        t.limiter.record(why.starts_with("HTTP 429"));
                        Metrics::add(&self.metrics.output_retries, pending.len() as u64);
                        let wait = t.host_failed(&host, shutdown);
                        tracing::warn!(
                            host = %host.url,
                            error = %why,
                            events = pending.len(),
                            "elasticsearch: bulk request failed; this host rests {:?}, the items go to the next host that is up",
                            wait
                        );
                    }
                }
            }
            Ok(rejected)
        })
    }
}
