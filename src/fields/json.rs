//! JSON in events: a field [`Value`] in, its JSON text appended to a document out; strings escaped
//! (a table-driven scan, short copies without a call), lists written from a column's text, decoded JSON
//! held to [`MAX_VALUE_DEPTH`]. What must stay true: whatever is written is valid JSON that serde reads
//! back to the same value, and no document nests deeper than [`MAX_DOC_DEPTH`].

use std::borrow::Cow;
use std::fmt;

/// One field value, borrowed from the line where possible.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// A string, JSON-escaped when written.
    Str(Cow<'a, str>),
    /// A signed integer.
    Int(i64),
    /// A number literal from the log that is already valid JSON (`0.000073`): written verbatim so that
    /// no precision is lost and no float formatting is spent on the hot path.
    Num(&'a str),
    /// A float that had to be computed.
    Float(f64),
    /// A list of strings that had to be built (CloudWatch's `subscriptionFilters`).
    StrList(Vec<Cow<'a, str>>),
    /// A list written straight from one column's text, never built (ALB `actions_executed`,
    /// `target_port_list`, NLB's ALPN list): the items of `text` split at `split.sep`. Building a `Vec` of
    /// items cost two allocations per list column on the hot path.
    List(Cow<'a, str>, Split),
    /// Any JSON value (the `json` and `waf` formats); nulls are already removed.
    Json(serde_json::Value),
}

/// How a [`Value::List`] column is cut into items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// The byte between items: an ASCII byte.
    pub sep: u8,
    /// Strip one pair of `"` around each item and leave `-` items out (NLB's `"h2","http/1.1"`).
    pub unquote: bool,
}

impl Split {
    /// The items of `text`, without the empty ones (and, with `unquote`, without quotes and `-`).
    pub fn items(self, text: &str) -> impl Iterator<Item = &str> {
        text.split(self.sep as char)
            .filter_map(move |i| self.item(i))
    }

    /// One piece of the text between two separators as an item, or `None` if it is left out.
    #[inline(always)]
    fn item(self, i: &str) -> Option<&str> {
        let i = if self.unquote {
            i.strip_prefix('"')
                .and_then(|i| i.strip_suffix('"'))
                .unwrap_or(i)
        } else {
            i
        };
        (!(i.is_empty() || self.unquote && i == "-")).then_some(i)
    }

    /// Writes the items of `text` as a JSON array of strings. The same as collecting
    /// [`Split::items`], without `str::split`'s searcher: a third of the ALB document's cost was its
    /// three list columns (callgrind). `clean`: the items need no escaping (see [`write_clean_str`]).
    #[inline]
    pub fn write_json(self, text: &str, out: &mut Vec<u8>, clean: bool) {
        self.write_json_with(text, out, |out, item| write_str_as(out, item, clean));
    }

    /// [`Split::write_json`], each item written by `write_item`.
    #[inline(always)]
    pub fn write_json_with(
        self,
        text: &str,
        out: &mut Vec<u8>,
        mut write_item: impl FnMut(&mut Vec<u8>, &str),
    ) {
        out.push(b'[');
        let mut first = true;
        let mut start = 0;
        loop {
            let end =
                crate::scan::find_byte(text.as_bytes(), start, self.sep).unwrap_or(text.len());
            // `sep` is ASCII, so `start` and `end` are character boundaries.
            if let Some(item) = self.item(&text[start..end]) {
                if !first {
                    out.push(b',');
                }
                first = false;
                write_item(out, item);
            }
            if end == text.len() {
                break;
            }
            start = end + 1;
        }
        out.push(b']');
    }
}

/// A field name: static for the fixed formats, owned for JSON keys.
pub type Name<'a> = Cow<'a, str>;

/// Appends `s`: [`Vec::extend_from_slice`] without a call into `memcpy` for up to 32 bytes.
///
/// A document is built from dozens of short pieces (names, numbers, short values); a libc `memcpy` call
/// for each was the largest single cost of the ALB path in `perf` (13%), so short pieces are copied as
/// two overlapping words of 4, 8 or 16 bytes instead.
#[inline]
pub fn push_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n > 32 {
        out.extend_from_slice(s);
        return;
    }
    out.reserve(n);
    let len = out.len();
    // SAFETY: `reserve` made room for `n` more bytes after `len`, all written before `set_len` exposes
    // them; `s` is readable for `n <= 32` bytes.
    unsafe {
        copy_short(s.as_ptr(), out.as_mut_ptr().add(len), n);
        out.set_len(len + n);
    }
}

/// Copies `n <= 32` bytes from `src` to `dst` without a call into `memcpy` (see [`push_bytes`]).
///
/// # Safety
/// `n <= 32`, `src[..n]` readable, `dst[..n]` writable, the two not overlapping.
#[inline(always)]
pub unsafe fn copy_short(src: *const u8, dst: *mut u8, n: usize) {
    debug_assert!(n <= 32);
    // SAFETY: every copy below reads inside `src[..n]` (offsets 0 and n - width, with width <= n) and
    // writes inside `dst[..n]`.
    unsafe {
        if n >= 16 {
            copy_ends::<u128>(src, dst, n);
        } else if n >= 8 {
            copy_ends::<u64>(src, dst, n);
        } else if n >= 4 {
            copy_ends::<u32>(src, dst, n);
        } else if n > 0 {
            *dst = *src;
            *dst.add(n / 2) = *src.add(n / 2);
            *dst.add(n - 1) = *src.add(n - 1);
        }
    }
}

/// Copies `n` bytes from `src` to `dst` as two words of `T`, at offsets 0 and `n - size_of::<T>()`.
///
/// # Safety
/// `size_of::<T>() <= n`, and `src[..n]` readable and `dst[..n]` writable.
#[inline(always)]
unsafe fn copy_ends<T: Copy>(src: *const u8, dst: *mut u8, n: usize) {
    let w = std::mem::size_of::<T>();
    // SAFETY: both words lie inside the first `n` bytes (the caller's contract).
    unsafe {
        let (a, b) = (
            src.cast::<T>().read_unaligned(),
            src.add(n - w).cast::<T>().read_unaligned(),
        );
        dst.cast::<T>().write_unaligned(a);
        dst.add(n - w).cast::<T>().write_unaligned(b);
    }
}

/// Appends `s` as a JSON string literal, quotes included.
///
/// The common case, a string of at most 32 bytes with nothing to escape (14 of an ALB line's values),
/// is one scan and [`write_clean_str`] (callgrind: 132 instructions a call on the ALB path when the
/// quotes and the bytes were pushed piece by piece, each with a capacity check).
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    if b.len() <= 32 && find_escape(b, 0).is_none() {
        write_clean_str(out, s);
        return;
    }
    out.reserve(b.len() + 2);
    out.push(b'"');
    write_json_str_body(out, b);
    out.push(b'"');
}

