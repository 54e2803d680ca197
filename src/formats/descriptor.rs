//! What a log format is to the rest of the program: a [`Descriptor`], one static value in the format's
//! own module, listed in [`super::ALL`]. Everything outside `formats/` that depends on the format reads
//! it from there instead of naming the format: option checks (`config/`), routing (`auto`'s key
//! layouts, [`super::route`]), the object stage (objects to skip, framing, a second gzip layer, the check
//! at an object's end), the index template (fields and their mapping types) and ECS names
//! ([`super::ecs::Ecs`], applied by `event/ecs.rs`). [`LineParser`] is the per-object face the object
//! stage calls for every unit, made from the descriptor.
//!
//! What must stay true: a descriptor is data and plain functions, with no state; its functions never
//! panic on any input (a key, an option, a line) and never touch the network or the disk.

use std::fmt;

use super::ecs::Ecs;
use super::line::{LineKind, LineOut, ParseError};
use super::mapping::FieldType;
use super::{FormatOptions, FormatSpec, LogFormat};
use crate::fields::JsonFields;
use crate::fields::Timestamp;

/// One log format, as the shared machinery reads it.
pub struct Descriptor {
    /// Its variant, for code that keeps a format as a value.
    pub format: LogFormat,
    /// The `log_format` name, also the events' `@metadata.format`: a plain lowercase word (it is written
    /// into documents without escaping).
    pub name: &'static str,
    /// One line for people: what the format reads.
    pub doc: &'static str,
    /// The `log_format_options` it takes (keys of [`FormatOptions`]); any other is an error.
    pub options: &'static [&'static str],
    /// Those of its options without which it cannot read anything: `log_format_options` is then
    /// required.
    pub required: &'static [&'static str],
    /// Its [`FormatSpec`] from options that name only what it takes; the error names the option and says
    /// what is wrong, the option written as `name(option)`.
    pub build: BuildFn,
    /// How the object's text is cut into the units it parses.
    pub framing: Framing,
    /// The text may itself be gzip inside the object's own compression (Firehose compresses each
    /// CloudWatch Logs payload, then the object): sniffed from its first two bytes and undone.
    pub compressed_twice: bool,
    /// A parser of one object's units ([`ObjectLines`]), made per object.
    pub parser: ParserFn,
    /// For a format of one record per line that writes through a [`crate::fields::FieldSink`]:
    /// its parser compiled for the document writer, used when the settings keep every field as it is
    /// named (no key capture or global field replaces one).
    pub direct: Option<DirectFn>,
    /// Every field its parser writes, dotted, with its mapping type: the index template's table, and
    /// what its ECS mapping renames. `tests/component/template.rs` checks every field of every sample against it.
    pub fields: &'static [(&'static str, FieldType)],
    /// Its Elastic Common Schema names (`field_names: ecs`); `None` for formats whose fields are the
    /// log's own or the config's.
    pub ecs: Option<&'static Ecs>,
    /// For `log_format: auto`: true if AWS writes this format under such a bucket and key. Two formats
    /// never both recognise a key (a test in [`super::route`] holds them to it).
    pub recognises: Option<fn(bucket: &str, key: &str) -> bool>,
    /// What an object AWS writes beside the logs is, when its key says it is not a log (a load
    /// balancer's test file, a CloudTrail digest): it is skipped unread. `None` for a log.
    pub not_a_log: Option<fn(key: &str) -> Option<&'static str>>,
}

impl fmt::Debug for Descriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// See [`Descriptor::build`].
pub type BuildFn =
    fn(&FormatOptions, &dyn Fn(&str) -> String) -> Result<FormatSpec, (&'static str, String)>;

/// See [`Descriptor::parser`].
pub type ParserFn = for<'s> fn(&'s FormatSpec) -> Box<dyn ObjectLines<'s> + 's>;

/// See [`Descriptor::direct`]: one line, one record, its fields written into the document as read.
pub type DirectFn =
    for<'a, 'd, 'w> fn(&'a str, &'w mut JsonFields<'d>) -> Result<Timestamp, ParseError>;

/// A parser of one line of one record, with no state between lines ([`Single`]).
pub type LineFn = for<'a> fn(&'a str, &mut LineOut<'a>) -> Result<Timestamp, ParseError>;

/// How an object's decompressed text is cut into units (see `object/framing.rs`).
#[derive(Clone, Copy, Debug)]
pub enum Framing {
    /// A unit per line.
    Lines,
    /// A unit per element of the array under `array` in the object's one top-level JSON object
    /// (CloudTrail's `{"Records":[...]}`), found without holding the object whole.
    ArrayElements {
        /// The key of the array.
        array: &'static str,
        /// Top-level keys whose presence the framer reports ([`ArrayShape::marked`]).
        marks: &'static [&'static str],
        /// What the object was, from what the framer saw, once it has ended.
        at_end: fn(ArrayShape) -> AtEnd,
    },
    /// A unit per JSON value when the text starts with `{` (values back to back, as Firehose writes
    /// records), else a unit per line.
    ValuesOrLines,
}

