//! A record's fields into its document: the [`FieldSink`] interface through which the fixed-column
//! formats (ALB, classic ELB) hand over each field as they read it, and [`JsonFields`], the sink that
//! writes each one into the document's JSON at once, with the key and time writers the general path
//! (`event/enrich.rs`) shares.
//!
//! It sits below `crate::formats` so that a format's descriptor can name the one sink its direct parser
//! is compiled for (`formats::Descriptor::direct`): the hot path stays one monomorphized function per
//! format, with no call through a vtable per field. What must stay true: what a [`JsonFields`] writes for
//! a line is byte for byte what the general writer writes for the same fields (a test in
//! `object/` compares them on thousands of mutated lines), and it writes nothing but UTF-8.

use std::borrow::Cow;
use std::mem::ManuallyDrop;

use crate::fields::{copy_quoted, copy_short, push_bytes, write_json_str, Name, Timestamp, Value};

/// Where a fixed-column format (ALB, classic ELB) puts a line's fields, in order: a `LineOut` (`crate::formats`), which
/// keeps them as values for the general document writer, or a writer of the document's JSON itself
/// ([`JsonFields`]), which spares the ALB hot path the list of values and a second walk over it.
///
/// The parser calls [`FieldSink::time`] once, before the first field, and [`FieldSink::set_quote_free`]
/// last, once every field is read, whatever the result. A sink that wrote fields as they came may have
/// written part of a line that then failed: the caller discards it.
pub trait FieldSink<'a> {
    /// The line's time; `as_written` is its text when `formats::tokens::parse_rfc3339_text` found it written
    /// exactly as [`Timestamp::write_rfc3339`] writes it.
    fn time(&mut self, ts: Timestamp, as_written: Option<&'a str>);
    /// The next field.
    fn push(&mut self, name: &'static str, value: Value<'a>);
    /// Every string value of the line is a slice of it without a `"` (`LineOut::set_quote_free`).
    fn set_quote_free(&mut self, quote_free: bool);
}

/// `{"@timestamp":"…"`, the start of a parsed record's document: `as_written` when the format found the
/// time written as [`Timestamp::write_rfc3339`] would, else `ts` printed.
#[inline(always)]
pub(crate) fn write_time(doc: &mut Vec<u8>, ts: Timestamp, as_written: Option<&str>) {
    doc.extend_from_slice(b"{\"@timestamp\":\"");
    match as_written {
        Some(text) => push_bytes(doc, text.as_bytes()),
        None => ts.write_rfc3339(doc),
    }
    doc.push(b'"');
}

/// A [`FieldSink`] that writes each field into the document as the format reads it
/// (`ObjectContext::write_direct` in [`event/enrich.rs`]).
pub struct JsonFields<'d> {
    doc: &'d mut Vec<u8>,
    /// Strings are copied without an escape scan: the line is plain (see `write_direct`).
    pub(crate) clean: bool,
    /// What the parser reported through [`FieldSink::set_quote_free`].
    pub(crate) quote_free: bool,
}

impl<'d> JsonFields<'d> {
    pub(crate) fn new(doc: &'d mut Vec<u8>, clean: bool) -> JsonFields<'d> {
        JsonFields {
            doc,
            clean,
            quote_free: false,
        }
    }
}

impl<'a> FieldSink<'a> for JsonFields<'_> {
    #[inline(always)]
    fn time(&mut self, ts: Timestamp, as_written: Option<&'a str>) {
        write_time(self.doc, ts, as_written);
    }

    #[inline(always)]
    fn push(&mut self, name: &'static str, value: Value<'a>) {
        push_key(self.doc, name.as_bytes());
        // The kinds that own nothing, which a fixed-column format gives nearly every field, are written
        // here and not dropped: the drop of a `Value` is a call that looks at its kind again, once per
        // field, 4.7% of the ALB path in callgrind. The others (an unescaped string) are dropped.
        let value = ManuallyDrop::new(value);
        let doc = &mut *self.doc;
        match &*value {
            Value::Str(Cow::Borrowed(s)) if self.clean => copy_quoted(doc, s),
            Value::Str(Cow::Borrowed(s)) => write_json_str(doc, s),
            Value::Num(n) => push_bytes(doc, n.as_bytes()),
            Value::Int(i) => push_bytes(doc, itoa::Buffer::new().format(*i).as_bytes()),
            Value::List(Cow::Borrowed(text), split) if self.clean => {
                split.write_json_with(text, doc, copy_quoted)
            }
            Value::List(Cow::Borrowed(text), split) => {
                split.write_json_with(text, doc, write_json_str)
            }
            // Owned (unescaped) strings and anything else: always escaped, so that a clean line's bet
            // is only ever on slices of the line.
            _ => ManuallyDrop::into_inner(value).write_json_as(doc, false),
        }
    }

    #[inline(always)]
    fn set_quote_free(&mut self, quote_free: bool) {
        self.quote_free = quote_free;
    }
}

/// Writes `,"name":`, the key of a field that follows another. Borrowed names are the fixed formats'
/// static names (`client_ip`), which need no escaping: one capacity check and one copy of the name
/// (four pushes each with its own check were 3% of the ALB path in callgrind). Names from data (JSON
/// keys, CloudFront headers) are always owned and escaped.
#[inline(always)]
pub(crate) fn write_key(doc: &mut Vec<u8>, name: &Name<'_>) {
    match name {
        Cow::Borrowed(n) => push_key(doc, n.as_bytes()),
        n => {
            doc.push(b',');
            write_json_str(doc, n);
            doc.push(b':');
        }
    }
}

/// Appends `,"` `n` `":`.
#[inline(always)]
fn push_key(doc: &mut Vec<u8>, n: &[u8]) {
    doc.reserve(n.len() + 4);
    let len = doc.len();
    // SAFETY: `reserve` made room for the `n.len() + 4` bytes written below, all before `set_len`.
    unsafe {
        let p = doc.as_mut_ptr().add(len);
        p.cast::<[u8; 2]>().write_unaligned(*b",\"");
        if n.len() <= 32 {
            copy_short(n.as_ptr(), p.add(2), n.len());
        } else {
            std::ptr::copy_nonoverlapping(n.as_ptr(), p.add(2), n.len());
        }
        p.add(2 + n.len())
            .cast::<[u8; 2]>()
            .write_unaligned(*b"\":");
        doc.set_len(len + n.len() + 4);
    }
}
