//! `output.file`: NDJSON events (with `@metadata`) in `path/filename`, rotated by size like libbeat's file
//! output (`filename` → `filename.1` → … → `filename.N-1`, the oldest removed). An event counts as delivered
//! once written and flushed; a failed write is tried again after a [`Backoff`] (jittered, from
//! `RETRY_INIT` up to `RETRY_MAX`) until it is written or shutdown aborts.

use std::fs::{self, File, OpenOptions};
use std::io::{IoSlice, Write};
use std::path::PathBuf;

use std::sync::{Arc, Mutex};

use crate::backoff::Backoff;
use crate::config::FileSettings;
use crate::queue::Batch;
use crate::shutdown::Shutdown;

use super::{Aborted, SetupError};

/// The first wait after a failed write: a full disk or a lost mount may come back soon.
const RETRY_INIT: std::time::Duration = std::time::Duration::from_millis(100);
/// The longest wait: a disk that has room again is written to within seconds.
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(10);

/// The file output.
#[derive(Debug)]
pub struct FileOutput {
    files: Arc<Files>,
}

/// The files, written on blocking threads.
#[derive(Debug)]
struct Files {
    dir: PathBuf,
    name: String,
    rotate_bytes: u64,
    keep: u32,
    /// The open file and its length.
    state: Mutex<Option<(File, u64)>>,
}

impl FileOutput {
    /// From validated settings; creates the directory.
    pub fn new(f: &FileSettings) -> Result<FileOutput, SetupError> {
        fs::create_dir_all(&f.path).map_err(|e| SetupError {
            key: "output.file.path".into(),
            message: format!("cannot create {}: {e}", f.path.display()),
        })?;
        Ok(FileOutput {
            files: Arc::new(Files {
                dir: f.path.clone(),
                name: f.filename.clone(),
                rotate_bytes: f.rotate_bytes,
                keep: f.number_of_files,
                state: Mutex::new(None),
            }),
        })
    }

    /// `test output`: the directory takes a file (created and removed again).
    pub fn check(&self) -> (String, Result<String, String>) {
        let dir = &self.files.dir;
        let probe = dir.join(format!(".s3logsbeat-test-output-{}", std::process::id()));
        let r = fs::write(&probe, b"")
            .and_then(|_| fs::remove_file(&probe))
            .map(|_| {
                format!(
                    "writable; events go to {}",
                    dir.join(&self.files.name).display()
                )
            })
            .map_err(|e| format!("cannot write there: {e}"));
        (dir.display().to_string(), r)
    }

    /// Writes the batch, about [`WRITE_BYTES`] at a time: the rendered text of a whole batch (2.5 MB for
    /// 2,048 ALB events) was the largest buffer of the file drain's heap.
    ///
    /// Only the `@metadata` heads are rendered; the documents are written from where they are (a
    /// vectored write of head, document, head, document...), not copied into a buffer first: that copy
    /// was 5% of the file drain's CPU in `perf`.
    ///
    /// The whole batch is rendered and written on one blocking thread, one hand-off there and back per
    /// batch: a hand-off per write put the runtime between every two writes, and while the readers kept
    /// both cores parsing, each wake-up of this task waited for one of them, and the readers for the
    /// queue space the output freed too slowly (BENCHMARKS.md). A failed write is retried alone,
    /// after a backoff, so the events of the writes before it are not written twice.
    pub async fn publish(&self, batch: &Batch, shutdown: &Shutdown) -> Result<(), Aborted> {
        let lines: Arc<Vec<Line>> = Arc::new(
            batch
                .events()
                .map(|e| Line {
                    id: e.id,
                    format: e.format,
                    doc: e.doc.clone(),
                })
                .collect(),
        );
        let mut backoff = Backoff::new(RETRY_INIT, RETRY_MAX);
        let mut from = 0;
        while from < lines.len() {
            let (files, todo) = (self.files.clone(), lines.clone());
            let r = tokio::task::spawn_blocking(move || {
                let mut state = files.state.lock().unwrap_or_else(|e| e.into_inner());
                let r = files.write_lines(&mut state, &todo, from);
                if r.is_err() {
                    *state = None;
                }
                r
            })
            .await
            .unwrap_or_else(|e| Err((from, std::io::Error::other(e.to_string()))));
            match r {
                Ok(()) => return Ok(()),
                Err((written, e)) => {
                    from = written;
                    tracing::error!(error = %e, file = %self.files.path(0).display(), "output.file: write failed; retrying");
                    if !shutdown.sleep(backoff.next()).await {
                        return Err(Aborted);
                    }
                }
            }
        }
        Ok(())
    }
}

