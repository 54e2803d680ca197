//! Decompression: an object's bytes in, in any pieces, its text out to the framer and the per-line
//! handling, within a budget per call. The outer compression is sniffed from the first bytes (gzip,
//! zstd, or none); a second gzip layer inside the text is sniffed too for a format whose descriptor says
//! its text may be compressed again. The binary check of the text's start happens here, before any
//! line is parsed.
//!
//! What must stay true: compression is decided by the bytes, never the key; a call decodes at most
//! [`BYTE_BUDGET`] of text or [`EVENT_BUDGET`] events, the rest waiting as a backlog, so that a
//! decompression bomb costs time, not memory; a corrupt or truncated stream is a [`ReadError`], never a
//! silent end; where the chunks fall never changes the text.

use std::fmt;

use super::framing::{Framer, Line};
use super::gunzip::GzipStream;
use super::lines::{LineHandler, BINARY_SNIFF};
use super::report::{Compression, ReadError, ReadErrorKind};

/// Compressed input is handed to the decoder in slices of this size: gzip expands at most about 1000×,
/// so one slice decodes to at most about 1 MiB.
pub(super) const DECODE_SLICE: usize = 1024;

/// One call of [`super::ObjectParser::feed`] or [`super::ObjectParser::resume`] stops decoding once it has produced
/// this many decompressed bytes or [`EVENT_BUDGET`] events, and keeps the rest of its input as a backlog.
/// zstd has no expansion limit (an RLE block of 4 bytes stands for 128 KiB), so without this budget a
/// few KB of input could make millions of events wait in memory before the caller drains them.
pub(super) const BYTE_BUDGET: u64 = 1 << 20;

/// See [`BYTE_BUDGET`]. As many events as a reader reserves queue slots for before a parse
/// ([`crate::config::PUBLISH_CHUNK_EVENTS`]), so that the events it holds beyond its reservation are at
/// most the lines of one decoding step's text (a [`DECODE_SLICE`] of gzip: about 8 KiB of load balancer
/// logs, at most about 1 MiB; 64 KiB of zstd or plain text).
pub(super) const EVENT_BUDGET: usize = crate::config::PUBLISH_CHUNK_EVENTS;

/// What one call may still decode (see [`BYTE_BUDGET`]).
pub(super) struct Budget {
    bytes: u64,
    events_at_start: usize,
    events_now: usize,
}

impl Budget {
    pub(super) fn new(events: usize) -> Budget {
        Budget {
            bytes: 0,
            events_at_start: events,
            events_now: events,
        }
    }

    pub(super) fn spend(&mut self, bytes: usize, events_now: usize) {
        self.bytes += bytes as u64;
        self.events_now = events_now;
    }

    pub(super) fn exhausted(&self) -> bool {
        self.bytes >= BYTE_BUDGET || self.events_now - self.events_at_start >= EVENT_BUDGET
    }
}

