//! The shared field tokenizer and value conversions of the space- and tab-separated formats.
//!
//! Everything here borrows from the line and allocates only to unescape a quoted value that contains
//! `\"`, to percent-decode a CloudFront value that contains `%`, or to build an error.

use std::borrow::Cow;

use super::{ErrorKind, ParseError};
use crate::fields::FieldSink;
use crate::fields::Value;
use crate::scan::{find_byte, find_byte2};

pub use super::timestamps::{
    parse_clf_time, parse_date_and_time, parse_iso_utc, parse_rfc3339, parse_rfc3339_text,
};

/// One field of a space-separated line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tok<'a> {
    /// The text, without the quotes of a quoted field.
    pub text: &'a str,
    /// The field was quoted and contains a backslash escape.
    pub escaped: bool,
}

impl<'a> Tok<'a> {
    /// The value with `\"` and `\\` unescaped.
    #[inline]
    pub fn value(self) -> Cow<'a, str> {
        if !self.escaped {
            return Cow::Borrowed(self.text);
        }
        Cow::Owned(unescape(self.text))
    }
}

/// `text` with `\"` and `\\` unescaped: the rare path of [`Tok::value`], kept out of line so that the
/// common one (a borrow) is inlined into every caller instead of being a call with a prologue.
#[cold]
#[inline(never)]
fn unescape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('"' | '\\')) => s.push(n),
                Some(n) => {
                    s.push('\\');
                    s.push(n);
                }
                None => s.push('\\'),
            }
        } else {
            s.push(c);
        }
    }
    s
}

/// Splits an ELB/ALB line into fields: separated by spaces, a field that starts with `"` runs to the next
/// unescaped `"` and may contain spaces.
#[derive(Clone, Debug)]
pub struct SpaceFields<'a> {
    s: &'a str,
    pos: usize,
    /// Fields returned so far.
    pub count: usize,
    /// Some field returned so far holds a `"` (an unquoted field with one inside, a bracketed or raw
    /// field with one) or was unescaped (its value may hold one and is not a slice of the line).
    quote_in_value: bool,
}

impl<'a> SpaceFields<'a> {
    /// A tokenizer over `s`.
    pub fn new(s: &'a str) -> SpaceFields<'a> {
        SpaceFields {
            s,
            pos: 0,
            count: 0,
            quote_in_value: false,
        }
    }

    /// True if every field returned so far, and so every slice of one, is a slice of the line without a
    /// `"`: what [`LineOut::set_quote_free`](super::LineOut::set_quote_free) asks of a format.
    pub fn quote_free(&self) -> bool {
        !self.quote_in_value
    }

    /// The next field; `Ok(None)` at the end of the line. `name` is used in the error for an unterminated
    /// quote.
    ///
    /// Inlined into every column of a format's parser: as a call, its prologue and epilogue cost as
    /// much as finding the field (callgrind). The quoted case is inlined too: out of line it was a
    /// call for half of an ALB line's fields (308.4M instructions against 316.1M for 20,000 lines, and
    /// 0.41-0.45 s against 0.46-0.51 s of user time for 200,000 plain lines).
    #[inline(always)]
    pub fn next(&mut self, name: &'static str) -> Result<Option<Tok<'a>>, ParseError> {
        let b = self.s.as_bytes();
        let mut i = self.pos;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            self.pos = i;
            return Ok(None);
        }
        self.count += 1;
        if b[i] == b'"' {
            return self.quoted(i, name).map(Some);
        }
        // The field's end, and whether a `"` comes first: a quote inside an unquoted field is rare, so
        // looking for both bytes in one scan is nearly free and spares every value its own escape scan.
        let end = match find_byte2(b, i, b' ', b'"') {
            Some(at) if b[at] == b'"' => self.quote_inside(at),
            Some(at) => at,
            None => b.len(),
        };
        self.pos = end;
        Ok(Some(Tok {
            text: self.slice(i, end),
            escaped: false,
        }))
    }

    /// The end of an unquoted field with a `"` at `at`, noting the quote.
    #[cold]
    #[inline(never)]
    fn quote_inside(&mut self, at: usize) -> usize {
        self.quote_in_value = true;
        find_byte(self.s.as_bytes(), at, b' ').unwrap_or(self.s.len())
    }

    /// `s[start..end]`, where `start` is 0 or follows an ASCII byte and `end` is the length or at an
    /// ASCII byte (a space or a quote), so both are character boundaries and the slice needs no check.
    #[inline(always)]
    fn slice(&self, start: usize, end: usize) -> &'a str {
        debug_assert!(self.s.is_char_boundary(start) && self.s.is_char_boundary(end));
        debug_assert!(start <= end && end <= self.s.len());
        // SAFETY: see above: both ends are in bounds and on character boundaries of a `str`.
        unsafe { self.s.get_unchecked(start..end) }
    }

