//! The event model: what a format parser produces from one line, and the JSON an output receives.
//!
//! A parser turns a line into a [`Timestamp`] and a list of named [`Value`]s that borrow from the line
//! (no allocation on the hot path for ALB/ELB/CloudFront). [`crate::event::enrich`] then writes them, with the
//! log/beat/key metadata, into one JSON object per event: an [`Event`], which is what the publish queue and
//! every output carry. `@metadata` is not part of the document body; the outputs that send it (console,
//! file, Logstash, `s3logsbeat parse`) splice it in with [`Event::write_with_metadata`], Elasticsearch
//! sends the body alone with the `_id` in the bulk action line.

pub mod doc;
pub mod ecs;
pub mod enrich;
pub mod ids;
pub mod message;
pub mod processors;

use std::fmt;

use crate::event::doc::Doc;

pub use crate::fields::{json::*, time::*, RESERVED_NAMES};

/// A 128-bit event id, printed as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub [u8; 16]);

impl EventId {
    /// The 32 hex digits, inline (no allocation).
    pub fn hex(&self) -> HexId {
        // One table look-up per byte, not a shift, a mask and two look-ups.
        let mut hex = [0u8; 32];
        for (pair, b) in hex.chunks_exact_mut(2).zip(self.0) {
            pair.copy_from_slice(&HEX_PAIRS[b as usize]);
        }
        HexId(hex)
    }

    /// Appends the 32 hex digits (into an array first, then one copy: 32 pushes each checked the
    /// capacity).
    pub fn write_hex(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hex().0);
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex().as_str())
    }
}

/// An [`EventId`] as its 32 lowercase hex digits: the `_id` a bulk request carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HexId([u8; 32]);

impl HexId {
    /// The digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl fmt::Display for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One event, ready for an output.
#[derive(Clone, Debug)]
pub struct Event {
    /// Deterministic id (see docs/formats.md "Event ids"); the Elasticsearch `_id`.
    pub id: EventId,
    /// The event time, also written as `@timestamp` in `doc`.
    pub timestamp: Timestamp,
    /// The input's `log_format`, sent as `@metadata.format`.
    pub format: &'static str,
    /// The document: one JSON object, without `@metadata`, usually sharing its buffer with the other
    /// events of its chunk (see [`crate::event::doc`]).
    pub doc: Doc,
    /// True when the line did not parse and this event carries the raw line in `message`.
    pub parse_failure: bool,
}

/// `@metadata.beat` and `@metadata.type`, as the original sent them (Logstash users route on them).
pub const METADATA_BEAT: &str = "s3logsbeat";
/// `@metadata.type`: libbeat 6's document type, kept for Logstash pipelines that test it.
pub const METADATA_TYPE: &str = "doc";

/// What [`Event::write_with_metadata`] writes before the id, as one piece (the literals are those of
/// [`METADATA_BEAT`], [`METADATA_TYPE`] and [`crate::VERSION`]; a test holds them equal).
const METADATA_PREFIX: &str = concat!(
    "{\"@metadata\":{\"beat\":\"s3logsbeat\",\"type\":\"doc\",\"version\":\"",
    env!("CARGO_PKG_VERSION"),
    "\",\"_id\":\""
);

impl Event {
    /// Appends the document with `@metadata` (`beat`, `type`, `version`, `_id`, `format`) as its first key.
    pub fn write_with_metadata(&self, out: &mut Vec<u8>) {
        self.write_with_metadata_as(out, METADATA_BEAT);
    }

    /// [`Event::write_with_metadata`] with another `@metadata.beat` (Logstash's `index` setting, which
    /// Logstash pipelines use to name indices).
    pub fn write_with_metadata_as(&self, out: &mut Vec<u8>, beat: &str) {
        // The whole event's room at once: the metadata's fixed text is under 128 bytes.
        out.reserve(self.doc.len() + beat.len() + self.format.len() + crate::VERSION.len() + 128);
        self.write_metadata_head(out, beat);
        out.extend_from_slice(self.doc.tail());
    }

