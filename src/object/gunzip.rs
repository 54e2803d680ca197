//! gzip in push mode: compressed bytes in, in whatever pieces they arrive; decompressed text out, in
//! slices of one fixed buffer handed to a callback. Members back to back (multi-member gzip, as `cat`
//! and Firehose make them) are one stream.
//!
//! The deflate data is inflated by zlib-rs (through `flate2::Decompress`, raw deflate): measured
//! (`make bench`, `parse_alb/gzip_inflate_only`, 100 MB of ALB lines) 66 ms against 108 ms for
//! miniz_oxide's core decoder writing into a ring of our own, which this file used before. The text
//! is inflated into our one buffer, allocated once and never zero-filled again, and handed on from
//! there; zlib-rs keeps its own 32 KiB window. The gzip framing is ours (see below) because a stream of
//! members must be told apart from a member followed by garbage, and each member checked.
//!
//! What must stay true: every member's header is read as RFC 1952 has it (FEXTRA, FNAME, FCOMMENT, FHCRC
//! in any piece boundaries), its CRC-32 and length are checked against its trailer, anything after a
//! member that is not another member's header is an error, and [`GzipStream::finish`] says whether the
//! stream ended between members.

use std::io;

use flate2::{Decompress, FlushDecompress, Status};

/// The output buffer: text is handed on in slices of at most this many bytes.
pub const OUT_BYTES: usize = 64 * 1024;

/// A header longer than this (FEXTRA is at most 64 KiB; FNAME and FCOMMENT have no limit) is refused
/// rather than held.
const MAX_HEADER_BYTES: usize = 1 << 20;

enum State {
    /// Reading a member's header; the bytes so far.
    Header(Vec<u8>),
    /// Inflating a member's deflate data.
    Body,
    /// Reading a member's 8-byte trailer; the bytes so far and how many there are.
    Trailer([u8; 8], usize),
}

/// One gzip stream being decoded.
pub struct GzipStream {
    state: State,
    /// The deflate decoder (raw deflate: the gzip framing is read here); boxed, as it is about 200
    /// bytes.
    inflate: Box<Decompress>,
    crc: crc32fast::Hasher,
    /// Decompressed bytes of the current member, modulo 2^32 (the trailer's ISIZE).
    size: u32,
    /// Where the text is inflated and handed on from.
    out: Box<[u8]>,
}

