//! One S3 object as a stream: bytes in, events out.
//!
//! [`ObjectParser`] is push-based so that the same code serves a file (`s3logsbeat parse`), a benchmark
//! and an S3 `GetObject` body arriving in chunks: call [`ObjectParser::feed`] with each chunk, take the
//! events with [`ObjectParser::drain`] (and publish them before feeding more: that is where backpressure
//! applies), then call [`ObjectParser::finish`].
//!
//! What must stay true:
//! - Compression is detected from the first bytes (gzip `1f 8b`, zstd `28 b5 2f fd`), never from the
//!   key: ALB writes `.log.gz`, classic ELB plain `.log`, and users rename things. Multi-member gzip is
//!   read to its end. A truncated or corrupt stream is an error for the whole object (the caller keeps the
//!   SQS message), never a silent end.
//! - Memory does not grow with the object: the decoder works on small slices and a line longer than
//!   `max_line_bytes` is cut there, shipped with `log.flags: ["truncated"]`, and the rest of it skipped.
//! - `log.offset` is the byte offset of the unit's first byte (a line, a CloudTrail record, a CloudWatch
//!   payload's entry) in the decompressed object; for `cloudwatch`, after the inner gzip is undone.

pub mod fetch;
pub mod framing;
pub mod gunzip;
pub mod inflate;
pub mod reader;

use std::borrow::Cow;
use std::fmt;

use crate::event::doc::DocBuf;
use crate::event::enrich::{EnrichSettings, ObjectContext};
use crate::event::ids::IdBatch;
use crate::event::{Event, EventId, Timestamp};
use crate::formats::{ErrorKind, FormatSpec, LineKind, LineOut, LineParser, ParseError};
use crate::object::framing::{Framer, JsonSplitter, JsonUnits, Line, LineSplitter};
use crate::object::gunzip::GzipStream;
use crate::scan::is_plain_ascii;

pub use crate::config::DEFAULT_MAX_LINE_BYTES;

/// Compressed input is handed to the decoder in slices of this size: gzip expands at most about 1000×,
/// so one slice decodes to at most about 1 MiB.
const DECODE_SLICE: usize = 1024;

/// One call of [`ObjectParser::feed`] or [`ObjectParser::resume`] stops decoding once it has produced
/// this many decompressed bytes or [`EVENT_BUDGET`] events, and keeps the rest of its input as a backlog.
/// zstd has no expansion limit (an RLE block of 4 bytes stands for 128 KiB), so without this budget a
/// few KB of input could make millions of events wait in memory before the caller drains them.
const BYTE_BUDGET: u64 = 1 << 20;

/// See [`BYTE_BUDGET`]. As many events as a reader reserves queue slots for before a parse
/// ([`crate::config::PUBLISH_CHUNK_EVENTS`]), so that the events it holds beyond its reservation are at
/// most the lines of one decoding step's text (a [`DECODE_SLICE`] of gzip: about 8 KiB of load balancer
/// logs, at most about 1 MiB; 64 KiB of zstd or plain text).
const EVENT_BUDGET: usize = crate::config::PUBLISH_CHUNK_EVENTS;

/// What an object that AWS writes beside the logs is, when it is not a log and is skipped unread: ELB's
/// test file, a CloudTrail digest (recognised by key; a digest under another key is recognised at its
/// end by its fields). `None` for a log.
pub fn not_a_log(spec: &FormatSpec, key: &str) -> Option<&'static str> {
    if matches!(spec, FormatSpec::Alb | FormatSpec::Elb) && key.ends_with("ELBAccessLogTestFile") {
        Some("the load balancer's test file")
    } else if matches!(spec, FormatSpec::Cloudtrail) && key.contains("CloudTrail-Digest") {
        Some("a CloudTrail digest")
    } else {
        None
    }
}

/// The compression of an object, as sniffed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    /// Not yet known (fewer than 4 bytes seen).
    #[default]
    Unknown,
    /// Plain text.
    None,
    /// gzip, possibly several members.
    Gzip,
    /// zstd, possibly several frames.
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Unknown => "unknown",
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// Reading an object failed: its events so far were produced, the rest are missing.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct ReadError {
    /// The object.
    pub path: String,
    /// What went wrong.
    pub kind: ReadErrorKind,
}

/// Why an object could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    /// The compressed stream is corrupt.
    #[error("corrupt {compression} stream: {source}")]
    Corrupt {
        /// Which decoder failed.
        compression: Compression,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// The compressed stream ended early.
    #[error("{compression} stream is truncated (ends inside a member/frame)")]
    Truncated {
        /// Which decoder.
        compression: Compression,
    },
}

/// Counts for one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectStats {
    /// The compression that was detected.
    pub compression: Compression,
    /// Bytes fed in (compressed).
    pub bytes_in: u64,
    /// Bytes after decompression.
    pub bytes: u64,
    /// Lines seen, blank and header lines included.
    pub lines: u64,
    /// Blank lines skipped.
    pub blank_lines: u64,
    /// Header lines (CloudFront `#...`) consumed.
    pub header_lines: u64,
    /// Events produced (failure events included).
    pub events: u64,
    /// Records that did not parse (shipped as failure events, or dropped under `parse_errors: drop`).
    pub parse_failures: u64,
    /// Lines cut at `max_line_bytes`.
    pub truncated_lines: u64,
    /// Lines that were not valid UTF-8 (invalid bytes replaced by U+FFFD).
    pub invalid_utf8_lines: u64,
    /// Units that are not data by design (CloudWatch Logs `CONTROL_MESSAGE`s), skipped.
    pub skipped_records: u64,
    /// JSON objects and arrays decoded from the log that nest deeper than a document may, kept as
    /// their JSON text ([`crate::formats::LineOut::push_json`]).
    pub json_capped: u64,
    /// The object was skipped as not being a log (ELB's `ELBAccessLogTestFile`, a CloudTrail digest).
    pub skipped: bool,
    /// The object is binary (a NUL byte in its first 4 KiB of text): one failure event, its text ignored.
    pub binary: bool,
}

impl ObjectStats {
    /// Adds another object's counts.
    pub fn add(&mut self, o: &ObjectStats) {
        self.bytes_in += o.bytes_in;
        self.bytes += o.bytes;
        self.lines += o.lines;
        self.blank_lines += o.blank_lines;
        self.header_lines += o.header_lines;
        self.events += o.events;
        self.parse_failures += o.parse_failures;
        self.truncated_lines += o.truncated_lines;
        self.invalid_utf8_lines += o.invalid_utf8_lines;
        self.skipped_records += o.skipped_records;
        self.json_capped += o.json_capped;
    }
}

