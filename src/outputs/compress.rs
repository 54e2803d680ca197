//! Compressing what an output sends: a body's bytes in, the same bytes gzip'ed (an Elasticsearch bulk
//! body) or zlib'ed (a Logstash window) out, at the output's `compression_level`.
//!
//! Why a pool: a deflate state at level 1 is about 380 KB with zlib-rs (window, hash chains, pending
//! symbols), allocated zeroed. Made and dropped for every body, it cost a page-zeroing allocation per
//! bulk, and glibc, raising its mmap threshold after each such free, left holes that grew the
//! Elasticsearch drain's peak RSS from 31 to 41 MB (measured, `scripts/bench_e2e.py es`). Kept and reset
//! between bodies, one state serves every body a worker sends. A body may also be compressed as it is
//! written ([`Compressors::stream`]), so that the whole uncompressed body is never held.
//!
//! What must stay true: a compressor is reset before each body, so bodies never share history; at most
//! [`IDLE_MAX`] idle compressors are kept (one more per body compressed at the same time lives only while
//! it compresses); a failed one is dropped, not put back.

use std::sync::Mutex;

use flate2::{Compress, Compression, FlushCompress, Status};

/// Idle compressors kept for the next bodies: enough for the bodies an output compresses at once by
/// default; more at once are made and then dropped.
pub const IDLE_MAX: usize = 4;

/// How the compressed bytes are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// gzip (RFC 1952): `Content-Encoding: gzip` for Elasticsearch.
    Gzip,
    /// zlib (RFC 1950): the lumberjack `2C` frame.
    Zlib,
}

/// Compressors of one framing and level, reused from body to body.
#[derive(Debug)]
pub struct Compressors {
    framing: Framing,
    level: Compression,
    idle: Mutex<Vec<Compress>>,
}

impl Compressors {
    /// Compressors at `level` (0-9; above 9 is taken as 9).
    pub fn new(framing: Framing, level: u32) -> Compressors {
        Compressors {
            framing,
            level: Compression::new(level.min(9)),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn make(&self) -> Compress {
        match self.framing {
            Framing::Gzip => Compress::new_gzip(self.level, 15),
            Framing::Zlib => Compress::new(self.level, true),
        }
    }

    /// A body compressed as it is written, in pieces: the whole uncompressed body never exists.
    /// `expected` is about the uncompressed size, for the first allocation.
    pub fn stream(&self, expected: usize) -> Stream<'_> {
        Stream {
            pool: self,
            c: Some(self.take()),
            out: Vec::with_capacity(expected / 4 + 64),
        }
    }

    /// An idle compressor, reset, or a new one.
    fn take(&self) -> Compress {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match taken {
            Some(mut c) => {
                c.reset();
                c
            }
            None => self.make(),
        }
    }

    /// Keeps `c` for the next body, unless [`IDLE_MAX`] are kept already.
    fn put_back(&self, c: Compress) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_MAX {
            idle.push(c);
        }
    }

    /// `input` compressed whole (the framing's header, the deflate data and its trailer). An error is
    /// the compressor's own (it should not happen with a valid state).
    pub fn compress(&self, input: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut stream = self.stream(input.len());
        stream.write(input)?;
        stream.finish()
    }

    /// Idle compressors kept now (for tests).
    pub fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Compresses all of `input` into `out`, growing it; with `Finish`, until the stream's end is written.
fn run(
    c: &mut Compress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    flush: FlushCompress,
) -> std::io::Result<()> {
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(4096));
        }
        let used = c.total_in();
        let status = c
            .compress_vec(input, out, flush)
            .map_err(std::io::Error::other)?;
        input = &input[(c.total_in() - used) as usize..];
        let done = match flush {
            FlushCompress::Finish => status == Status::StreamEnd,
            // Without a flush, all input taken and room left means nothing is pending output.
            _ => input.is_empty() && out.len() < out.capacity(),
        };
        if done {
            return Ok(());
        }
    }
}

/// One body being compressed (see [`Compressors::stream`]).
pub struct Stream<'a> {
    pool: &'a Compressors,
    /// `None` once finished or failed.
    c: Option<Compress>,
    out: Vec<u8>,
}

