//! The state store in files: a document's bytes in, `<dir>/<name>.json` out, replaced atomically.
//!
//! A write goes to `<name>.json.tmp` in the same directory, is synced to disk, renamed over the old file,
//! and the directory is synced: after a crash or `kill -9` at any point the file holds the old document
//! or the new one. The version of a file is a hash of its bytes, so a write that names a version finds
//! out whether the file changed since it was read (another process sharing `path.data`, or a person).
//! What must stay true: the directory is created if missing (with its parents), and nothing but the
//! document and its temporary file is ever written.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{StateError, Version};

/// Documents as files in one directory.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// A store in `dir` (made on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> FileStore {
        FileStore { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of document `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// The bytes and version of `name`, or `None` if there is no such file.
    pub async fn read(&self, name: &str) -> Result<Option<(Vec<u8>, Version)>, StateError> {
        let path = self.path(name);
        blocking(move || read_now(&path)).await
    }

    /// Replaces `name` with `bytes` if its version is `replaces` (`None`: it must not exist).
    pub async fn write(
        &self,
        name: &str,
        bytes: &[u8],
        replaces: Option<&Version>,
    ) -> Result<Version, StateError> {
        let path = self.path(name);
        let bytes = bytes.to_vec();
        let replaces = replaces.cloned();
        blocking(move || write_now(&path, &bytes, replaces.as_ref())).await
    }
}

/// Runs file work off the async threads; a panic in it is an error naming nothing better than itself.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, StateError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(StateError::Io {
            what: "state store".into(),
            why: format!("the file task ended: {e}"),
        })
    })
}

fn version_of(bytes: &[u8]) -> Version {
    Version(blake3::hash(bytes).to_hex()[..32].to_string())
}

fn io(path: &Path, e: std::io::Error) -> StateError {
    StateError::Io {
        what: path.display().to_string(),
        why: e.to_string(),
    }
}

fn read_now(path: &Path) -> Result<Option<(Vec<u8>, Version)>, StateError> {
    match std::fs::read(path) {
        Ok(b) => {
            let v = version_of(&b);
            Ok(Some((b, v)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path, e)),
    }
}

fn write_now(path: &Path, bytes: &[u8], replaces: Option<&Version>) -> Result<Version, StateError> {
    let current = read_now(path)?.map(|(_, v)| v);
    if current.as_ref() != replaces {
        return Err(StateError::Conflict {
            what: path.display().to_string(),
        });
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))?;
    // The rename is durable only once the directory is: without this a power cut could bring the old
    // name back.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(version_of(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("s3lb-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[tokio::test]
    async fn writes_replace_only_the_version_they_name() {
        let d = dir("cas");
        let s = FileStore::new(d.join("nested"));
        assert_eq!(s.read("cp").await.unwrap(), None);
        let v1 = s.write("cp", b"one", None).await.unwrap();
        let (b, v) = s.read("cp").await.unwrap().unwrap();
        assert_eq!((b.as_slice(), &v), (&b"one"[..], &v1));
        // A second creator loses: the file exists.
        let e = s.write("cp", b"other", None).await.unwrap_err();
        assert!(matches!(e, StateError::Conflict { .. }), "{e}");
        let v2 = s.write("cp", b"two", Some(&v1)).await.unwrap();
        assert_ne!(v1, v2);
        // A writer that read version 1 cannot overwrite version 2.
        let e = s.write("cp", b"stale", Some(&v1)).await.unwrap_err();
        assert!(
            e.to_string().contains("cp.json: changed by another writer"),
            "{e}"
        );
        assert_eq!(s.read("cp").await.unwrap().unwrap().0, b"two");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(d.join("nested"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["cp.json"]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[tokio::test]
    async fn a_change_by_hand_is_seen_as_another_writer() {
        let d = dir("hand");
        let s = FileStore::new(&d);
        let v1 = s.write("cp", b"one", None).await.unwrap();
        std::fs::write(s.path("cp"), b"edited").unwrap();
        let e = s.write("cp", b"two", Some(&v1)).await.unwrap_err();
        assert!(matches!(e, StateError::Conflict { .. }), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[tokio::test]
    async fn an_unwritable_directory_is_an_error_naming_the_file() {
        let d = dir("ro");
        std::fs::create_dir_all(&d).unwrap();
        // A file where the directory should be: no uid can create a directory there, root included.
        std::fs::write(d.join("blocked"), b"").unwrap();
        let s = FileStore::new(d.join("blocked"));
        let e = s.write("cp", b"x", None).await.unwrap_err();
        assert!(
            matches!(&e, StateError::Io { what, .. } if what.contains("blocked")),
            "{e}"
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