/// Parses and enriches lines; the part of [`ObjectParser`] that sees decompressed text.
#[derive(Debug)]
struct LineHandler<'s> {
    /// The start of the text, gathered until [`BINARY_SNIFF`] bytes decide whether it is binary.
    head: Option<Vec<u8>>,
    parser: LineParser<'s>,
    ctx: ObjectContext,
    /// Lines are parsed straight into their documents ([`ObjectContext::write_direct`]): the format
    /// can ([`LineParser::has_direct`]) and the settings keep its fields as they are. Its field names
    /// are those of its index template, which `tests/component/template.rs` checks against what it writes.
    direct: bool,
    scratch: LineOut<'static>,
    /// Events produced and not yet drained, without their documents: those are in `docs`, in the same
    /// order.
    events: Vec<Pending>,
    /// The documents of `events`, written back to back into 64 KiB blocks (see [`crate::event::doc`]).
    docs: DocBuf,
    /// Ids of events in `events` still being computed (set before the events are drained).
    ids: IdBatch,
    stats: ObjectStats,
    /// A second gzip layer inside the text (`cloudwatch` only).
    inner: Inner,
}

/// An event before it is drained: its document is the next one in [`LineHandler::docs`].
#[derive(Debug)]
struct Pending {
    id: EventId,
    timestamp: Timestamp,
    parse_failure: bool,
}

/// A second gzip layer: Firehose writes CloudWatch Logs payloads as gzip members, and compresses the
/// object again. Decided from the first two bytes of the (outer-decoded) text.
enum Inner {
    /// Not for this format.
    Off,
    /// Fewer than two bytes of text seen.
    Sniffing(Vec<u8>),
    /// The text is not gzip.
    Plain,
    /// Decoding; `backlog` is input not decoded yet because the call's budget ran out.
    Gzip { dec: GzipStream, backlog: Vec<u8> },
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Inner::Off => "Off",
            Inner::Sniffing(_) => "Sniffing",
            Inner::Plain => "Plain",
            Inner::Gzip { .. } => "Gzip",
        })
    }
}

/// The start of an object that is checked for NUL bytes: text logs have none, so one there means the
/// object is not a log (a gzip inside a gzip, an image, a tarball).
const BINARY_SNIFF: u64 = 4096;

impl LineHandler<'_> {
    /// Ships the one failure event of a binary object, whose first NUL byte is at `at`.
    fn binary_object(&mut self, at: u64) {
        self.stats.binary = true;
        self.object_failure("(binary object)", ErrorKind::BinaryObject(at));
    }

    /// Ships one failure event for the object as a whole, with `text` as its message.
    fn object_failure(&mut self, text: &str, kind: ErrorKind) {
        self.stats.parse_failures += 1;
        let mut out: LineOut<'_> = std::mem::take(&mut self.scratch).recycle();
        out.finish(0, 0..text.len(), Err(ParseError::new(kind, "", "")));
        let id = self.ctx.event_id(0, b"");
        let rec = &out.records[0];
        if let Some((timestamp, parse_failure)) =
            self.ctx
                .write_document(&mut self.docs, &out, rec, text, 0, false)
        {
            self.stats.events += 1;
            self.events.push(Pending {
                id,
                timestamp,
                parse_failure,
            });
        }
        self.scratch = out.recycle();
    }

    fn on_line(&mut self, line: Line<'_>) {
        self.stats.lines += 1;
        let mut raw = line.bytes;
        if let [rest @ .., b'\r'] = raw {
            raw = rest;
        }
        if raw.iter().all(u8::is_ascii_whitespace) {
            self.stats.blank_lines += 1;
            return;
        }
        if line.truncated {
            self.stats.truncated_lines += 1;
        }
        // One scan of the line: printable ASCII without `\` (nearly every AWS log line) is valid UTF-8,
        // and its quote-free slices need no JSON escaping, so neither the UTF-8 check nor each value's
        // escape scan is needed.
        let plain = is_plain_ascii(raw);
        let text: Cow<'_, str> = if plain {
            // SAFETY: printable ASCII bytes are valid UTF-8.
            Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(raw) })
        } else {
            match std::str::from_utf8(raw) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => {
                    self.stats.invalid_utf8_lines += 1;
                    String::from_utf8_lossy(raw)
                }
            }
        };
        if self.direct {
            self.direct_line(raw, &text, plain, line.offset, line.truncated);
            return;
        }
        let lossy = matches!(text, Cow::Owned(_));
        let mut out: LineOut<'_> = std::mem::take(&mut self.scratch).recycle();
        if plain {
            out.set_plain_line();
        }
        let kind = self.parser.parse_line(&text, &mut out);
        self.stats.json_capped += out.json_capped();
        if kind == LineKind::Header {
            self.stats.header_lines += 1;
        } else if kind == LineKind::Skipped {
            self.stats.skipped_records += 1;
        } else {
            let several = out.records.len() > 1;
            for rec in &out.records {
                if rec.result.is_err() {
                    self.stats.parse_failures += 1;
                }
                // Offsets are bytes of the object: where invalid UTF-8 became U+FFFD, positions in the
                // text are mapped back to positions in the raw line.
                let at = |p: usize| {
                    if lossy {
                        raw_position(raw, p)
                    } else {
                        p.min(raw.len())
                    }
                };
                let start = at(rec.span.start);
                // A line of one record is hashed whole; with several (JSON values back to back) each
                // hashes its own bytes, or a long line of many would cost the square of its length.
                let id_bytes = if several {
                    &raw[start..at(rec.span.end).max(start)]
                } else {
                    raw
                };
                let offset = line.offset + start as u64;
                let written = self.ctx.write_document(
                    &mut self.docs,
                    &out,
                    rec,
                    &text,
                    offset,
                    line.truncated,
                );
                if let Some((timestamp, parse_failure)) = written {
                    self.add_event(timestamp, parse_failure, offset, id_bytes);
                }
            }
        }
        self.scratch = out.recycle();
    }

    /// Counts an event whose document was just written into `docs` and queues its id, over `id_bytes`
    /// at `offset`: the id is set when its batch is hashed, at the latest in `ObjectParser::drain`.
    #[inline(always)]
    fn add_event(
        &mut self,
        timestamp: Timestamp,
        parse_failure: bool,
        offset: u64,
        id_bytes: &[u8],
    ) {
        self.stats.events += 1;
        self.events.push(Pending {
            id: EventId([0; 16]),
            timestamp,
            parse_failure,
        });
        let events = &mut self.events;
        let at = events.len() - 1;
        if let Some(id) = self
            .ids
            .add(offset, id_bytes, at, |at, id| events[at].id = id)
        {
            events[at].id = id;
        }
    }

    /// [`LineHandler::on_line`] for a format parsed straight into the document: one record, the whole
    /// line, hashed whole for its id.
    #[inline(always)]
    fn direct_line(&mut self, raw: &[u8], text: &str, plain: bool, offset: u64, truncated: bool) {
        let parser = &self.parser;
        let written =
            self.ctx
                .write_direct(&mut self.docs, text, plain, offset, truncated, |fields| {
                    parser
                        .parse_direct(text, fields)
                        .expect("direct is set only for a format that has it")
                });
        // Only a line that failed is written as no event (under `parse_errors: drop`).
        match written {
            None => self.stats.parse_failures += 1,
            Some((timestamp, parse_failure)) => {
                if parse_failure {
                    self.stats.parse_failures += 1;
                }
                self.add_event(timestamp, parse_failure, offset, raw);
            }
        }
    }
}

