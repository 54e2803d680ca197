//! Reading one S3 object: `GetObject` as a stream into an [`ObjectParser`], events published in chunks.
//!
//! Publishing waits while the queue is full, so a slow output slows reading; the object is never held in
//! memory whole. A missing object (NoSuchKey) is its own outcome: there is nothing to retry, so its message
//! may be deleted. Any other failure (access denied, network, a truncated gzip stream) keeps the message:
//! the events read before the failure were published, and their ids make the re-read harmless.

use aws_sdk_s3::error::SdkError;

use crate::ack::AckGroup;
use crate::config::InputSettings;
use crate::error::chain;
use crate::event::Timestamp;
use crate::object::inflate::{self, Piece};
use crate::object::ObjectRef;
use crate::object::{Compression, ObjectId, ObjectParser, ObjectStats, ReadError};
use crate::ops::metrics::Metrics;
use crate::queue::{QueueSender, Reservation};
use crate::shutdown::Shutdown;

/// Compressed bytes fed to the parser between two publishes.
pub const FEED_BYTES: usize = 8 * 1024;

/// What the body reader answers the inflating thread at shutdown.
const ABORTED: &str = "shutdown while reading";

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

/// An object read to its end.
#[derive(Debug)]
pub struct ObjectRead {
    /// What reading it came to.
    pub stats: ObjectStats,
    /// The ETag of the version read (what a delete after delivery names in `If-Match`).
    pub etag: Option<String>,
    /// Its size in bytes.
    pub size: u64,
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
) -> Result<ObjectRead, FetchError> {
    let path = obj.path();
    let failed = |reason: String| FetchError::Failed {
        path: path.clone(),
        reason,
    };
    let _reading = inflate::Reading::start();
    // Chosen before GetObject: an object no format is chosen for is never downloaded.
    let Some(spec) = input.formats.choose(&obj.bucket, &obj.key) else {
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
    if matches!(
        parser.context().key_match,
        crate::event::enrich::KeyMatch::NoMatch
    ) {
        tracing::warn!(object = %path, "key_regex_fields does not match this key: its events get no key fields");
    }
    let size = resp.content_length().unwrap_or(0);
    let etag = resp.e_tag().map(String::from);
    let mut body = resp.body;
    let mut out = Publisher {
        input,
        queue,
        ack,
        metrics,
        shutdown,
        // Queue slots for the events the next parse makes, taken before it runs: the events a reader
        // holds count against `queue.mem.events`, and a full queue pauses reading before parsing.
        slots: Reservation::default(),
    };
    let read_failed =
        |e: &dyn std::error::Error| failed(format!("reading the body failed: {}", chain(e)));
    let first = match body.try_next().await {
        Ok(Some(c)) => c,
        Ok(None) => Default::default(),
        Err(e) => return Err(read_failed(&e)),
    };
    if first.starts_with(&[0x1f, 0x8b]) && inflate::worth_a_thread(size as u64) {
        // A large gzip object: inflated on a thread of its own, its text parsed here.
        parser.decoded_elsewhere(Compression::Gzip);
        tracing::debug!(object = %path, compressed_bytes = size, "inflating on a thread of its own");
        let runtime = tokio::runtime::Handle::current();
        let stop = shutdown.clone();
        let mut text = inflate::spawn(first, move || {
            match runtime.block_on(stop.unless_aborted(body.try_next())) {
                None => Some(Err(ABORTED.to_string())),
                Some(Ok(None)) => None,
                Some(Ok(Some(c))) => Some(Ok(c)),
                Some(Err(e)) => Some(Err(chain(&e))),
            }
        });
        let read = read_text(&mut text, &mut parser, &mut out).await;
        // The thread is joined whatever the reading's outcome; a panic there is this object's failure.
        if let Err(why) = text.join().await {
            return Err(failed(format!("inflating the object {why}")));
        }
        read?;
    } else {
        let mut chunk = Some(first);
        loop {
            if shutdown.is_aborted() {
                return Err(FetchError::Aborted);
            }
            let c = match chunk.take() {
                Some(c) => c,
                None => match body.try_next().await {
                    Ok(Some(c)) => c,
                    Ok(None) => break,
                    Err(e) => return Err(read_failed(&e)),
                },
            };
            Metrics::add(&metrics.s3_bytes, c.len() as u64);
            out.feed(&mut parser, &c)
                .await?
                .map_err(|e| failed(e.kind.to_string()))?;
        }
    }
    let finished = parser.finish();
    out.publish(&mut parser, 1).await?;
    let stats = finished.map_err(|e| failed(e.kind.to_string()))?;
    Metrics::add(&metrics.lines, stats.lines);
    Metrics::add(&metrics.parse_failures, stats.parse_failures);
    Metrics::add(&metrics.json_values_capped, stats.json_capped);
    if stats.json_capped > 0 {
        tracing::warn!(object = %path, values = stats.json_capped,
            "JSON nested deeper than {} levels: the deepest objects and arrays are kept as their JSON text",
            crate::event::MAX_VALUE_DEPTH);
    }
    if stats.parse_failures > 0 {
        tracing::warn!(object = %path, failures = stats.parse_failures, lines = stats.lines,
            "lines did not parse; shipped as events tagged _s3logsbeat_parse_failure (or dropped under parse_errors: drop)");
    }
    Ok(ObjectRead {
        stats,
        etag,
        size: size.max(0) as u64,
    })
}

/// Parses the text [`inflate`] hands on, to its end; the events of text before a failure are published
/// before the failure is returned.
async fn read_text(
    text: &mut inflate::Inflating,
    parser: &mut ObjectParser<'_>,
    out: &mut Publisher<'_>,
) -> Result<(), FetchError> {
    let path = parser.context().path.clone();
    let failed = |reason: String| FetchError::Failed {
        path: path.clone(),
        reason,
    };
    loop {
        let piece = match out.shutdown.unless_aborted(text.recv()).await {
            None => return Err(FetchError::Aborted),
            Some(p) => p,
        };
        match piece {
            Some(Piece::Text(t, compressed)) => {
                Metrics::add(&out.metrics.s3_bytes, compressed);
                parser.count_compressed(compressed);
                let fed = out.feed(parser, &t).await?;
                text.give_back(t);
                // Plain text fails only in an inner gzip layer (CloudWatch Logs via Firehose).
                fed.map_err(|e| failed(e.kind.to_string()))?;
            }
            Some(Piece::End) => return Ok(()),
            Some(Piece::Failed(_)) if out.shutdown.is_aborted() => return Err(FetchError::Aborted),
            Some(Piece::Failed(e)) => {
                out.publish(parser, 1).await?;
                return Err(failed(e.to_string()));
            }
            // The thread ended without a word: it panicked, and its join says why.
            None => {
                return Err(failed(
                    "the inflating thread ended before the stream did".into(),
                ))
            }
        }
    }
}

/// Where a reader's events go, and the queue slots it holds.
struct Publisher<'a> {
    input: &'a InputSettings,
    queue: &'a QueueSender,
    ack: &'a AckGroup,
    metrics: &'a Metrics,
    shutdown: &'a Shutdown,
    slots: Reservation,
}

