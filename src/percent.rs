//! Percent-encoding, in one place: S3 notification keys (form-encoded, `+` for a space), CloudFront's
//! encoded columns, and query parameters the outputs send. Text in, text out; an invalid escape is kept as
//! written and bytes that do not form UTF-8 become U+FFFD, so decoding never fails.

use std::borrow::Cow;

/// Decodes `%XX` escapes once. `+` stays `+` (these are not form values), an invalid escape is kept as
/// written, and bytes that do not form UTF-8 become U+FFFD.
#[inline]
pub fn decode(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let Some(first) = memchr::memchr(b'%', b) else {
        return Cow::Borrowed(s);
    };
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..first]);
    let mut i = first;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

#[inline]
fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes a form value, as S3 writes object keys into its event notifications: `+` is a space, `%XX` a
/// byte. (The original dropped a record with an invalid escape; it is kept as written here.)
pub fn decode_form(s: &str) -> String {
    if s.contains('+') {
        decode(&s.replace('+', " ")).into_owned()
    } else {
        decode(s).into_owned()
    }
}

/// Which bytes [`encode`] leaves as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Set {
    /// An S3 object key in an event notification: RFC 3986's unreserved characters and `/`; a space is
    /// written `+` (S3's own form encoding).
    NotificationKey,
    /// A query parameter value: RFC 3986's unreserved characters only.
    QueryValue,
    /// A URL path (`x-amz-copy-source`): RFC 3986's unreserved characters and `/`; a space is `%20`.
    Path,
}

/// Percent-encodes `s`, keeping the bytes of `set`.
pub fn encode(s: &str, set: Set) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if set != Set::QueryValue => out.push('/'),
            b' ' if set == Set::NotificationKey => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_is_single_and_keeps_plus() {
        assert_eq!(decode("/a%2520b+c"), "/a%20b+c");
        assert_eq!(decode("q=1+2&r=%252B"), "q=1+2&r=%2B");
        assert_eq!(decode("UA%25ZZbad"), "UA%ZZbad");
        assert_eq!(decode("bad%ZZ%4"), "bad%ZZ%4");
        assert_eq!(decode("%"), "%");
        assert_eq!(decode("%C3%A9%FF"), "é\u{FFFD}");
        assert!(matches!(decode("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn form_values_decode_like_s3_keys() {
        assert_eq!(decode_form("a+b%2Bc"), "a b+c");
        assert_eq!(decode_form("My+simple+%5key%5D"), "My simple %5key]");
        assert_eq!(decode_form("%C3%A9"), "é");
        assert_eq!(decode_form("%é%"), "%é%");
    }

    #[test]
    fn encoding_round_trips_through_decoding() {
        for key in ["AWSLogs/1/elb/a b+c.log.gz", "é/[x]%~", "plain/key.gz", ""] {
            let enc = encode(key, Set::NotificationKey);
            assert!(!enc.contains(' '), "{enc}");
            assert_eq!(decode_form(&enc), key, "{enc}");
        }
        assert_eq!(encode("a b/c", Set::NotificationKey), "a+b/c");
        assert_eq!(encode("my pipe/line", Set::QueryValue), "my%20pipe%2Fline");
    }
}
