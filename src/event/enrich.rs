//! Enrichment: a parsed record in, an [`Event`] out.
//!
//! Everything that is the same for all lines of one object (the `s3://` path, `beat.*`, the
//! `key_regex_fields` captures, global `fields`/`tags`, the `_id` key) is computed once per object in
//! [`ObjectContext::new`] and kept as ready JSON snippets, so a line costs its own fields, one hash and a
//! few copies.
//!
//! A record's document is written from its fields in a [`LineOut`] ([`ObjectContext::write_document`]),
//! or, for ALB and classic ELB lines when no field of the format is skipped or renamed, as the format
//! reads them, through a [`JsonFields`] ([`ObjectContext::write_direct`]). Both write the same bytes
//! (a test compares them on thousands of mutated lines); the second spares the hot path the list of
//! values.
//!
//! # Event ids
//!
//! `_id` is 128 bits of BLAKE3, printed as 32 hex digits:
//!
//! ```text
//! object_key = BLAKE3-derive_key("s3logsbeat 2026-11 event id v1", "s3://bucket/key")
//! _id        = hex(first 16 bytes of BLAKE3-keyed(object_key, u64_le(offset) || line))
//! ```
//!
//! `offset` is the byte offset of the record in the decompressed object (its line's offset, plus the
//! position in the line for a second JSON value on the same line) and `line` the line's bytes as read,
//! without `\n`/`\r\n` (for a line of several JSON values, each value's own bytes). So identical lines inside one object, or in two objects, get different ids, while
//! reading the same object again (a redelivered SQS message, `s3import` over what the daemon already
//! shipped) gives the same ids and Elasticsearch's `create` turns the repeat into a no-op. The scheme is
//! versioned by the context string and must not change within a major version.

use std::borrow::Cow;

pub use crate::config::{EnrichSettings, ParseErrorPolicy};
use crate::event::doc::DocBuf;
use crate::event::{push_bytes, write_json_str, Event, EventId, Timestamp, RESERVED_NAMES};
use crate::fields::sink::{write_key, write_time};
pub use crate::fields::JsonFields;
use crate::formats::{LineOut, LogFormat, ParseError, Record};

/// The tag on events of lines that did not parse; filter on it in dashboards.
pub const PARSE_FAILURE_TAG: &str = "_s3logsbeat_parse_failure";

/// The BLAKE3 context of the event-id scheme (see the module doc).
pub const ID_CONTEXT: &str = "s3logsbeat 2026-11 event id v1";

/// How the object's key matched `key_regex_fields`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyMatch {
    /// No `key_regex_fields` configured.
    NotConfigured,
    /// Matched; these fields were captured.
    Matched(Vec<(String, String)>),
    /// The key did not match: the events get no key fields (the original crashed here).
    NoMatch,
}

/// What every event of one object shares.
#[derive(Debug)]
pub struct ObjectContext {
    format: &'static str,
    id_key: [u8; 32],
    /// `,"log":{"file":{"path":"s3://…"},"offset":`
    log_prefix: Vec<u8>,
    /// After the offset (and flags): `},"beat":{…}…,"tags":[…]}`.
    tail_ok: Vec<u8>,
    /// The same with the parse-failure tag.
    tail_failed: Vec<u8>,
    /// Parsed fields that a key capture or a root-level global field replaces.
    skip: Vec<String>,
    /// Parsed fields that would collide with the global `tags`/`fields`: kept as `_name`.
    rename: Vec<&'static str>,
    /// `@timestamp` of failure events: the object's LastModified, or the time it was read.
    fallback_time: Timestamp,
    parse_errors: ParseErrorPolicy,
    /// How the key matched `key_regex_fields`.
    pub key_match: KeyMatch,
    /// The `s3://bucket/key` (or file) path of the object.
    pub path: String,
}

