//! `s3import`'s source: `s3://bucket/prefix` in, the objects whose LastModified is in `[since, to)` out, a
//! page of `ListObjectsV2` at a time into a bounded channel (so listing never runs far ahead of reading).

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::config::values::S3Uri;
use crate::error::chain;
use crate::object::ObjectRef;
use crate::ops::metrics::Metrics;
use crate::shutdown::Shutdown;

/// A listed object.
#[derive(Clone, Debug)]
pub struct Listed {
    /// The object.
    pub object: ObjectRef,
    /// Its size in bytes.
    pub size: u64,
}

/// Lists one `s3://bucket/prefix` into `out`, keeping objects with LastModified in `[since, to)`.
pub async fn list(
    s3: aws_sdk_s3::Client,
    uri: S3Uri,
    since: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    out: mpsc::Sender<Listed>,
    metrics: std::sync::Arc<Metrics>,
    shutdown: Shutdown,
) {
    let mut pages = s3
        .list_objects_v2()
        .bucket(&uri.bucket)
        .prefix(&uri.prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        if shutdown.is_stopping() {
            return;
        }
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                Metrics::add(&metrics.s3_list_errors, 1);
                tracing::error!(uri = %uri, error = %chain(&e), "ListObjectsV2 failed; this bucket/prefix is not imported");
                return;
            }
        };
        for o in page.contents() {
            let Some(key) = o.key() else { continue };
            if key.ends_with('/') && o.size().unwrap_or(0) == 0 {
                continue; // a "folder" placeholder
            }
            let lm = o
                .last_modified()
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()));
            let inside = match lm {
                None => true,
                Some(t) => since.is_none_or(|s| t >= s) && to.is_none_or(|u| t < u),
            };
            if !inside {
                Metrics::add(&metrics.s3_objects_outside_window, 1);
                tracing::debug!(target: "s3logsbeat::s3", object = %format!("s3://{}/{key}", uri.bucket), last_modified = ?lm, "outside since/to");
                continue;
            }
            let size = o.size().unwrap_or(0).max(0) as u64;
            Metrics::add(&metrics.s3_objects_listed, 1);
            Metrics::add(&metrics.s3_listed_bytes, size);
            let listed = Listed {
                object: ObjectRef {
                    bucket: uri.bucket.clone(),
                    key: key.to_string(),
                    region: None,
                },
                size,
            };
            if out.send(listed).await.is_err() {
                return;
            }
        }
    }
}