impl Publisher<'_> {
    /// Feeds `data` (a body chunk, or text decompressed elsewhere) in small pieces, publishing in
    /// between. The outer `Err` is a shutdown; the inner one the stream's failure, after the events
    /// before it were published.
    async fn feed(
        &mut self,
        parser: &mut ObjectParser<'_>,
        data: &[u8],
    ) -> Result<Result<(), ReadError>, FetchError> {
        // Small pieces, published in between: what one piece decompresses to is bounded (gzip expands
        // at most ~1000×), so the events waiting here never depend on the body's chunk size or the data.
        for piece in data.chunks(FEED_BYTES) {
            self.reserve().await?;
            let mut fed = parser.feed(piece);
            // What one call decodes is bounded too (zstd has no expansion limit): publish, then go on
            // with the backlog, until the piece is used up.
            while fed.is_ok() && parser.has_backlog() {
                self.publish(parser, self.queue.chunk_events()).await?;
                self.reserve().await?;
                fed = parser.resume();
            }
            self.publish(parser, self.queue.chunk_events()).await?;
            if fed.is_err() {
                return Ok(fed);
            }
        }
        Ok(Ok(()))
    }

    /// Holds a chunk's queue slots ([`QueueSender::chunk_events`]) before a parse (waits while the queue
    /// is full).
    async fn reserve(&mut self) -> Result<(), FetchError> {
        let chunk = self.queue.chunk_events();
        if self.slots.len() >= chunk {
            return Ok(());
        }
        // Waiting for queue space at abort: give up reading.
        match self
            .shutdown
            .unless_aborted(self.queue.top_up(&mut self.slots, chunk))
            .await
        {
            Some(Ok(())) => Ok(()),
            Some(Err(_)) | None => Err(FetchError::Aborted),
        }
    }

    /// Publishes the parser's events once at least `min` are waiting, with the reserved slots first.
    async fn publish(
        &mut self,
        parser: &mut ObjectParser<'_>,
        min: usize,
    ) -> Result<(), FetchError> {
        if parser.pending() < min.max(1) {
            return Ok(());
        }
        let mut events: Vec<_> = parser.drain().collect();
        let input = self.input;
        let done = crate::event::processors::finish(
            parser.format(),
            input.field_names,
            &input.processors,
            &mut events,
        )
        .map_err(|reason| FetchError::Failed {
            path: parser.context().path.clone(),
            reason,
        })?;
        Metrics::add(&self.metrics.events_filtered, done.filtered);
        Metrics::add(&self.metrics.json_values_capped, done.capped);
        if events.is_empty() {
            return Ok(());
        }
        let n = events.len() as u64;
        // Waiting for queue space at abort: give up reading.
        match self
            .shutdown
            .unless_aborted(self.queue.send_reserved(events, self.ack, &mut self.slots))
            .await
        {
            Some(Ok(())) => {}
            Some(Err(_)) | None => return Err(FetchError::Aborted),
        }
        Metrics::add(&self.metrics.events_published, n);
        Ok(())
    }
}
