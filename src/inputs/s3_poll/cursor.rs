//! One polled prefix's place in its listing: a `StartAfter` cursor and the keys after it that are
//! delivered, in; what to read next and the document kept in the state store (`s3_poll.<id>`), out.
//!
//! S3 lists keys in order and AWS's layouts put the time in the key, so "every key up to here is done"
//! is one string. Keys do not always arrive in order (CloudTrail delivers late into earlier keys), so
//! the cursor stays behind the newest delivered keys by `bucket_list_lookback`: keys delivered within
//! that window are remembered (at most [`MAX_RECENT`]), listed again each round and not read again, and a
//! key that appears among them later is found and read.
//!
//! What must stay true: the cursor never passes a key that was found and is not done (delivered, outside
//! the window, or given up after [`MAX_ATTEMPTS`]); the state holds at most [`MAX_RECENT`] keys however
//! large the bucket; a write that finds the document changed by another writer merges (the later cursor,
//! the union of the done keys after it) and writes again over the version it just read.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::state::{StateError, Store, Version};

/// The `kind` of the document.
pub const KIND: &str = "s3_poll_cursor";
/// Most keys remembered after the cursor, delivered or in flight; past this the listing waits, and the
/// cursor moves over delivered keys even inside the lookback.
pub const MAX_RECENT: usize = 10_000;
/// Reads of one object that may fail before it is given up.
pub const MAX_ATTEMPTS: u32 = 3;

/// Where a found key stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Handed to a reader; not settled yet.
    Reading,
    /// Delivered, outside the window, or given up.
    Done,
    /// Its last read failed; it is read again at the next listing.
    Failed,
}

/// A found key: its LastModified (ms since the epoch), where it stands, and the listing that last saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// LastModified, in milliseconds since the epoch.
    pub modified_ms: u64,
    /// Where it stands.
    pub status: Status,
    /// The listing that last saw it.
    pub seen: u64,
    /// Its reads that failed.
    pub failures: u32,
}

/// One prefix's cursor and the keys after it.
#[derive(Debug)]
pub struct Cursor {
    store: Store,
    name: String,
    version: Option<Version>,
    /// Every key up to and including this one is done.
    after: String,
    entries: BTreeMap<String, Entry>,
    /// Changed since the last write.
    dirty: bool,
}

fn parse(what: &str, data: &Value) -> Result<(String, BTreeMap<String, Entry>), StateError> {
    let bad = |why: &str| StateError::Foreign {
        what: what.to_string(),
        why: why.to_string(),
    };
    let after = data
        .get("after")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("it has no \"after\" key"))?
        .to_string();
    let mut entries = BTreeMap::new();
    let done = data
        .get("done")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("it has no \"done\" object"))?;
    for (k, v) in done {
        let modified_ms = v
            .as_u64()
            .ok_or_else(|| bad("a done key has no LastModified number"))?;
        if *k > after {
            entries.insert(
                k.clone(),
                Entry {
                    modified_ms,
                    status: Status::Done,
                    seen: 0,
                    failures: 0,
                },
            );
        }
    }
    Ok((after, entries))
}

impl Cursor {
    /// Reads the cursor of document `name` (none yet: the beginning of the prefix).
    pub async fn load(store: Store, name: &str) -> Result<Cursor, StateError> {
        let (after, entries, version) = match store.read(name, KIND).await? {
            None => (String::new(), BTreeMap::new(), None),
            Some(s) => {
                let (a, e) = parse(&store.describe(name), &s.data)?;
                (a, e, Some(s.version))
            }
        };
        Ok(Cursor {
            store,
            name: name.to_string(),
            version,
            after,
            entries,
            dirty: false,
        })
    }

    /// Where it is kept.
    pub fn describe(&self) -> String {
        self.store.describe(&self.name)
    }

    /// The key the next listing starts after (`""`: the beginning).
    pub fn after(&self) -> &str {
        &self.after
    }

    /// The entry of `key`, if it was found since the cursor.
    pub fn get(&self, key: &str) -> Option<Entry> {
        self.entries.get(key).copied()
    }

    /// Keys remembered after the cursor.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Nothing remembered after the cursor.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys handed to readers and not settled.
    pub fn reading(&self) -> usize {
        self.entries
            .values()
            .filter(|e| e.status == Status::Reading)
            .count()
    }

    /// The LastModified of the oldest key found and not done, if any.
    pub fn oldest_waiting_ms(&self) -> Option<u64> {
        self.entries
            .values()
            .filter(|e| e.status != Status::Done)
            .map(|e| e.modified_ms)
            .min()
    }

    /// Sets where `key` stands (its failures so far are kept).
    pub fn set(&mut self, key: &str, modified_ms: u64, status: Status, listing: u64) {
        let failures = self.entries.get(key).map_or(0, |e| e.failures);
        self.entries.insert(
            key.to_string(),
            Entry {
                modified_ms,
                status,
                seen: listing,
                failures,
            },
        );
        self.dirty |= status == Status::Done;
    }

    /// A read of `key` failed: it is read again at the next listing. Returns its failures so far.
    pub fn fail(&mut self, key: &str) -> u32 {
        match self.entries.get_mut(key) {
            Some(e) => {
                e.status = Status::Failed;
                e.failures += 1;
                e.failures
            }
            None => 0,
        }
    }

