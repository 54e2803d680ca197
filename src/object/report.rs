//! What reading one object comes to: its [`ObjectStats`] (the compression found, bytes, lines, events,
//! failures, what was skipped), or the [`ReadError`] that ended it early. Plain data, shared by the
//! decompression ([`super::decode`]), the per-line handling ([`super::lines`]) and the callers.
//!
//! What must stay true: an object either yields its counts or an error that names it; a truncated or
//! corrupt stream is never reported as a short object.

use std::fmt;

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
    /// The object was skipped as not being a log (its format's `not_a_log` said so by its key, or its
    /// framing's check at the end: ELB's `ELBAccessLogTestFile`, a CloudTrail digest).
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
