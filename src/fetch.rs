//! Reading one S3 object: `GetObject` as a stream into an [`ObjectParser`], events published in chunks.
//!
//! Publishing waits while the queue is full, so a slow output slows reading; the object is never held in
//! memory whole. A missing object (NoSuchKey) is its own outcome: there is nothing to retry, so its message
//! may be deleted. Any other failure (access denied, network, a truncated gzip stream) keeps the message:
//! the events read before the failure were published, and their ids make the re-read harmless.

use aws_sdk_s3::error::SdkError;

use crate::ack::AckGroup;
use crate::config::{FieldNames, InputSettings, PUBLISH_CHUNK_EVENTS};
use crate::error::chain;
use crate::event::Timestamp;
use crate::inputs::notification::ObjectRef;
use crate::metrics::Metrics;
use crate::object::{ObjectId, ObjectParser, ObjectStats};
use crate::queue::{QueueSender, Reservation};
use crate::shutdown::Shutdown;

/// Compressed bytes fed to the parser between two publishes.
pub const FEED_BYTES: usize = 8 * 1024;

/// Why an object was not read to its end.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The object does not exist (any more).
    #[error("{0}: object does not exist (NoSuchKey)")]
    Missing(String),
    /// It could not be read; the message is kept.
    #[error("{path}: {reason}")]
    Failed {
        /// `s3://bucket/key`.
        path: String,
        /// What went wrong, with its cause chain.
        reason: String,
    },
    /// No format was chosen for its key (`file_selectors`, `log_format`): not read.
    #[error("{0}: no format for this key (file_selectors, log_format)")]
    Unmatched(String),
    /// Shutdown: reading was abandoned.
    #[error("shutdown while reading")]
    Aborted,
}

/// Reads `obj` in the format its key routes to and publishes its events under `ack`.
pub async fn read_object(
    s3: &aws_sdk_s3::Client,
    obj: &ObjectRef,
    input: &InputSettings,
    queue: &QueueSender,
    ack: &AckGroup,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> Result<ObjectStats, FetchError> {
    let path = obj.path();
    let failed = |reason: String| FetchError::Failed {
        path: path.clone(),
        reason,
    };
    // Chosen before GetObject: an object no format is chosen for is never downloaded.
    let Some(spec) = crate::route::choose(&input.formats, &obj.bucket, &obj.key) else {
        return Err(FetchError::Unmatched(path));
    };
    let resp = match s3
        .get_object()
        .bucket(&obj.bucket)
        .key(&obj.key)
        .send()
        .await
    {
        Ok(r) => {
            metrics.live.aws_access(&format!("s3 {}", obj.bucket), None);
            r
        }
        Err(e) => {
            if let SdkError::ServiceError(se) = &e {
                if se.err().is_no_such_key() {
                    return Err(FetchError::Missing(path.clone()));
                }
            }
            // Credentials or access refused: `/health` says so until a read of this bucket succeeds.
            if let crate::aws::Failure::Permanent(why) = crate::aws::classify_code(
                aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
                String::new,
            ) {
                metrics
                    .live
                    .aws_access(&format!("s3 {}", obj.bucket), Some(&why));
            }
            return Err(failed(format!("GetObject failed: {}", chain(&e))));
        }
    };
    let last_modified = resp.last_modified().map(|t| Timestamp {
        secs: t.secs(),
        nanos: t.subsec_nanos(),
        digits: 3,
    });
    crate::faults::reader(&path);
    let mut parser = ObjectParser::new(
        spec,
        &input.enrich,
        ObjectId {
            path: &path,
            key: &obj.key,
            last_modified,
        },
        input.max_line_bytes,
    );
    if matches!(parser.context().key_match, crate::enrich::KeyMatch::NoMatch) {
        tracing::warn!(object = %path, "key_regex_fields does not match this key: its events get no key fields");
    }
    let mut body = resp.body;
    // Queue slots for the events the next parse makes, taken before it runs: the events a reader
    // holds count against `queue.mem.events`, and a full queue pauses reading before parsing.
    let mut slots = Reservation::default();
    loop {
        if shutdown.is_aborted() {
            return Err(FetchError::Aborted);
        }
        let chunk = match body.try_next().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => return Err(failed(format!("reading the body failed: {}", chain(&e)))),
        };
        Metrics::add(&metrics.s3_bytes, chunk.len() as u64);
        // Small pieces, published in between: what one piece decompresses to is bounded (gzip expands at
        // most ~1000×), so the events waiting here never depend on the body's chunk size or the data.
        for piece in chunk.chunks(FEED_BYTES) {
            reserve(queue, &mut slots, shutdown).await?;
            let mut fed = parser.feed(piece);
            // What one call decodes is bounded too (zstd has no expansion limit): publish, then go on
            // with the backlog, until the piece is used up.
            while fed.is_ok() && parser.has_backlog() {
                publish(
                    &mut parser,
                    input,
                    queue,
                    ack,
                    PUBLISH_CHUNK_EVENTS,
                    metrics,
                    shutdown,
                    &mut slots,
                )
                .await?;
                reserve(queue, &mut slots, shutdown).await?;
                fed = parser.resume();
            }
            publish(
                &mut parser,
                input,
                queue,
                ack,
                PUBLISH_CHUNK_EVENTS,
                metrics,
                shutdown,
                &mut slots,
            )
            .await?;
            fed.map_err(|e| failed(e.kind.to_string()))?;
        }
    }
    let finished = parser.finish();
    publish(
        &mut parser,
        input,
        queue,
        ack,
        1,
        metrics,
        shutdown,
        &mut slots,
    )
    .await?;
    let stats = finished.map_err(|e| failed(e.kind.to_string()))?;
    Metrics::add(&metrics.lines, stats.lines);
    Metrics::add(&metrics.parse_failures, stats.parse_failures);
    if stats.parse_failures > 0 {
        tracing::warn!(object = %path, failures = stats.parse_failures, lines = stats.lines,
            "lines did not parse; shipped as events tagged _s3logsbeat_parse_failure (or dropped under parse_errors: drop)");
    }
    Ok(stats)
}

