//! Documents Elasticsearch refuses for good (a mapping conflict, an index it will not create): rejections
//! in, dead-letter documents sent (or the events dropped under `non_indexable_policy.drop`), counted.
//!
//! A dead-letter document keeps the original as a string in `message`, with the error and the index it
//! was meant for, so nothing is lost and it can be fixed and re-indexed. A dead-letter document that is
//! itself refused (the index closed or read-only, a mapping of its own) is not delivered: it is logged
//! and counted, and the event's group keeps the work, so its SQS message returns after its visibility
//! timeout and, refused again, ends in the queue's dead-letter queue through the redrive policy. Nothing
//! is dropped that the user did not ask to drop (`non_indexable_policy.drop`).

use std::borrow::Cow;

use chrono::{SecondsFormat, Utc};

use super::retry::{Item, Rejected};
use super::Elasticsearch;
use crate::event::write_json_str;
use crate::ops::metrics::Metrics;
use crate::outputs::Aborted;
use crate::shutdown::Shutdown;

/// What OpenSearch Serverless answers a document with an id in a time-series collection.
pub const IDS_REFUSED: &str = "Document ID is not supported in create/index operation request";

/// The dead-letter document of a rejected one.
pub fn document(r: &Rejected<'_>) -> String {
    let mut doc = Vec::with_capacity(r.item.doc.len() + 200);
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
    write_json_str(&mut doc, &r.error_type);
    doc.extend_from_slice(b",\"reason\":");
    write_json_str(&mut doc, &r.reason);
    doc.extend_from_slice(b"},\"index\":");
    write_json_str(&mut doc, &r.item.index);
    doc.push(b'}');
    String::from_utf8(doc).expect("the JSON writer writes UTF-8")
}

impl Elasticsearch {
    /// Dead-letters (or drops) permanent rejections.
    pub(super) async fn handle_rejected(
        &self,
        rejected: Vec<Rejected<'_>>,
        shutdown: &Shutdown,
    ) -> Result<(), Aborted> {
        if rejected.is_empty() {
            return Ok(());
        }
        // An OpenSearch Serverless time-series collection refuses every document that has an id: a
        // setting to change, not documents to dead-letter one by one.
        if let Some(r) = rejected.iter().find(|r| r.reason.contains(IDS_REFUSED)) {
            let why = format!(
                "output.opensearch: the collection refuses document ids ({}: {}); set output.opensearch.document_id: none",
                r.error_type, r.reason
            );
            tracing::error!("{why}");
            for r in &rejected {
                r.item.group.fail(why.clone());
            }
            shutdown.fail(why);
            return Ok(());
        }
        let mut letters = Vec::new();
        for r in rejected {
            match (&self.dead_letter_index, r.item.dead_letter) {
                (Some(dl), false) => {
                    tracing::warn!(
                        id = %r.item.id, index = %r.item.index, status = r.status, error_type = %r.error_type, reason = %r.reason,
                        "elasticsearch: document rejected; writing it to the dead-letter index {dl}"
                    );
                    letters.push(Item {
                        index: dl.clone(),
                        doc: Cow::Owned(document(&r)),
                        id: r.item.id,
                        dead_letter: true,
                        group: r.item.group,
                    });
                }
                (Some(dl), true) => {
                    Metrics::add(&self.metrics.events_dead_letter_refused, 1);
                    tracing::error!(
                        id = %r.item.id, from = %r.item.group.label(), status = r.status, error_type = %r.error_type, reason = %r.reason,
                        "elasticsearch: the dead-letter index {dl} refused the document too; not delivered: \
                         its message is kept and returns after its visibility timeout"
                    );
                    r.item.group.keep(format!(
                        "the dead-letter index {dl} refused event {}: {} {}",
                        r.item.id, r.error_type, r.reason
                    ));
                }
                (None, _) => {
                    Metrics::add(&self.metrics.events_dropped, 1);
                    tracing::error!(
                        id = %r.item.id, index = %r.item.index, status = r.status, error_type = %r.error_type, reason = %r.reason,
                        "elasticsearch: document rejected; dropped (non_indexable_policy.drop)"
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
}