/// Appends `s` between quotes as it stands: a string its caller knows holds nothing that JSON escapes
/// (`"`, `\`, bytes below 0x20), such as a quote-free slice of a plain ASCII line
/// ([`crate::formats::LineOut::strings_are_clean`]). One capacity check and three stores, no scan.
/// Debug builds check that `s` needs no escaping.
#[inline]
pub fn write_clean_str(out: &mut Vec<u8>, s: &str) {
    debug_assert!(
        find_escape(s.as_bytes(), 0).is_none(),
        "{s:?} needs escaping"
    );
    copy_quoted(out, s);
}

/// [`write_clean_str`] without the debug check, for a writer that bets `s` needs no escaping and checks
/// the bet itself, after the fact (`JsonFields`: a lost bet's document is written again).
#[inline]
pub fn copy_quoted(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    let n = b.len();
    out.reserve(n + 2);
    let len = out.len();
    // SAFETY: `reserve` made room for `n + 2` bytes after `len`, all written before `set_len` exposes
    // them; `b` is readable for `n` bytes and does not overlap `out`'s spare room.
    unsafe {
        let p = out.as_mut_ptr().add(len);
        *p = b'"';
        if n <= 32 {
            copy_short(b.as_ptr(), p.add(1), n);
        } else {
            std::ptr::copy_nonoverlapping(b.as_ptr(), p.add(1), n);
        }
        *p.add(n + 1) = b'"';
        out.set_len(len + n + 2);
    }
}

