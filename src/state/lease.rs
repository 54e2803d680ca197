//! A lease: which instance reads a source that has no queue to share it out (a log group, a polled
//! bucket). The holder's name and an expiry in, kept in the state store, out: [`Held`] or [`Busy`].
//!
//! Taking, renewing and giving up a lease are conditional writes of one document (`lease.<input>`): a
//! lease that is free, expired or already ours is written over the version just read, so of two instances
//! that try at once exactly one succeeds. The holder renews it well before it expires (every third of its
//! duration); an instance that dies stops renewing, and another takes over once the expiry has passed.
//! What must stay true: an instance reads the source only while [`Lease::renew`] keeps succeeding; a renewal
//! that finds another holder (or a changed document) means the lease is lost, and the reading stops.
//! Expiries are wall-clock times, so instances' clocks must agree to well within a lease's duration
//! (NTP does this; the default duration is a minute).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::{StateError, Store, Version};

/// The `kind` of a lease document.
pub const KIND: &str = "lease";

/// What trying to take a lease found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    /// It is ours until this time (milliseconds since the epoch).
    Held {
        /// Expiry.
        until_ms: u64,
    },
    /// Another instance holds it.
    Busy {
        /// Its name.
        holder: String,
        /// Its expiry (milliseconds since the epoch).
        until_ms: u64,
    },
}

/// One instance's lease on one source.
#[derive(Debug)]
pub struct Lease {
    store: Store,
    name: String,
    holder: String,
    duration: Duration,
    /// The version of the document we last wrote, while we hold it.
    ours: Option<Version>,
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A name for this instance that no other instance has: host name, process id and a random part.
pub fn instance_name() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS's randomness: a part no other process draws.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish() as u32;
    format!("{host}/{}/{random:08x}", std::process::id())
}

impl Lease {
    /// The lease of the source `source` (an input's id) for `holder`, held `duration` at a time.
    pub fn new(store: Store, source: &str, holder: &str, duration: Duration) -> Lease {
        Lease {
            store,
            name: format!("lease.{source}"),
            holder: holder.to_string(),
            duration,
            ours: None,
        }
    }

    /// Whether we hold it (as of the last call).
    pub fn is_held(&self) -> bool {
        self.ours.is_some()
    }

    /// The file or object it is kept in.
    pub fn describe(&self) -> String {
        self.store.describe(&self.name)
    }

    fn document(&self, until_ms: u64) -> Value {
        json!({"holder": self.holder, "expires_at_ms": until_ms})
    }

    /// Takes the lease if it is free, expired or ours (then renewing it); `now_ms` is the time to judge
    /// expiry by.
    pub async fn try_take(&mut self, now_ms: u64) -> Result<Taken, StateError> {
        let current = self.store.read(&self.name, KIND).await?;
        let replaces = match &current {
            None => None,
            Some(s) => {
                let holder = s.data.get("holder").and_then(Value::as_str).unwrap_or("");
                let until = s
                    .data
                    .get("expires_at_ms")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                if holder != self.holder && until > now_ms {
                    self.ours = None;
                    return Ok(Taken::Busy {
                        holder: holder.to_string(),
                        until_ms: until,
                    });
                }
                Some(s.version.clone())
            }
        };
        let until_ms = now_ms + self.duration.as_millis() as u64;
        let doc = self.document(until_ms);
        match self
            .store
            .write(&self.name, KIND, &doc, replaces.as_ref())
            .await
        {
            Ok(v) => {
                self.ours = Some(v);
                Ok(Taken::Held { until_ms })
            }
            Err(StateError::Conflict { .. }) => {
                // Someone else wrote it between our read and our write: they hold it now.
                self.ours = None;
                let now = self.store.read(&self.name, KIND).await?;
                let (holder, until_ms) = now
                    .map(|s| {
                        (
                            s.data
                                .get("holder")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                            s.data
                                .get("expires_at_ms")
                                .and_then(Value::as_u64)
                                .unwrap_or(0),
                        )
                    })
                    .unwrap_or_default();
                Ok(Taken::Busy { holder, until_ms })
            }
            Err(e) => Err(e),
        }
    }

    /// Extends a lease we hold to `now_ms` + its duration. `Ok(false)`: it is no longer ours (another
    /// instance took it, or the document changed), so reading must stop.
    pub async fn renew(&mut self, now_ms: u64) -> Result<bool, StateError> {
        let Some(v) = self.ours.clone() else {
            return Ok(false);
        };
        let doc = self.document(now_ms + self.duration.as_millis() as u64);
        match self.store.write(&self.name, KIND, &doc, Some(&v)).await {
            Ok(v) => {
                self.ours = Some(v);
                Ok(true)
            }
            Err(StateError::Conflict { .. }) => {
                self.ours = None;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Gives the lease up (it expires at once), so another instance need not wait for the expiry.
    pub async fn release(&mut self) -> Result<(), StateError> {
        let Some(v) = self.ours.take() else {
            return Ok(());
        };
        match self
            .store
            .write(&self.name, KIND, &self.document(0), Some(&v))
            .await
        {
            Ok(_) | Err(StateError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::file::FileStore;
    use super::*;

    fn store(name: &str) -> (Store, std::path::PathBuf) {
        let d = std::env::temp_dir().join(format!("s3lb-lease-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        (Store::File(FileStore::new(&d)), d)
    }

    #[tokio::test]
    async fn one_holder_at_a_time_and_a_takeover_after_expiry() {
        let (s, d) = store("takeover");
        let minute = Duration::from_secs(60);
        let mut a = Lease::new(s.clone(), "in0", "a", minute);
        let mut b = Lease::new(s.clone(), "in0", "b", minute);
        let t0 = 1_000_000;
        assert_eq!(
            a.try_take(t0).await.unwrap(),
            Taken::Held {
                until_ms: t0 + 60_000
            }
        );
        assert_eq!(
            b.try_take(t0 + 1).await.unwrap(),
            Taken::Busy {
                holder: "a".into(),
                until_ms: t0 + 60_000
            }
        );
        assert!(a.renew(t0 + 20_000).await.unwrap());
        // a dies; b waits out the renewed expiry, then takes over.
        assert!(matches!(
            b.try_take(t0 + 79_999).await.unwrap(),
            Taken::Busy { .. }
        ));
        assert_eq!(
            b.try_take(t0 + 80_000).await.unwrap(),
            Taken::Held {
                until_ms: t0 + 140_000
            }
        );
        // a comes back: its renewal fails, so it stops reading.
        assert!(!a.renew(t0 + 81_000).await.unwrap());
        assert!(!a.is_held());
        // b gives it up; a can take it at once.
        b.release().await.unwrap();
        assert!(matches!(
            a.try_take(t0 + 82_000).await.unwrap(),
            Taken::Held { .. }
        ));
        std::fs::remove_dir_all(d).unwrap();
    }
}