    /// What [`Event::write_with_metadata_as`] writes before [`Doc::tail`]: `{"@metadata":{...},`.
    pub fn write_metadata_head(&self, out: &mut Vec<u8>, beat: &str) {
        write_metadata_head(out, beat, &self.id, self.format);
    }

    /// The document parsed back into JSON, for the slow paths that read fields (`%{[field]}` index
    /// names, processors, ECS names). It fails only for a document that is not JSON or nests deeper than
    /// serde_json reads (128 levels): the builders keep documents within [`MAX_DOC_DEPTH`], and a
    /// caller that meets one anyway reports it for the event instead of passing the event on unread.
    pub fn read_doc(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self.doc)
            .map_err(|e| format!("the document of event {} cannot be read: {e}", self.id))
    }

    /// [`Event::read_doc`] for tests, which may panic.
    pub fn doc_json(&self) -> serde_json::Value {
        self.read_doc().expect("event documents are valid JSON")
    }
}

/// [`Event::write_metadata_head`] from the parts it reads: an output that keeps only an event's id, format
/// and document renders the same head.
pub fn write_metadata_head(out: &mut Vec<u8>, beat: &str, id: &EventId, format: &str) {
    if beat == METADATA_BEAT {
        // Nearly every event: the text before the id is one constant.
        out.extend_from_slice(METADATA_PREFIX.as_bytes());
    } else {
        out.extend_from_slice(b"{\"@metadata\":{\"beat\":");
        write_json_str(out, beat);
        out.extend_from_slice(b",\"type\":\"");
        out.extend_from_slice(METADATA_TYPE.as_bytes());
        out.extend_from_slice(b"\",\"version\":\"");
        out.extend_from_slice(crate::VERSION.as_bytes());
        out.extend_from_slice(b"\",\"_id\":\"");
    }
    id.write_hex(out);
    out.extend_from_slice(b"\",\"format\":\"");
    // A format's name is a plain word (`alb`, `s3access`, `alb_connection`): nothing to escape.
    debug_assert!(
        format
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_'),
        "format name {:?}",
        format
    );
    push_bytes(out, format.as_bytes());
    out.extend_from_slice(b"\"},");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_spliced_into_the_document() {
        let e = Event {
            id: EventId([0xab; 16]),
            timestamp: Timestamp::from_millis(0),
            format: "alb",
            doc: r#"{"@timestamp":"1970-01-01T00:00:00.000Z","a":1}"#.into(),
            parse_failure: false,
        };
        let mut out = Vec::new();
        e.write_with_metadata(&mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["@metadata"]["_id"], "abababababababababababababababab");
        assert_eq!(v["@metadata"]["format"], "alb");
        assert_eq!(v["@metadata"]["type"], "doc");
        assert_eq!(v["a"], 1);
        // The constant prefix of the default beat is what the general path writes.
        let mut general = Vec::new();
        e.write_with_metadata_as(&mut general, "s3logsbeat ");
        let general = String::from_utf8(general)
            .unwrap()
            .replacen("s3logsbeat ", METADATA_BEAT, 1);
        assert_eq!(String::from_utf8(out).unwrap(), general);
        let mut other = Vec::new();
        e.write_with_metadata_as(&mut other, "logs-\"x\"");
        let v: serde_json::Value = serde_json::from_slice(&other).unwrap();
        assert_eq!(v["@metadata"]["beat"], "logs-\"x\"");
        assert_eq!(v["@metadata"]["version"], crate::VERSION);
        // The format's name is written without escaping: every name is a plain word, and written so.
        for f in crate::formats::LogFormat::all() {
            let e = Event {
                format: f.name(),
                ..e.clone()
            };
            let mut out = Vec::new();
            e.write_with_metadata(&mut out);
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(v["@metadata"]["format"], f.name());
        }
    }
}