impl ObjectContext {
    /// The context of object `path` (`s3://bucket/key`, or a file path for `s3logsbeat parse`), whose
    /// decoded S3 key is `key`.
    pub fn new(
        settings: &EnrichSettings,
        format: LogFormat,
        path: &str,
        key: &str,
        last_modified: Option<Timestamp>,
    ) -> ObjectContext {
        let id_key = blake3::derive_key(ID_CONTEXT, path.as_bytes());
        let mut log_prefix = Vec::with_capacity(path.len() + 40);
        log_prefix.extend_from_slice(b",\"log\":{\"file\":{\"path\":");
        write_json_str(&mut log_prefix, path);
        log_prefix.extend_from_slice(b"},\"offset\":");

        let key_match = match &settings.key_regex {
            None => KeyMatch::NotConfigured,
            Some(re) => match re.captures(key) {
                None => KeyMatch::NoMatch,
                Some(c) => KeyMatch::Matched(
                    re.capture_names()
                        .flatten()
                        .filter_map(|n| {
                            let m = c.name(n)?.as_str();
                            (!m.is_empty()).then(|| (n.to_string(), m.to_string()))
                        })
                        .collect(),
                ),
            },
        };
        // A global field at the top level named like one s3logsbeat writes itself (`log`, `beat`,
        // `@metadata`...) would put that key in the document twice: it is left out, the event's own
        // field stays.
        let root_fields: Vec<&str> = if settings.fields_under_root {
            settings
                .fields
                .keys()
                .map(String::as_str)
                .filter(|k| !RESERVED_NAMES.contains(k))
                .collect()
        } else {
            Vec::new()
        };
        let mut skip: Vec<String> = root_fields.iter().map(|s| s.to_string()).collect();
        let mut rest = Vec::with_capacity(256);
        rest.extend_from_slice(b",\"beat\":{\"name\":");
        write_json_str(&mut rest, &settings.beat_name);
        rest.extend_from_slice(b",\"hostname\":");
        write_json_str(&mut rest, &settings.hostname);
        rest.extend_from_slice(b",\"version\":");
        write_json_str(&mut rest, crate::VERSION);
        rest.push(b'}');
        if let KeyMatch::Matched(kv) = &key_match {
            for (k, v) in kv {
                if root_fields.contains(&k.as_str()) {
                    continue;
                }
                rest.push(b',');
                write_json_str(&mut rest, k);
                rest.push(b':');
                write_json_str(&mut rest, v);
                skip.push(k.clone());
            }
        }
        let mut rename = Vec::new();
        if !settings.fields.is_empty() {
            if settings.fields_under_root {
                for (k, v) in &settings.fields {
                    if !root_fields.contains(&k.as_str()) {
                        continue;
                    }
                    rest.push(b',');
                    write_json_str(&mut rest, k);
                    rest.push(b':');
                    let _ = serde_json::to_writer(&mut rest, v);
                }
            } else {
                rest.extend_from_slice(b",\"fields\":");
                let _ = serde_json::to_writer(&mut rest, &settings.fields);
                rename.push("fields");
            }
        }
        if !settings.tags.is_empty() {
            rename.push("tags");
        }
        let tags_json = |extra: Option<&str>| {
            let mut t = Vec::new();
            let all: Vec<&str> = extra
                .into_iter()
                .chain(settings.tags.iter().map(String::as_str))
                .collect();
            if !all.is_empty() {
                t.extend_from_slice(b",\"tags\":[");
                for (i, tag) in all.iter().enumerate() {
                    if i > 0 {
                        t.push(b',');
                    }
                    write_json_str(&mut t, tag);
                }
                t.push(b']');
            }
            t
        };
        let mut tail_ok = b"}".to_vec();
        tail_ok.extend_from_slice(&rest);
        tail_ok.extend_from_slice(&tags_json(None));
        tail_ok.push(b'}');
        let mut tail_failed = b"}".to_vec();
        tail_failed.extend_from_slice(&rest);
        tail_failed.extend_from_slice(&tags_json(Some(PARSE_FAILURE_TAG)));
        tail_failed.push(b'}');

        ObjectContext {
            format: format.name(),
            id_key,
            log_prefix,
            tail_ok,
            tail_failed,
            skip,
            rename,
            fallback_time: last_modified.unwrap_or_else(Timestamp::now),
            parse_errors: settings.parse_errors,
            key_match,
            path: path.to_string(),
        }
    }

    /// The key of this object's ids (see the module doc).
    pub fn id_key(&self) -> &[u8; 32] {
        &self.id_key
    }

    /// The id of the record at `offset` whose line is `raw` (see the module doc).
    #[inline]
    pub fn event_id(&self, offset: u64, raw: &[u8]) -> EventId {
        let mut h = blake3::Hasher::new_keyed(&self.id_key);
        h.update(&offset.to_le_bytes());
        h.update(raw);
        let mut id = [0u8; 16];
        id.copy_from_slice(&h.finalize().as_bytes()[..16]);
        EventId(id)
    }