/// The byte position in `raw` of byte position `pos` of `String::from_utf8_lossy(raw)`, where each
/// invalid sequence became one U+FFFD (3 bytes).
fn raw_position(raw: &[u8], pos: usize) -> usize {
    let (mut text, mut bytes) = (0usize, 0usize);
    for chunk in raw.utf8_chunks() {
        let valid = chunk.valid().len();
        if pos <= text + valid {
            return bytes + (pos - text);
        }
        text += valid;
        bytes += valid;
        let invalid = chunk.invalid().len();
        if invalid > 0 {
            if pos < text + 3 {
                return bytes;
            }
            text += 3;
            bytes += invalid;
        }
    }
    bytes + pos.saturating_sub(text)
}

/// What one call may still decode (see [`BYTE_BUDGET`]).
struct Budget {
    bytes: u64,
    events_at_start: usize,
    events_now: usize,
}

impl Budget {
    fn new(events: usize) -> Budget {
        Budget {
            bytes: 0,
            events_at_start: events,
            events_now: events,
        }
    }

    fn spend(&mut self, bytes: usize, events_now: usize) {
        self.bytes += bytes as u64;
        self.events_now = events_now;
    }

    fn exhausted(&self) -> bool {
        self.bytes >= BYTE_BUDGET || self.events_now - self.events_at_start >= EVENT_BUDGET
    }
}

enum Decoder {
    /// Fewer than 4 bytes seen: the compression is not known yet.
    Sniffing(Vec<u8>),
    Plain,
    Gzip(GzipStream),
    Zstd {
        dec: Box<zstd::stream::raw::Decoder<'static>>,
        out: Vec<u8>,
        /// The last call reported a complete frame (zstd's hint 0).
        frame_done: bool,
        /// The last call filled the output buffer: the decoder may hold more output.
        more_output: bool,
    },
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decoder::Sniffing(_) => "Sniffing",
            Decoder::Plain => "Plain",
            Decoder::Gzip(_) => "Gzip",
            Decoder::Zstd { .. } => "Zstd",
        })
    }
}

/// Reads one object: decompression, lines, parsing, enrichment.
#[derive(Debug)]
pub struct ObjectParser<'s> {
    decoder: Decoder,
    splitter: Framer,
    handler: LineHandler<'s>,
    /// Compressed input not decoded yet because the last call used its budget.
    backlog: Vec<u8>,
    /// What is fed is text decompressed elsewhere (see [`ObjectParser::decoded_elsewhere`]).
    decoded_elsewhere: bool,
}

/// Where an object comes from, for its events.
#[derive(Clone, Debug)]
pub struct ObjectId<'a> {
    /// `s3://bucket/key`, or a file path.
    pub path: &'a str,
    /// The decoded S3 key (what `key_regex_fields` is applied to).
    pub key: &'a str,
    /// The object's LastModified, the time of failure events.
    pub last_modified: Option<Timestamp>,
}

