//! A large gzip object inflated on a thread of its own: the compressed body's chunks in (pulled by a
//! closure the reader supplies), its text out in pieces of about [`PIECE_BYTES`] through a channel of
//! [`QUEUED_PIECES`], so that for one large object inflating and parsing run on two cores. Small objects,
//! other compressions, and objects read while every core already reads one are decoded in line by
//! [`crate::object::ObjectParser`] ([`worth_a_thread`]).
//!
//! What must stay true: the memory is bounded (the pieces queued, one being filled, one being parsed,
//! whatever the object's size); the stream's end is its own item ([`Piece::End`]), so a thread that
//! died is told apart from one that finished; a failure (body, corrupt or truncated stream) comes as
//! the last item, after the text made before it; the thread stops when the receiver is dropped or the
//! body closure says so, and [`Inflating::join`] looks at how it ended.

use tokio::sync::mpsc;

use crate::object::gunzip::GzipStream;
use crate::object::{Compression, ReadErrorKind};

/// Text is handed on in pieces of this many bytes (the last one may be shorter): about 120 ALB lines,
/// a millisecond of parsing, against microseconds for the hand-over.
pub const PIECE_BYTES: usize = 64 * 1024;

/// Pieces waiting for the parser; with the one being filled and the one being parsed, 384 KiB per
/// object read this way. Measured (`make bench`, `parse_alb/gzip_inflated_apart`): with 1 the two
/// threads mostly take turns (a thread's wake-up here is as long as inflating a piece), 1.05 s against
/// 1.13 s in line; with 4 they overlap, 0.69 s against 1.03 s, as fast as parsing plain text.
pub const QUEUED_PIECES: usize = 4;

/// Objects whose compressed size is at least this are inflated on their own thread: below it, the
/// thread's start and the hand-over cost more than they save.
pub const THREAD_MIN_BYTES: u64 = 1 << 20;

/// Objects being read now, by every reader of the process (see [`worth_a_thread`]).
static READING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts an object as being read while it lives.
#[derive(Debug)]
pub struct Reading(());