/// [`write_clean_str`] if the caller knows `s` needs no escaping (`clean`), else [`write_json_str`]: the
/// one choice of a value's string and a list's items.
#[inline(always)]
pub fn write_str_as(out: &mut Vec<u8>, s: &str, clean: bool) {
    if clean {
        write_clean_str(out, s);
    } else {
        write_json_str(out, s);
    }
}

/// Lowercase hex digits, for `\u00XX` escapes and event ids.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Each byte's two lowercase hex digits, for event ids.
pub(crate) static HEX_PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    t
};

/// Escapes for bytes that JSON does not allow raw in a string: 0 = copy, 1 = short escape, 2 = `\u00XX`.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = 2;
        i += 1;
    }
    t[b'\n' as usize] = 1;
    t[b'\r' as usize] = 1;
    t[b'\t' as usize] = 1;
    t[0x08] = 1;
    t[0x0c] = 1;
    t[b'"' as usize] = 1;
    t[b'\\' as usize] = 1;
    t
};

/// Writes `b`, escaped, without the quotes: runs of clean bytes are copied whole, each byte that JSON
/// does not allow raw gets its escape.
fn write_json_str_body(out: &mut Vec<u8>, b: &[u8]) {
    let mut start = 0;
    while let Some(i) = find_escape(b, start) {
        push_bytes(out, &b[start..i]);
        push_escape(out, b[i]);
        start = i + 1;
    }
    push_bytes(out, &b[start..]);
}

/// The escape of one byte that [`ESCAPE`] marks.
#[cold]
fn push_escape(out: &mut Vec<u8>, c: u8) {
    if ESCAPE[c as usize] == 1 {
        out.push(b'\\');
        out.push(match c {
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            other => other,
        });
    } else {
        out.extend_from_slice(b"\\u00");
        out.push(HEX[(c >> 4) as usize]);
        out.push(HEX[(c & 0xf) as usize]);
    }
}

/// The position of the first byte at or after `from` that must be escaped (`"`, `\\`, below 0x20).
#[inline]
fn find_escape(b: &[u8], from: usize) -> Option<usize> {
    crate::scan::find_json_escape(b, from)
}

impl Value<'_> {
    /// True if the value holds memory of its own (dropping it frees something).
    #[inline]
    pub fn owns(&self) -> bool {
        match self {
            Value::Str(s) | Value::List(s, _) => matches!(s, Cow::Owned(_)),
            Value::Int(_) | Value::Num(_) | Value::Float(_) => false,
            Value::StrList(_) | Value::Json(_) => true,
        }
    }

    /// Appends the value as JSON.
    #[inline(always)]
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_as(out, false);
    }

    /// [`Value::write_json`], where `clean` says that the value's strings need no escaping (a value of a
    /// line whose [`crate::formats::LineOut::strings_are_clean`]): they are then copied without a scan.
    ///
    /// Inlined into the document loop for the three kinds of nearly every field (string, integer,
    /// number); the others are written out of line.
    #[inline(always)]
    pub fn write_json_as(&self, out: &mut Vec<u8>, clean: bool) {
        match self {
            Value::Str(s) => write_str_as(out, s, clean),
            Value::Int(i) => push_bytes(out, itoa::Buffer::new().format(*i).as_bytes()),
            Value::Num(n) => push_bytes(out, n.as_bytes()),
            _ => self.write_json_rare(out, clean),
        }
    }

    /// [`Value::write_json_as`] of floats, lists and JSON values; `clean` counts for the lists written
    /// from a line's text.
    #[inline(never)]
    fn write_json_rare(&self, out: &mut Vec<u8>, clean: bool) {
        match self {
            Value::Str(_) | Value::Int(_) | Value::Num(_) => self.write_json_as(out, clean),
            Value::Float(f) => {
                if f.is_finite() {
                    out.extend_from_slice(ryu::Buffer::new().format_finite(*f).as_bytes())
                } else {
                    out.extend_from_slice(b"null")
                }
            }
            Value::StrList(l) => {
                out.push(b'[');
                for (i, s) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_json_str(out, s);
                }
                out.push(b']');
            }
            Value::List(text, split) => split.write_json(text, out, clean),
            Value::Json(v) => {
                // Writing into a Vec cannot fail, and a serde_json::Value always serializes.
                let _ = serde_json::to_writer(&mut *out, v);
            }
        }
    }
}