    /// The quoted field whose opening quote is at `i`: it runs to the next `"` not escaped by `\`.
    #[inline(always)]
    fn quoted(&mut self, i: usize, name: &'static str) -> Result<Tok<'a>, ParseError> {
        let b = self.s.as_bytes();
        let start = i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            let Some(at) = find_byte2(b, j, b'"', b'\\') else {
                return Err(self.unterminated(i, name));
            };
            if b[at] == b'\\' {
                escaped = true;
                // Its value is unescaped into a string of its own, which may hold a `"`.
                self.quote_in_value = true;
                j = at + 2;
                if j > b.len() {
                    return Err(self.unterminated(i, name));
                }
            } else {
                self.pos = at + 1;
                return Ok(Tok {
                    text: self.slice(start, at),
                    escaped,
                });
            }
        }
    }

    /// The error of a quote opened at `i` and never closed.
    #[cold]
    fn unterminated(&self, i: usize, name: &'static str) -> ParseError {
        ParseError::new(ErrorKind::UnterminatedQuote, name, &self.s[i..])
    }

    /// The next field, which the format requires.
    #[inline(always)]
    pub fn required(&mut self, name: &'static str, required: usize) -> Result<Tok<'a>, ParseError> {
        match self.next(name)? {
            Some(t) => Ok(t),
            None => Err(self.too_few(required)),
        }
    }

    /// The error of a line that ended before its `required` columns.
    #[cold]
    fn too_few(&self, required: usize) -> ParseError {
        ParseError::new(
            ErrorKind::TooFewFields {
                required,
                found: self.count,
            },
            "",
            self.s,
        )
    }
    /// The next field, read as `[...]` when it starts with `[`: the brackets are dropped and the text
    /// between them may contain spaces (S3's `[06/Feb/2019:00:00:38 +0000]`). A field that does not start
    /// with `[` is read as [`SpaceFields::next`] reads it; a `[` with no `]` is an unterminated field.
    pub fn next_bracketed(&mut self, name: &'static str) -> Result<Option<Tok<'a>>, ParseError> {
        let b = self.s.as_bytes();
        let mut i = self.pos;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'[' {
            return self.next(name);
        }
        let Some(k) = memchr::memchr(b']', &b[i + 1..]) else {
            return Err(ParseError::new(
                ErrorKind::UnterminatedQuote,
                name,
                &self.s[i..],
            ));
        };
        let end = i + 1 + k;
        self.count += 1;
        self.pos = end + 1;
        self.quote_in_value |= memchr::memchr(b'"', &b[i + 1..end]).is_some();
        Ok(Some(Tok {
            text: &self.s[i + 1..end],
            escaped: false,
        }))
    }

    /// The next run of non-space characters exactly as written, quotes included: for a list of quoted
    /// items such as NLB's `"h2","http/1.1"`, which [`SpaceFields::next`] would cut after the first item.
    pub fn next_raw(&mut self) -> Option<&'a str> {
        let b = self.s.as_bytes();
        let mut i = self.pos;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            self.pos = i;
            return None;
        }
        self.count += 1;
        let end = find_byte(b, i, b' ').unwrap_or(b.len());
        self.pos = end;
        self.quote_in_value |= memchr::memchr(b'"', &b[i..end]).is_some();
        Some(&self.s[i..end])
    }
}

