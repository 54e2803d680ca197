//! The state store: what must survive a restart (the checkpoints of sources that have no queue, and the
//! leases that decide which instance reads them) in, read back after a restart or on another instance.
//!
//! A store holds named documents. Each is written whole, with the version it replaces: a file under
//! `path.data` by default ([`file`]: written to a temporary file, synced, renamed over the old one, so a
//! `kill -9` leaves the old document or the new one, never half of one), or an object in S3 ([`s3`]:
//! `PutObject` with `If-Match` on the ETag it read, or `If-None-Match: *` for a new one, so two writers
//! never overwrite each other: the second one hears [`StateError::Conflict`] and reads again).
//!
//! What must stay true:
//! - A document this program did not write (not JSON, another program's JSON, a newer layout, another
//!   kind of document) is an error that names the file or object ([`StateError::Unreadable`],
//!   [`StateError::Foreign`]), never read as "no state": starting again from the beginning would ship
//!   everything twice, or skip everything.
//! - A write never replaces a version other than the one it names.

pub mod file;
pub mod lease;
pub mod s3;

use std::fmt;

use serde_json::{json, Value};

/// The layout of the documents this program writes; a document of a newer layout is refused.
pub const LAYOUT: u64 = 1;

/// Which version of a document a write replaces: the S3 ETag, or a hash of the file's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version(pub String);

/// A document read from the store, with the version to name when replacing it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// The document's data (what [`Store::write`] was given).
    pub data: Value,
    /// Its version.
    pub version: Version,
}

/// Why the store could not read or write a document. Each names the file or object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Another writer changed (or created, or removed) the document since it was read: read it again.
    #[error("{what}: changed by another writer since it was read")]
    Conflict {
        /// The file or object.
        what: String,
    },
    /// The document is not JSON, or not a JSON object.
    #[error("{what}: not a state document of s3logsbeat ({why}); move it away or fix it")]
    Unreadable {
        /// The file or object.
        what: String,
        /// What is wrong with it.
        why: String,
    },
    /// The document is JSON that s3logsbeat did not write for this purpose: another program's, a newer
    /// layout, or another kind of document.
    #[error("{what}: {why}; it was not written by this version of s3logsbeat for this purpose")]
    Foreign {
        /// The file or object.
        what: String,
        /// What it is instead.
        why: String,
    },
    /// The disk or S3 refused or failed (permissions, a full disk, the network, a missing bucket).
    #[error("{what}: {why}")]
    Io {
        /// The file or object.
        what: String,
        /// The error.
        why: String,
    },
}

/// Where the documents live.
#[derive(Debug, Clone)]
pub enum Store {
    /// Files in a directory (`path.data`).
    File(file::FileStore),
    /// Objects in S3.
    S3(s3::S3Store),
}

impl Store {
    /// The document `name` (a checkpoint set, a lease), or `None` if it was never written.
    pub async fn read(&self, name: &str, kind: &str) -> Result<Option<Stored>, StateError> {
        let raw = match self {
            Store::File(f) => f.read(name).await?,
            Store::S3(s) => s.read(name).await?,
        };
        match raw {
            None => Ok(None),
            Some((bytes, version)) => {
                let data = open(&self.describe(name), kind, &bytes)?;
                Ok(Some(Stored { data, version }))
            }
        }
    }

    /// Writes the document `name` of `kind` in place of `replaces` (`None`: it must not exist yet), and
    /// returns its new version. [`StateError::Conflict`] if the stored version is another.
    pub async fn write(
        &self,
        name: &str,
        kind: &str,
        data: &Value,
        replaces: Option<&Version>,
    ) -> Result<Version, StateError> {
        let bytes = seal(kind, data);
        match self {
            Store::File(f) => f.write(name, &bytes, replaces).await,
            Store::S3(s) => s.write(name, bytes, replaces).await,
        }
    }

    /// The file or object that holds `name`, for messages.
    pub fn describe(&self, name: &str) -> String {
        match self {
            Store::File(f) => f.path(name).display().to_string(),
            Store::S3(s) => s.describe(name),
        }
    }
}

impl fmt::Display for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Store::File(s) => write!(f, "files in {}", s.dir().display()),
            Store::S3(s) => write!(f, "{}", s.describe("*")),
        }
    }
}

/// The bytes stored for `data`: an envelope that says what wrote it, its layout and its kind.
pub fn seal(kind: &str, data: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(&json!({
        "s3logsbeat_state": LAYOUT,
        "kind": kind,
        "data": data,
    }))
    .expect("a JSON value always serialises");
    b.push(b'\n');
    b
}

/// The data of a stored document of `kind`, or why it is not one (`what` names the file or object).
pub fn open(what: &str, kind: &str, bytes: &[u8]) -> Result<Value, StateError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| StateError::Unreadable {
        what: what.to_string(),
        why: format!("not JSON: {e}"),
    })?;
    let Value::Object(mut m) = v else {
        return Err(StateError::Unreadable {
            what: what.to_string(),
            why: "not a JSON object".into(),
        });
    };
    let foreign = |why: String| StateError::Foreign {
        what: what.to_string(),
        why,
    };
    match m.get("s3logsbeat_state").and_then(Value::as_u64) {
        None => {
            return Err(foreign(
                "it has no \"s3logsbeat_state\" layout number".into(),
            ))
        }
        Some(n) if n > LAYOUT => {
            return Err(foreign(format!(
                "it is of layout {n}, newer than this program's {LAYOUT}"
            )))
        }
        Some(_) => {}
    }
    match m.get("kind").and_then(Value::as_str) {
        Some(k) if k == kind => {}
        Some(k) => return Err(foreign(format!("it holds {k:?}, not {kind:?}"))),
        None => return Err(foreign("it has no \"kind\"".into())),
    }
    Ok(m.remove("data").unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_document_opens_to_its_data() {
        let data = json!({"groups": {"/aws/lambda/f": {"checkpoint": 1700000000123u64}}});
        let b = seal("checkpoints", &data);
        assert_eq!(open("f", "checkpoints", &b).unwrap(), data);
    }

    #[test]
    fn foreign_or_unreadable_documents_are_named_errors() {
        let e = open("/data/state.json", "checkpoints", b"{not json").unwrap_err();
        assert!(
            matches!(&e, StateError::Unreadable { what, .. } if what == "/data/state.json"),
            "{e}"
        );
        assert!(e
            .to_string()
            .starts_with("/data/state.json: not a state document"));
        let e = open("s3://b/k", "checkpoints", b"[1,2]").unwrap_err();
        assert!(matches!(e, StateError::Unreadable { .. }), "{e}");
        let e = open("f", "checkpoints", br#"{"registry": {}}"#).unwrap_err();
        assert!(matches!(e, StateError::Foreign { .. }), "{e}");
        let e = open("f", "checkpoints", &seal("lease", &json!({}))).unwrap_err();
        assert!(
            e.to_string()
                .contains("it holds \"lease\", not \"checkpoints\""),
            "{e}"
        );
        let newer = br#"{"s3logsbeat_state": 2, "kind": "checkpoints", "data": {}}"#;
        let e = open("f", "checkpoints", newer).unwrap_err();
        assert!(e.to_string().contains("layout 2, newer than"), "{e}");
    }
}
