//! Event ids, several lines at a time: `(offset, line bytes)` of each record in, its [`EventId`] out,
//! bit for bit the id of [`crate::event::enrich::ObjectContext::event_id`] (the scheme is in `enrich`'s doc).
//!
//! Hashing one line at a time runs BLAKE3's compression once per 64-byte block, one block after the
//! other: 13% of the instructions of the ALB path. BLAKE3 can compress 4, 8 or 16 independent inputs at
//! once with SIMD (SSE4.1, AVX2, AVX-512), so ids are computed in batches: [`IdBatch::add`] copies the
//! record's `u64_le(offset) || line` into a lane, and when the lanes are full (or [`IdBatch::finish`] is
//! called) the whole blocks that every lane has are compressed together, and each lane's remaining blocks
//! one by one. Records longer than one BLAKE3 chunk (1 KiB) take the one-at-a-time path.
//!
//! The many-input compression is `blake3::platform`, which the crate exports hidden, for benchmarks:
//! the version is pinned exactly in `Cargo.toml`, and the tests compare every length against the
//! crate's public keyed hash so that an update that changed it could not land.

use blake3::platform::Platform;
use blake3::IncrementCounter;

use crate::event::EventId;

/// BLAKE3's block and chunk lengths, and the domain flags of a keyed hash (BLAKE3 spec, section 2.1).
const BLOCK: usize = 64;
const CHUNK: usize = 1024;
const CHUNK_START: u8 = 1;
const CHUNK_END: u8 = 2;
const ROOT: u8 = 8;
const KEYED_HASH: u8 = 16;

/// The most lanes any platform compresses at once (AVX-512).
const MAX_LANES: usize = 16;

/// Up to one SIMD width of records waiting for their ids.
pub struct IdBatch {
    platform: Platform,
    /// The object's id key as BLAKE3 words.
    key: [u32; 8],
    /// Lanes used per batch: the platform's SIMD degree.
    lanes: usize,
    /// Lane `l` is `buf[l * CHUNK..]`: the input, then zeros to the end of its last block.
    buf: Box<[u8]>,
    /// Input length of each used lane.
    lens: [usize; MAX_LANES],
    /// The caller's tag of each used lane (where the id goes).
    tags: [usize; MAX_LANES],
    /// Lanes used.
    used: usize,
}

impl std::fmt::Debug for IdBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdBatch")
            .field("lanes", &self.lanes)
            .field("used", &self.used)
            .finish()
    }
}

impl IdBatch {
    /// A batch for the object whose id key (`BLAKE3-derive_key` of its path) is `key`.
    pub fn new(key: &[u8; 32]) -> IdBatch {
        IdBatch::on(Platform::detect(), key)
    }

    /// A batch that compresses with `platform`.
    fn on(platform: Platform, key: &[u8; 32]) -> IdBatch {
        let lanes = platform.simd_degree().clamp(1, MAX_LANES);
        let mut words = [0u32; 8];
        for (w, b) in words.iter_mut().zip(key.chunks_exact(4)) {
            *w = u32::from_le_bytes(b.try_into().expect("4 bytes"));
        }
        IdBatch {
            platform,
            key: words,
            lanes,
            buf: vec![0u8; lanes * CHUNK].into_boxed_slice(),
            lens: [0; MAX_LANES],
            tags: [0; MAX_LANES],
            used: 0,
        }
    }

    /// Records waiting.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// The id of the record at `offset` whose bytes are `raw`: `Some` at once for a record longer than
    /// one chunk, else `None` and it waits under `tag`; when the lanes are full, the waiting records'
    /// ids are handed to `done(tag, id)`.
    pub fn add(
        &mut self,
        offset: u64,
        raw: &[u8],
        tag: usize,
        done: impl FnMut(usize, EventId),
    ) -> Option<EventId> {
        let len = 8 + raw.len();
        if len > CHUNK || self.lanes == 1 {
            return Some(self.one(offset, raw));
        }
        let lane = &mut self.buf[self.used * CHUNK..(self.used + 1) * CHUNK];
        lane[..8].copy_from_slice(&offset.to_le_bytes());
        lane[8..len].copy_from_slice(raw);
        // BLAKE3 pads the last block with zeros; the lane may hold an older, longer input.
        let end = len.div_ceil(BLOCK) * BLOCK;
        lane[len..end].fill(0);
        self.lens[self.used] = len;
        self.tags[self.used] = tag;
        self.used += 1;
        if self.used == self.lanes {
            self.finish(done);
        }
        None
    }

    /// Computes the ids of the waiting records, handing each to `done(tag, id)`.
    pub fn finish(&mut self, mut done: impl FnMut(usize, EventId)) {
        let n = std::mem::take(&mut self.used);
        if n == 0 {
            return;
        }
        let blocks = |len: usize| len.div_ceil(BLOCK);
        // Every lane's last block carries CHUNK_END | ROOT and its own length, so the blocks before the
        // shortest lane's last one are what all lanes compress together.
        let shared = self.lens[..n]
            .iter()
            .map(|&l| blocks(l) - 1)
            .min()
            .unwrap_or(0);
        let mut cvs = [self.key; MAX_LANES];
        if shared > 0 && n > 1 {
            self.shared_blocks(n, shared, &mut cvs);
        }
        for (l, cv) in cvs.iter_mut().enumerate().take(n) {
            let len = self.lens[l];
            let last = blocks(len) - 1;
            let start = if n > 1 { shared } else { 0 };
            for b in start..=last {
                let block: &[u8; BLOCK] = self.buf[l * CHUNK + b * BLOCK..][..BLOCK]
                    .try_into()
                    .expect("one block");
                let mut flags = KEYED_HASH;
                if b == 0 {
                    flags |= CHUNK_START;
                }
                let block_len = if b == last {
                    flags |= CHUNK_END | ROOT;
                    len - b * BLOCK
                } else {
                    BLOCK
                };
                self.platform
                    .compress_in_place(cv, block, block_len as u8, 0, flags);
            }
            // The root's first output bytes are its chaining value's.
            let mut id = [0u8; 16];
            for (d, w) in id.chunks_exact_mut(4).zip(&cv[..4]) {
                d.copy_from_slice(&w.to_le_bytes());
            }
            done(self.tags[l], EventId(id));
        }
    }

