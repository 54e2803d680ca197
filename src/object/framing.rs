//! Framing: decompressed bytes in, the units a format parses out (lines, or JSON values), each with its
//! byte offset in the decompressed object.
//!
//! Most AWS logs are lines. Some formats write one JSON document per object with the records in an array
//! (CloudTrail's `{"Records":[...]}`, often pretty-printed over many lines), and Firehose writes records
//! as JSON documents back to back with no separator (CloudWatch Logs payloads); for those the unit is a
//! JSON value, found by a byte scanner that tracks strings and nesting and holds only the unit being
//! assembled. Which framing an object gets is its format's (`crate::formats::Framing`).
//!
//! What must stay true:
//! - Memory is bounded by the unit, never the object: a unit longer than the maximum is cut there,
//!   flagged truncated (the format ships it as a failure), and the rest of it is skipped.
//! - Where the chunks fall never changes the units or their offsets.

/// Splits decompressed bytes into lines with their offsets.
#[derive(Debug)]
pub struct LineSplitter {
    max: usize,
    /// The start of a line that continues in the next chunk.
    carry: Vec<u8>,
    /// Offset of the first byte of the line being assembled.
    line_start: u64,
    /// Bytes seen so far.
    offset: u64,
    /// Inside a line that was already shipped truncated: skip to its end.
    discarding: bool,
}

/// A line handed to the handler.
pub struct Line<'a> {
    /// Byte offset of its first byte in the decompressed object.
    pub offset: u64,
    /// Its bytes, without the terminator; at most the maximum length.
    pub bytes: &'a [u8],
    /// It was longer and cut at the maximum.
    pub truncated: bool,
}

impl LineSplitter {
    /// Lines of at most `max` bytes.
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter {
            max: max.max(1),
            carry: Vec::new(),
            line_start: 0,
            offset: 0,
            discarding: false,
        }
    }

    /// Splits the next bytes; complete lines go to `on_line`.
    pub fn push(&mut self, data: &[u8], on_line: &mut impl FnMut(Line<'_>)) {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            let nl = memchr::memchr(b'\n', rest);
            if self.discarding {
                match nl {
                    Some(i) => {
                        self.discarding = false;
                        pos += i + 1;
                        self.line_start = self.offset + pos as u64;
                    }
                    None => pos = data.len(),
                }
                continue;
            }
            match nl {
                Some(i) => {
                    let seg = &rest[..i];
                    if self.carry.is_empty() {
                        let truncated = seg.len() > self.max;
                        let bytes = if truncated { &seg[..self.max] } else { seg };
                        on_line(Line {
                            offset: self.line_start,
                            bytes,
                            truncated,
                        });
                    } else {
                        let room = self.max - self.carry.len().min(self.max);
                        let truncated = seg.len() > room;
                        self.carry.extend_from_slice(&seg[..seg.len().min(room)]);
                        on_line(Line {
                            offset: self.line_start,
                            bytes: &self.carry,
                            truncated,
                        });
                        self.carry.clear();
                    }
                    pos += i + 1;
                    self.line_start = self.offset + pos as u64;
                }
                None => {
                    let room = self.max - self.carry.len();
                    if rest.len() > room {
                        self.carry.extend_from_slice(&rest[..room]);
                        on_line(Line {
                            offset: self.line_start,
                            bytes: &self.carry,
                            truncated: true,
                        });
                        self.carry.clear();
                        self.discarding = true;
                    } else {
                        self.carry.extend_from_slice(rest);
                    }
                    pos = data.len();
                }
            }
        }
        self.offset += data.len() as u64;
    }

    /// The last line, if it had no final newline.
    pub fn finish(&mut self, on_line: &mut impl FnMut(Line<'_>)) {
        if !self.carry.is_empty() {
            on_line(Line {
                offset: self.line_start,
                bytes: &self.carry,
                truncated: false,
            });
            self.carry.clear();
        }
    }
}

use crate::formats::ArrayShape;

/// What a [`JsonSplitter`] hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonUnits {
    /// Every top-level value (CloudWatch Logs payloads written by Firehose).
    Values,
    /// The elements of the top-level object's array under `array` (CloudTrail's `Records`); whether
    /// the object has one of the top-level keys `marks` is noted ([`ArrayShape::marked`]).
    ArrayElements {
        /// The array's key.
        array: &'static str,
        /// The keys noted.
        marks: &'static [&'static str],
    },
}

