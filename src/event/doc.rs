//! An event's JSON document, and the buffer the events parsed together write theirs into.
//!
//! In: documents written one after another into a [`DocBuf`] by [`crate::event::enrich`], each closed with
//! [`DocBuf::close`]; or a whole `String` (a processor's or the ECS mapping's rewrite, a test). Out:
//! [`Doc`]s, one event's document each, read as `&str` by every output.
//!
//! Why shared: a buffer per document meant one malloc on a reader's thread and one free on the output's
//! for every event, both on the process's single malloc arena (see `tune_malloc` in `main.rs`), so the two
//! threads queued on its lock: `perf` put about 12% of the daemon's cycles in malloc, free and that lock.
//! The documents of one publish chunk (up to 512 events) now share one allocation, made when the first
//! is written and freed when the last [`Doc`] of it is dropped.
//!
//! What must stay true: a [`Doc`] is valid UTF-8 (writers append only `&str` content and ASCII, and debug
//! builds check each document when it is closed); a frozen buffer is never written again (it is behind
//! an `Arc`), so a document never changes once closed.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// One event's document: one JSON object, without `@metadata`. Cloning shares the buffer.
#[derive(Clone)]
pub struct Doc {
    buf: Arc<Vec<u8>>,
    start: usize,
    end: usize,
}

impl Doc {
    /// The document as text.
    #[inline]
    pub fn as_str(&self) -> &str {
        debug_assert!(self.start <= self.end && self.end <= self.buf.len());
        // SAFETY: `start..end` is a closed document inside the buffer (checked in `DocBuf::freeze`, or the
        // whole of a `String`), and every document is UTF-8 (see the module's invariants). The buffer
        // is immutable behind the `Arc`.
        unsafe { std::str::from_utf8_unchecked(self.buf.get_unchecked(self.start..self.end)) }
    }

    /// The document without its opening `{`, for writers that put `{"@metadata":{...},` before it. A
    /// document is a JSON object that is never empty (it always has `@timestamp`), so it starts with
    /// `{"`: the metadata object's close and a comma take the place of its `{`.
    #[inline]
    pub fn tail(&self) -> &[u8] {
        &self.as_bytes()[1..]
    }
}