impl<'s> ObjectParser<'s> {
    /// A parser for one object.
    pub fn new(
        spec: &'s FormatSpec,
        settings: &EnrichSettings,
        object: ObjectId<'_>,
        max_line_bytes: usize,
    ) -> ObjectParser<'s> {
        let ctx = ObjectContext::new(
            settings,
            spec.format(),
            object.path,
            object.key,
            object.last_modified,
        );
        let skipped = not_a_log(spec, object.key).is_some();
        let splitter = match spec {
            FormatSpec::Cloudtrail => {
                Framer::Json(JsonSplitter::new(JsonUnits::Records, max_line_bytes))
            }
            FormatSpec::Cloudwatch(_) => Framer::Sniff {
                max: max_line_bytes,
                seen: Vec::new(),
            },
            _ => Framer::Lines(LineSplitter::new(max_line_bytes)),
        };
        let inner = if matches!(spec, FormatSpec::Cloudwatch(_)) {
            Inner::Sniffing(Vec::with_capacity(2))
        } else {
            Inner::Off
        };
        let ids = IdBatch::new(ctx.id_key());
        let mut parser = LineParser::new(spec);
        // Records that carry no time of their own (a VPC flow log layout without `start` or `end`) take
        // the one AWS wrote into the file name, else the object's LastModified.
        parser.set_object_time(
            crate::formats::route::time_in_key(object.key).or(object.last_modified),
        );
        ObjectParser {
            backlog: Vec::new(),
            decoded_elsewhere: false,
            decoder: Decoder::Sniffing(Vec::with_capacity(4)),
            splitter,
            handler: LineHandler {
                head: Some(Vec::new()),
                direct: parser.has_direct()
                    && ctx.keeps_all(
                        crate::outputs::elasticsearch::template::fields(spec.format())
                            .iter()
                            .map(|f| f.0),
                    ),
                parser,
                ctx,
                scratch: LineOut::new(),
                events: Vec::new(),
                docs: DocBuf::default(),
                ids,
                stats: ObjectStats {
                    skipped,
                    ..Default::default()
                },
                inner,
            },
        }
    }

    /// Says that what will be fed is the object's text, decompressed elsewhere from `compression`
    /// ([`crate::object::inflate`]); the compressed bytes are counted with [`ObjectParser::count_compressed`].
    /// Called before anything is fed.
    pub fn decoded_elsewhere(&mut self, compression: Compression) {
        debug_assert!(
            matches!(&self.decoder, Decoder::Sniffing(b) if b.is_empty()),
            "called before the first feed"
        );
        self.decoder = Decoder::Plain;
        self.decoded_elsewhere = true;
        self.handler.stats.compression = compression;
    }

    /// Counts compressed bytes read for text decompressed elsewhere.
    pub fn count_compressed(&mut self, bytes: u64) {
        self.handler.stats.bytes_in += bytes;
    }

    /// The format it reads.
    pub fn format(&self) -> crate::config::LogFormat {
        self.handler.parser.spec().format()
    }

    /// The object's context (path, key match).
    pub fn context(&self) -> &ObjectContext {
        &self.handler.ctx
    }

    /// The counts so far.
    pub fn stats(&self) -> ObjectStats {
        ObjectStats {
            bytes: self.splitter.offset(),
            ..self.handler.stats.clone()
        }
    }

    /// Takes the events produced so far. Their documents share one buffer (see [`crate::event::doc`]).
    pub fn drain(&mut self) -> std::vec::IntoIter<Event> {
        let h = &mut self.handler;
        let events = &mut h.events;
        h.ids.finish(|at, id| events[at].id = id);
        debug_assert_eq!(h.events.len(), h.docs.len());
        let format = h.ctx.format();
        let drained: Vec<Event> = (h.events.drain(..))
            .zip(h.docs.freeze())
            .map(|(p, doc)| Event {
                id: p.id,
                timestamp: p.timestamp,
                format,
                doc,
                parse_failure: p.parse_failure,
            })
            .collect();
        drained.into_iter()
    }

    /// Events waiting to be drained.
    pub fn pending(&self) -> usize {
        self.handler.events.len()
    }

    /// Feeds the next bytes of the object. Decoding stops once this call has produced about 1 MiB of
    /// text or [`crate::config::PUBLISH_CHUNK_EVENTS`] events; the rest waits in a backlog: take the
    /// events, then call [`ObjectParser::resume`] while [`ObjectParser::has_backlog`] says so, before
    /// feeding more.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), ReadError> {
        if self.handler.stats.skipped {
            return Ok(());
        }
        if !self.decoded_elsewhere {
            self.handler.stats.bytes_in += data.len() as u64;
        }
        if !self.backlog.is_empty() {
            // Called without draining the backlog first: keep the order, and still obey the budget.
            self.backlog.extend_from_slice(data);
            return self.resume();
        }
        if let Decoder::Sniffing(buf) = &mut self.decoder {
            let need = 4 - buf.len();
            if data.len() < need {
                buf.extend_from_slice(data);
                return Ok(());
            }
            let mut head = std::mem::take(buf);
            head.extend_from_slice(&data[..need]);
            self.decoder = decoder_for(&head);
            self.handler.stats.compression = compression_of(&self.decoder);
            let mut budget = Budget::new(self.handler.events.len());
            let used = self.decode(&head, &mut budget)?;
            debug_assert_eq!(used, head.len(), "4 bytes never exhaust the budget");
            return self.decode_or_keep(&data[need..], budget);
        }
        let budget = Budget::new(self.handler.events.len());
        self.decode_or_keep(data, budget)
    }

    /// Feeds `data` and decodes all of it, calling `take` after each call's budget (and at the end), so
    /// that no more than one budget's events wait at a time. For callers that can take events
    /// synchronously; the daemon's reader loops over [`ObjectParser::resume`] itself, publishing between.
    pub fn feed_all(
        &mut self,
        data: &[u8],
        mut take: impl FnMut(&mut Self),
    ) -> Result<(), ReadError> {
        let mut r = self.feed(data);
        take(self);
        while r.is_ok() && self.has_backlog() {
            r = self.resume();
            take(self);
        }
        r
    }

    /// True if input (or output the decoder holds) is waiting to be decoded (see [`ObjectParser::feed`]).
    pub fn has_backlog(&self) -> bool {
        !self.backlog.is_empty()
            || matches!(&self.handler.inner, Inner::Gzip { backlog, .. } if !backlog.is_empty())
            || matches!(
                self.decoder,
                Decoder::Zstd {
                    more_output: true,
                    ..
                }
            )
    }

    /// Decodes more of the backlog, within one call's budget.
    pub fn resume(&mut self) -> Result<(), ReadError> {
        let mut budget = Budget::new(self.handler.events.len());
        // The inner layer's backlog comes before anything the outer one still has to decode.
        if let Inner::Gzip { backlog, .. } = &mut self.handler.inner {
            if !backlog.is_empty() {
                let data = std::mem::take(backlog);
                push(&mut self.splitter, &mut self.handler, &mut budget, &data)?;
                if budget.exhausted() {
                    return Ok(());
                }
            }
        }
        let data = std::mem::take(&mut self.backlog);
        self.decode_or_keep(&data, budget)
    }

    fn decode_or_keep(&mut self, data: &[u8], mut budget: Budget) -> Result<(), ReadError> {
        let used = self.decode(data, &mut budget)?;
        if used < data.len() {
            self.backlog.extend_from_slice(&data[used..]);
        }
        Ok(())
    }

    /// Decodes from `data` until it is used up or the budget is; returns how many bytes were used.
    fn decode(&mut self, data: &[u8], budget: &mut Budget) -> Result<usize, ReadError> {
        let Self {
            decoder,
            splitter,
            handler,
            ..
        } = self;
        match decoder {
            Decoder::Sniffing(_) => unreachable!("decode runs after sniffing"),
            Decoder::Plain => {
                let mut used = 0;
                for piece in data.chunks(64 * 1024) {
                    push(splitter, handler, budget, piece)?;
                    used += piece.len();
                    if budget.exhausted() {
                        break;
                    }
                }
                Ok(used)
            }
            Decoder::Gzip(dec) => {
                let mut used = 0;
                for piece in data.chunks(DECODE_SLICE) {
                    // The text is pushed from the decoder's own buffer; the first push error stops the
                    // pushing (the rest of the piece is still decoded, so that the stream stays whole).
                    let mut pushed = Ok(());
                    let r = dec.write(piece, &mut |text| {
                        if pushed.is_ok() {
                            pushed = push(splitter, handler, budget, text);
                        }
                    });
                    pushed?;
                    if let Err(e) = r {
                        return Err(ReadError {
                            path: handler.ctx.path.clone(),
                            kind: ReadErrorKind::Corrupt {
                                compression: Compression::Gzip,
                                source: e,
                            },
                        });
                    }
                    used += piece.len();
                    if budget.exhausted() {
                        break;
                    }
                }
                Ok(used)
            }
            Decoder::Zstd {
                dec,
                out,
                frame_done,
                more_output,
            } => {
                use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
                let mut input = InBuffer::around(data);
                loop {
                    let mut ob = OutBuffer::around(out.as_mut_slice());
                    let consumed_before = input.pos();
                    let r = dec.run(&mut input, &mut ob);
                    let produced = ob.pos();
                    push(splitter, handler, budget, &out[..produced])?;
                    match r {
                        // Only a call that did something says where the frame is: after a frame that
                        // ended exactly on a full output buffer, the extra call with nothing left to do
                        // answers with the header size of a next frame, which is not a truncation.
                        Ok(hint) if produced > 0 || input.pos() > consumed_before => {
                            *frame_done = hint == 0
                        }
                        Ok(_) => {}
                        Err(e) => {
                            return Err(ReadError {
                                path: handler.ctx.path.clone(),
                                kind: ReadErrorKind::Corrupt {
                                    compression: Compression::Zstd,
                                    source: e,
                                },
                            })
                        }
                    }
                    // A full output buffer means the decoder may hold more for the next call.
                    *more_output = produced == out.len();
                    if (input.pos() == data.len() && !*more_output) || budget.exhausted() {
                        return Ok(input.pos());
                    }
                }
            }
        }
    }

    /// Ends the object: flushes the decoder and the last line. Returns the counts, or the error if the
    /// compressed stream ended early (the events before the error were produced).
    pub fn finish(&mut self) -> Result<ObjectStats, ReadError> {
        if self.handler.stats.skipped {
            return Ok(self.handler.stats.clone());
        }
        if let Decoder::Sniffing(buf) = &mut self.decoder {
            // A tiny object: whatever it has is plain text (or nothing).
            let head = std::mem::take(buf);
            self.decoder = decoder_for(&head);
            self.handler.stats.compression = compression_of(&self.decoder);
            self.decode(&head, &mut Budget::new(0))?;
        }
        // Whatever the caller left in the backlog is decoded now (its events wait to be drained).
        while self.has_backlog() {
            self.resume()?;
        }
        let Self {
            decoder,
            splitter,
            handler,
            ..
        } = self;
        match decoder {
            Decoder::Gzip(dec) => {
                if !dec.finish() {
                    return Err(ReadError {
                        path: handler.ctx.path.clone(),
                        kind: ReadErrorKind::Truncated {
                            compression: Compression::Gzip,
                        },
                    });
                }
            }
            Decoder::Zstd { frame_done, .. } => {
                if !*frame_done {
                    return Err(ReadError {
                        path: handler.ctx.path.clone(),
                        kind: ReadErrorKind::Truncated {
                            compression: Compression::Zstd,
                        },
                    });
                }
            }
            Decoder::Plain | Decoder::Sniffing(_) => {}
        }
        match std::mem::replace(&mut handler.inner, Inner::Plain) {
            // Text of one byte: not gzip.
            Inner::Sniffing(head) => text(splitter, handler, &mut Budget::new(0), &head),
            Inner::Gzip { dec, backlog } => {
                debug_assert!(backlog.is_empty(), "resumed above");
                if !dec.finish() {
                    return Err(ReadError {
                        path: handler.ctx.path.clone(),
                        kind: ReadErrorKind::Truncated {
                            compression: Compression::Gzip,
                        },
                    });
                }
            }
            Inner::Off | Inner::Plain => {}
        }
        // An object shorter than the binary check's window is decided now.
        if flush_head(splitter, handler) {
            splitter.finish(&mut |l: Line<'_>| handler.on_line(l));
        }
        if matches!(handler.parser.spec(), FormatSpec::Cloudtrail) && !handler.stats.binary {
            let shape = splitter.shape();
            if shape.digest && !shape.records {
                // A digest file under another name: not events, and not a failure either.
                handler.stats.skipped = true;
            } else if !shape.records {
                handler.object_failure(
                    "(no Records array)",
                    ErrorKind::NotThisFormat(
                        "a CloudTrail log: the object has no top-level Records array",
                    ),
                );
            }
        }
        handler.stats.bytes = splitter.offset();
        Ok(handler.stats.clone())
    }
}