    /// Builds the event of one record. `line` is the line as text (invalid UTF-8 replaced), `raw` its
    /// bytes as read, `offset` the record's byte offset in the decompressed object. Returns `None` for
    /// a failed record under `parse_errors: drop`.
    pub fn event(
        &self,
        out: &LineOut<'_>,
        rec: &Record,
        line: &str,
        raw: &[u8],
        offset: u64,
        truncated: bool,
    ) -> Option<Event> {
        let id = self.event_id(offset, raw);
        self.event_with_id(out, rec, line, offset, truncated, id)
    }

    /// The input's `log_format`, the events' `@metadata.format`.
    pub fn format(&self) -> &'static str {
        self.format
    }

    /// [`ObjectContext::event`] with the id already computed: the document in a buffer of its own.
    pub fn event_with_id(
        &self,
        out: &LineOut<'_>,
        rec: &Record,
        line: &str,
        offset: u64,
        truncated: bool,
        id: EventId,
    ) -> Option<Event> {
        let mut docs = DocBuf::default();
        let (timestamp, parse_failure) =
            self.write_document(&mut docs, out, rec, line, offset, truncated)?;
        let doc = docs.freeze().next()?;
        Some(Event {
            id,
            timestamp,
            format: self.format,
            doc,
            parse_failure,
        })
    }

    /// Writes the document of one record as the next one of `docs` (the object's), and returns the
    /// event's time and whether it is a parse failure; `None`, with nothing written, for a failed record
    /// under `parse_errors: drop`. What is written is UTF-8: it is built only from `&str` values, static
    /// ASCII and ASCII escapes. (Checking it again cost about 5% of the ALB hot path; debug builds check
    /// it when the document is closed.)
    pub fn write_document(
        &self,
        docs: &mut DocBuf,
        out: &LineOut<'_>,
        rec: &Record,
        line: &str,
        offset: u64,
        truncated: bool,
    ) -> Option<(Timestamp, bool)> {
        if rec.result.is_err() && self.parse_errors == ParseErrorPolicy::Drop {
            return None;
        }
        let doc = docs.begin(self.room(rec.span.len().min(line.len())));
        let (timestamp, failed) = match &rec.result {
            Ok(ts) => {
                write_time(doc, *ts, out.time_text());
                let clean = out.strings_are_clean();
                for (name, value) in out.fields_of(rec) {
                    if !self.skip.is_empty() && self.skip.iter().any(|s| s == name) {
                        continue;
                    }
                    if !self.rename.is_empty() && self.rename.contains(&name.as_ref()) {
                        // `_tags` may itself be a field of the record: add `_` until the name is free.
                        let mut n = format!("_{name}");
                        while out.fields_of(rec).iter().any(|(f, _)| f.as_ref() == n) {
                            n.insert(0, '_');
                        }
                        write_key(doc, &Cow::Owned(n));
                    } else {
                        write_key(doc, name);
                    }
                    value.write_json_as(doc, clean);
                }
                (*ts, false)
            }
            Err(e) => {
                // Only the record's own part of the line: a line of many failing JSON values must not
                // make each failure carry the rest of the line (quadratic in the line's length).
                let end = rec.span.end.min(line.len());
                self.write_failure(doc, line.get(rec.span.start.min(end)..end).unwrap_or(""), e);
                (self.fallback_time, true)
            }
        };
        self.write_tail(doc, offset, truncated, failed);
        docs.close();
        Some((timestamp, failed))
    }

    /// True if no field called one of `names` is skipped (a key capture or a root-level global field
    /// replaces it) or renamed (it would collide with the global `tags` or `fields`): a format whose
    /// fields are all among `names` may then write them as they are parsed
    /// ([`ObjectContext::write_direct`]).
    pub fn keeps_all<'n>(&self, mut names: impl Iterator<Item = &'n str>) -> bool {
        names.all(|n| !self.skip.iter().any(|s| s == n) && !self.rename.contains(&n))
    }

    /// Writes the document of a line of one record whose fields `parse` puts into a [`JsonFields`], as
    /// they are parsed: what [`ObjectContext::write_document`] writes for the same fields in a
    /// [`LineOut`], without building that list. Only when [`ObjectContext::keeps_all`] of the format's
    /// field names.
    ///
    /// `plain` is [`crate::scan::is_plain_ascii`] of the line. Its strings are then written without an
    /// escape scan, on the bet that no field holds a `"`; the rare line where the parser reports one is
    /// written again, escaped. Returns what [`ObjectContext::write_document`] does: the event's time and
    /// whether the line failed to parse, or `None`, with nothing written, for a failure under
    /// `parse_errors: drop`.
    #[inline]
    pub fn write_direct(
        &self,
        docs: &mut DocBuf,
        line: &str,
        plain: bool,
        offset: u64,
        truncated: bool,
        mut parse: impl FnMut(&mut JsonFields<'_>) -> Result<Timestamp, ParseError>,
    ) -> Option<(Timestamp, bool)> {
        let doc = docs.begin(self.room(line.len()));
        let start = doc.len();
        let mut fields = JsonFields::new(doc, plain);
        let mut result = parse(&mut fields);
        if result.is_ok() && fields.clean && !fields.quote_free {
            doc.truncate(start);
            let mut fields = JsonFields::new(doc, false);
            result = parse(&mut fields);
        }
        let (timestamp, failed) = match result {
            Ok(ts) => (ts, false),
            Err(e) => {
                doc.truncate(start);
                if self.parse_errors == ParseErrorPolicy::Drop {
                    return None;
                }
                self.write_failure(doc, line, &e);
                (self.fallback_time, true)
            }
        };
        self.write_tail(doc, offset, truncated, failed);
        // The bet on a plain line's strings is checked by the parser's report, not per value: debug
        // builds check the document it leaves.
        debug_assert!(
            serde_json::from_slice::<serde::de::IgnoredAny>(&doc[start..]).is_ok(),
            "not JSON: {}",
            String::from_utf8_lossy(&doc[start..])
        );
        docs.close();
        Some((timestamp, failed))
    }

    /// Room for a record of `len` bytes' values plus field names and metadata, so that its document
    /// rarely outgrows it.
    #[inline(always)]
    fn room(&self, len: usize) -> usize {
        2 * len + self.log_prefix.len() + self.tail_failed.len() + 64
    }

    /// The start of a failure event's document: the fallback time, the record's text and the error.
    #[cold]
    fn write_failure(&self, doc: &mut Vec<u8>, text: &str, e: &ParseError) {
        doc.extend_from_slice(b"{\"@timestamp\":\"");
        self.fallback_time.write_rfc3339(doc);
        doc.extend_from_slice(b"\",\"message\":");
        write_json_str(doc, text);
        doc.extend_from_slice(b",\"error\":{\"message\":");
        write_json_str(doc, &e.to_string());
        doc.push(b'}');
    }

    /// The end of every document: `log` (path, offset, flags), then `beat`, `fields`, `tags`.
    #[inline(always)]
    fn write_tail(&self, doc: &mut Vec<u8>, offset: u64, truncated: bool, failed: bool) {
        doc.extend_from_slice(&self.log_prefix);
        push_bytes(doc, itoa::Buffer::new().format(offset).as_bytes());
        if truncated {
            doc.extend_from_slice(b",\"flags\":[\"truncated\"]");
        }
        doc.extend_from_slice(if failed {
            &self.tail_failed
        } else {
            &self.tail_ok
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{FormatSpec, LineParser};
    use serde_json::json;

    const LINE: &str = "http 2016-08-10T22:08:42.945958Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.46.0\" - - arn:tg \"Root=1\"";

    fn event(settings: &EnrichSettings, key: &str, line: &str, offset: u64) -> (Event, KeyMatch) {
        let spec = FormatSpec::Alb;
        let ctx = ObjectContext::new(
            settings,
            LogFormat::Alb,
            &format!("s3://b/{key}"),
            key,
            Some(Timestamp::from_millis(1_000)),
        );
        let mut p = LineParser::new(&spec);
        let mut out = LineOut::new();
        p.parse_line(line, &mut out);
        let e = ctx
            .event(&out, &out.records[0], line, line.as_bytes(), offset, false)
            .unwrap();
        (e, ctx.key_match.clone())
    }

    #[test]
    fn events_carry_log_beat_fields_and_tags() {
        let mut s = EnrichSettings::new("shipper-1", "host-a");
        s.fields.insert("env".into(), json!("prod"));
        s.tags = vec!["lb".into()];
        let (e, _) = event(&s, "k.log", LINE, 42);
        let v = e.doc_json();
        assert_eq!(
            v["log"],
            json!({"file":{"path":"s3://b/k.log"},"offset":42})
        );
        assert_eq!(
            v["beat"],
            json!({"name":"shipper-1","hostname":"host-a","version":crate::VERSION})
        );
        assert_eq!(v["fields"], json!({"env":"prod"}));
        assert_eq!(v["tags"], json!(["lb"]));
        assert_eq!(v["@timestamp"], "2016-08-10T22:08:42.945958Z");
        assert!(!e.parse_failure);
    }

    #[test]
    fn key_regex_fields_replace_parsed_fields_and_a_mismatch_adds_none() {
        let mut s = EnrichSettings::new("n", "h");
        s.key_regex = Some(regex::Regex::new(r"^(?P<type>[^/]+)/(?P<unused>z)?").unwrap());
        let (e, m) = event(&s, "https/x", LINE, 0);
        let v = e.doc_json();
        assert_eq!(v["type"], "https");
        assert!(v.get("unused").is_none());
        assert_eq!(m, KeyMatch::Matched(vec![("type".into(), "https".into())]));
        // Valid JSON (no duplicate keys): the document text has `"type"` once.
        assert_eq!(e.doc.matches("\"type\"").count(), 1);

        let (e, m) = event(&s, "nomatch", LINE, 0);
        assert_eq!(m, KeyMatch::NoMatch);
        assert_eq!(e.doc_json()["type"], "http");
    }

    #[test]
    fn failed_lines_become_tagged_events_or_are_dropped() {
        let mut s = EnrichSettings::new("n", "h");
        let (e, _) = event(&s, "k", "not an alb line", 7);
        let v = e.doc_json();
        assert!(e.parse_failure);
        assert_eq!(v["message"], "not an alb line");
        assert_eq!(v["@timestamp"], "1970-01-01T00:00:01.000Z");
        assert_eq!(v["tags"], json!([PARSE_FAILURE_TAG]));
        assert_eq!(
            v["error"]["message"],
            "field time: cannot parse time \"an\""
        );

        s.parse_errors = ParseErrorPolicy::Drop;
        let spec = FormatSpec::Alb;
        let ctx = ObjectContext::new(&s, LogFormat::Alb, "s3://b/k", "k", None);
        let mut p = LineParser::new(&spec);
        let mut out = LineOut::new();
        p.parse_line("bad", &mut out);
        assert!(ctx
            .event(&out, &out.records[0], "bad", b"bad", 0, false)
            .is_none());
    }

    #[test]
    fn ids_depend_on_object_offset_and_content_only() {
        let s = EnrichSettings::new("n", "h");
        let a = ObjectContext::new(&s, LogFormat::Alb, "s3://b/k1", "k1", None);
        let b = ObjectContext::new(&s, LogFormat::Alb, "s3://b/k2", "k2", None);
        let a2 = ObjectContext::new(&s, LogFormat::Elb, "s3://b/k1", "k1", None);
        assert_eq!(a.event_id(0, b"x"), a2.event_id(0, b"x"));
        assert_ne!(a.event_id(0, b"x"), a.event_id(2, b"x"));
        assert_ne!(a.event_id(0, b"x"), a.event_id(0, b"y"));
        assert_ne!(a.event_id(0, b"x"), b.event_id(0, b"x"));
        // Pinned: the scheme is part of the contract (docs/formats.md "Event ids"); a change here re-indexes
        // every user's data as duplicates.
        assert_eq!(a.event_id(0, b"x").to_string(), {
            let k = blake3::derive_key(ID_CONTEXT, b"s3://b/k1");
            let mut h = blake3::Hasher::new_keyed(&k);
            h.update(&0u64.to_le_bytes());
            h.update(b"x");
            h.finalize().to_hex()[..32].to_string()
        });
        assert_eq!(a.event_id(0, b"x").to_string(), PINNED_ID);
    }

    /// `_id` of line `x` at offset 0 of `s3://b/k1`, computed when the scheme was introduced.
    const PINNED_ID: &str = "6a93899930390ea0c48f04ac16837967";
}