/// What the framer of [`Framing::ArrayElements`] saw of an object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArrayShape {
    /// The top-level object has the array.
    pub array: bool,
    /// The top-level object has one of the marked keys.
    pub marked: bool,
    /// The text does not start with `{`: not a JSON object at all.
    pub not_an_object: bool,
}

/// What an object of [`Framing::ArrayElements`] turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtEnd {
    /// A log: its units were the events.
    Log,
    /// Not a log after all (a CloudTrail digest under another key): skipped, not a failure.
    NotALog,
    /// Not of this format: one failure event for the object, with `message` as its text and `expected`
    /// saying what the object should have been.
    Failure {
        /// The failure event's `message`.
        message: &'static str,
        /// What was expected, for `error.message`.
        expected: &'static str,
    },
}

/// One object's units, as one format reads them: made per object by [`Descriptor::parser`], so that a
/// format may learn from the object's header lines (CloudFront's `#Fields:`, a VPC flow log's columns).
pub trait ObjectLines<'s>: fmt::Debug + Send {
    /// Parses one unit (a line without its terminator and not blank, or a JSON value), appending its
    /// records to `out`; a header line gives none.
    fn parse<'a>(&mut self, unit: &'a str, out: &mut LineOut<'a>) -> LineKind
    where
        's: 'a;

    /// The time of records that carry none of their own (a VPC flow log layout without `start` or
    /// `end`): the time AWS wrote into the key, else the object's LastModified. Most formats ignore it.
    fn set_object_time(&mut self, _t: Option<Timestamp>) {}
}

/// [`ObjectLines`] of a format whose every line is one record, parsed on its own.
#[derive(Debug)]
pub struct Single(pub LineFn);

impl Single {
    /// A parser for one object of a format of [`LineFn`] `parse`.
    pub fn boxed<'s>(parse: LineFn) -> Box<dyn ObjectLines<'s> + 's> {
        Box::new(Single(parse))
    }
}

impl<'s> ObjectLines<'s> for Single {
    #[inline]
    fn parse<'a>(&mut self, unit: &'a str, out: &mut LineOut<'a>) -> LineKind
    where
        's: 'a,
    {
        let start = out.len();
        let r = (self.0)(unit, out);
        out.finish(start, 0..unit.len(), r);
        LineKind::Data
    }
}

/// Parses the units of one object, as its format's [`Descriptor`] says: through the format's
/// [`ObjectLines`], or for a format with a [`DirectFn`], straight into the document.
#[derive(Debug)]
pub struct LineParser<'s> {
    spec: &'s FormatSpec,
    lines: Box<dyn ObjectLines<'s> + 's>,
    direct: Option<DirectFn>,
}

impl<'s> LineParser<'s> {
    /// A parser for one object of this format.
    pub fn new(spec: &'s FormatSpec) -> LineParser<'s> {
        let d = spec.descriptor();
        LineParser {
            spec,
            lines: (d.parser)(spec),
            direct: d.direct,
        }
    }

    /// Sets the time of records that carry none (a VPC flow log layout without `start` or `end`): the
    /// time in the object's file name, else its LastModified.
    pub fn set_object_time(&mut self, t: Option<Timestamp>) {
        self.lines.set_object_time(t);
    }

    /// The format it parses.
    pub fn spec(&self) -> &'s FormatSpec {
        self.spec
    }

    /// True if the format writes its lines straight into documents ([`LineParser::parse_direct`]): ALB
    /// and classic ELB, whose lines are one record each and need no state from earlier lines.
    pub fn has_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Parses one line of a format for which [`LineParser::has_direct`] is true into `sink`: one record,
    /// the whole line, whose fields are exactly those [`LineParser::parse_line`] gives. `None` for any
    /// other format.
    #[inline]
    pub fn parse_direct(
        &self,
        line: &str,
        sink: &mut JsonFields<'_>,
    ) -> Option<Result<Timestamp, ParseError>> {
        self.direct.map(|parse| parse(line, sink))
    }

    /// Parses one unit (without its line terminator, not blank).
    #[inline]
    pub fn parse_line<'a>(&mut self, line: &'a str, out: &mut LineOut<'a>) -> LineKind
    where
        's: 'a,
    {
        self.lines.parse(line, out)
    }
}