/// Hands decompressed bytes on: through the inner gzip layer when there is one (see [`Inner`]; its
/// input beyond the call's budget waits in its backlog), then to [`text`].
fn push(
    splitter: &mut Framer,
    handler: &mut LineHandler<'_>,
    budget: &mut Budget,
    bytes: &[u8],
) -> Result<(), ReadError> {
    match &mut handler.inner {
        Inner::Off | Inner::Plain => {
            text(splitter, handler, budget, bytes);
            Ok(())
        }
        Inner::Sniffing(head) => {
            let take = bytes.len().min(2 - head.len());
            head.extend_from_slice(&bytes[..take]);
            if head.len() < 2 {
                return Ok(());
            }
            let head = std::mem::take(head);
            handler.inner = if head == [0x1f, 0x8b] {
                Inner::Gzip {
                    dec: GzipStream::new(),
                    backlog: Vec::new(),
                }
            } else {
                Inner::Plain
            };
            push(splitter, handler, budget, &head)?;
            push(splitter, handler, budget, &bytes[take..])
        }
        Inner::Gzip { backlog, .. } if !backlog.is_empty() => {
            // Called before the backlog was resumed: keep the order.
            backlog.extend_from_slice(bytes);
            Ok(())
        }
        Inner::Gzip { .. } => {
            let Inner::Gzip {
                mut dec,
                mut backlog,
            } = std::mem::replace(&mut handler.inner, Inner::Plain)
            else {
                unreachable!("matched above")
            };
            let mut result = Ok(());
            for (i, piece) in bytes.chunks(DECODE_SLICE).enumerate() {
                if budget.exhausted() {
                    backlog.extend_from_slice(&bytes[i * DECODE_SLICE..]);
                    break;
                }
                let r = dec.write(piece, &mut |t| text(splitter, handler, budget, t));
                if let Err(e) = r {
                    result = Err(ReadError {
                        path: handler.ctx.path.clone(),
                        kind: ReadErrorKind::Corrupt {
                            compression: Compression::Gzip,
                            source: e,
                        },
                    });
                    break;
                }
            }
            handler.inner = Inner::Gzip { dec, backlog };
            result
        }
    }
}