/// What one event's line is made of.
struct Line {
    id: crate::event::EventId,
    format: &'static str,
    doc: crate::event::doc::Doc,
}

/// Document bytes per write (a write ends after the event that crosses it).
const WRITE_BYTES: usize = 256 * 1024;

/// Events per write at most: two slices each, under the kernel's 1,024 per `writev`.
const WRITE_EVENTS: usize = 500;

/// One write's events: their rendered `@metadata` heads, one after another, and their documents.
#[derive(Default)]
struct Piece<'a> {
    /// Each event's head (after the first, led by the previous line's newline).
    heads: Vec<u8>,
    /// Where each event's head ends in `heads`.
    ends: Vec<usize>,
    /// The documents without their `{` (shared with the batch, not copied).
    docs: Vec<&'a [u8]>,
    /// The documents' bytes.
    bytes: usize,
}

impl Piece<'_> {
    fn clear(&mut self) {
        self.heads.clear();
        self.ends.clear();
        self.docs.clear();
        self.bytes = 0;
    }

    /// The slices to write, in order: head, document without its `{`, ..., and the last newline.
    fn slices(&self) -> Vec<IoSlice<'_>> {
        let mut v = Vec::with_capacity(self.docs.len() * 2 + 1);
        let mut start = 0;
        for (end, doc) in self.ends.iter().zip(&self.docs) {
            v.push(IoSlice::new(&self.heads[start..*end]));
            v.push(IoSlice::new(doc));
            start = *end;
        }
        v.push(IoSlice::new(b"\n"));
        v
    }

    fn len(&self) -> usize {
        self.heads.len() + self.bytes - self.docs.len() + 1
    }
}

