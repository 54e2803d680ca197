//! One `cloudwatch_logs` input's checkpoints: per log group, the first millisecond not yet read, kept in
//! the state store as one document (`cloudwatch_logs.<input id>`), read at start and written each time a
//! group's read is delivered.
//!
//! What must stay true: a checkpoint only moves forward; a write that finds the document changed by
//! another writer merges (each group keeps the later of the two checkpoints) and writes again over the
//! version it just read, never over a version it did not see; a document that is not ours stops the input
//! at start with the file or object named.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::state::{StateError, Store, Version};

/// The `kind` of the document.
pub const KIND: &str = "cloudwatch_logs_checkpoints";

/// The checkpoints, as last read or written.
#[derive(Debug)]
pub struct Checkpoints {
    store: Store,
    name: String,
    groups: BTreeMap<String, u64>,
    version: Option<Version>,
}

fn groups_of(what: &str, data: &Value) -> Result<BTreeMap<String, u64>, StateError> {
    let bad = |why: &str| StateError::Foreign {
        what: what.to_string(),
        why: why.to_string(),
    };
    let Some(groups) = data.get("groups").and_then(Value::as_object) else {
        return Err(bad("it has no \"groups\" object"));
    };
    let mut out = BTreeMap::new();
    for (g, v) in groups {
        let Some(cp) = v.get("checkpoint_ms").and_then(Value::as_u64) else {
            return Err(bad("a group has no \"checkpoint_ms\" number"));
        };
        out.insert(g.clone(), cp);
    }
    Ok(out)
}

impl Checkpoints {
    /// Reads the checkpoints of document `name` (none yet: empty).
    pub async fn load(store: Store, name: &str) -> Result<Checkpoints, StateError> {
        let (groups, version) = match store.read(name, KIND).await? {
            None => (BTreeMap::new(), None),
            Some(s) => (groups_of(&store.describe(name), &s.data)?, Some(s.version)),
        };
        Ok(Checkpoints {
            store,
            name: name.to_string(),
            groups,
            version,
        })
    }

    /// Where they are kept.
    pub fn describe(&self) -> String {
        self.store.describe(&self.name)
    }

    /// Group `group`'s checkpoint, if it has one.
    pub fn get(&self, group: &str) -> Option<u64> {
        self.groups.get(group).copied()
    }

    /// Every group's checkpoint.
    pub fn all(&self) -> &BTreeMap<String, u64> {
        &self.groups
    }

    fn document(&self) -> Value {
        let groups: serde_json::Map<String, Value> = self
            .groups
            .iter()
            .map(|(g, cp)| (g.clone(), json!({ "checkpoint_ms": cp })))
            .collect();
        json!({ "groups": groups })
    }

    /// Moves `group`'s checkpoint to `cp` (never back) and writes the document; returns how many times
    /// another writer had changed it first.
    pub async fn advance(&mut self, group: &str, cp: u64) -> Result<u64, StateError> {
        let slot = self.groups.entry(group.to_string()).or_insert(cp);
        *slot = (*slot).max(cp);
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
                    return Ok(conflicts);
                }
                Err(StateError::Conflict { what }) => {
                    conflicts += 1;
                    if conflicts > 5 {
                        return Err(StateError::Conflict { what });
                    }
                    let theirs = self.store.read(&self.name, KIND).await?;
                    match theirs {
                        None => self.version = None,
                        Some(s) => {
                            for (g, c) in groups_of(&self.describe(), &s.data)? {
                                let slot = self.groups.entry(g).or_insert(c);
                                *slot = (*slot).max(c);
                            }
                            self.version = Some(s.version);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::file::FileStore;

    #[tokio::test]
    async fn checkpoints_survive_a_restart_and_merge_with_another_writer() {
        let d = std::env::temp_dir().join(format!("s3lb-cp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let store = Store::File(FileStore::new(&d));
        let mut a = Checkpoints::load(store.clone(), "cw.x").await.unwrap();
        assert_eq!(a.get("r/g1"), None);
        a.advance("r/g1", 100).await.unwrap();
        a.advance("r/g1", 50).await.unwrap();
        assert_eq!(a.get("r/g1"), Some(100), "never back");
        // A restart reads what was written.
        let mut b = Checkpoints::load(store.clone(), "cw.x").await.unwrap();
        assert_eq!(b.get("r/g1"), Some(100));
        // b writes; a's next write finds the document changed, merges and writes again.
        b.advance("r/g2", 7).await.unwrap();
        b.advance("r/g1", 300).await.unwrap();
        assert_eq!(a.advance("r/g1", 200).await.unwrap(), 1);
        let c = Checkpoints::load(store, "cw.x").await.unwrap();
        assert_eq!(c.get("r/g1"), Some(300), "the later checkpoint wins");
        assert_eq!(c.get("r/g2"), Some(7), "the other writer's group is kept");
        std::fs::remove_dir_all(d).unwrap();
    }
}