/// Hands decompressed text to the framer, a new closure per push so that the handler's event count can
/// be read between pushes. The start of the text is checked for NUL bytes first; a binary object gets
/// its one event there (see [`LineHandler::binary_object`]) and its text is ignored from then on, while
/// the stream is still decoded to its end.
fn text(splitter: &mut Framer, handler: &mut LineHandler<'_>, budget: &mut Budget, bytes: &[u8]) {
    if handler.stats.binary {
        // Still decoded to the end, so that a corrupt or truncated stream is reported as such.
        budget.spend(bytes.len(), handler.events.len());
        return;
    }
    let mut rest = bytes;
    if let Some(head) = &mut handler.head {
        // The first 4 KiB are gathered whole before any line is parsed, so that where the chunks of an
        // object fall never changes whether it is binary (found by the object-stream fuzzer).
        let take = rest.len().min(BINARY_SNIFF as usize - head.len());
        head.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        if head.len() < BINARY_SNIFF as usize {
            budget.spend(bytes.len(), handler.events.len());
            return;
        }
        if !flush_head(splitter, handler) {
            budget.spend(bytes.len(), handler.events.len());
            return;
        }
    }
    splitter.push(rest, &mut |l: Line<'_>| handler.on_line(l));
    budget.spend(bytes.len(), handler.events.len());
}

/// Decides on the gathered start of the text: binary (its one event; false), or text (pushed; true).
fn flush_head(splitter: &mut Framer, handler: &mut LineHandler<'_>) -> bool {
    let Some(head) = handler.head.take() else {
        return !handler.stats.binary;
    };
    if let Some(p) = memchr::memchr(0, &head) {
        handler.binary_object(p as u64);
        return false;
    }
    splitter.push(&head, &mut |l: Line<'_>| handler.on_line(l));
    true
}

fn decoder_for(head: &[u8]) -> Decoder {
    if head.starts_with(&[0x1f, 0x8b]) {
        Decoder::Gzip(GzipStream::new())
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Decoder::Zstd {
            dec: Box::new(zstd::stream::raw::Decoder::new().expect("zstd decoder allocates")),
            out: vec![0; 64 * 1024],
            frame_done: false,
            more_output: false,
        }
    } else {
        Decoder::Plain
    }
}

fn compression_of(d: &Decoder) -> Compression {
    match d {
        Decoder::Sniffing(_) => Compression::Unknown,
        Decoder::Plain => Compression::None,
        Decoder::Gzip(_) => Compression::Gzip,
        Decoder::Zstd { .. } => Compression::Zstd,
    }
}

/// Feeds a whole object to a parser in `chunk`-byte pieces, as an S3 body arrives, taking the events
/// between pieces as the readers do; returns every event and the counts, or why the object could not be
/// read to its end (with the events made before that). For tools and tests: the daemon publishes as it
/// goes instead of collecting.
pub fn parse_all(
    spec: &FormatSpec,
    settings: &EnrichSettings,
    object: ObjectId<'_>,
    data: &[u8],
    chunk: usize,
    max_line_bytes: usize,
) -> (Vec<Event>, Result<ObjectStats, ReadError>) {
    let mut p = ObjectParser::new(spec, settings, object, max_line_bytes);
    let mut events = Vec::new();
    for c in data.chunks(chunk.max(1)) {
        if let Err(e) = p.feed_all(c, |p| events.extend(p.drain())) {
            return (events, Err(e));
        }
    }
    let r = p.finish();
    events.extend(p.drain());
    (events, r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::enrich::ParseErrorPolicy;
    use crate::formats::json::JsonOptions;
    use crate::formats::time::TimeFormat;
    use std::io::Write;

    fn json_spec() -> FormatSpec {
        FormatSpec::Json(JsonOptions {
            timestamp_field: "t".into(),
            timestamp_format: TimeFormat::UnixMillis,
        })
    }

    /// Runs `data` through a parser in chunks of `chunk` bytes.
    fn run(
        spec: &FormatSpec,
        data: &[u8],
        chunk: usize,
        max: usize,
    ) -> (Vec<serde_json::Value>, Result<ObjectStats, String>) {
        let id = ObjectId {
            path: "s3://b/k",
            key: "k",
            last_modified: None,
        };
        let (events, r) = parse_all(spec, &EnrichSettings::new("n", "h"), id, data, chunk, max);
        (
            events.iter().map(Event::doc_json).collect(),
            r.map_err(|e| e.to_string()),
        )
    }

    const TEXT: &[u8] =
        b"{\"t\":1,\"a\":\"x\"}\r\n\n   \n{\"t\":2,\"a\":\"y\"}\n{\"t\":3,\"a\":\"\xff\"}";

    #[test]
    fn lines_offsets_crlf_blank_and_no_final_newline_at_any_chunking() {
        for chunk in [1, 2, 3, 5, 7, 64, 4096] {
            let (ev, st) = run(&json_spec(), TEXT, chunk, 1 << 20);
            let st = st.unwrap();
            assert_eq!(ev.len(), 3, "chunk {chunk}");
            let offsets: Vec<_> = ev
                .iter()
                .map(|e| e["log"]["offset"].as_u64().unwrap())
                .collect();
            assert_eq!(offsets, vec![0, 22, 38], "chunk {chunk}");
            assert_eq!(ev[2]["a"], "\u{FFFD}");
            assert_eq!(st.lines, 5);
            assert_eq!(st.blank_lines, 2);
            assert_eq!(st.invalid_utf8_lines, 1);
            assert_eq!(st.compression, Compression::None);
            assert_eq!(st.bytes, TEXT.len() as u64);
        }
    }

    /// Lines that are not plain ASCII, or whose fields hold a quote, go the checked way: each document
    /// is valid JSON with the same values as the format's own output (written with every escape scan),
    /// and the plain line's values, copied without a scan, are the same too. Debug builds also check
    /// each value copied without a scan (`write_clean_str`).
    #[test]
    fn alb_values_are_written_escaped_exactly_when_they_need_it() {
        let head = "http 2024-07-02T22:23:00.186641Z";
        let mid = r#"10.0.0.1:80 0.1 0.2 0.3 200 200 1 2"#;
        let lines = [
            format!(r#"{head} app/lb/1 1.2.3.4:5 {mid} "GET http://x/a HTTP/1.1" "curl/8" c TLSv1.2 arn "Root=1""#),
            // A quote inside an unquoted field, and a quote in a column the format does not read.
            format!(r#"{head} app/l"b/1 1.2.3.4:5 {mid} "GET http://x/a HTTP/1.1" "curl/8" c TLSv1.2 arn "Root=1" - - 1 - "a,b" - - "x" "y" z"q z z z z z"#),
            // An escaped quote and a backslash in quoted fields.
            format!(r#"{head} app/lb/1 1.2.3.4:5 {mid} "GET http://x/\"a\\ HTTP/1.1" "say \"hi\"" c TLSv1.2 arn "Root=1""#),
            // Not ASCII; a tab and a DEL inside quoted fields.
            format!("{head} app/lb/1 1.2.3.4:5 {mid} \"GET http://x/caf\u{e9} HTTP/1.1\" \"a\tb\x7f\" c TLSv1.2 arn \"Root=1\""),
            format!("{head} app/lb/1 1.2.3.4:5 {mid} \"GET http://x/a\tb HTTP/1.1\" \"a\x7fb\" c TLSv1.2 arn \"Root=1\""),
        ];
        let data = lines.join("\n");
        let (events, st) = run(&FormatSpec::Alb, data.as_bytes(), 4096, 1 << 20);
        assert_eq!(st.unwrap().parse_failures, 0);
        assert_eq!(events.len(), lines.len());
        for (line, doc) in lines.iter().zip(&events) {
            let want = crate::formats::test_util::parse_one(&FormatSpec::Alb, line).unwrap();
            for (k, v) in want.as_object().unwrap() {
                assert_eq!(&doc[k], v, "{k} of {line:?}");
            }
        }
        assert_eq!(events[1]["elb"], "app/l\"b/1");
        assert_eq!(events[2]["user_agent"], "say \"hi\"");
        assert_eq!(events[2]["request_url"], "http://x/\"a\\");
        assert_eq!(events[3]["user_agent"], "a\tb\u{7f}");
        assert_eq!(events[4]["request_url"], "http://x/a\tb");
    }

    /// ALB and classic ELB lines are written straight into their documents (`write_direct`): every kind
    /// of line gives, byte for byte, the document of the general writer over a `LineOut`, with the same
    /// id and stats, under both `parse_errors` policies.
    #[test]
    fn direct_documents_equal_the_general_writer_byte_for_byte() {
        let head = "http 2024-07-02T22:23:00.186641Z app/lb/1 1.2.3.4:5";
        let mid = "10.0.0.1:80 0.1 0.2 0.3 200 200 1 2";
        let alb: Vec<Vec<u8>> = [
            format!(r#"{head} {mid} "GET http://x/a HTTP/1.1" "curl/8" c TLSv1.2 arn "Root=1" "d" "-" 1 2024-07-02T22:22:48.364000Z "waf,forward" "-" "-" "10.0.0.1:80 10.0.0.2:80" "200 201" "-" "-" T "h" "/u" "S" extra"#),
            format!(r#"{head} - -1 -1 -1 - - 211 288 "- - - " "-" - - - "-""#),
            format!(r#"{head} {mid} "GET http://x/a HTTP/1.1""#),
            format!(r#"http 2024-07-02T22:23:00Z app/l"b/1 1.2.3.4:5 {mid} "GET / HTTP/1.1" "ua" c p arn "R" - - 1 - "a,b""#),
            format!(r#"{head} {mid} "GET http://x/\"a\\ HTTP/1.1" "say \"hi\"" c TLSv1.2 arn "Root=1""#),
            format!("{head} {mid} \"GET http://x/caf\u{e9} HTTP/1.1\" \"a\tb\x7f\" c TLSv1.2 arn \"Root=1\""),
            format!("http 2024-07-02T22:23:00.1+02:00 app/lb/1 1.2.3.4:5 {mid} \"GET / HTTP/1.1\""),
            format!("{head} {mid} \"GET / HTTP/1.1\" \"ua\" c p arn \"R\" - - x1"),
            format!("http yesterday app/lb/1 1.2.3.4:5 {mid} \"GET / HTTP/1.1\""),
            format!("{head} 10.0.0.1 0.1 0.2 0.3 200 200 1 2 \"GET / HTTP/1.1\""),
            format!("{head} {mid} \"GET / HTTP/1.1"),
            head.to_string(),
            format!("{head} {mid} \"GET /{} HTTP/1.1\"", "a".repeat(400)),
        ]
        .into_iter()
        .map(String::into_bytes)
        .chain([
            [format!("{head} {mid} \"GET /\u{e9} HTTP/1.1\" \"").as_bytes(), b"\xff\""].concat(),
            [head.as_bytes(), b" 10.0.0.1:80 0.1 0.2 0.3 200 200 1 2 \"GET /\xff HTTP/1.1\""].concat(),
        ])
        .collect();
        let elb_head = "2015-05-13T23:39:43.945958Z my-lb 192.168.131.39:2817";
        let elb: Vec<Vec<u8>> = [
            format!(r#"{elb_head} 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -"#),
            format!(r#"{elb_head} 10.0.0.1:80 0.001069 0.000028 0.000041 - - 82 305 "- - - " "-" - -"#),
            format!(r#"{elb_head} - -1 -1 -1 504 0 0 0 "GET http://x:80/ HTTP/1.1" "a \"q\"" c p"#),
            format!(r#"{elb_head} 10.0.0.1:80 0.1 0.1 0.1 2o0 200 0 29 "GET / HTTP/1.1""#),
            elb_head.to_string(),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect();
        // Each format's lines, with how many fail and how many are cut at 300 bytes.
        for (spec, lines, failures, truncated) in
            [(FormatSpec::Alb, &alb, 6, 1), (FormatSpec::Elb, &elb, 2, 0)]
        {
            let data = lines.join(&b'\n');
            for policy in [ParseErrorPolicy::Ship, ParseErrorPolicy::Drop] {
                let mut settings = EnrichSettings::new("n", "h");
                settings.parse_errors = policy;
                settings.tags = vec!["t".into()];
                let [direct, general] = [true, false].map(|direct| {
                    let id = ObjectId {
                        path: "s3://b/k",
                        key: "k",
                        last_modified: Some(Timestamp::from_millis(5_000)),
                    };
                    let mut p = ObjectParser::new(&spec, &settings, id, 300);
                    assert!(p.handler.direct, "{spec:?} is written directly");
                    p.handler.direct = direct;
                    let mut events = Vec::new();
                    for c in data.chunks(97) {
                        p.feed_all(c, |p| events.extend(p.drain())).unwrap();
                    }
                    let stats = p.finish().unwrap();
                    events.extend(p.drain());
                    let docs: Vec<(String, String)> = events
                        .iter()
                        .map(|e| (e.id.to_string(), e.doc.as_str().to_string()))
                        .collect();
                    (docs, stats)
                });
                assert_eq!(direct.1, general.1, "{spec:?} {policy:?}");
                // The direct writer is chosen by the template's names: every field is among them.
                let declared = crate::outputs::elasticsearch::template::fields(spec.format());
                for (_, doc) in &direct.0 {
                    let v: serde_json::Value = serde_json::from_str(doc).unwrap();
                    for k in v.as_object().unwrap().keys() {
                        assert!(
                            ["@timestamp", "message", "error", "log", "beat", "tags"]
                                .contains(&k.as_str())
                                || declared.iter().any(|f| f.0 == k),
                            "{spec:?}: {k} is not in the template"
                        );
                    }
                }
                assert_eq!(direct.0.len(), general.0.len(), "{spec:?} {policy:?}");
                for (d, g) in direct.0.iter().zip(&general.0) {
                    assert_eq!(d, g, "{spec:?} {policy:?}");
                }
                assert_eq!(
                    direct.1.parse_failures, failures,
                    "{spec:?}: {:?}",
                    direct.0
                );
                assert_eq!(direct.1.truncated_lines, truncated);
                let shipped =
                    lines.len() as u64 - (policy == ParseErrorPolicy::Drop) as u64 * failures;
                assert_eq!(direct.0.len() as u64, shipped, "{spec:?} {policy:?}");
            }
        }
    }

    /// The direct writer against the general one on thousands of lines made by mutating valid ALB and
    /// ELB lines with the bytes that matter to the tokenizer and the escaper (quotes, backslashes,
    /// spaces, dashes, control bytes, non-ASCII, digits, colons): byte-identical documents and stats.
    #[test]
    fn direct_documents_equal_the_general_writer_on_mutated_lines() {
        let bases = [
            (FormatSpec::Alb, "https 2024-07-02T22:23:00.186641Z app/my-lb/50dc 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 201 0 57 \"GET https://www.example.com:443/a?x=1 HTTP/1.1\" \"curl/7.46.0\" ECDHE TLSv1.2 arn:tg \"Root=1-58337281\" \"www.example.com\" \"arn:cert\" 1 2024-07-02T22:22:48.364000Z \"waf,forward\" \"-\" \"-\" \"10.0.0.1:80 10.0.0.2:80\" \"200 201\" \"Ambiguous\" \"SpaceInUri\" TID_1234 \"h\" \"/u\" \"S\""),
            (FormatSpec::Elb, "2015-05-13T23:39:43.945958Z my-lb 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.38.0\" DHE-RSA-AES128-SHA TLSv1.2"),
        ];
        let bytes: [&[u8]; 12] = [
            b"\"",
            b"\\",
            b" ",
            b"  ",
            b"-",
            b"\t",
            "\u{e9}".as_bytes(),
            b"0",
            b":",
            b"\x01",
            b"\xff",
            b"\"\"",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let settings = EnrichSettings::new("n", "h");
        for (spec, base) in &bases {
            let mut lines = Vec::new();
            for _ in 0..1500 {
                let mut line = base.as_bytes().to_vec();
                for _ in 0..1 + rand(3) {
                    let at = rand(line.len() + 1);
                    match rand(3) {
                        0 if at < line.len() => {
                            line.remove(at);
                        }
                        _ => {
                            let b = bytes[rand(bytes.len())];
                            line.splice(at..at, b.iter().copied());
                        }
                    }
                }
                lines.push(line);
            }
            let data = lines.join(&b'\n');
            let [direct, general] = [true, false].map(|direct| {
                let id = ObjectId {
                    path: "s3://b/k",
                    key: "k",
                    last_modified: Some(Timestamp::from_millis(5_000)),
                };
                let mut p = ObjectParser::new(spec, &settings, id, 1 << 20);
                p.handler.direct = direct;
                let mut docs = Vec::new();
                p.feed_all(&data, |p| {
                    docs.extend(p.drain().map(|e| (e.id, e.doc.as_str().to_string())))
                })
                .unwrap();
                let stats = p.finish().unwrap();
                docs.extend(p.drain().map(|e| (e.id, e.doc.as_str().to_string())));
                (docs, stats)
            });
            assert_eq!(direct.1, general.1, "{spec:?}");
            assert_eq!(direct.0.len(), lines.len(), "{spec:?}");
            for ((d, g), line) in direct.0.iter().zip(&general.0).zip(&lines) {
                assert_eq!(d, g, "{spec:?}: {:?}", String::from_utf8_lossy(line));
                serde_json::from_str::<serde_json::Value>(&d.1).expect("a JSON document");
            }
            // The mutations reach both outcomes and the escaped path.
            assert!(direct.1.parse_failures > 100, "{spec:?}: {:?}", direct.1);
            assert!(direct.1.parse_failures < 1400, "{spec:?}: {:?}", direct.1);
            assert!(direct
                .0
                .iter()
                .any(|(_, d)| d.contains("\\\"") && !d.contains("\"error\"")));
        }
    }

    /// A key capture that replaces a parsed field turns the direct writer off: the field is written
    /// once, from the key.
    #[test]
    fn a_key_capture_of_a_parsed_field_is_written_once() {
        let mut settings = EnrichSettings::new("n", "h");
        settings.key_regex = Some(regex::Regex::new(r"^(?P<elb>[^/]+)/").unwrap());
        let id = ObjectId {
            path: "s3://b/from-key/x.log",
            key: "from-key/x.log",
            last_modified: None,
        };
        let line = "http 2024-07-02T22:23:00.186641Z app/lb/1 1.2.3.4:5 10.0.0.1:80 0.1 0.2 0.3 200 200 1 2 \"GET / HTTP/1.1\"";
        let mut p = ObjectParser::new(&FormatSpec::Alb, &settings, id, 1 << 20);
        assert!(!p.handler.direct);
        p.feed(line.as_bytes()).unwrap();
        p.finish().unwrap();
        let events: Vec<Event> = p.drain().collect();
        assert_eq!(events.len(), 1);
        let doc = events[0].doc.as_str();
        assert_eq!(doc.matches("\"elb\":").count(), 1, "{doc}");
        assert_eq!(events[0].doc_json()["elb"], "from-key");
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_multi_member_and_zstd_are_sniffed() {
        let (a, b) = TEXT.split_at(30);
        let mut two = gzip(a);
        two.extend(gzip(b));
        for chunk in [1, 3, 1000] {
            let (ev, st) = run(&json_spec(), &two, chunk, 1 << 20);
            let st = st.unwrap();
            assert_eq!(ev.len(), 3);
            assert_eq!(st.compression, Compression::Gzip);
            assert_eq!(st.bytes, TEXT.len() as u64);
            assert_eq!(ev[1]["log"]["offset"], 22);
        }
        let z = zstd::encode_all(TEXT, 3).unwrap();
        let mut z2 = z.clone();
        z2.extend(zstd::encode_all(&b"\n{\"t\":4}"[..], 3).unwrap());
        let (ev, st) = run(&json_spec(), &z2, 7, 1 << 20);
        assert_eq!(st.unwrap().compression, Compression::Zstd);
        assert_eq!(ev.len(), 4);
    }

    #[test]
    fn truncated_and_corrupt_streams_are_errors() {
        let big: Vec<u8> = (0..2000)
            .flat_map(|i| format!("{{\"t\":{i}}}\n").into_bytes())
            .collect();
        let g = gzip(&big);
        let (ev, st) = run(&json_spec(), &g[..g.len() / 2], 100, 1 << 20);
        let e = st.unwrap_err();
        assert!(e.contains("s3://b/k: gzip stream is truncated"), "{e}");
        assert!(!ev.is_empty() && ev.len() < 2000);

        let mut bad = g.clone();
        bad[20] ^= 0xff;
        bad[21] ^= 0xff;
        let (_, st) = run(&json_spec(), &bad, 100, 1 << 20);
        assert!(st.unwrap_err().contains("gzip"));

        let z = zstd::encode_all(&big[..], 3).unwrap();
        let (_, st) = run(&json_spec(), &z[..z.len() - 3], 100, 1 << 20);
        assert!(st.unwrap_err().contains("zstd stream is truncated"));
    }

    #[test]
    fn long_lines_are_cut_flagged_and_the_rest_skipped() {
        let mut data = b"{\"t\":1,\"a\":\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 100));
        data.extend(b"\"}\n{\"t\":2}\n");
        for chunk in [1, 10, 1000] {
            let (ev, st) = run(&json_spec(), &data, chunk, 50);
            let st = st.unwrap();
            assert_eq!(ev.len(), 2, "chunk {chunk}");
            assert_eq!(st.truncated_lines, 1);
            assert_eq!(ev[0]["log"]["flags"], serde_json::json!(["truncated"]));
            assert_eq!(ev[0]["message"].as_str().unwrap().len(), 50);
            assert!(ev[0]["tags"][0].as_str().unwrap().contains("parse_failure"));
            assert_eq!(ev[1]["log"]["offset"], 115);
            assert!(ev[1]["log"].get("flags").is_none());
        }
    }

    #[test]
    fn empty_and_tiny_objects() {
        let (ev, st) = run(&json_spec(), b"", 10, 100);
        assert!(ev.is_empty());
        assert_eq!(st.unwrap().lines, 0);
        let (ev, _) = run(&json_spec(), b"{}", 10, 100);
        assert_eq!(
            ev.len(),
            1,
            "a line without its timestamp is a failure event"
        );
    }

    #[test]
    fn elb_test_file_is_skipped() {
        let settings = EnrichSettings::new("n", "h");
        let spec = FormatSpec::Alb;
        let mut p = ObjectParser::new(
            &spec,
            &settings,
            ObjectId {
                path: "s3://b/AWSLogs/1/ELBAccessLogTestFile",
                key: "AWSLogs/1/ELBAccessLogTestFile",
                last_modified: None,
            },
            100,
        );
        p.feed(b"Enable AccessLog for ELB: my-lb at 2018-01-01T00:00:00.000Z\n")
            .unwrap();
        let st = p.finish().unwrap();
        assert!(st.skipped);
        assert_eq!(p.drain().count(), 0);
    }
}