/// Parses a non-negative decimal integer (leading zeros allowed, as in CloudFront's `000`).
#[inline]
pub fn parse_u64(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u64;
    }
    Some(v)
}

/// Parses a decimal integer with an optional sign.
#[inline]
pub fn parse_i64(s: &str) -> Option<i64> {
    if let Some(rest) = s.strip_prefix('-') {
        parse_u64(rest)
            .and_then(|v| i64::try_from(v).ok())
            .map(|v| -v)
    } else {
        parse_u64(s.strip_prefix('+').unwrap_or(s)).and_then(|v| i64::try_from(v).ok())
    }
}

/// True if `s` is a number literal as JSON writes one (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`).
#[inline]
pub fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i = 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == f {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// An integer field: `-` (or empty) leaves it out, anything else must be an integer.
#[inline]
pub fn push_int<'a, S: FieldSink<'a>>(
    out: &mut S,
    name: &'static str,
    s: &'a str,
) -> Result<(), ParseError> {
    if s == "-" || s.is_empty() {
        return Ok(());
    }
    match parse_i64(s) {
        Some(v) => {
            out.push(name, int_value(s, v));
            Ok(())
        }
        None => Err(ParseError::new(ErrorKind::BadInteger, name, s)),
    }
}

/// The value of integer text `s` that parsed as `v`: the text itself when it is already the number as
/// JSON writes it (no sign, no leading zero), so that writing it is a copy and not a conversion back to
/// digits; otherwise (`+5`, `007`, `-3`) the number.
#[inline(always)]
fn int_value(s: &str, v: i64) -> Value<'_> {
    match s.as_bytes() {
        [b'1'..=b'9', ..] | [b'0'] => Value::Num(s),
        _ => Value::Int(v),
    }
}

/// A float field: `-`, empty, and (when `minus_one_absent`) `-1` leave it out. A literal that is valid
/// JSON is kept verbatim.
#[inline]
pub fn push_num<'a, S: FieldSink<'a>>(
    out: &mut S,
    name: &'static str,
    s: &'a str,
    minus_one_absent: bool,
) -> Result<(), ParseError> {
    if s == "-" || s.is_empty() || (minus_one_absent && s == "-1") {
        return Ok(());
    }
    if is_json_number(s) {
        out.push(name, Value::Num(s));
        return Ok(());
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => {
            out.push(name, Value::Float(f));
            Ok(())
        }
        _ => Err(ParseError::new(ErrorKind::BadNumber, name, s)),
    }
}

/// A string field that the original left out when it was `-`.
#[inline]
pub fn push_str_unless_dash<'a, S: FieldSink<'a>>(
    out: &mut S,
    name: &'static str,
    v: Cow<'a, str>,
) {
    if v != "-" && !v.is_empty() {
        out.push(name, Value::Str(v));
    }
}

/// Splits `address:port` on the last `:` (so unbracketed IPv6 works), strips `[...]` around the address,
/// and pushes both fields. A lone `-` pushes nothing.
#[inline]
pub fn push_addr_port<'a, S: FieldSink<'a>>(
    out: &mut S,
    ip_name: &'static str,
    port_name: &'static str,
    s: &'a str,
) -> Result<(), ParseError> {
    if s == "-" || s.is_empty() {
        return Ok(());
    }
    // The port is the digits after the last `:`, so stepping back over the trailing digits finds that
    // colon (or shows there is none before them) without a search call: ports are at most 5 digits,
    // and `memrchr` was 2% of the ALB path.
    let b = s.as_bytes();
    let mut colon = b.len();
    while colon > 0 && b[colon - 1].is_ascii_digit() {
        colon -= 1;
    }
    let port_text = &s[colon..];
    let port = match colon.checked_sub(1).map(|c| b[c]) {
        Some(b':') => parse_u64(port_text).filter(|p| *p <= u16::MAX as u64),
        _ => None,
    };
    let Some(port) = port else {
        return Err(ParseError::new(ErrorKind::BadAddress, ip_name, s));
    };
    let ip = &s[..colon - 1];
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    out.push(ip_name, Value::Str(Cow::Borrowed(ip)));
    out.push(port_name, int_value(port_text, port as i64));
    Ok(())
}