/// Writes every slice, whatever the kernel takes per call.
fn write_all_vectored(f: &mut File, mut slices: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    while !slices.is_empty() {
        match f.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Files {
    /// Renders and writes `lines[from..]`, a piece of about [`WRITE_BYTES`] at a time. On a failed
    /// write, the error and the index of the first line not written: the pieces before it are written.
    fn write_lines(
        &self,
        state: &mut Option<(File, u64)>,
        lines: &[Line],
        mut from: usize,
    ) -> Result<(), (usize, std::io::Error)> {
        let mut piece = Piece::default();
        while from < lines.len() {
            piece.clear();
            for l in &lines[from..] {
                if piece.bytes >= WRITE_BYTES || piece.docs.len() >= WRITE_EVENTS {
                    break;
                }
                if !piece.docs.is_empty() {
                    // The previous event's line ends where this one's head starts.
                    piece.heads.push(b'\n');
                }
                crate::event::write_metadata_head(
                    &mut piece.heads,
                    crate::event::METADATA_BEAT,
                    &l.id,
                    l.format,
                );
                piece.ends.push(piece.heads.len());
                piece.bytes += l.doc.len();
                piece.docs.push(l.doc.tail());
            }
            let n = piece.docs.len();
            self.write(state, &piece).map_err(|e| (from, e))?;
            from += n;
        }
        Ok(())
    }

    fn path(&self, n: u32) -> PathBuf {
        if n == 0 {
            self.dir.join(&self.name)
        } else {
            self.dir.join(format!("{}.{n}", self.name))
        }
    }

    fn rotate(&self) -> std::io::Result<()> {
        let _ = fs::remove_file(self.path(self.keep - 1));
        for n in (0..self.keep - 1).rev() {
            if self.path(n).exists() {
                fs::rename(self.path(n), self.path(n + 1))?;
            }
        }
        Ok(())
    }

    fn write(&self, state: &mut Option<(File, u64)>, buf: &Piece) -> std::io::Result<()> {
        if state.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(0))?;
            let len = f.metadata()?.len();
            *state = Some((f, len));
        }
        let (f, len) = state.as_mut().expect("opened");
        let bytes = buf.len() as u64;
        if *len > 0 && *len + bytes > self.rotate_bytes {
            *state = None;
            self.rotate()?;
            return self.write(state, buf);
        }
        write_all_vectored(f, &mut buf.slices())?;
        f.flush()?;
        *len += bytes;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::AckGroup;
    use crate::event::{Event, EventId, Timestamp};

    /// A batch of several writes' worth arrives whole and in order, in one file when it fits, exactly
    /// as the events render.
    #[tokio::test]
    async fn a_large_batch_is_written_in_pieces_in_order() {
        let dir = std::env::temp_dir().join(format!("s3lb-file-big-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let out = FileOutput::new(&FileSettings {
            path: dir.clone(),
            filename: "ev".into(),
            rotate_bytes: 1 << 30,
            number_of_files: 2,
        })
        .unwrap();
        let ack = AckGroup::new("test", |_| {});
        let (q, mut rx) = crate::queue::channel(4000);
        let events: Vec<Event> = (0..2000u32)
            .map(|i| Event {
                id: EventId([(i % 251) as u8; 16]),
                timestamp: Timestamp::from_millis(0),
                format: "json",
                doc: format!(
                    "{{\"@timestamp\":\"x\",\"n\":{i},\"pad\":\"{}\"}}",
                    "y".repeat(400)
                )
                .into(),
                parse_failure: false,
            })
            .collect();
        q.send(events, &ack).await.unwrap();
        let batch = crate::queue::Batch {
            chunks: vec![rx.recv().await.unwrap()],
        };
        out.publish(&batch, &Shutdown::never()).await.unwrap();
        // Byte for byte what every event renders whole, a line each.
        let mut want = Vec::new();
        for e in batch.events() {
            e.write_with_metadata(&mut want);
            want.push(b'\n');
        }
        batch.delivered();
        let text = fs::read_to_string(dir.join("ev")).unwrap();
        assert!(
            text.as_bytes() == want,
            "the file is the events rendered whole"
        );
        assert!(
            text.len() > 3 * WRITE_BYTES,
            "more than three writes' worth"
        );
        let ns: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ns, (0..2000).collect::<Vec<u64>>());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn rotates_by_size_and_keeps_number_of_files() {
        let dir = std::env::temp_dir().join(format!("s3lb-file-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let out = FileOutput::new(&FileSettings {
            path: dir.clone(),
            filename: "ev".into(),
            rotate_bytes: 1024,
            number_of_files: 3,
        })
        .unwrap();
        let ack = AckGroup::new("test", |_| {});
        let (q, mut rx) = crate::queue::channel(1000);
        for i in 0..20u8 {
            let e = Event {
                id: EventId([i; 16]),
                timestamp: Timestamp::from_millis(0),
                format: "json",
                doc: format!("{{\"@timestamp\":\"x\",\"pad\":\"{}\"}}", "y".repeat(300)).into(),
                parse_failure: false,
            };
            q.send(vec![e], &ack).await.unwrap();
            let batch = crate::queue::Batch {
                chunks: vec![rx.recv().await.unwrap()],
            };
            out.publish(&batch, &Shutdown::never()).await.unwrap();
            batch.delivered();
        }
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec!["ev", "ev.1", "ev.2"]);
        for n in &names {
            let len = fs::metadata(dir.join(n)).unwrap().len();
            assert!(len <= 1024, "{n} is {len} bytes");
            for line in fs::read_to_string(dir.join(n)).unwrap().lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(v["@metadata"]["format"], "json");
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
