//! Per-line handling: a framed unit of decompressed text in (a line, or a JSON value, with its offset),
//! events out: the unit's bytes checked (blank, UTF-8, plain ASCII), parsed by the object's format,
//! enriched into documents written back to back, and given their ids.
//!
//! What must stay true: every non-blank unit gives its records or a failure event (unless
//! `parse_errors: drop`), counted; offsets are bytes of the decompressed object, also where invalid
//! UTF-8 was replaced; a unit of several records hashes each record's own bytes for its id.

use std::borrow::Cow;

use super::framing::Line;
use super::report::ObjectStats;
use crate::event::doc::DocBuf;
use crate::event::enrich::ObjectContext;
use crate::event::ids::IdBatch;
use crate::event::{EventId, Timestamp};
use crate::formats::{ErrorKind, LineKind, LineOut, LineParser, ParseError};
use crate::scan::is_plain_ascii;

/// Parses and enriches lines; the part of [`super::ObjectParser`] that sees decompressed text.
#[derive(Debug)]
pub(super) struct LineHandler<'s> {
    /// The start of the text, gathered until [`BINARY_SNIFF`] bytes decide whether it is binary.
    pub(super) head: Option<Vec<u8>>,
    pub(super) parser: LineParser<'s>,
    pub(super) ctx: ObjectContext,
    /// Lines are parsed straight into their documents ([`ObjectContext::write_direct`]): the format
    /// can ([`LineParser::has_direct`]) and the settings keep its fields as they are. Its field names
    /// are those of its index template, which `tests/component/template.rs` checks against what it writes.
    pub(super) direct: bool,
    pub(super) scratch: LineOut<'static>,
    /// Events produced and not yet drained, without their documents: those are in `docs`, in the same
    /// order.
    pub(super) events: Vec<Pending>,
    /// The documents of `events`, written back to back into 64 KiB blocks (see [`crate::event::doc`]).
    pub(super) docs: DocBuf,
    /// Ids of events in `events` still being computed (set before the events are drained).
    pub(super) ids: IdBatch,
    pub(super) stats: ObjectStats,
}

/// An event before it is drained: its document is the next one in [`LineHandler::docs`].
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) id: EventId,
    pub(super) timestamp: Timestamp,
    pub(super) parse_failure: bool,
}

/// The start of an object that is checked for NUL bytes: text logs have none, so one there means the
/// object is not a log (a gzip inside a gzip, an image, a tarball).
pub(super) const BINARY_SNIFF: u64 = 4096;

impl LineHandler<'_> {
    /// Ships the one failure event of a binary object, whose first NUL byte is at `at`.
    pub(super) fn binary_object(&mut self, at: u64) {
        self.stats.binary = true;
        self.object_failure("(binary object)", ErrorKind::BinaryObject(at));
    }

    /// Ships one failure event for the object as a whole, with `text` as its message.
    pub(super) fn object_failure(&mut self, text: &str, kind: ErrorKind) {
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

    pub(super) fn on_line(&mut self, line: Line<'_>) {
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