impl Reading {
    /// Counts one more object being read.
    pub fn start() -> Reading {
        READING.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Reading(())
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        READING.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Whether an object of `compressed_bytes` is worth a thread of its own: it is large, and fewer objects
/// are being read (this one included) than there are cores, so the thread has a core to run on. When
/// every core already reads an object, a thread more only adds hand-overs and memory.
pub fn worth_a_thread(compressed_bytes: u64) -> bool {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    compressed_bytes >= THREAD_MIN_BYTES
        && READING.load(std::sync::atomic::Ordering::Relaxed) < cores
}

/// One item of the stream of text.
#[derive(Debug)]
pub enum Piece {
    /// Text, and the compressed bytes read since the previous piece.
    Text(Vec<u8>, u64),
    /// The stream ended between gzip members: all of it was handed on.
    End,
    /// The stream could not be read to its end; the text before the failure was handed on.
    Failed(InflateError),
}

/// Why the stream was not read to its end.
#[derive(Debug, thiserror::Error)]
pub enum InflateError {
    /// Reading the body failed.
    #[error("reading the body failed: {0}")]
    Body(String),
    /// The gzip stream is corrupt or truncated.
    #[error(transparent)]
    Stream(ReadErrorKind),
}

/// The receiving end: text pieces, a way to hand their buffers back, and the thread to join.
#[derive(Debug)]
pub struct Inflating {
    pieces: mpsc::Receiver<Piece>,
    spare: mpsc::Sender<Vec<u8>>,
    thread: tokio::task::JoinHandle<()>,
}

/// Starts inflating: `first` is the body's first chunk (already read, to sniff it), `next` blocks for
/// the next one and answers `None` at the body's end or when reading should stop (shutdown).
pub fn spawn<B, F>(first: B, mut next: F) -> Inflating
where
    B: AsRef<[u8]> + Send + 'static,
    F: FnMut() -> Option<Result<B, String>> + Send + 'static,
{
    let (tx, pieces) = mpsc::channel(QUEUED_PIECES);
    // Buffers the parser is done with come back here, to be filled again rather than allocated per
    // piece.
    let (spare, mut spares) = mpsc::channel::<Vec<u8>>(QUEUED_PIECES + 2);
    let thread = tokio::task::spawn_blocking(move || {
        let mut gz = GzipStream::new();
        let mut buf = Vec::with_capacity(PIECE_BYTES);
        let mut compressed = 0u64;
        // False once the receiver is gone: nothing more is wanted.
        let mut open = true;
        let mut chunk = Some(Ok(first));
        // How the stream ends; the text before it is flushed first.
        let last = loop {
            let c = match chunk.take().or_else(&mut next) {
                None if gz.finish() => break Piece::End,
                None => {
                    break Piece::Failed(InflateError::Stream(ReadErrorKind::Truncated {
                        compression: Compression::Gzip,
                    }))
                }
                Some(Ok(c)) => c,
                Some(Err(e)) => break Piece::Failed(InflateError::Body(e)),
            };
            let c = c.as_ref();
            compressed += c.len() as u64;
            let r = gz.write(c, &mut |mut text| {
                // Pieces are filled to exactly their size: their buffers never grow.
                while open && !text.is_empty() {
                    let take = text.len().min(PIECE_BYTES - buf.len());
                    buf.extend_from_slice(&text[..take]);
                    text = &text[take..];
                    if buf.len() == PIECE_BYTES {
                        open = flush(&tx, &mut buf, &mut compressed, &mut spares);
                    }
                }
            });
            if !open {
                return;
            }
            if let Err(source) = r {
                break Piece::Failed(InflateError::Stream(ReadErrorKind::Corrupt {
                    compression: Compression::Gzip,
                    source,
                }));
            }
        };
        if flush(&tx, &mut buf, &mut compressed, &mut spares) {
            let _ = tx.blocking_send(last);
        }
    });
    Inflating {
        pieces,
        spare,
        thread,
    }
}

/// Sends what `buf` holds (if anything) and takes a fresh buffer; false if the receiver is gone.
fn flush(
    tx: &mpsc::Sender<Piece>,
    buf: &mut Vec<u8>,
    compressed: &mut u64,
    spares: &mut mpsc::Receiver<Vec<u8>>,
) -> bool {
    if buf.is_empty() {
        return true;
    }
    let fresh = match spares.try_recv() {
        Ok(mut b) => {
            b.clear();
            b
        }
        Err(_) => Vec::with_capacity(PIECE_BYTES),
    };
    let text = std::mem::replace(buf, fresh);
    tx.blocking_send(Piece::Text(text, std::mem::take(compressed)))
        .is_ok()
}

impl Inflating {
    /// The next piece; `None` if the thread ended without saying how (it panicked: see
    /// [`Inflating::join`]).
    pub async fn recv(&mut self) -> Option<Piece> {
        self.pieces.recv().await
    }

    /// Hands a piece's buffer back for reuse.
    pub fn give_back(&self, buf: Vec<u8>) {
        // A full return channel only means the thread has buffers enough: this one is dropped.
        let _ = self.spare.try_send(buf);
    }

    /// Stops the thread (if it still runs, its next hand-over fails) and waits for it; `Err` with the
    /// panic's message if it panicked.
    pub async fn join(self) -> Result<(), String> {
        let Inflating { pieces, thread, .. } = self;
        drop(pieces);
        match crate::ops::supervise::join_error(thread.await) {
            None => Ok(()),
            Some(why) => Err(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn text(lines: usize) -> Vec<u8> {
        (0..lines)
            .flat_map(|i| format!("line {i} {}\n", "x".repeat(i % 300)).into_bytes())
            .collect()
    }

    /// Runs the stage over `body` cut in `chunk`-byte pieces; the text, the compressed bytes counted,
    /// and the last item.
    async fn run(body: Vec<u8>, chunk: usize) -> (Vec<u8>, u64, Piece) {
        let mut chunks: Vec<Vec<u8>> = body.chunks(chunk).map(<[u8]>::to_vec).collect();
        chunks.reverse();
        let first = chunks.pop().unwrap();
        let mut s = spawn(first, move || chunks.pop().map(Ok));
        let (mut out, mut counted) = (Vec::new(), 0);
        let last = loop {
            match s.recv().await.expect("the thread says how it ended") {
                Piece::Text(t, n) => {
                    assert!(!t.is_empty(), "no empty pieces");
                    out.extend_from_slice(&t);
                    counted += n;
                    s.give_back(t);
                }
                other => break other,
            }
        };
        s.join().await.unwrap();
        (out, counted, last)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn text_comes_out_whole_in_bounded_pieces_then_end() {
        let plain = text(40_000);
        let mut body = gz(&plain[..plain.len() / 2]);
        body.extend(gz(&plain[plain.len() / 2..]));
        for chunk in [1000, 64 * 1024, body.len()] {
            let (out, counted, last) = run(body.clone(), chunk).await;
            assert!(matches!(last, Piece::End), "{last:?}");
            assert_eq!(out, plain, "chunk {chunk}");
            assert_eq!(counted, body.len() as u64);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn truncated_corrupt_and_body_failures_come_last() {
        let plain = text(20_000);
        let body = gz(&plain);
        let (out, _, last) = run(body[..body.len() - 4].to_vec(), 4096).await;
        assert!(
            matches!(
                last,
                Piece::Failed(InflateError::Stream(ReadErrorKind::Truncated { .. }))
            ),
            "{last:?}"
        );
        assert_eq!(
            out, plain,
            "all the text came before the truncation was seen"
        );

        let mut bad = body.clone();
        let at = bad.len() - 8;
        bad[at] ^= 0xff; // the CRC-32
        let (_, _, last) = run(bad, 4096).await;
        let Piece::Failed(e) = last else {
            panic!("{last:?}")
        };
        assert!(e.to_string().contains("CRC-32"), "{e}");

        let mut s = spawn(body[..100].to_vec(), || {
            Some(Err("reset by peer".to_string()))
        });
        let last = loop {
            match s.recv().await.unwrap() {
                Piece::Text(..) => {}
                other => break other,
            }
        };
        assert_eq!(
            last.to_string_for_test(),
            "reading the body failed: reset by peer"
        );
        s.join().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_receiver_stops_the_thread() {
        let plain = text(200_000);
        let body = gz(&plain);
        let mut chunks: Vec<Vec<u8>> = body.chunks(1000).map(<[u8]>::to_vec).collect();
        chunks.reverse();
        let first = chunks.pop().unwrap();
        let left = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = left.clone();
        let mut s = spawn(first, move || {
            seen.store(chunks.len(), std::sync::atomic::Ordering::SeqCst);
            chunks.pop().map(Ok)
        });
        assert!(matches!(s.recv().await, Some(Piece::Text(..))));
        s.join().await.unwrap();
        assert!(
            left.load(std::sync::atomic::Ordering::SeqCst) > 0,
            "the thread stopped before reading the whole body"
        );
    }

    impl Piece {
        fn to_string_for_test(&self) -> String {
            match self {
                Piece::Failed(e) => e.to_string(),
                other => format!("{other:?}"),
            }
        }
    }
}