/// The object's own compression, sniffed from its first bytes.
pub(super) enum Decoder {
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

/// A second gzip layer, for a format whose descriptor says its text may be compressed again
/// (`compressed_twice`: Firehose writes CloudWatch Logs payloads as gzip members, and compresses the
/// object again). Decided from the first two bytes of the (outer-decoded) text.
pub(super) enum Inner {
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

/// Decodes from `data` until it is used up or the budget is; returns how many bytes were used.
pub(super) fn decode(
    decoder: &mut Decoder,
    inner: &mut Inner,
    splitter: &mut Framer,
    handler: &mut LineHandler<'_>,
    data: &[u8],
    budget: &mut Budget,
) -> Result<usize, ReadError> {
    match decoder {
        Decoder::Sniffing(_) => unreachable!("decode runs after sniffing"),
        Decoder::Plain => {
            let mut used = 0;
            for piece in data.chunks(64 * 1024) {
                push(inner, splitter, handler, budget, piece)?;
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
                        pushed = push(inner, splitter, handler, budget, text);
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
                push(inner, splitter, handler, budget, &out[..produced])?;
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

/// The error of a corrupt stream of `compression` in the object `handler` reads.
fn corrupt(
    handler: &LineHandler<'_>,
    compression: Compression,
    source: std::io::Error,
) -> ReadError {
    ReadError {
        path: handler.ctx.path.clone(),
        kind: ReadErrorKind::Corrupt {
            compression,
            source,
        },
    }
}

/// The error of a stream of `compression` that ended inside a member or frame.
fn truncated(handler: &LineHandler<'_>, compression: Compression) -> ReadError {
    ReadError {
        path: handler.ctx.path.clone(),
        kind: ReadErrorKind::Truncated { compression },
    }
}

/// At the object's end, after every backlog was decoded: the outer stream and the inner gzip layer must
/// have ended where a member or frame ends; the text of one byte a sniffing inner layer still holds is
/// handed on (it is not gzip).
pub(super) fn finish(
    decoder: &Decoder,
    inner: &mut Inner,
    splitter: &mut Framer,
    handler: &mut LineHandler<'_>,
) -> Result<(), ReadError> {
    match decoder {
        Decoder::Gzip(dec) => {
            if !dec.finish() {
                return Err(truncated(handler, Compression::Gzip));
            }
        }
        Decoder::Zstd { frame_done, .. } => {
            if !*frame_done {
                return Err(truncated(handler, Compression::Zstd));
            }
        }
        Decoder::Plain | Decoder::Sniffing(_) => {}
    }
    match std::mem::replace(inner, Inner::Plain) {
        Inner::Sniffing(head) => text(splitter, handler, &mut Budget::new(0), &head),
        Inner::Gzip { dec, backlog } => {
            debug_assert!(backlog.is_empty(), "resumed before");
            if !dec.finish() {
                return Err(truncated(handler, Compression::Gzip));
            }
        }
        Inner::Off | Inner::Plain => {}
    }
    Ok(())
}

/// Hands decompressed bytes on: through the inner gzip layer when there is one (see [`Inner`]; its
/// input beyond the call's budget waits in its backlog), then to [`text`].
pub(super) fn push(
    inner: &mut Inner,
    splitter: &mut Framer,
    handler: &mut LineHandler<'_>,
    budget: &mut Budget,
    bytes: &[u8],
) -> Result<(), ReadError> {
    match inner {
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
            *inner = if head == [0x1f, 0x8b] {
                Inner::Gzip {
                    dec: GzipStream::new(),
                    backlog: Vec::new(),
                }
            } else {
                Inner::Plain
            };
            push(inner, splitter, handler, budget, &head)?;
            push(inner, splitter, handler, budget, &bytes[take..])
        }
        Inner::Gzip { backlog, .. } if !backlog.is_empty() => {
            // Called before the backlog was resumed: keep the order.
            backlog.extend_from_slice(bytes);
            Ok(())
        }
        Inner::Gzip { dec, backlog } => {
            for (i, piece) in bytes.chunks(DECODE_SLICE).enumerate() {
                if budget.exhausted() {
                    backlog.extend_from_slice(&bytes[i * DECODE_SLICE..]);
                    break;
                }
                let r = dec.write(piece, &mut |t| text(splitter, handler, budget, t));
                if let Err(e) = r {
                    return Err(corrupt(handler, Compression::Gzip, e));
                }
            }
            Ok(())
        }
    }
}

/// Hands decompressed text to the framer, a new closure per push so that the handler's event count can
/// be read between pushes. The start of the text is checked for NUL bytes first; a binary object gets
/// its one event there (see `LineHandler::binary_object`) and its text is ignored from then on, while
/// the stream is still decoded to its end.
pub(super) fn text(
    splitter: &mut Framer,
    handler: &mut LineHandler<'_>,
    budget: &mut Budget,
    bytes: &[u8],
) {
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
pub(super) fn flush_head(splitter: &mut Framer, handler: &mut LineHandler<'_>) -> bool {
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

pub(super) fn decoder_for(head: &[u8]) -> Decoder {
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

pub(super) fn compression_of(d: &Decoder) -> Compression {
    match d {
        Decoder::Sniffing(_) => Compression::Unknown,
        Decoder::Plain => Compression::None,
        Decoder::Gzip(_) => Compression::Gzip,
        Decoder::Zstd { .. } => Compression::Zstd,
    }
}
