//! One unit in, records out: what a format's parser writes ([`LineOut`], [`Record`], [`ParseError`]) and
//! the sink fixed-column formats write through ([`FieldSink`] for a [`LineOut`]).
//!
//! A parser appends each record's fields to a reusable [`LineOut`], borrowing from the line;
//! `event/enrich.rs` turns each record into an event. ALB and classic ELB put their fields through a
//! [`FieldSink`] instead, which is a [`LineOut`] or the document writer itself
//! (`LineParser::parse_direct`); the formats still know nothing of how a document is laid out.
//!
//! What must stay true here:
//! - A line never panics a parser and never disappears: it yields a record or a [`ParseError`] that says
//!   which field was wrong and why (the caller ships that as a failure event).
//! - Field names and JSON types are the original s3logsbeat's, so existing dashboards keep working. The
//!   deliberate differences (the original's bugs) are listed in docs/formats.md "Differences from the original".
//! - A number is never sent as `"-"`: a `-` (or ALB's `-1` timing) leaves the field out.

use std::fmt;
use std::ops::Range;

use crate::fields::FieldSink;
use crate::fields::{Name, Timestamp, Value, MAX_VALUE_DEPTH};

/// Why a line did not parse. Built only on the failure path; the message names the field and value.
/// Boxed, so that the `Result`s of the hot path stay two words wide.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError(Box<ParseErrorInner>);

/// The contents of a [`ParseError`].
#[derive(Clone, Debug, PartialEq)]
pub struct ParseErrorInner {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The field concerned (empty when the line as a whole is wrong).
    pub field: Name<'static>,
    /// The offending value, shortened to 120 bytes.
    pub value: String,
}

impl std::ops::Deref for ParseError {
    type Target = ParseErrorInner;
    fn deref(&self) -> &ParseErrorInner {
        &self.0
    }
}

