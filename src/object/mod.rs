//! One S3 object as a stream: bytes in, events out. The object stage's parts, in the order the bytes
//! go through them: [`decode`] (the object's compression, and a second gzip layer where a format says
//! so), [`framing`] (units: lines, or JSON values), [`lines`] (each unit parsed by its format, enriched,
//! given its id); [`report`] is what it came to. [`reader`] and [`fetch`] run it on S3 objects;
//! [`gunzip`] and [`inflate`] are the decompressors.
//!
//! [`ObjectParser`] is push-based so that the same code serves a file (`s3logsbeat parse`), a benchmark
//! and an S3 `GetObject` body arriving in chunks: call [`ObjectParser::feed`] with each chunk, take the
//! events with [`ObjectParser::drain`] (and publish them before feeding more: that is where backpressure
//! applies), then call [`ObjectParser::finish`]. What it knows of a format it reads from the format's
//! descriptor (`crate::formats::Descriptor`): its framing, a second compression, objects that are not
//! logs; it names no format and knows nothing of AWS.
//!
//! What must stay true:
//! - Compression is detected from the first bytes (gzip `1f 8b`, zstd `28 b5 2f fd`), never from the
//!   key: ALB writes `.log.gz`, classic ELB plain `.log`, and users rename things. Multi-member gzip is
//!   read to its end. A truncated or corrupt stream is an error for the whole object (the caller keeps the
//!   SQS message), never a silent end.
//! - Memory does not grow with the object: the decoder works on small slices and a line longer than
//!   `max_line_bytes` is cut there, shipped with `log.flags: ["truncated"]`, and the rest of it skipped.
//! - `log.offset` is the byte offset of the unit's first byte (a line, a CloudTrail record, a CloudWatch
//!   payload's entry) in the decompressed object; for a format compressed twice, after the inner gzip is
//!   undone.

pub mod decode;
pub mod fetch;
pub mod finalise;
pub mod framing;
pub mod gunzip;
pub mod inflate;
pub mod lines;
pub mod reader;
pub mod report;

use crate::event::doc::DocBuf;
use crate::event::enrich::{EnrichSettings, ObjectContext};
use crate::event::ids::IdBatch;
use crate::event::{Event, Timestamp};
use crate::formats::{AtEnd, ErrorKind, FormatSpec, Framing, LineOut, LineParser};
use decode::{compression_of, decoder_for, flush_head, push, Budget, Decoder, Inner};
use framing::{Framer, JsonSplitter, JsonUnits, Line, LineSplitter};
use lines::LineHandler;
pub use report::{Compression, ObjectStats, ReadError, ReadErrorKind};

pub use crate::config::DEFAULT_MAX_LINE_BYTES;

/// One object to read, as a source names it (an S3 notification, a listing); the object stage reads
/// it and says which object every error and event came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Decoded key.
    pub key: String,
    /// The bucket's region, when the notification says (`awsRegion`; EventBridge's `region`).
    pub region: Option<String>,
}

impl ObjectRef {
    /// `s3://bucket/key`.
    pub fn path(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// Reads one object: decompression, lines, parsing, enrichment.
#[derive(Debug)]
pub struct ObjectParser<'s> {
    decoder: Decoder,
    /// A second gzip layer inside the text ([`crate::formats::Descriptor::compressed_twice`]).
    inner: Inner,
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
        let format = spec.descriptor();
        let ctx = ObjectContext::new(
            settings,
            spec.format(),
            object.path,
            object.key,
            object.last_modified,
        );
        let skipped = format.not_a_log.is_some_and(|f| f(object.key).is_some());
        let splitter = match format.framing {
            Framing::Lines => Framer::Lines(LineSplitter::new(max_line_bytes)),
            Framing::ArrayElements { array, marks, .. } => Framer::Json(JsonSplitter::new(
                JsonUnits::ArrayElements { array, marks },
                max_line_bytes,
            )),
            Framing::ValuesOrLines => Framer::Sniff {
                max: max_line_bytes,
                seen: Vec::new(),
            },
        };
        let inner = if format.compressed_twice {
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
            inner,
            splitter,
            handler: LineHandler {
                head: Some(Vec::new()),
                // The format's fields are those of its index template, which `tests/component/template.rs`
                // checks against what it writes.
                direct: parser.has_direct() && ctx.keeps_all(format.fields.iter().map(|f| f.0)),
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
    pub fn format(&self) -> crate::formats::LogFormat {
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
            || matches!(&self.inner, Inner::Gzip { backlog, .. } if !backlog.is_empty())
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
        if let Inner::Gzip { backlog, .. } = &mut self.inner {
            if !backlog.is_empty() {
                let data = std::mem::take(backlog);
                push(
                    &mut self.inner,
                    &mut self.splitter,
                    &mut self.handler,
                    &mut budget,
                    &data,
                )?;
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
        decode::decode(
            &mut self.decoder,
            &mut self.inner,
            &mut self.splitter,
            &mut self.handler,
            data,
            budget,
        )
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
            inner,
            splitter,
            handler,
            ..
        } = self;
        decode::finish(decoder, inner, splitter, handler)?;
        // An object shorter than the binary check's window is decided now.
        if flush_head(splitter, handler) {
            splitter.finish(&mut |l: Line<'_>| handler.on_line(l));
        }
        let framing = handler.parser.spec().descriptor().framing;
        if let (Framing::ArrayElements { at_end, .. }, false) = (framing, handler.stats.binary) {
            match at_end(splitter.shape()) {
                AtEnd::Log => {}
                AtEnd::NotALog => handler.stats.skipped = true,
                AtEnd::Failure { message, expected } => {
                    handler.object_failure(message, ErrorKind::NotThisFormat(expected))
                }
            }
        }
        handler.stats.bytes = splitter.offset();
        Ok(handler.stats.clone())
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
                let declared = spec.descriptor().fields;
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