/// Splits JSON text into values (see [`JsonUnits`]) without parsing them.
#[derive(Debug)]
pub struct JsonSplitter {
    units: JsonUnits,
    max: usize,
    /// The unit being assembled (at most `max` bytes).
    carry: Vec<u8>,
    /// Offset of the unit's first byte.
    unit_start: u64,
    /// Bytes seen so far.
    offset: u64,
    /// Nesting depth outside strings.
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Inside a unit; `scalar` when it is not an object, array or string (it ends at a delimiter).
    in_unit: bool,
    scalar: bool,
    /// The unit passed `max`: it was cut and the rest is skipped.
    truncated: bool,
    /// `ArrayElements`: the last string seen at depth 1 (a key, when a value follows), capped.
    key: Vec<u8>,
    capturing: bool,
    /// `ArrayElements`: inside the top-level array.
    in_records: bool,
    shape: ArrayShape,
    /// `Values`: a unit that is not JSON runs to the end of its line.
    junk: bool,
}

impl JsonSplitter {
    /// A splitter handing out `units` of at most `max` bytes.
    pub fn new(units: JsonUnits, max: usize) -> JsonSplitter {
        JsonSplitter {
            units,
            max: max.max(1),
            carry: Vec::new(),
            unit_start: 0,
            offset: 0,
            depth: 0,
            in_string: false,
            escaped: false,
            in_unit: false,
            scalar: false,
            truncated: false,
            key: Vec::new(),
            capturing: false,
            in_records: false,
            shape: ArrayShape::default(),
            junk: false,
        }
    }

    /// What was learnt about the object's shape (for `ArrayElements`).
    pub fn shape(&self) -> ArrayShape {
        self.shape
    }

    /// Bytes seen.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// True where a unit may start.
    fn at_unit_level(&self) -> bool {
        match self.units {
            JsonUnits::Values => self.depth == 0,
            JsonUnits::ArrayElements { .. } => self.in_records && self.depth == 2,
        }
    }

    fn start_unit(&mut self, at: u64, scalar: bool) {
        self.in_unit = true;
        self.scalar = scalar;
        self.truncated = false;
        self.unit_start = at;
        self.carry.clear();
    }

    fn end_unit(&mut self, on_unit: &mut impl FnMut(Line<'_>)) {
        self.in_unit = false;
        self.junk = false;
        on_unit(Line {
            offset: self.unit_start,
            bytes: &self.carry,
            truncated: self.truncated,
        });
        self.carry.clear();
    }

    fn keep(&mut self, b: u8) {
        if self.carry.len() < self.max {
            self.carry.push(b);
        } else {
            self.truncated = true;
        }
    }

    /// Scans the next bytes; complete units go to `on_unit`.
    pub fn push(&mut self, data: &[u8], on_unit: &mut impl FnMut(Line<'_>)) {
        for (i, &b) in data.iter().enumerate() {
            let at = self.offset + i as u64;
            if self.junk {
                if b == b'\n' {
                    self.end_unit(on_unit);
                } else {
                    self.keep(b);
                }
                continue;
            }
            if self.in_string {
                if self.in_unit {
                    self.keep(b);
                }
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.capturing {
                        self.capturing = false;
                        if let JsonUnits::ArrayElements { marks, .. } = self.units {
                            if marks.iter().any(|m| m.as_bytes() == self.key.as_slice()) {
                                self.shape.marked = true;
                            }
                        }
                    }
                    if self.in_unit && self.at_unit_level() {
                        // A string that is a unit by itself.
                        self.end_unit(on_unit);
                    }
                } else if self.capturing && self.key.len() < 32 {
                    self.key.push(b);
                }
                continue;
            }
            if self.in_unit && self.scalar {
                if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                    self.end_unit(on_unit);
                } else {
                    self.keep(b);
                    continue;
                }
            }
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => {
                    if self.in_unit {
                        self.keep(b);
                    }
                }
                b'"' => {
                    if !self.in_unit && self.at_unit_level() {
                        self.start_unit(at, false);
                    }
                    if self.in_unit {
                        self.keep(b);
                    }
                    self.in_string = true;
                    if self.depth == 1 && self.units != JsonUnits::Values {
                        self.key.clear();
                        self.capturing = true;
                    }
                }
                b'{' | b'[' => {
                    if self.depth == 0 && self.units != JsonUnits::Values && b != b'{' {
                        self.shape.not_an_object = true;
                    }
                    if !self.in_unit && self.at_unit_level() {
                        self.start_unit(at, false);
                    }
                    if self.in_unit {
                        self.keep(b);
                    }
                    if let JsonUnits::ArrayElements { array, .. } = self.units {
                        if b == b'['
                            && self.depth == 1
                            && self.key == array.as_bytes()
                            && !self.in_records
                        {
                            self.in_records = true;
                            self.shape.array = true;
                        }
                    }
                    self.depth += 1;
                }
                b'}' | b']' => {
                    if self.in_unit {
                        self.keep(b);
                    }
                    self.depth = self.depth.saturating_sub(1);
                    if self.in_unit && self.at_unit_level() {
                        self.end_unit(on_unit);
                    }
                    if self.in_records && self.depth == 1 {
                        self.in_records = false;
                    }
                }
                b',' | b':' if !self.in_unit => {}
                _ => {
                    if self.in_unit {
                        self.keep(b);
                    } else if self.at_unit_level() {
                        self.start_unit(at, true);
                        self.keep(b);
                        // Text that is not JSON at the top level: one unit per line, which the format
                        // ships as a failure.
                        self.junk =
                            self.units == JsonUnits::Values && b != b'-' && !b.is_ascii_digit();
                    } else if self.depth == 0 && self.units != JsonUnits::Values {
                        self.shape.not_an_object = true;
                    }
                }
            }
        }
        self.offset += data.len() as u64;
    }

    /// The last unit, if the text ended inside it.
    pub fn finish(&mut self, on_unit: &mut impl FnMut(Line<'_>)) {
        if self.in_unit && !self.carry.is_empty() {
            self.end_unit(on_unit);
        }
    }
}

