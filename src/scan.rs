//! Byte scans of the hot path: a slice and a start position in, the position of the first byte of a
//! small set out (`None` if there is none); and one whole-line test, whether a line is plain printable
//! ASCII without `\` ([`is_plain_ascii`]), which lets the reader skip its UTF-8 check and the writer its
//! escape scans.
//!
//! A log line is cut at dozens of places, most of them a few bytes apart: the next space of a field, the
//! closing quote of a quoted one, the next byte a JSON string must escape. `memchr` is built for long
//! haystacks and costs a call and a dispatch each time; these scans are inlined and test sixteen bytes
//! per step with SSE2, which every x86_64 processor has (other targets test byte by byte). They never
//! read outside the slice: the last step re-reads the final sixteen bytes, and a slice shorter than that
//! (most JSON string values) is tested as two overlapping eight-byte words.

/// The first `needle` at or after `from`.
#[inline]
pub fn find_byte(b: &[u8], from: usize, needle: u8) -> Option<usize> {
    imp::find(b, from, Set::One(needle))
}

/// The first `x` or `y` at or after `from`.
#[inline]
pub fn find_byte2(b: &[u8], from: usize, x: u8, y: u8) -> Option<usize> {
    imp::find(b, from, Set::Two(x, y))
}

/// The first byte at or after `from` that a JSON string must escape: `"`, `\`, or below 0x20.
#[inline]
pub fn find_json_escape(b: &[u8], from: usize) -> Option<usize> {
    imp::find(b, from, Set::JsonEscape)
}

/// True if every byte of `b` is printable ASCII (0x20 to 0x7f) and none is `\`.
///
/// Such a line is valid UTF-8 without a further check, and any slice of it that holds no `"` is a JSON
/// string body as it stands: the one test of a line that spares the UTF-8 validation of the whole line
/// and the escape scan of each of its values (see `LineOut::strings_are_clean`).
#[inline]
pub fn is_plain_ascii(b: &[u8]) -> bool {
    imp::plain(b)
}

/// The byte-by-byte test of [`is_plain_ascii`].
#[inline(always)]
fn plain_byte(c: u8) -> bool {
    (0x20..0x80).contains(&c) && c != b'\\'
}

/// What a scan looks for.
#[derive(Clone, Copy)]
enum Set {
    One(u8),
    Two(u8, u8),
    JsonEscape,
}