/// The kinds of parse failure, counted and shown in `error.message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Fewer fields than the format requires.
    TooFewFields { required: usize, found: usize },
    /// A quoted field with no closing quote.
    UnterminatedQuote,
    /// A timestamp that does not parse.
    BadTimestamp,
    /// An integer field that is not an integer.
    BadInteger,
    /// A numeric field that is not a number.
    BadNumber,
    /// An `address:port` field without a numeric port.
    BadAddress,
    /// The line is not JSON (the parser's message).
    BadJson(String),
    /// The JSON value is not an object.
    NotAnObject,
    /// The timestamp field is missing.
    MissingTimestamp,
    /// The timestamp field has a type the timestamp format cannot read.
    TimestampType(&'static str),
    /// A time that reads, but outside the years 0000 to 9999 (`Timestamp::in_range`).
    TimestampOutOfRange,
    /// The object is not text: a NUL byte at this offset of its (decompressed) start.
    BinaryObject(u64),
    /// The line is not of this format (what was expected).
    NotThisFormat(&'static str),
}

impl ParseError {
    /// A failure of `field` with `value`.
    #[cold]
    pub fn new(kind: ErrorKind, field: impl Into<Name<'static>>, value: &str) -> ParseError {
        let mut end = value.len().min(120);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        ParseError(Box::new(ParseErrorInner {
            kind,
            field: field.into(),
            value: value[..end].to_string(),
        }))
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::TooFewFields { required, found } => write!(
                f,
                "line has {found} fields, the format needs at least {required}"
            ),
            ErrorKind::UnterminatedQuote => {
                write!(f, "field {}: quoted value has no closing quote", self.field)
            }
            ErrorKind::BadTimestamp => {
                write!(
                    f,
                    "field {}: cannot parse time {:?}",
                    self.field, self.value
                )
            }
            ErrorKind::BadInteger => {
                write!(
                    f,
                    "field {}: {:?} is not an integer",
                    self.field, self.value
                )
            }
            ErrorKind::BadNumber => {
                write!(f, "field {}: {:?} is not a number", self.field, self.value)
            }
            ErrorKind::BadAddress => write!(
                f,
                "field {}: {:?} is not an address:port",
                self.field, self.value
            ),
            ErrorKind::BadJson(msg) => write!(f, "line is not valid JSON: {msg}"),
            ErrorKind::NotAnObject => write!(f, "JSON value is not an object: {:?}", self.value),
            ErrorKind::MissingTimestamp => {
                write!(f, "timestamp field {} is missing", self.field)
            }
            ErrorKind::TimestampType(expected) => write!(
                f,
                "timestamp field {}: {:?} is not {expected}",
                self.field, self.value
            ),
            ErrorKind::TimestampOutOfRange => write!(
                f,
                "field {}: time {:?} is outside the years 0000 to 9999",
                self.field, self.value
            ),
            ErrorKind::NotThisFormat(what) => write!(f, "not {what}: {:?}", self.value),
            ErrorKind::BinaryObject(at) => write!(
                f,
                "the object is binary, not a log (a NUL byte at offset {at}; compressed twice, or not \
                 a log at all): it is shipped as this one event and not read further"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// One record of a line: its fields are `LineOut::fields[fields]`.
#[derive(Clone, Debug)]
pub struct Record {
    /// Where the record is in its line, in bytes of the text (the whole line, except for several JSON
    /// values on one line). A failure event carries this part of the line, and only this part.
    pub span: Range<usize>,
    /// Where its fields are in [`LineOut::fields`].
    pub fields: Range<usize>,
    /// The event time, or why the record failed.
    pub result: Result<Timestamp, ParseError>,
}

/// The parse output of one line; reused from line to line (see [`LineOut::recycle`]).
#[derive(Debug, Default)]
pub struct LineOut<'a> {
    /// Fields of every record of the line, back to back. A borrowed name must be a plain name from the
    /// program or the config (it is written without escaping); a name that comes from the data must be
    /// owned. Fields are added only through [`LineOut::push`] and [`LineOut::push_named`], which keep
    /// `owns` true.
    pub(super) fields: Vec<(Name<'a>, Value<'a>)>,
    /// Some field may own memory (an owned name, an unescaped or decoded string, a JSON value). While
    /// false, [`LineOut::recycle`] forgets the fields instead of dropping them one by one: that drop
    /// was 6% of the ALB path in `perf`, for lines whose fields all borrow from the line.
    owns: bool,
    /// The line is printable ASCII without `\` ([`crate::scan::is_plain_ascii`]), set by the reader of
    /// the line before it is parsed.
    plain_line: bool,
    /// Every string value of the line (`Str`, `List`) is a slice of the line with no `"` in it, set by
    /// a format whose tokenizer looked (ALB, ELB). False unless a format says so.
    quote_free: bool,
    /// The text of the line's one record's `@timestamp` exactly as [`Timestamp::write_rfc3339`] writes
    /// it, when the format found the line's time written that way: copied instead of printed again.
    time_text: Option<&'a str>,
    /// JSON objects and arrays of this line kept as their text because they nest deeper than
    /// [`MAX_VALUE_DEPTH`] ([`LineOut::push_json`]).
    json_capped: u64,
    /// The records.
    pub records: Vec<Record>,
}

impl<'a> LineOut<'a> {
    /// An empty output.
    pub fn new() -> LineOut<'a> {
        LineOut {
            fields: Vec::with_capacity(48),
            owns: false,
            plain_line: false,
            quote_free: false,
            time_text: None,
            json_capped: 0,
            records: Vec::with_capacity(2),
        }
    }

    /// Empties `self` and gives its allocation a new lifetime, so that the next line can borrow into it
    /// without allocating again.
    pub fn recycle<'b>(mut self) -> LineOut<'b> {
        if !self.owns {
            debug_assert!(self.fields.iter().all(|(n, v)| !owns(n, v)));
            // SAFETY: no field owns memory (every push keeps `owns` up to date), so forgetting them
            // leaks nothing; `set_len(0)` only shortens the vector.
            unsafe { self.fields.set_len(0) };
        }
        LineOut {
            fields: recycle_vec(self.fields),
            owns: false,
            plain_line: false,
            quote_free: false,
            time_text: None,
            json_capped: 0,
            records: {
                // Records borrow nothing: emptied in place, they need no new lifetime.
                self.records.clear();
                self.records
            },
        }
    }

    /// Adds a field holding a JSON value decoded from the log, held to [`MAX_VALUE_DEPTH`] levels: deeper
    /// objects and arrays are kept as their JSON text ([`crate::fields::cap_json_depth`]), so that the
    /// document stays one Elasticsearch maps and every later step can read back.
    pub fn push_json(&mut self, name: impl Into<Name<'a>>, mut v: serde_json::Value) {
        crate::fields::cap_json_depth(&mut v, MAX_VALUE_DEPTH, &mut self.json_capped);
        self.push_named(name.into(), Value::Json(v));
    }

    /// How many JSON values of this line [`LineOut::push_json`] kept as text.
    pub fn json_capped(&self) -> u64 {
        self.json_capped
    }

    /// Marks the line about to be parsed as printable ASCII without `\` (the caller checked it with
    /// [`crate::scan::is_plain_ascii`]).
    pub fn set_plain_line(&mut self) {
        self.plain_line = true;
    }

    /// Records the format's word that every string value of this line is a slice of the line without
    /// a `"` (see [`SpaceFields::quote_free`](super::tokens::SpaceFields::quote_free)).
    pub fn set_quote_free(&mut self, quote_free: bool) {
        self.quote_free = quote_free;
    }

    /// Records that `text`, a slice of the line, is the line's one record's time exactly as
    /// [`Timestamp::write_rfc3339`] writes it ([`super::tokens::parse_rfc3339_text`] says when).
    pub fn set_time_text(&mut self, text: &'a str) {
        self.time_text = Some(text);
    }

    /// The `@timestamp` text of the line's one record, if a format set it and the line has one record.
    #[inline]
    pub fn time_text(&self) -> Option<&'a str> {
        self.time_text.filter(|_| self.records.len() == 1)
    }

    /// True if no string value of the line needs JSON escaping: slices without `"` of a line of
    /// printable ASCII without `\`. The writer then copies them between quotes without looking.
    #[inline]
    pub fn strings_are_clean(&self) -> bool {
        self.plain_line && self.quote_free
    }

    /// Adds a field to the record being built.
    #[inline]
    pub fn push(&mut self, name: &'static str, value: Value<'a>) {
        self.owns |= value.owns();
        self.fields.push((Name::Borrowed(name), value));
    }

    /// Adds a field whose name may come from the data or the config.
    #[inline]
    pub fn push_named(&mut self, name: Name<'a>, value: Value<'a>) {
        self.owns |= owns(&name, &value);
        self.fields.push((name, value));
    }

    /// Gives field `at` a new name (a column that a header renamed).
    pub fn rename(&mut self, at: usize, name: Name<'a>) {
        if let Some(f) = self.fields.get_mut(at) {
            self.owns |= matches!(name, Name::Owned(_));
            f.0 = name;
        }
    }

    /// The number of fields of every record so far (where the next record's fields start).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True before the first field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every field of the line, by index.
    pub fn fields(&self) -> &[(Name<'a>, Value<'a>)] {
        &self.fields
    }

    /// The fields of a record.
    pub fn fields_of(&self, r: &Record) -> &[(Name<'a>, Value<'a>)] {
        &self.fields[r.fields.clone()]
    }

    /// Closes the record that started at field index `start` and covers `span` of the line: on failure
    /// its fields are discarded.
    pub fn finish(
        &mut self,
        start: usize,
        span: Range<usize>,
        result: Result<Timestamp, ParseError>,
    ) {
        if result.is_err() {
            self.fields.truncate(start);
        }
        self.records.push(Record {
            span,
            fields: start..self.fields.len(),
            result,
        });
    }
}

/// True if the field holds memory of its own.
fn owns(name: &Name<'_>, value: &Value<'_>) -> bool {
    matches!(name, Name::Owned(_)) || value.owns()
}

/// Reuses a vector's allocation for items of another lifetime (the in-place `collect` keeps the buffer).
fn recycle_vec<'b>(mut v: Vec<(Name<'_>, Value<'_>)>) -> Vec<(Name<'b>, Value<'b>)> {
    v.clear();
    v.into_iter().map(|_| unreachable!()).collect()
}

