//! `output.elasticsearch`: a batch of events in, every event delivered (or dead-lettered) out.
//!
//! - [`index`]: the index of each event, from the `index` pattern.
//! - [`bulk`]: the `_bulk` body and the reading of its response, item by item.
//! - [`transport`]: HTTP, gzip, and what requests share: [`hosts`] (health, per-host backoff with
//!   jitter, a probe while a host is down) and [`concurrency`] (the adaptive limit of requests in flight).
//! - [`retry`]: sending until every item is done: 429/5xx items again after a backoff that holds no
//!   request slot, whole-request failures on the next host, 413 split in halves.
//! - [`dead_letter`]: documents Elasticsearch refuses for good.
//! - [`setup`]: `test output` (who answers) and the index template, installed before the first bulk
//!   request.
//!
//! What must stay true: an item is done when its status is 2xx, or 409 (`create` of an `_id` that exists:
//! delivered before, e.g. by a redelivered SQS message); 429 and 5xx items are retried until they succeed;
//! any other 4xx is permanent and goes to the dead-letter index as a string with the error, or is dropped
//! only under `non_indexable_policy.drop`; a dead-letter document refused too is not delivered: its
//! group keeps the work (the SQS message returns after its visibility timeout). Nothing is decided from `"errors":true` alone, and nothing is
//! dropped on a whole-request failure.

pub mod bulk;
pub mod concurrency;
pub mod dead_letter;
pub mod hosts;
pub mod index;
pub mod retry;
pub mod setup;
pub mod sigv4;
pub mod template;
pub mod transport;

use std::borrow::Cow;
use std::sync::Arc;

use crate::backoff::Backoff;
use crate::config::{BackoffSettings, ElasticsearchSettings, IndexPattern};
use crate::ops::metrics::Metrics;
use crate::queue::Batch;
use crate::shutdown::Shutdown;

use super::{Aborted, SetupError};
use retry::{Item, Rejected};
use setup::TemplateError;
use transport::Transport;

/// The index template the output installs before its first bulk request.
#[derive(Debug)]
struct Template {
    name: String,
    body: serde_json::Value,
    overwrite: bool,
    /// An OpenSearch ISM policy installed with it: name, body, overwrite.
    ism: Option<(String, serde_json::Value, bool)>,
    /// Installed, kept, or refused for good: bulk requests may go. Held while an install is tried, so
    /// that the other workers wait for it rather than index into indices without the template.
    settled: tokio::sync::Mutex<bool>,
}

/// The Elasticsearch output.
#[derive(Debug)]
pub struct Elasticsearch {
    transport: Transport,
    index: IndexPattern,
    bulk_max_size: usize,
    backoff: BackoffSettings,
    dead_letter_index: Option<Arc<str>>,
    template: Option<Box<Template>>,
    metrics: Arc<Metrics>,
}

impl Elasticsearch {
    /// From validated settings.
    pub fn new(
        s: &ElasticsearchSettings,
        metrics: Arc<Metrics>,
    ) -> Result<Elasticsearch, SetupError> {
        Ok(Elasticsearch {
            transport: Transport::new(s, metrics.clone())?,
            index: s.index.clone(),
            bulk_max_size: s.bulk_max_size,
            backoff: s.backoff,
            dead_letter_index: s.dead_letter_index.as_deref().map(Arc::from),
            template: None,
            metrics,
        })
    }

    /// Installs the index template `name` (`body`) before the first bulk request, as Filebeat does: an
    /// index created by a first event before its template would keep dynamic mappings for that day.
    pub fn install_template_first(&mut self, name: &str, body: serde_json::Value, overwrite: bool) {
        self.template = Some(Box::new(Template {
            name: name.to_string(),
            body,
            overwrite,
            ism: None,
            settled: tokio::sync::Mutex::new(false),
        }));
    }