impl Default for GzipStream {
    fn default() -> Self {
        GzipStream::new()
    }
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

/// The length of the header at the start of `h`, `None` if more bytes are needed.
fn header_len(h: &[u8]) -> io::Result<Option<usize>> {
    if h.len() >= 2 && h[..2] != [0x1f, 0x8b] {
        return Err(corrupt("invalid gzip header (not a gzip member)"));
    }
    if h.len() >= 3 && h[2] != 8 {
        return Err(corrupt(
            "invalid gzip header (compression method is not deflate)",
        ));
    }
    if h.len() < 10 {
        return Ok(None);
    }
    let flags = h[3];
    if flags & 0xe0 != 0 {
        return Err(corrupt("invalid gzip header (reserved flag bits set)"));
    }
    let mut at = 10;
    if flags & FEXTRA != 0 {
        if h.len() < at + 2 {
            return Ok(None);
        }
        at += 2 + u16::from_le_bytes([h[at], h[at + 1]]) as usize;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            match h.get(at..).and_then(|r| memchr::memchr(0, r)) {
                Some(nul) => at += nul + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    Ok((h.len() >= at).then_some(at))
}

impl GzipStream {
    /// A stream at the start of its first member.
    pub fn new() -> GzipStream {
        GzipStream {
            state: State::Header(Vec::new()),
            inflate: Box::new(Decompress::new(false)),
            crc: crc32fast::Hasher::new(),
            size: 0,
            out: vec![0u8; OUT_BYTES].into_boxed_slice(),
        }
    }

    /// Decodes all of `input`, handing each piece of text to `sink` as it is produced. An error means
    /// the stream is corrupt; the text before it was handed on.
    pub fn write(&mut self, mut input: &[u8], sink: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        loop {
            match &mut self.state {
                State::Header(h) => {
                    if input.is_empty() {
                        return Ok(());
                    }
                    // Usually the whole header is in this input (Firehose writes a member per
                    // payload): read it where it is, without gathering it.
                    if h.is_empty() {
                        if let Some(n) = header_len(&input[..input.len().min(MAX_HEADER_BYTES)])? {
                            input = &input[n..];
                            self.begin_member();
                            continue;
                        }
                    }
                    // Gathered across pieces: the header's length is only known as it is read, and
                    // nothing after it may be swallowed.
                    let before = h.len();
                    let take = input.len().min(MAX_HEADER_BYTES + 1 - before);
                    h.extend_from_slice(&input[..take]);
                    match header_len(h)? {
                        Some(n) => {
                            input = &input[n - before..];
                            self.begin_member();
                        }
                        None if h.len() > MAX_HEADER_BYTES => {
                            return Err(corrupt("gzip header is longer than 1 MiB"))
                        }
                        None => {
                            input = &input[take..];
                        }
                    }
                }
                State::Body => {
                    // More input may follow: no flush asked for. zlib-rs reads back-references from
                    // its own window, so every call may fill `out` from its start.
                    let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
                    let status = self
                        .inflate
                        .decompress(input, &mut self.out, FlushDecompress::None)
                        .map_err(|e| corrupt(&format!("corrupt deflate stream: {e}")))?;
                    let used = (self.inflate.total_in() - in0) as usize;
                    let made = (self.inflate.total_out() - out0) as usize;
                    input = &input[used..];
                    if made > 0 {
                        let text = &self.out[..made];
                        self.crc.update(text);
                        self.size = self.size.wrapping_add(made as u32);
                        sink(text);
                    }
                    match status {
                        Status::StreamEnd => self.state = State::Trailer([0; 8], 0),
                        // `out` was filled: there may be more to write from the input held.
                        _ if made == OUT_BYTES => {}
                        _ if input.is_empty() => return Ok(()),
                        // Input left, room left, no progress: cannot happen with a valid decoder;
                        // refuse rather than loop.
                        _ if used == 0 && made == 0 => {
                            return Err(corrupt("deflate stream made no progress"))
                        }
                        _ => {}
                    }
                }
                State::Trailer(t, have) => {
                    let take = input.len().min(8 - *have);
                    t[*have..*have + take].copy_from_slice(&input[..take]);
                    *have += take;
                    input = &input[take..];
                    if *have < 8 {
                        return Ok(());
                    }
                    let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
                    let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
                    let ours = std::mem::take(&mut self.crc).finalize();
                    if crc != ours {
                        return Err(corrupt("gzip member's CRC-32 does not match its data"));
                    }
                    if size != self.size {
                        return Err(corrupt("gzip member's length does not match its data"));
                    }
                    self.state = State::Header(Vec::new());
                }
            }
        }
    }

    /// After a header: inflate the member's deflate data, with its own CRC-32 and length.
    fn begin_member(&mut self) {
        self.state = State::Body;
        self.inflate.reset(false);
        self.crc = crc32fast::Hasher::new();
        self.size = 0;
    }

    /// True when the stream ended between members (at least one member is complete, or nothing was
    /// written); false when it ended inside a header, deflate data or a trailer.
    pub fn finish(&self) -> bool {
        matches!(&self.state, State::Header(h) if h.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode_in(data: &[u8], chunk: usize) -> io::Result<(Vec<u8>, bool)> {
        let mut s = GzipStream::new();
        let mut out = Vec::new();
        for piece in data.chunks(chunk) {
            s.write(piece, &mut |t| out.extend_from_slice(t))?;
        }
        Ok((out, s.finish()))
    }

    fn text(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| format!("line {i} {}\n", i * 7919 % 1000).into_bytes())
            .collect()
    }

    #[test]
    fn members_back_to_back_decode_in_any_pieces() {
        let a = text(40_000);
        let b = b"second member\n".to_vec();
        let mut data = gz(&a, 6);
        data.extend(gz(&b, 1));
        data.extend(gz(b"", 6));
        let mut want = a.clone();
        want.extend(&b);
        for chunk in [1, 7, 1000, 65536, data.len()] {
            let (out, done) = decode_in(&data, chunk).unwrap();
            assert!(out == want, "chunk {chunk}");
            assert!(done, "chunk {chunk}");
        }
        // Stored blocks (level 0) inflate to more than the buffer in one call.
        let (out, done) = decode_in(&gz(&a, 0), 1 << 20).unwrap();
        assert!(out == a && done);
    }

    /// Back-references up to 32 KiB long reach across the output buffer's end at every offset: 30,000
    /// bytes of noise repeated make a match of the whole window at each repeat.
    #[test]
    fn matches_across_the_buffer_end_are_copied_from_the_window() {
        let mut x: u32 = 1;
        let noise: Vec<u8> = (0..30_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 16) as u8
            })
            .collect();
        let want = noise.repeat(9);
        let data = gz(&want, 9);
        for chunk in [1, 4096, data.len()] {
            let (out, done) = decode_in(&data, chunk).unwrap();
            assert!(out == want && done, "chunk {chunk}");
        }
    }

    #[test]
    fn header_fields_are_skipped() {
        let body = text(100);
        let mut e = flate2::GzBuilder::new()
            .filename("access.log")
            .comment("a comment")
            .extra(vec![1, 2, 3, 4])
            .write(Vec::new(), flate2::Compression::default());
        e.write_all(&body).unwrap();
        let mut data = e.finish().unwrap();
        // FHCRC is not written by flate2's builder: set it by hand, with a (not checked) CRC-16.
        let mut with_hcrc = data.clone();
        with_hcrc[3] |= FHCRC;
        let header = header_len(&data).unwrap().unwrap();
        with_hcrc.splice(header..header, [0xab, 0xcd]);
        data.extend(with_hcrc);
        for chunk in [1, 3, 64] {
            let (out, done) = decode_in(&data, chunk).unwrap();
            assert_eq!(out, [body.clone(), body.clone()].concat(), "chunk {chunk}");
            assert!(done);
        }
    }

    #[test]
    fn truncation_and_corruption_are_told_apart() {
        let data = gz(&text(5000), 6);
        for cut in [1, 5, 12, data.len() / 2, data.len() - 3] {
            let (_, done) = decode_in(&data[..cut], 100).unwrap();
            assert!(!done, "cut at {cut} is truncated");
        }
        let mut bad_crc = data.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        let e = decode_in(&bad_crc, 100).unwrap_err();
        assert!(e.to_string().contains("CRC-32"), "{e}");
        let mut bad_len = data.clone();
        bad_len[n - 1] ^= 1;
        assert!(decode_in(&bad_len, 100)
            .unwrap_err()
            .to_string()
            .contains("length"));
        let mut trailing = data.clone();
        trailing.extend_from_slice(b"\0\0\0\0");
        assert!(decode_in(&trailing, 100)
            .unwrap_err()
            .to_string()
            .contains("not a gzip member"));
        let mut bad_deflate = data.clone();
        bad_deflate[10] = 0xff;
        let e = decode_in(&bad_deflate, 100).unwrap_err();
        assert!(e.to_string().contains("corrupt deflate stream"), "{e}");
        assert!(decode_in(&[0x1f, 0x8b, 7], 1)
            .unwrap_err()
            .to_string()
            .contains("not deflate"));
    }

    #[test]
    fn an_endless_header_is_refused() {
        let mut data = vec![0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 3];
        data.extend(std::iter::repeat_n(b'a', MAX_HEADER_BYTES + 10));
        let e = decode_in(&data, 4096).unwrap_err();
        assert!(e.to_string().contains("longer than 1 MiB"), "{e}");
    }

    #[test]
    fn the_output_matches_flate2s_own_decoder() {
        let data = [gz(&text(3000), 9), gz(&text(10), 1)].concat();
        let mut want = Vec::new();
        let mut d = flate2::write::MultiGzDecoder::new(&mut want);
        d.write_all(&data).unwrap();
        d.try_finish().unwrap();
        drop(d);
        assert_eq!(decode_in(&data, 777).unwrap().0, want);
    }
}