    /// After a listing that ran to its end: failed keys it did not see are gone from the bucket, so
    /// done; their keys are returned.
    pub fn forget_gone(&mut self, listing: u64) -> Vec<String> {
        let gone: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.status == Status::Failed && e.seen < listing)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            if let Some(e) = self.entries.get_mut(k) {
                e.status = Status::Done;
            }
        }
        self.dirty |= !gone.is_empty();
        gone
    }

    /// Moves the cursor over the done keys at its head that are older than `lookback_ms` (or over any
    /// done key while [`MAX_RECENT`] or more are remembered); returns how many it passed.
    pub fn advance(&mut self, now_ms: u64, lookback_ms: u64) -> usize {
        let mut passed = 0;
        while let Some((k, e)) = self.entries.first_key_value() {
            if e.status != Status::Done {
                break;
            }
            let recent = e.modified_ms.saturating_add(lookback_ms) > now_ms;
            if recent && self.entries.len() < MAX_RECENT {
                break;
            }
            let k = k.clone();
            self.entries.remove(&k);
            self.after = k;
            passed += 1;
        }
        self.dirty |= passed > 0;
        passed
    }

    /// Changed since it was last written.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    fn document(&self) -> Value {
        let done: serde_json::Map<String, Value> = self
            .entries
            .iter()
            .filter(|(_, e)| e.status == Status::Done)
            .map(|(k, e)| (k.clone(), json!(e.modified_ms)))
            .collect();
        json!({ "after": self.after, "done": done })
    }

    /// Writes the document; returns how many times another writer had changed it first.
    pub async fn save(&mut self) -> Result<u64, StateError> {
        let mut conflicts = 0;
        loop {
            let doc = self.document();
            match self
                .store
                .write(&self.name, KIND, &doc, self.version.as_ref())
                .await
            {
                Ok(v) => {
                    self.version = Some(v);
                    self.dirty = false;
                    return Ok(conflicts);
                }
                Err(StateError::Conflict { what }) => {
                    conflicts += 1;
                    if conflicts > 5 {
                        return Err(StateError::Conflict { what });
                    }
                    match self.store.read(&self.name, KIND).await? {
                        None => self.version = None,
                        Some(s) => {
                            let (after, done) = parse(&self.describe(), &s.data)?;
                            self.merge(after, done);
                            self.version = Some(s.version);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes in another writer's cursor: the later one, and every key either knows done.
    fn merge(&mut self, after: String, done: BTreeMap<String, Entry>) {
        for (k, e) in done {
            let slot = self.entries.entry(k).or_insert(e);
            slot.status = Status::Done;
        }
        if after > self.after {
            self.after = after;
            let keep = self.entries.split_off(&self.after);
            self.entries = keep;
            self.entries.remove(&self.after);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::file::FileStore;

    fn store(name: &str) -> (Store, std::path::PathBuf) {
        let d = std::env::temp_dir().join(format!("s3lb-cursor-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        (Store::File(FileStore::new(&d)), d)
    }

    #[tokio::test]
    async fn the_cursor_waits_for_the_oldest_key_and_the_lookback() {
        let (store, d) = store("order");
        let mut c = Cursor::load(store.clone(), "p").await.unwrap();
        let hour = 3_600_000;
        let now = 10 * hour;
        c.set("a", now - 2 * hour, Status::Reading, 1);
        c.set("b", now - 2 * hour, Status::Done, 1);
        c.set("c", now - 60_000, Status::Done, 1);
        assert_eq!(c.advance(now, hour), 0, "a is still being read");
        c.set("a", now - 2 * hour, Status::Done, 1);
        assert_eq!(
            c.advance(now, hour),
            2,
            "a and b are older than the lookback"
        );
        assert_eq!(c.after(), "b");
        assert_eq!(c.get("c").unwrap().status, Status::Done, "c is inside it");
        c.save().await.unwrap();
        // A restart finds the cursor and the recent key.
        let r = Cursor::load(store, "p").await.unwrap();
        assert_eq!(r.after(), "b");
        assert_eq!(r.len(), 1);
        assert_eq!(r.get("c").unwrap().status, Status::Done);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[tokio::test]
    async fn the_state_stays_bounded_and_failed_keys_that_vanished_are_passed() {
        let (store, d) = store("bound");
        let mut c = Cursor::load(store, "p").await.unwrap();
        let now = 1_000_000_000;
        for i in 0..(MAX_RECENT + 500) {
            c.set(&format!("k{i:06}"), now, Status::Done, 1);
        }
        c.advance(now, u64::MAX / 2);
        assert_eq!(
            c.len(),
            MAX_RECENT - 1,
            "at the bound, even recent keys are passed"
        );
        assert_eq!(c.after(), "k000500");
        c.set("k999999", now, Status::Reading, 1);
        assert_eq!(c.fail("k999999"), 1);
        c.set("k999999", now, Status::Reading, 1);
        assert_eq!(c.fail("k999999"), 2, "failures are kept across reads");
        assert_eq!(c.forget_gone(1), Vec::<String>::new(), "seen by listing 1");
        assert_eq!(c.forget_gone(2), vec!["k999999".to_string()]);
        assert_eq!(c.oldest_waiting_ms(), None);
        let _ = std::fs::remove_dir_all(d);
    }

    #[tokio::test]
    async fn a_conflicting_write_merges() {
        let (store, d) = store("merge");
        let mut a = Cursor::load(store.clone(), "p").await.unwrap();
        a.set("k1", 1, Status::Done, 1);
        a.save().await.unwrap();
        let mut b = Cursor::load(store.clone(), "p").await.unwrap();
        b.set("k2", 1, Status::Done, 1);
        b.advance(u64::MAX / 2, 0);
        b.save().await.unwrap();
        a.set("k3", 1, Status::Done, 1);
        assert_eq!(a.save().await.unwrap(), 1);
        let c = Cursor::load(store, "p").await.unwrap();
        assert_eq!(c.after(), "k2", "the later cursor");
        assert_eq!(c.get("k3").unwrap().status, Status::Done);
        std::fs::remove_dir_all(d).unwrap();
    }
}