/// The framing of one object.
#[derive(Debug)]
pub enum Framer {
    /// Lines.
    Lines(LineSplitter),
    /// JSON values.
    Json(JsonSplitter),
    /// JSON values if the text starts with `{`, else lines (CloudWatch Logs: Firehose payloads or export
    /// lines); undecided while only whitespace was seen (kept here).
    Sniff {
        /// The maximum unit length.
        max: usize,
        /// The whitespace seen so far.
        seen: Vec<u8>,
    },
}

impl Framer {
    /// Bytes seen.
    pub fn offset(&self) -> u64 {
        match self {
            Framer::Lines(l) => l.offset,
            Framer::Json(j) => j.offset,
            Framer::Sniff { seen, .. } => seen.len() as u64,
        }
    }

    /// Frames the next bytes; complete units go to `on_unit`.
    pub fn push(&mut self, data: &[u8], on_unit: &mut impl FnMut(Line<'_>)) {
        if let Framer::Sniff { max, seen } = self {
            match data.iter().position(|b| !b.is_ascii_whitespace()) {
                None => {
                    seen.extend_from_slice(data);
                    return;
                }
                Some(p) => {
                    let before = std::mem::take(seen);
                    *self = if data[p] == b'{' {
                        Framer::Json(JsonSplitter::new(JsonUnits::Values, *max))
                    } else {
                        Framer::Lines(LineSplitter::new(*max))
                    };
                    self.push(&before, on_unit);
                }
            }
        }
        match self {
            Framer::Lines(l) => l.push(data, on_unit),
            Framer::Json(j) => j.push(data, on_unit),
            Framer::Sniff { .. } => unreachable!("decided above"),
        }
    }

    /// The last unit.
    pub fn finish(&mut self, on_unit: &mut impl FnMut(Line<'_>)) {
        match self {
            Framer::Lines(l) => l.finish(on_unit),
            Framer::Json(j) => j.finish(on_unit),
            Framer::Sniff { .. } => {}
        }
    }

    /// What an `ArrayElements` scanner learnt (the default for the other framings).
    pub fn shape(&self) -> ArrayShape {
        match self {
            Framer::Json(j) => j.shape(),
            _ => ArrayShape::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CloudTrail's layout: the elements of `Records`, its digests' keys marked.
    const RECORDS: JsonUnits = JsonUnits::ArrayElements {
        array: "Records",
        marks: &["digestStartTime", "digestEndTime", "digestS3Bucket"],
    };

    fn units(kind: JsonUnits, text: &[u8], chunk: usize, max: usize) -> Vec<(u64, String, bool)> {
        let mut s = JsonSplitter::new(kind, max);
        let mut out = Vec::new();
        let mut f = |l: Line<'_>| {
            out.push((
                l.offset,
                String::from_utf8(l.bytes.to_vec()).unwrap(),
                l.truncated,
            ))
        };
        for c in text.chunks(chunk) {
            s.push(c, &mut f);
        }
        s.finish(&mut f);
        out
    }

    #[test]
    fn records_are_the_elements_of_the_records_array_at_any_chunking() {
        let text = br#"{"Records": [
  {"eventTime": "2014-03-06T21:22:54Z", "a": "}]\"{[", "b": [1, {"c": null}]},
  {"eventTime": "x", "Records": [2]}
], "Other": [{"x": 1}]}"#;
        for chunk in [1, 2, 5, 64, 4096] {
            let u = units(RECORDS, text, chunk, 1 << 20);
            assert_eq!(u.len(), 2, "chunk {chunk}: {u:?}");
            assert_eq!(
                u[0].1,
                r#"{"eventTime": "2014-03-06T21:22:54Z", "a": "}]\"{[", "b": [1, {"c": null}]}"#
            );
            assert_eq!(u[0].0, 16);
            assert_eq!(u[1].1, r#"{"eventTime": "x", "Records": [2]}"#);
            for (off, t, _) in &u {
                assert_eq!(&text[*off as usize..*off as usize + t.len()], t.as_bytes());
            }
        }
    }

    #[test]
    fn a_digest_and_a_non_object_are_recognised() {
        let mut s = JsonSplitter::new(RECORDS, 100);
        s.push(
            br#"{"awsAccountId":"1","digestStartTime":"2015","logFiles":[{"a":1}]}"#,
            &mut |_| panic!("no units"),
        );
        assert_eq!(
            s.shape(),
            ArrayShape {
                array: false,
                marked: true,
                not_an_object: false
            }
        );
        let mut s = JsonSplitter::new(RECORDS, 100);
        s.push(b"hello world\n", &mut |_| panic!("no units"));
        assert!(s.shape().not_an_object);
    }

    #[test]
    fn values_back_to_back_and_junk_lines() {
        let text = b"{\"a\":1}{\"b\":[2]}\n  {\"c\":\"}\"}\nnot json here\n[1]";
        for chunk in [1, 3, 100] {
            let u = units(JsonUnits::Values, text, chunk, 1 << 20);
            let t: Vec<_> = u.iter().map(|x| x.1.as_str()).collect();
            assert_eq!(
                t,
                [
                    "{\"a\":1}",
                    "{\"b\":[2]}",
                    "{\"c\":\"}\"}",
                    "not json here",
                    "[1]"
                ],
                "chunk {chunk}"
            );
            assert_eq!(u[1].0, 7);
        }
    }

    #[test]
    fn a_long_unit_is_cut_and_the_next_one_found() {
        let text = b"{\"a\":\"xxxxxxxxxxxxxxxxxxxx\"}{\"b\":1}";
        let u = units(JsonUnits::Values, text, 4, 10);
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].1, "{\"a\":\"xxxx");
        assert!(u[0].2);
        assert_eq!(u[1], (28, "{\"b\":1}".to_string(), false));
    }

    #[test]
    fn the_sniffing_framer_picks_lines_or_json() {
        for (text, want) in [
            (
                &b"\n {\"a\":1}{\"b\":2}"[..],
                vec!["{\"a\":1}", "{\"b\":2}"],
            ),
            (
                b"2024-01-01T00:00:00Z hello {x}\nsecond",
                vec!["2024-01-01T00:00:00Z hello {x}", "second"],
            ),
        ] {
            let mut f = Framer::Sniff {
                max: 100,
                seen: Vec::new(),
            };
            let mut out = Vec::new();
            for c in text.chunks(1) {
                f.push(c, &mut |l| {
                    out.push(String::from_utf8(l.bytes.to_vec()).unwrap())
                });
            }
            f.finish(&mut |l| out.push(String::from_utf8(l.bytes.to_vec()).unwrap()));
            assert_eq!(out, want);
            assert_eq!(f.offset(), text.len() as u64);
        }
    }
}