/// Holds [`PUBLISH_CHUNK_EVENTS`] queue slots before a parse (waits while the queue is full).
async fn reserve(
    queue: &QueueSender,
    slots: &mut Reservation,
    shutdown: &Shutdown,
) -> Result<(), FetchError> {
    if slots.len() >= PUBLISH_CHUNK_EVENTS {
        return Ok(());
    }
    // Waiting for queue space at abort: give up reading.
    match shutdown
        .unless_aborted(queue.top_up(slots, PUBLISH_CHUNK_EVENTS))
        .await
    {
        Some(Ok(())) => Ok(()),
        Some(Err(_)) | None => Err(FetchError::Aborted),
    }
}

/// Publishes the parser's events once at least `min` are waiting, with the reader's reserved slots
/// first.
#[allow(clippy::too_many_arguments)] // the reader's state, passed as it is
async fn publish(
    parser: &mut ObjectParser<'_>,
    input: &InputSettings,
    queue: &QueueSender,
    ack: &AckGroup,
    min: usize,
    metrics: &Metrics,
    shutdown: &Shutdown,
    slots: &mut Reservation,
) -> Result<(), FetchError> {
    if parser.pending() < min.max(1) {
        return Ok(());
    }
    let mut events: Vec<_> = parser.drain().collect();
    if input.field_names == FieldNames::Ecs {
        let format = parser.format();
        for e in &mut events {
            crate::ecs::apply(format, e);
        }
    }
    let processors = &input.processors;
    if !processors.is_empty() {
        let before = events.len();
        events.retain_mut(|e| crate::processors::apply(processors, e));
        Metrics::add(&metrics.events_filtered, (before - events.len()) as u64);
        if events.is_empty() {
            return Ok(());
        }
    }
    let n = events.len() as u64;
    // Waiting for queue space at abort: give up reading.
    match shutdown
        .unless_aborted(queue.send_reserved(events, ack, slots))
        .await
    {
        Some(Ok(())) => {}
        Some(Err(_)) | None => return Err(FetchError::Aborted),
    }
    Metrics::add(&metrics.events_published, n);
    Ok(())
}
