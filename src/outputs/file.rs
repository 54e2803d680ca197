//! `output.file`: NDJSON events (with `@metadata`) in `path/filename`, rotated by size like libbeat's file
//! output (`filename` → `filename.1` → … → `filename.N-1`, the oldest removed). An event counts as delivered
//! once written and flushed.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use std::sync::{Arc, Mutex};

use crate::config::FileSettings;
use crate::queue::Batch;
use crate::shutdown::Shutdown;

use super::{Aborted, SetupError};

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
    /// 2,048 ALB events) was the largest buffer of the file drain's heap. A failed write is retried
    /// alone, so the events of the writes before it are not written twice.
    pub async fn publish(&self, batch: &Batch, shutdown: &Shutdown) -> Result<(), Aborted> {
        let mut events = batch.events().peekable();
        while events.peek().is_some() {
            let mut buf = Vec::with_capacity(WRITE_BYTES + WRITE_BYTES / 8);
            while buf.len() < WRITE_BYTES {
                let Some(e) = events.next() else { break };
                e.write_with_metadata(&mut buf);
                buf.push(b'\n');
            }
            self.write(Arc::new(buf), shutdown).await?;
        }
        Ok(())
    }

    /// Writes `buf` on a blocking thread, retrying with backoff until it is written or shutdown aborts.
    async fn write(&self, buf: Arc<Vec<u8>>, shutdown: &Shutdown) -> Result<(), Aborted> {
        let mut backoff = std::time::Duration::from_millis(100);
        loop {
            let (files, b) = (self.files.clone(), buf.clone());
            let r = tokio::task::spawn_blocking(move || {
                let mut state = files.state.lock().unwrap_or_else(|e| e.into_inner());
                let r = files.write(&mut state, &b);
                if r.is_err() {
                    *state = None;
                }
                r
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            match r {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::error!(error = %e, file = %self.files.path(0).display(), "output.file: write failed; retrying");
                    if !shutdown.sleep(backoff).await {
                        return Err(Aborted);
                    }
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(10));
                }
            }
        }
    }
}

/// Bytes rendered per write (a write ends after the event that crosses it).
const WRITE_BYTES: usize = 256 * 1024;

impl Files {
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

    fn write(&self, state: &mut Option<(File, u64)>, buf: &[u8]) -> std::io::Result<()> {
        if state.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(0))?;
            let len = f.metadata()?.len();
            *state = Some((f, len));
        }
        let (f, len) = state.as_mut().expect("opened");
        if *len > 0 && *len + buf.len() as u64 > self.rotate_bytes {
            *state = None;
            self.rotate()?;
            return self.write(state, buf);
        }
        f.write_all(buf)?;
        f.flush()?;
        *len += buf.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ack::AckGroup;
    use crate::event::{Event, EventId, Timestamp};

    /// A batch of several writes' worth arrives whole and in order, in one file when it fits.
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
        batch.delivered();
        let text = fs::read_to_string(dir.join("ev")).unwrap();
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