    /// Compresses the first `shared` blocks of lanes `0..n` together.
    fn shared_blocks(&self, n: usize, shared: usize, cvs: &mut [[u32; 8]; MAX_LANES]) {
        macro_rules! by_blocks {
            ($($k:literal)*) => {
                match shared {
                    $($k => self.shared_n::<{ $k * BLOCK }>(n, cvs),)*
                    _ => unreachable!("a chunk has 16 blocks, the last is never shared"),
                }
            };
        }
        by_blocks!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    }

    fn shared_n<const N: usize>(&self, n: usize, cvs: &mut [[u32; 8]; MAX_LANES]) {
        let lane = |l: usize| -> &[u8; N] {
            self.buf[l * CHUNK..][..N]
                .try_into()
                .expect("N bytes of a lane")
        };
        let mut inputs = [lane(0); MAX_LANES];
        for (l, input) in inputs.iter_mut().enumerate().take(n).skip(1) {
            *input = lane(l);
        }
        let mut out = [0u8; MAX_LANES * 32];
        self.platform.hash_many(
            &inputs[..n],
            &self.key,
            0,
            IncrementCounter::No,
            KEYED_HASH,
            CHUNK_START,
            0,
            &mut out[..n * 32],
        );
        for (cv, bytes) in cvs.iter_mut().zip(out.chunks_exact(32)).take(n) {
            for (w, b) in cv.iter_mut().zip(bytes.chunks_exact(4)) {
                *w = u32::from_le_bytes(b.try_into().expect("4 bytes"));
            }
        }
    }

    /// One record through the crate's public hasher.
    fn one(&self, offset: u64, raw: &[u8]) -> EventId {
        let mut key = [0u8; 32];
        for (d, w) in key.chunks_exact_mut(4).zip(&self.key) {
            d.copy_from_slice(&w.to_le_bytes());
        }
        let mut h = blake3::Hasher::new_keyed(&key);
        h.update(&offset.to_le_bytes());
        h.update(raw);
        let mut id = [0u8; 16];
        id.copy_from_slice(&h.finalize().as_bytes()[..16]);
        EventId(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(key: &[u8; 32], offset: u64, raw: &[u8]) -> EventId {
        let mut input = offset.to_le_bytes().to_vec();
        input.extend_from_slice(raw);
        let mut id = [0u8; 16];
        id.copy_from_slice(&blake3::keyed_hash(key, &input).as_bytes()[..16]);
        EventId(id)
    }

    /// Every length from empty to past one chunk, in batches that mix lengths (so lanes share from 0 to
    /// 15 blocks), equals the crate's public keyed hash.
    #[test]
    fn batched_ids_equal_the_public_keyed_hash_at_every_length() {
        let key = blake3::derive_key(crate::event::enrich::ID_CONTEXT, b"s3://b/k");
        let data: Vec<u8> = (0..1100u32).map(|i| (i * 31 % 251) as u8).collect();
        for (platform, stride) in platforms()
            .into_iter()
            .flat_map(|p| [1usize, 7, 64, 333].map(|s| (p, s)))
        {
            let mut batch = IdBatch::on(platform, &key);
            let mut got = vec![None; 1100];
            let mut n = 0;
            let mut len = 0;
            while n < 1100 {
                let raw = &data[..len];
                let off = (n as u64) * 1_000_003;
                if let Some(id) = batch.add(off, raw, n, |t, id| got[t] = Some(id)) {
                    got[n] = Some(id);
                }
                n += 1;
                len = (len + stride) % 1100;
            }
            batch.finish(|t, id| got[t] = Some(id));
            assert!(batch.is_empty());
            let mut len = 0;
            for (n, id) in got.iter().enumerate() {
                let off = (n as u64) * 1_000_003;
                assert_eq!(
                    *id,
                    Some(reference(&key, off, &data[..len])),
                    "record {n}, {len} bytes, stride {stride}, {} lanes",
                    batch.lanes
                );
                len = (len + stride) % 1100;
            }
        }
    }

    /// Each SIMD width this machine has, and the portable one-lane code.
    fn platforms() -> Vec<Platform> {
        let mut all = vec![Platform::portable()];
        all.extend(Platform::sse2());
        all.extend(Platform::sse41());
        all.extend(Platform::avx2());
        all.extend(Platform::avx512());
        all
    }

    #[test]
    fn a_lone_record_gets_the_pinned_id() {
        let key = blake3::derive_key(crate::event::enrich::ID_CONTEXT, b"s3://b/k1");
        for platform in platforms() {
            let mut batch = IdBatch::on(platform, &key);
            let mut got = batch.add(0, b"x", 7, |_, _| unreachable!("one record fills no batch"));
            batch.finish(|t, id| {
                assert_eq!(t, 7);
                got = Some(id);
            });
            // The pinned id of the scheme (enrich's `ids_depend_on_object_offset_and_content_only`).
            assert_eq!(
                got.expect("an id").to_string(),
                "6a93899930390ea0c48f04ac16837967",
                "{} lanes",
                batch.lanes
            );
        }
    }
}