impl Set {
    /// The byte-by-byte test (the portable scan, the padding choice, and the tests' reference).
    #[inline(always)]
    fn has(self, c: u8) -> bool {
        match self {
            Set::One(x) => c == x,
            Set::Two(x, y) => c == x || c == y,
            Set::JsonEscape => c == b'"' || c == b'\\' || c < 0x20,
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::Set;
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8,
        _mm_or_si128, _mm_set1_epi8, _mm_setzero_si128,
    };

    /// One bit per byte of `v` that is in `set`.
    #[inline(always)]
    fn mask(v: __m128i, set: Set) -> u32 {
        // SAFETY: SSE2 is part of the x86_64 baseline, so these instructions exist on every x86_64 CPU.
        unsafe {
            let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
            let m = match set {
                Set::One(x) => eq(x),
                Set::Two(x, y) => _mm_or_si128(eq(x), eq(y)),
                Set::JsonEscape => {
                    // max(v, 0x1f) == 0x1f exactly when v <= 0x1f, unsigned.
                    let ctrl =
                        _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
                    _mm_or_si128(_mm_or_si128(eq(b'"'), eq(b'\\')), ctrl)
                }
            };
            _mm_movemask_epi8(m) as u32
        }
    }

    #[inline(always)]
    fn load(s: &[u8; 16]) -> __m128i {
        // SAFETY: reads the sixteen bytes of the array; unaligned loads are allowed.
        unsafe { _mm_loadu_si128(s.as_ptr().cast::<__m128i>()) }
    }

    /// The first byte of `set` in `rest`, shorter than one step (a short JSON string value).
    ///
    /// Eight bytes at a time as plain words (two overlapping loads cover up to sixteen), because the
    /// other way, copying `rest` into a padded sixteen-byte block, stalls the load on the stores just
    /// made: `perf` showed that copy at 8% of the whole daemon.
    #[inline]
    fn short(rest: &[u8], set: Set) -> Option<usize> {
        let n = rest.len();
        debug_assert!(n < 16);
        let word = |at: usize| u64::from_le_bytes(rest[at..at + 8].try_into().expect("8 bytes"));
        let half = |at: usize| {
            u64::from(u32::from_le_bytes(
                rest[at..at + 4].try_into().expect("4 bytes"),
            ))
        };
        if n >= 8 {
            let m = swar(word(0), set);
            if m != 0 {
                return Some(m.trailing_zeros() as usize / 8);
            }
            // The last eight bytes: those before 8 were just found clean, so the first hit is past them.
            let m = swar(word(n - 8), set);
            return (m != 0).then(|| n - 8 + m.trailing_zeros() as usize / 8);
        }
        if n >= 4 {
            let m = swar(half(0) | half(n - 4) << 32, set);
            return (m != 0).then(|| {
                let k = m.trailing_zeros() as usize / 8;
                if k < 4 {
                    k
                } else {
                    n + k - 8
                }
            });
        }
        rest.iter().position(|&c| set.has(c))
    }

    /// The bytes of `x` (little-endian) that are in `set`, as their high bit. The lowest bit set is
    /// exact; bits above a true one may be false (a borrow carries upward only), which is all
    /// `trailing_zeros` needs.
    #[inline(always)]
    fn swar(x: u64, set: Set) -> u64 {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        // Bytes of `v` below `c` (for `c` <= 0x80): the subtraction borrows out of exactly those.
        let below = |v: u64, c: u8| v.wrapping_sub(LO * u64::from(c)) & !v & HI;
        let eq = |c: u8| below(x ^ (LO * u64::from(c)), 1);
        match set {
            Set::One(a) => eq(a),
            Set::Two(a, b) => eq(a) | eq(b),
            Set::JsonEscape => eq(b'"') | eq(b'\\') | below(x, 0x20),
        }
    }

    #[inline(always)]
    pub(super) fn find(b: &[u8], from: usize, set: Set) -> Option<usize> {
        let block = |at: usize| -> &[u8; 16] { b[at..at + 16].try_into().expect("16 bytes") };
        let mut i = from;
        while i + 16 <= b.len() {
            let m = mask(load(block(i)), set);
            if m != 0 {
                return Some(i + m.trailing_zeros() as usize);
            }
            i += 16;
        }
        if i >= b.len() {
            return None;
        }
        if b.len() < 16 {
            return short(&b[i..], set).map(|k| i + k);
        }
        // The last sixteen bytes, without the bits of those before `i` (already looked at).
        let base = b.len() - 16;
        let m = mask(load(block(base)), set) >> (i - base);
        (m != 0).then(|| i + m.trailing_zeros() as usize)
    }

    /// [`super::is_plain_ascii`]: sixteen bytes a step, the bad bytes of every step gathered in one
    /// register and looked at once at the end (a line is nearly always plain, so an early exit would
    /// only add a branch to every step).
    #[inline]
    pub(super) fn plain(b: &[u8]) -> bool {
        if b.len() < 16 {
            return b.iter().all(|&c| super::plain_byte(c));
        }
        let block = |at: usize| -> &[u8; 16] { b[at..at + 16].try_into().expect("16 bytes") };
        // SAFETY: SSE2 is part of the x86_64 baseline, so these instructions exist on every x86_64 CPU.
        unsafe {
            // A signed compare: bytes below 0x20 and bytes from 0x80 up (negative) are both below 0x20.
            let low = _mm_set1_epi8(0x20);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let bad =
                |v: __m128i| _mm_or_si128(_mm_cmplt_epi8(v, low), _mm_cmpeq_epi8(v, backslash));
            let mut acc = _mm_setzero_si128();
            let mut i = 0;
            while i + 16 <= b.len() {
                acc = _mm_or_si128(acc, bad(load(block(i))));
                i += 16;
            }
            if i < b.len() {
                // The last sixteen bytes, some looked at already: looking again changes nothing.
                acc = _mm_or_si128(acc, bad(load(block(b.len() - 16))));
            }
            _mm_movemask_epi8(acc) == 0
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    use super::Set;

    #[inline]
    pub(super) fn find(b: &[u8], from: usize, set: Set) -> Option<usize> {
        b.get(from..)?
            .iter()
            .position(|&c| set.has(c))
            .map(|k| from + k)
    }

    #[inline]
    pub(super) fn plain(b: &[u8]) -> bool {
        b.iter().all(|&c| super::plain_byte(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every set, every length around the sixteen-byte steps, every start, with the sought bytes at
    /// every position (alone and two of them), equals the byte-by-byte answer.
    #[test]
    fn scans_equal_the_byte_by_byte_answer() {
        let sets = [Set::One(b' '), Set::Two(b'"', b'\\'), Set::JsonEscape];
        for set in sets {
            let hits: Vec<u8> = (0u8..=255).filter(|&c| set.has(c)).collect();
            for len in 0..=48usize {
                for pos in 0..=len {
                    for &hit in hits.iter().take(3) {
                        let mut b = vec![b'a'; len];
                        if pos < len {
                            b[pos] = hit;
                        }
                        if len > 0 && pos + 20 < len {
                            b[pos + 20] = hit;
                        }
                        for from in 0..=len {
                            let want = b[from..].iter().position(|&c| set.has(c)).map(|k| from + k);
                            let got = imp::find(&b, from, set);
                            assert_eq!(got, want, "len {len}, hit at {pos}, from {from}");
                        }
                    }
                }
            }
        }
        assert_eq!(find_byte(b"ab cd", 0, b' '), Some(2));
        assert_eq!(find_byte2(b"ab\\\"", 0, b'"', b'\\'), Some(2));
        assert_eq!(find_json_escape(b"abc\n", 0), Some(3));
        assert_eq!(find_byte(b"abc", 3, b' '), None);
    }

    /// Every byte value at every position of every length around the sixteen-byte steps, alone and
    /// with a second one further on, equals the byte-by-byte answer.
    #[test]
    fn plain_ascii_equals_the_byte_by_byte_answer() {
        for len in 0..=48usize {
            assert!(is_plain_ascii(&vec![b'a'; len]), "len {len}");
            for pos in 0..len {
                for c in 0u8..=255 {
                    let mut b = vec![b'~'; len];
                    b[pos] = c;
                    assert_eq!(
                        is_plain_ascii(&b),
                        plain_byte(c),
                        "len {len}, {c:#x} at {pos}"
                    );
                    if pos + 17 < len {
                        b[pos] = b' ';
                        b[pos + 17] = c;
                        assert_eq!(
                            is_plain_ascii(&b),
                            plain_byte(c),
                            "len {len}, {c:#x} at {}",
                            pos + 17
                        );
                    }
                }
            }
        }
        assert!(is_plain_ascii(b"GET \"x\" 0x7f:\x7f"));
        assert!(!is_plain_ascii(b"a\\b"));
        assert!(!is_plain_ascii("caf\u{e9}".as_bytes()));
        assert!(!is_plain_ascii(b"tab\there"));
    }
}