impl Stream<'_> {
    /// Compresses `piece` (its compressed bytes may come out later).
    pub fn write(&mut self, piece: &[u8]) -> std::io::Result<()> {
        let c = self
            .c
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the compressor failed before"))?;
        let r = run(c, piece, &mut self.out, FlushCompress::None);
        if r.is_err() {
            // A compressor in an unknown state is not put back.
            self.c = None;
        }
        r
    }

    /// The whole compressed body; the compressor goes back to the pool.
    pub fn finish(mut self) -> std::io::Result<Vec<u8>> {
        let mut c = self
            .c
            .take()
            .ok_or_else(|| std::io::Error::other("the compressor failed before"))?;
        run(&mut c, &[], &mut self.out, FlushCompress::Finish)?;
        self.pool.put_back(c);
        Ok(std::mem::take(&mut self.out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn text(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .flat_map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                format!("{{\"n\":{i},\"r\":{}}}\n", x >> 8).into_bytes()
            })
            .collect()
    }

    /// Each body decodes, by a decoder of its own, to exactly its input, whichever bodies the reused
    /// compressor compressed before it (no history leaks from one body into the next).
    #[test]
    fn reused_compressors_make_independent_bodies() {
        for (framing, level) in [(Framing::Gzip, 1), (Framing::Gzip, 9), (Framing::Zlib, 3)] {
            let pool = Compressors::new(framing, level);
            for (n, seed) in [(20_000, 1), (3, 2), (0, 3), (20_000, 1), (50_000, 4)] {
                let body = text(n, seed);
                let z = pool.compress(&body).unwrap();
                let mut back = Vec::new();
                match framing {
                    Framing::Gzip => flate2::read::GzDecoder::new(&z[..]).read_to_end(&mut back),
                    Framing::Zlib => flate2::read::ZlibDecoder::new(&z[..]).read_to_end(&mut back),
                }
                .unwrap();
                assert!(back == body, "{framing:?} level {level}, {n} lines");
                if n > 1000 {
                    assert!(
                        z.len() * 2 < body.len(),
                        "{framing:?}: {} -> {}",
                        body.len(),
                        z.len()
                    );
                }
                assert_eq!(pool.idle(), 1, "the one compressor was put back");
            }
        }
    }

    /// A body written in pieces of any size decodes to the pieces joined, about as small as the body
    /// compressed whole.
    #[test]
    fn a_stream_in_pieces_is_the_body_compressed_whole() {
        let pool = Compressors::new(Framing::Gzip, 1);
        let body = text(30_000, 9);
        let whole = pool.compress(&body).unwrap();
        for piece in [1, 1000, 65_536, body.len()] {
            let mut st = pool.stream(body.len());
            for p in body.chunks(piece) {
                st.write(p).unwrap();
            }
            let z = st.finish().unwrap();
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&z[..])
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == body, "pieces of {piece}");
            assert!(
                z.len() < whole.len() * 2,
                "pieces of {piece}: {} bytes",
                z.len()
            );
        }
        assert_eq!(pool.idle(), 1);
        // An empty stream is a valid empty member.
        let z = pool.stream(0).finish().unwrap();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
    }

    /// Incompressible input larger than the first guess of the output's size still comes out whole.
    #[test]
    fn output_grows_past_the_first_guess() {
        let mut x: u64 = 7;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let pool = Compressors::new(Framing::Gzip, 1);
        let z = pool.compress(&noise).unwrap();
        assert!(
            z.len() > noise.len(),
            "stored blocks are larger than their input"
        );
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == noise);
    }

    /// No more than IDLE_MAX compressors are kept however many compressed at once.
    #[test]
    fn idle_compressors_are_bounded() {
        let pool = std::sync::Arc::new(Compressors::new(Framing::Zlib, 1));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(IDLE_MAX + 3));
        let threads: Vec<_> = (0..IDLE_MAX + 3)
            .map(|i| {
                let (pool, barrier) = (pool.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let body = text(1000, i as u32);
                    // Every thread holds its compressor's place: all take one before any puts it back.
                    barrier.wait();
                    pool.compress(&body).unwrap()
                })
            })
            .collect();
        for t in threads {
            assert!(!t.join().unwrap().is_empty());
        }
        assert!(pool.idle() <= IDLE_MAX, "{} idle", pool.idle());
        assert!(pool.idle() >= 1);
    }
}