/// Splits a logged request `METHOD URL PROTO`: the first token is the method, the last the protocol and
/// everything between is the URL, kept exactly as logged (it may contain raw spaces). Trailing spaces
/// (`"- - - "`, written by TCP listeners) are not part of the protocol.
#[inline]
pub fn push_request<'a, S: FieldSink<'a>>(out: &mut S, req: Cow<'a, str>) {
    fn split(r: &str) -> (&str, Option<&str>, Option<&str>) {
        let r = r.trim_end_matches(' ');
        match memchr::memchr(b' ', r.as_bytes()) {
            None => (r, None, None),
            Some(first) => {
                let last = memchr::memrchr(b' ', r.as_bytes()).expect("has a space");
                if last == first {
                    (&r[..first], Some(&r[first + 1..]), None)
                } else {
                    (&r[..first], Some(&r[first + 1..last]), Some(&r[last + 1..]))
                }
            }
        }
    }
    match req {
        Cow::Borrowed(r) => {
            let (verb, url, proto) = split(r);
            out.push("request_verb", Value::Str(Cow::Borrowed(verb)));
            if let Some(u) = url {
                out.push("request_url", Value::Str(Cow::Borrowed(u)));
            }
            if let Some(p) = proto {
                out.push("request_proto", Value::Str(Cow::Borrowed(p)));
            }
        }
        Cow::Owned(r) => {
            let (verb, url, proto) = split(&r);
            out.push("request_verb", Value::Str(Cow::Owned(verb.to_string())));
            if let Some(u) = url {
                out.push("request_url", Value::Str(Cow::Owned(u.to_string())));
            }
            if let Some(p) = proto {
                out.push("request_proto", Value::Str(Cow::Owned(p.to_string())));
            }
        }
    }
}