    /// With the template, the OpenSearch ISM policy `name` of `body` (`setup.ism`).
    pub fn install_ism_with_template(
        &mut self,
        name: &str,
        body: serde_json::Value,
        overwrite: bool,
    ) {
        if let Some(t) = &mut self.template {
            t.ism = Some((name.to_string(), body, overwrite));
        }
    }

    /// Waits until the index template is settled: installed (or kept), or refused by a host that answers
    /// (logged; delivery goes on without it). While no host can be reached it is tried again after the
    /// output's backoff (with jitter: every shipper of a fleet installs it when the cluster comes back),
    /// and the batches wait, as they would for the bulk request itself. `Err` at abort.
    async fn template_settled(&self, shutdown: &Shutdown) -> Result<(), Aborted> {
        let Some(t) = &self.template else {
            return Ok(());
        };
        let mut settled = t.settled.lock().await;
        let mut backoff = Backoff::from(self.backoff);
        while !*settled {
            if shutdown.is_aborted() {
                return Err(Aborted);
            }
            match setup::install_template(&self.transport, &t.name, &t.body, t.overwrite).await {
                Ok(what) => {
                    tracing::info!("{what}");
                    if let Some((name, body, overwrite)) = &t.ism {
                        match setup::install_ism(&self.transport, name, body, *overwrite).await {
                            Ok(what) => tracing::info!("{what}"),
                            Err(why) => tracing::warn!(
                                "ISM policy {name} not installed: {why}; delivery goes on without it (see `s3logsbeat setup`)"
                            ),
                        }
                    }
                    *settled = true;
                }
                Err(TemplateError::Refused(why)) => {
                    tracing::warn!(
                        "index template {} not installed: {why}; delivery goes on without it (see `s3logsbeat setup`)",
                        t.name
                    );
                    *settled = true;
                }
                Err(TemplateError::Unreachable(why)) => {
                    let wait = backoff.next();
                    tracing::warn!(
                        "index template {} not installed yet: {why}; events wait for it, retrying in {}",
                        t.name,
                        crate::config::values::format_duration(wait)
                    );
                    if !shutdown.sleep(wait).await {
                        return Err(Aborted);
                    }
                }
            }
        }
        Ok(())
    }

    /// The name of the index template installed before the first bulk request, if any.
    pub fn template_name(&self) -> Option<&str> {
        self.template.as_ref().map(|t| t.name.as_str())
    }

    /// The HTTP side, for [`setup`].
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Delivers a batch: every event is indexed (or was already), dead-lettered or dropped by policy;
    /// `Err` only at abort.
    pub async fn publish(&self, batch: &Batch, shutdown: &Shutdown) -> Result<(), Aborted> {
        self.template_settled(shutdown).await?;
        let events: Vec<_> = batch
            .chunks
            .iter()
            .flat_map(|c| c.events.iter().map(|e| (e, c.ack.group())))
            .collect();
        let mut names = index::Names::new(&self.index);
        for part in events.chunks(self.bulk_max_size.max(1)) {
            let mut items = Vec::with_capacity(part.len());
            // An event without a usable index never goes out under a wrong one: it is rejected here,
            // and dead-lettered (or dropped by policy) like a document Elasticsearch refused.
            let mut unindexable = Vec::new();
            for &(e, group) in part {
                let id = e.id.hex();
                let doc = Cow::Borrowed(e.doc.as_str());
                match names.name(e) {
                    Ok(index) => items.push(Item {
                        index,
                        id,
                        doc,
                        dead_letter: false,
                        group,
                    }),
                    Err(reason) => unindexable.push(Rejected {
                        item: Item {
                            index: Arc::from(""),
                            id,
                            doc,
                            dead_letter: false,
                            group,
                        },
                        status: 400,
                        error_type: "s3logsbeat_index_pattern".into(),
                        reason,
                    }),
                }
            }
            let mut rejected = self.send_until_done(items, shutdown).await?;
            rejected.extend(unindexable);
            self.handle_rejected(rejected, shutdown).await?;
        }
        Ok(())
    }
}