/// The deepest a document may nest, the document itself being level 1. Elasticsearch refuses a document
/// whose objects go deeper than `index.mapping.depth.limit` (20 by default), and a `flattened` field
/// deeper than its `depth_limit` (also 20); and a document within it always reads back (serde_json stops
/// at 128 levels), so rendering an index or running processors never meets one it cannot read.
pub const MAX_DOC_DEPTH: usize = 20;

/// The deepest a JSON value decoded from a log may nest where a format builds it, the value itself being
/// level 1: the document's root and the levels ECS names add above a value (at most three, in
/// `aws.cloudtrail.flattened.*`) stay inside [`MAX_DOC_DEPTH`].
pub const MAX_VALUE_DEPTH: usize = 16;

/// Holds `v` to `levels` levels (`v` itself is level 1): an object or array whose members would be deeper
/// is replaced by its JSON text, a string, so nothing is lost and Elasticsearch can map the rest. Adds one
/// to `capped` per value so replaced. Recurses at most `levels` deep; the text of a replaced value is
/// written by serde_json, so `v` must be a value serde_json could have read (at most 128 levels).
pub fn cap_json_depth(v: &mut serde_json::Value, levels: usize, capped: &mut u64) {
    use serde_json::Value as J;
    let has_members = match v {
        J::Object(m) => !m.is_empty(),
        J::Array(a) => !a.is_empty(),
        _ => false,
    };
    if !has_members {
        return;
    }
    if levels <= 1 {
        *v = J::String(v.to_string());
        *capped += 1;
        return;
    }
    match v {
        J::Object(m) => m
            .values_mut()
            .for_each(|x| cap_json_depth(x, levels - 1, capped)),
        J::Array(a) => a
            .iter_mut()
            .for_each(|x| cap_json_depth(x, levels - 1, capped)),
        _ => {}
    }
}