impl Deref for Doc {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Doc {
    fn from(s: String) -> Doc {
        let end = s.len();
        Doc {
            buf: Arc::new(s.into_bytes()),
            start: 0,
            end,
        }
    }
}

impl From<&str> for Doc {
    fn from(s: &str) -> Doc {
        Doc::from(s.to_owned())
    }
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Doc {
    fn eq(&self, other: &Doc) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<str> for Doc {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Doc {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Where the documents of one publish chunk are written, back to back, in blocks of [`BLOCK`] bytes.
///
/// Blocks, not one buffer per chunk: a chunk's documents (about 500 KiB for 512 ALB events) in one
/// growing buffer took more memory at the peak of `make bench-e2e`'s drain (38-41 MB against 29-30 MB
/// VmHWM), and so did 256 KiB blocks (72 MB): allocations that large are mmapped, or leave holes in the
/// one arena. 64 KiB blocks (and 16 KiB, measured the same) come from the heap and fit the holes the
/// last ones left: 30 MB.
///
/// Use: [`DocBuf::begin`] a document with the room it will likely need, append its bytes, then
/// [`DocBuf::close`] it (or [`DocBuf::discard`] what was written since the last close);
/// [`DocBuf::freeze`] hands out the closed documents, in order, as [`Doc`]s.
#[derive(Debug, Default)]
pub struct DocBuf {
    block: Vec<u8>,
    /// Where each closed document of `block` ends; the first starts at 0, each next one where the last
    /// ended.
    ends: Vec<usize>,
    /// Closed documents of earlier, full blocks.
    ready: Vec<Doc>,
}

/// A block's size: 64 KiB, about 60 ALB documents. A larger document gets a block its own size.
pub const BLOCK: usize = 64 * 1024;

/// A block sealed with at most this many bytes has its documents copied out (see [`DocBuf::seal`]).
const SMALL: usize = BLOCK / 4;

impl DocBuf {
    /// Starts a document that will likely take `room` bytes (it may take more: the block then grows),
    /// and returns the buffer to append it to. A block without that room left is sealed and a new one
    /// started. Blocks are allocated here, on first use, so an idle parser holds none.
    #[inline]
    pub fn begin(&mut self, room: usize) -> &mut Vec<u8> {
        debug_assert_eq!(
            self.block.len(),
            self.last_end(),
            "a document was left open"
        );
        if self.block.capacity() - self.block.len() < room {
            self.seal();
            self.block = Vec::with_capacity(room.max(BLOCK));
        }
        &mut self.block
    }

    /// Ends the current document (what was written since it began).
    #[inline]
    pub fn close(&mut self) {
        debug_assert!(std::str::from_utf8(&self.block[self.last_end()..]).is_ok());
        self.ends.push(self.block.len());
    }

    /// Drops what was written since the last close.
    pub fn discard(&mut self) {
        let end = self.last_end();
        self.block.truncate(end);
    }

    /// Number of closed documents not yet frozen.
    pub fn len(&self) -> usize {
        self.ready.len() + self.ends.len()
    }

    /// True when no closed document waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn last_end(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Moves the current block's closed documents to `ready`, behind one `Arc`; a block without any is
    /// kept. A block's spare room stays with it: shrinking blocks in place (glibc splits the chunk) left
    /// holes that raised the drain's peak to 33 MB against 30 MB.
    ///
    /// A block sealed mostly empty (the end of a small object, or of a chunk) would pin [`BLOCK`] bytes
    /// for a few documents until they are delivered: with thousands of one-line objects in the queue,
    /// that is what grew the memory (4,096 queued events could hold 256 MiB). Its documents are copied
    /// into an allocation of their own size instead, and the block is kept for the next ones.
    fn seal(&mut self) {
        self.discard();
        if self.ends.is_empty() {
            return;
        }
        let block = if self.block.len() <= SMALL && self.block.capacity() >= BLOCK {
            let exact = self.block.as_slice().to_vec();
            self.block.clear();
            Arc::new(exact)
        } else {
            Arc::new(std::mem::take(&mut self.block))
        };
        let mut start = 0;
        for end in self.ends.drain(..) {
            self.ready.push(Doc {
                buf: Arc::clone(&block),
                start,
                end,
            });
            start = end;
        }
    }

    /// The closed documents, in order; the next ones start a new block. A document still open is
    /// discarded.
    pub fn freeze(&mut self) -> std::vec::Drain<'_, Doc> {
        self.seal();
        self.ready.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(b: &mut DocBuf, d: &[u8]) {
        b.begin(d.len()).extend_from_slice(d);
    }

    #[test]
    fn documents_come_out_in_order_each_with_its_own_bytes() {
        let mut b = DocBuf::default();
        for d in ["{\"a\":1}", "", "{\"é\":\"ü\"}"] {
            write(&mut b, d.as_bytes());
            b.close();
        }
        write(&mut b, b"{\"dropped\"");
        b.discard();
        write(&mut b, b"{\"b\":2}");
        b.close();
        assert_eq!(b.len(), 4);
        let docs: Vec<Doc> = b.freeze().collect();
        assert_eq!(docs, ["{\"a\":1}", "", "{\"é\":\"ü\"}", "{\"b\":2}"]);
        assert!(b.is_empty());
        // The next chunk's documents do not change the frozen ones; an open one is not handed out.
        write(&mut b, b"{\"open\"");
        assert_eq!(b.freeze().count(), 0);
        write(&mut b, b"{\"d\":4}");
        b.close();
        assert_eq!(b.freeze().collect::<Vec<_>>(), ["{\"d\":4}"]);
        assert_eq!(docs[3], "{\"b\":2}");
    }

    #[test]
    fn a_few_small_documents_do_not_pin_a_whole_block() {
        let mut b = DocBuf::default();
        write(&mut b, b"{\"line\":1}");
        b.close();
        let docs: Vec<Doc> = b.freeze().collect();
        assert_eq!(docs, ["{\"line\":1}"]);
        assert!(
            docs[0].buf.capacity() < 64,
            "held {} bytes for one small document",
            docs[0].buf.capacity()
        );
        // The block is kept for the next documents.
        assert!(b.block.capacity() >= BLOCK);
        write(&mut b, b"{\"line\":2}");
        b.close();
        assert_eq!(b.freeze().collect::<Vec<_>>(), ["{\"line\":2}"]);
        assert_eq!(docs[0], "{\"line\":1}");
    }

    #[test]
    fn documents_fill_blocks_in_order_and_a_large_one_gets_its_own() {
        let mut b = DocBuf::default();
        let docs: Vec<String> = (0..300)
            .map(|i| {
                format!(
                    "{{\"n\":{i},\"pad\":\"{}\"}}",
                    "x".repeat(if i == 150 { 200_000 } else { 900 })
                )
            })
            .collect();
        for d in &docs {
            write(&mut b, d.as_bytes());
            b.close();
        }
        let out: Vec<Doc> = b.freeze().collect();
        assert_eq!(out, docs.iter().map(String::as_str).collect::<Vec<_>>());
        // About 70 of these 900-byte documents fit a block; no block is larger than it needs to be.
        let blocks: Vec<&Arc<Vec<u8>>> = out.iter().map(|d| &d.buf).fold(Vec::new(), |mut v, a| {
            if !v.iter().any(|b| Arc::ptr_eq(b, a)) {
                v.push(a);
            }
            v
        });
        assert!((5..=7).contains(&blocks.len()), "{} blocks", blocks.len());
        assert!(blocks
            .iter()
            .all(|b| b.capacity() == BLOCK || b.len() == b.capacity()));
        assert!(
            out[150].buf.len() > BLOCK,
            "the large document has a block of its own"
        );
    }

    #[test]
    fn a_block_is_freed_with_its_last_document() {
        let mut b = DocBuf::default();
        for _ in 0..3 {
            write(&mut b, b"{}");
            b.close();
        }
        let mut docs: Vec<Doc> = b.freeze().collect();
        let block = Arc::downgrade(&docs[0].buf);
        assert!(docs.iter().all(|d| Arc::ptr_eq(&d.buf, &docs[0].buf)));
        assert_eq!(block.strong_count(), 3);
        docs.truncate(1);
        assert!(block.upgrade().is_some());
        drop(docs);
        assert!(
            block.upgrade().is_none(),
            "the block outlived its documents"
        );
    }

    #[test]
    fn owned_documents_read_as_their_string() {
        let d = Doc::from(String::from("{\"x\":[1,2]}"));
        assert_eq!(d.len(), 11);
        assert_eq!(&*d, "{\"x\":[1,2]}");
        assert_eq!(format!("{d:?}"), "\"{\\\"x\\\":[1,2]}\"");
        assert_eq!(d.clone(), d);
    }
}