impl<'a> FieldSink<'a> for LineOut<'a> {
    #[inline(always)]
    fn time(&mut self, _ts: Timestamp, as_written: Option<&'a str>) {
        // The time itself is the record's result, set by `finish`.
        if let Some(text) = as_written {
            self.set_time_text(text);
        }
    }

    #[inline(always)]
    fn push(&mut self, name: &'static str, value: Value<'a>) {
        LineOut::push(self, name, value);
    }

    #[inline(always)]
    fn set_quote_free(&mut self, quote_free: bool) {
        LineOut::set_quote_free(self, quote_free);
    }
}

/// What a line turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// A header line (CloudFront `#Version:`/`#Fields:`, a VPC flow log's field names): no record.
    Header,
    /// Data: the records are in the [`LineOut`].
    Data,
    /// A unit that is not data by design (a CloudWatch Logs `CONTROL_MESSAGE`): no record, counted.
    Skipped,
}

/// Gives a column named by an object's header (CloudFront `#Fields:`, a VPC flow log's header line) the
/// name it is written under: one s3logsbeat writes itself (`log`, `tags`, ...) gets a `_` in front, and
/// one already in `seen` gets `_2`, `_3`, ..., so that a document never has a key twice. `seen` collects
/// the names given; decided once per header, so lines pay nothing for it.
pub(super) fn header_name(name: &mut Name<'static>, seen: &mut Vec<String>) {
    let mut unique = name.to_string();
    if crate::fields::RESERVED_NAMES.contains(&unique.as_str()) {
        unique.insert(0, '_');
    }
    let base = unique.clone();
    let mut n = 2;
    while seen.contains(&unique) {
        unique = format!("{base}_{n}");
        n += 1;
    }
    if unique != *name {
        *name = Name::Owned(unique.clone());
    }
    seen.push(unique);
}