/// The nesting of a JSON text: its deepest level of objects and arrays (a scalar is 0, `{}` is 1), read
/// without parsing it (strings skipped), so it answers for text of any depth. For tests and fuzzing.
pub fn json_depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for c in text.bytes() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Checks that `doc` is one JSON value in which no object has a key twice (Elasticsearch refuses such a
/// document; serde_json would silently keep the last). For tests and fuzzing; the error says what is wrong.
pub fn check_document(doc: &str) -> Result<(), String> {
    use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
    struct Checked;
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Checked;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Checked, A::Error> {
            let mut keys = std::collections::HashSet::new();
            while let Some(k) = m.next_key::<String>()? {
                if !keys.insert(k.clone()) {
                    return Err(A::Error::custom(format!("duplicate key {k:?}")));
                }
                m.next_value::<Checked>()?;
            }
            Ok(Checked)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Checked, A::Error> {
            while s.next_element::<Checked>()?.is_some() {}
            Ok(Checked)
        }
        fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
            Ok(Checked)
        }
        fn visit_unit<E>(self) -> Result<Checked, E> {
            Ok(Checked)
        }
    }
    impl<'de> Deserialize<'de> for Checked {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Checked, D::Error> {
            d.deserialize_any(V)
        }
    }
    let mut de = serde_json::Deserializer::from_str(doc);
    Checked::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| format!("trailing data: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_scan_finds_every_special_byte_at_every_position() {
        // Every length around the 16-byte steps, the special byte at every position, alone and with a
        // second one later (the scan resumes after an escape, also inside the overlapping last step).
        for special in [b'"', b'\\', 0u8, 0x1f, b'\n'] {
            for len in 1..=40 {
                for pos in 0..len {
                    for second in [None, Some(len - 1), Some((pos + 17).min(len - 1))] {
                        let mut s = vec![b'a'; len];
                        s[pos] = special;
                        if let Some(p) = second {
                            s[p] = b'"';
                        }
                        let text = String::from_utf8(s).unwrap();
                        let specials = text.bytes().filter(|&c| ESCAPE[c as usize] != 0).count();
                        let mut v = Vec::new();
                        write_json_str(&mut v, &text);
                        let back: String = serde_json::from_slice(&v).unwrap();
                        assert_eq!(back, text, "byte {special} at {pos} of {len}");
                        assert!(
                            v.len() >= text.len() + 2 + specials,
                            "{special} at {pos} of {len}"
                        );
                    }
                }
            }
        }
        // Clean text of any length is copied as it is.
        for len in 0..=40 {
            let text = "x".repeat(len);
            let mut v = Vec::new();
            write_json_str(&mut v, &text);
            assert_eq!(v, format!("\"{text}\"").as_bytes());
        }
        // Bytes >= 0x80 (UTF-8) and 0x20..0x7f other than the two specials are copied as they are.
        let mut v = Vec::new();
        write_json_str(&mut v, "ééé abc ~ }{ <>&");
        assert_eq!(v, "\"ééé abc ~ }{ <>&\"".as_bytes());
    }

    #[test]
    fn short_copies_equal_extend_from_slice_at_every_length() {
        let src: Vec<u8> = (0..80u8).collect();
        for start in [0usize, 3, 17] {
            for len in 0..=40 {
                let piece = &src[start..start + len];
                let mut got = b"prefix".to_vec();
                push_bytes(&mut got, piece);
                let mut want = b"prefix".to_vec();
                want.extend_from_slice(piece);
                assert_eq!(got, want, "{len} bytes from {start}");
            }
        }
    }

    #[test]
    fn lists_are_written_as_their_items() {
        let texts = [
            "",
            "-",
            ",",
            "a",
            "a,b",
            ",a,,b,",
            "\"h2\",\"http/1.1\"",
            "\"-\",x",
            "\"\",\"",
            "é,ü\"q",
            "a b  c",
        ];
        for text in texts {
            for sep in [b',', b' '] {
                for unquote in [false, true] {
                    let split = Split { sep, unquote };
                    let mut out = Vec::new();
                    Value::List(Cow::Borrowed(text), split).write_json(&mut out);
                    let want: Vec<&str> = split.items(text).collect();
                    let got: Vec<String> = serde_json::from_slice(&out).unwrap();
                    assert_eq!(got, want, "{text:?} split at {sep} (unquote {unquote})");
                }
            }
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut v = Vec::new();
        write_json_str(&mut v, "a\"b\\c\nd\u{1}é<");
        assert_eq!(std::str::from_utf8(&v).unwrap(), r#""a\"b\\c\nd\u0001é<""#);
        let back: String = serde_json::from_slice(&v).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é<");
    }

    #[test]
    fn json_strings_of_every_length_around_the_short_path_match_serde() {
        // Lengths 0-40 cross the 32-byte in-place path; each with nothing to escape, or one byte that
        // needs an escape at each position; appended after earlier content.
        for n in 0..=40usize {
            let clean: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            let mut cases = vec![clean.clone()];
            for at in 0..n {
                for c in ['"', '\\', '\n', '\u{1f}', 'é'] {
                    let mut t: Vec<char> = clean.chars().collect();
                    t[at] = c;
                    cases.push(t.into_iter().collect());
                }
            }
            for t in cases {
                let mut v = b"[1,".to_vec();
                write_json_str(&mut v, &t);
                assert_eq!(
                    std::str::from_utf8(&v[3..]).unwrap(),
                    serde_json::to_string(&t).unwrap(),
                    "{t:?}"
                );
            }
        }
    }

    #[test]
    fn documents_with_a_key_twice_are_refused() {
        assert!(check_document(r#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_ok());
        assert!(check_document(r#"{"a":1,"a":2}"#)
            .unwrap_err()
            .contains("duplicate key \"a\""));
        assert!(check_document(r#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(check_document(r#"{"a":1} x"#).is_err());
        assert!(check_document(r#"{"a":"#).is_err());
    }
}