/// The columns ALB and classic ELB share, from `client:port` to the request line: the address pair of the
/// target (`backend` for ELB), the three timings (`-1` absent), the two status codes and the byte counts.
#[inline]
pub fn push_lb_columns<'a, S: FieldSink<'a>>(
    f: &mut SpaceFields<'a>,
    out: &mut S,
    required: usize,
    target: [&'static str; 3],
    timings: [&'static str; 3],
    counts: [&'static str; 4],
) -> Result<(), ParseError> {
    let client = f.required("client:port", required)?;
    push_addr_port(out, "client_ip", "client_port", client.text)?;
    let t = f.required(target[0], required)?;
    push_addr_port(out, target[1], target[2], t.text)?;
    for name in timings {
        let t = f.required(name, required)?;
        push_num(out, name, t.text, true)?;
    }
    for name in counts {
        let t = f.required(name, required)?;
        push_int(out, name, t.text)?;
    }
    push_request(out, f.required("request", required)?.value());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::LineOut;
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        let mut f = SpaceFields::new(s);
        let mut v = Vec::new();
        while let Some(t) = f.next("x").unwrap() {
            v.push(t.value().into_owned());
        }
        v
    }

    #[test]
    fn tokenizer_splits_quoted_fields_with_escapes() {
        assert_eq!(
            toks(r#"a "b c" "- - - " "x \"y\" z" d"#),
            vec!["a", "b c", "- - - ", "x \"y\" z", "d"]
        );
        assert_eq!(toks("  a  b "), vec!["a", "b"]);
        assert_eq!(toks(r#""""#), vec![""]);
        let mut f = SpaceFields::new(r#"a "open"#);
        f.next("x").unwrap();
        let e = f.next("user_agent").unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnterminatedQuote);
        assert_eq!(e.field, "user_agent");
        let mut f = SpaceFields::new(r#""ends in backslash\"#);
        assert!(f.next("x").is_err());
    }

    /// `quote_free` holds until a field with a `"` in its value (or an unescaped one) is returned, and
    /// stays false after.
    #[test]
    fn quote_free_notes_every_field_that_holds_a_quote() {
        let after = |s: &str, fields: usize, bracketed: bool| {
            let mut f = SpaceFields::new(s);
            for _ in 0..fields {
                if bracketed {
                    f.next_bracketed("x").unwrap();
                } else {
                    f.next("x").unwrap();
                }
            }
            f.quote_free()
        };
        assert!(after(r#"a "b c" d"#, 3, false));
        assert!(
            after(r#"a "b c" d e"q"#, 3, false),
            "the quote is in a field not read"
        );
        assert!(!after(r#"a "b c" d e"q"#, 4, false));
        assert!(!after(r#"a"b c"#, 1, false));
        assert!(!after(r#"a"b c"#, 2, false));
        assert!(!after(r#""a\"b" c"#, 1, false));
        assert!(
            !after(r#""a\\b" c"#, 1, false),
            "unescaped values are not slices of the line"
        );
        assert!(after("[a b] c", 2, true));
        assert!(!after(r#"[a "b] c"#, 1, true));
        let mut f = SpaceFields::new(r#""h2","x" y"#);
        f.next_raw();
        assert!(!f.quote_free());
    }

    /// Address and port split at the last colon, brackets stripped; the port is written as logged when
    /// that is how JSON writes it, and as a number otherwise; anything else names the field.
    #[test]
    fn address_port_pairs() {
        fn split(s: &'static str) -> Result<Vec<Value<'static>>, String> {
            let mut out = LineOut::new();
            push_addr_port(&mut out, "ip", "port", s).map_err(|e| e.to_string())?;
            Ok(out.fields().iter().map(|(_, v)| v.clone()).collect())
        }
        let ok =
            |ip: &'static str, port: Value<'static>| Ok(vec![Value::Str(Cow::Borrowed(ip)), port]);
        assert_eq!(split("1.2.3.4:80"), ok("1.2.3.4", Value::Num("80")));
        assert_eq!(
            split("2601:db8::6bbc:50599"),
            ok("2601:db8::6bbc", Value::Num("50599"))
        );
        assert_eq!(split("[::1]:0"), ok("::1", Value::Num("0")));
        assert_eq!(split("1.2.3.4:0080"), ok("1.2.3.4", Value::Int(80)));
        assert_eq!(split(":65535"), ok("", Value::Num("65535")));
        assert_eq!(split("-"), Ok(vec![]));
        for bad in [
            "1.2.3.4",
            "1.2.3.4:",
            "1.2.3.4:65536",
            "1.2.3.4:8x0",
            "[::1]",
            "80",
        ] {
            let e = split(bad).unwrap_err();
            assert_eq!(e, format!("field ip: \"{bad}\" is not an address:port"));
        }
    }

    #[test]
    fn json_number_grammar() {
        for ok in ["0", "0.000", "-1", "7.3e-05", "12", "1E+3", "0.5"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in [
            "", "-", "00", "01", ".5", "1.", "+1", "1e", "0x1", "1.2.3", "NaN",
        ] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(parse_u64("000"), Some(0));
        assert_eq!(parse_u64("18446744073709551615"), None);
        assert_eq!(parse_i64("-12"), Some(-12));
        assert_eq!(parse_i64("1-2"), None);
        assert_eq!(parse_i64(""), None);
    }

    #[test]
    fn rfc3339_fast_and_slow_paths() {
        let t = parse_rfc3339("2018-07-02T22:23:00.186641Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2018-07-02T22:23:00.186641Z");
        let t = parse_rfc3339("2018-07-02T22:23:00Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2018-07-02T22:23:00.000Z");
        let t = parse_rfc3339("2019-03-23T19:04:53+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2019-03-23T17:04:53.000Z");
        let t = parse_rfc3339("2019-03-23T19:04:53.1234567+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2019-03-23T17:04:53.123456700Z");
        // The text is reported as the writer's own exactly when it prints back the same.
        for text in [
            "2018-07-02T22:23:00.186641Z",
            "2018-07-02T22:23:00.186Z",
            "2018-07-02T22:23:00.186641123Z",
            "0000-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999999Z",
            "2018-07-02T22:23:00Z",
            "2018-07-02T22:23:00.1Z",
            "2018-07-02T22:23:00.1866Z",
            "2018-07-02T22:23:00.186+00:00",
            "2018-07-02t22:23:00.186Z",
        ] {
            let (t, same) = parse_rfc3339_text(text).unwrap();
            assert_eq!(same, t.to_rfc3339() == text, "{text}");
        }
        assert!(parse_rfc3339_text("2018-07-02T22:23:00.186641Z").unwrap().1);
        for bad in [
            "2015-05-13",
            "2015-13-13T23:39:43Z",
            "2015-02-30T23:39:43Z",
            "2015-05-13T23:39:43.Z",
            "2015-05-13 23:39:43",
            "x015-05-13T23:39:43Z",
        ] {
            assert!(parse_rfc3339(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn requests_split_on_first_and_last_space() {
        let mut out = LineOut::new();
        push_request(&mut out, Cow::Borrowed("GET http://h:80/a b c HTTP/1.1"));
        assert_eq!(
            out.fields,
            vec![
                ("request_verb".into(), Value::Str("GET".into())),
                ("request_url".into(), Value::Str("http://h:80/a b c".into())),
                ("request_proto".into(), Value::Str("HTTP/1.1".into())),
            ]
        );
        let mut out = LineOut::new();
        push_request(&mut out, Cow::Borrowed("- - - "));
        assert_eq!(out.fields[2].1, Value::Str("-".into()));
    }

    #[test]
    fn bracketed_and_raw_fields() {
        let mut f = SpaceFields::new(r#"a [06/Feb/2019:00:00:38 +0000] "h2","http/1.1" b"#);
        assert_eq!(f.next_bracketed("x").unwrap().unwrap().text, "a");
        assert_eq!(
            f.next_bracketed("time").unwrap().unwrap().text,
            "06/Feb/2019:00:00:38 +0000"
        );
        assert_eq!(f.next_raw(), Some(r#""h2","http/1.1""#));
        assert_eq!(f.next("x").unwrap().unwrap().text, "b");
        assert_eq!(f.count, 4);
        assert_eq!(f.next_raw(), None);
        let mut f = SpaceFields::new("[06/Feb/2019:00:00:38 +0000");
        let e = f.next_bracketed("time").unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnterminatedQuote);
    }

    #[test]
    fn zoneless_iso_and_clf_times() {
        let t = |s| parse_iso_utc(s).map(|t| t.to_rfc3339());
        assert_eq!(
            t("2018-12-20T02:59:40").unwrap(),
            "2018-12-20T02:59:40.000Z"
        );
        assert_eq!(
            t("2018-12-20T02:59:40Z").unwrap(),
            "2018-12-20T02:59:40.000Z"
        );
        assert_eq!(
            t("2018-12-20T02:59:40.123456").unwrap(),
            "2018-12-20T02:59:40.123456Z"
        );
        assert_eq!(t("2018-12-20 02:59:40"), None);
        assert_eq!(t("2018-12-32T02:59:40"), None);
        let c = |s| parse_clf_time(s).map(|t| t.to_rfc3339());
        assert_eq!(
            c("06/Feb/2019:00:00:38 +0000").unwrap(),
            "2019-02-06T00:00:38.000Z"
        );
        assert_eq!(
            c("06/Feb/2019:00:00:38 -0130").unwrap(),
            "2019-02-06T01:30:38.000Z"
        );
        for bad in [
            "06/Fev/2019:00:00:38 +0000",
            "06/Feb/2019:00:00:38",
            "06/Feb/2019 00:00:38 +0000",
            "30/Feb/2019:00:00:38 +0000",
            "06/Feb/2019:00:00:38 0000x",
        ] {
            assert_eq!(c(bad), None, "{bad}");
        }
    }
}
