//! The keys of `type: s3` polling and of what becomes of an object after delivery, checked once: a raw
//! input in, [`S3PollSettings`] (the bucket, its prefixes, the pace and the window) and [`Finalise`] (the
//! backup bucket and prefix, the delete) out, every problem named by its key.
//!
//! What must stay true: an `s3` input polls only when it names its bucket Filebeat's way (`bucket_arn`,
//! `non_aws_bucket_name`); the original's `buckets`/`since`/`to` stay `s3import`'s, so a config brought
//! from the original never starts polling on upgrade, and the two forms cannot be mixed. A backup that the
//! input would list again (the same bucket, under a listed prefix) is refused here, never found as a loop.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::raw::RawInput;
use super::values::parse_time_bound;
use super::Problems;

/// Default `bucket_list_interval` (Filebeat's).
pub const DEFAULT_LIST_INTERVAL: Duration = Duration::from_secs(120);
/// Default `bucket_list_lookback`.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(3600);

/// A validated `type: s3` input that the daemon polls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3PollSettings {
    /// The bucket.
    pub bucket: String,
    /// The prefixes listed, each with its own cursor and lease (`""`: the whole bucket).
    pub prefixes: Vec<String>,
    /// Pause between two listings of a prefix.
    pub interval: Duration,
    /// How long delivered keys are remembered for keys that arrive out of order.
    pub lookback: Duration,
    /// Objects last modified before this are not read.
    pub start: Option<DateTime<Utc>>,
    /// Objects older than this when listed are not read.
    pub ignore_older: Option<Duration>,
}

/// What is done with an object once every event of it is delivered (or dead-lettered).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Finalise {
    /// Copy it to this bucket, under this prefix + its key.
    pub backup: Option<Backup>,
    /// Then delete it (after the backup, if there is one).
    pub delete: bool,
}

/// The backup of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// The bucket.
    pub bucket: String,
    /// Put before the key, as written.
    pub prefix: String,
}

impl Finalise {
    /// Nothing to do after delivery.
    pub fn is_none(&self) -> bool {
        self.backup.is_none() && !self.delete
    }

    /// `key` in `bucket` is one of this input's backups (the backup bucket, under a backup prefix): a
    /// notification of the copy, never to be read as a log of its own.
    pub fn is_backup(&self, bucket: &str, key: &str) -> bool {
        self.backup.as_ref().is_some_and(|b| {
            b.bucket == bucket && !b.prefix.is_empty() && key.starts_with(&b.prefix)
        })
    }
}

/// The input names its bucket Filebeat's way: the daemon polls it.
pub fn is_polling(input: &RawInput) -> bool {
    input.bucket_arn.is_some() || input.non_aws_bucket_name.is_some()
}

/// The bucket of an S3 bucket ARN (`arn:<partition>:s3:::<bucket>`).
pub fn bucket_of_arn(arn: &str) -> Result<String, String> {
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "s3", "", "", bucket] if !bucket.is_empty() && !bucket.contains('/') => {
            Ok(bucket.to_string())
        }
        _ => Err(format!(
            "{arn:?} is not an S3 bucket ARN (arn:aws:s3:::<bucket>; access point ARNs are not supported)"
        )),
    }
}

/// One of two keys naming a bucket (`<x>_arn` or `non_aws_<x>_name`): the bucket, if exactly one is given.
fn bucket(
    arn: (&str, Option<&String>),
    name: (&str, Option<&String>),
    key: &str,
    p: &mut Problems,
) -> Option<String> {
    match (arn.1, name.1) {
        (Some(_), Some(_)) => {
            p.push(
                format!("{key}.{}", name.0),
                format!("{key}: give {} or {}, not both", arn.0, name.0),
            );
            None
        }
        (Some(a), None) => bucket_of_arn(a)
            .map_err(|m| p.push(format!("{key}.{}", arn.0), format!("{key}.{}: {m}", arn.0)))
            .ok(),
        (None, Some(n)) if n.is_empty() || n.contains('/') => {
            p.push(
                format!("{key}.{}", name.0),
                format!("{key}.{}: {n:?} is not a bucket name", name.0),
            );
            None
        }
        (None, Some(n)) => Some(n.clone()),
        (None, None) => None,
    }
}

/// The polling keys of an `s3` input that does not poll (`kind`: what it is instead): each is a problem.
pub(super) fn refuse_polling_keys(input: &RawInput, key: &str, kind: &str, p: &mut Problems) {
    for (k, there) in [
        ("bucket_list_prefix", !input.bucket_list_prefix.0.is_empty()),
        ("bucket_list_interval", input.bucket_list_interval.is_some()),
        ("bucket_list_lookback", input.bucket_list_lookback.is_some()),
        ("start_timestamp", input.start_timestamp.is_some()),
        ("ignore_older", input.ignore_older.is_some()),
    ] {
        if there {
            p.push(
                format!("{key}.{k}"),
                format!("{key}.{k} only applies to type s3 with bucket_arn or non_aws_bucket_name (polling), not {kind}"),
            );
        }
    }
}

/// Checks a polled `s3` input.
pub(super) fn validate_polling(input: &RawInput, key: &str, p: &mut Problems) -> S3PollSettings {
    for (k, there) in [
        ("buckets", !input.buckets.is_empty()),
        ("since", input.since.is_some()),
        ("to", input.to.is_some()),
    ] {
        if there {
            p.push(
                format!("{key}.{k}"),
                format!("{key}.{k} is s3import's key: an s3 input with bucket_arn or non_aws_bucket_name is polled by the daemon (start_timestamp, ignore_older); use one form or the other"),
            );
        }
    }
    let bucket = bucket(
        ("bucket_arn", input.bucket_arn.as_ref()),
        ("non_aws_bucket_name", input.non_aws_bucket_name.as_ref()),
        key,
        p,
    )
    .unwrap_or_default();
    let mut prefixes = input.bucket_list_prefix.0.clone();
    if prefixes.is_empty() {
        prefixes.push(String::new());
    }
    prefixes.sort();
    prefixes.dedup();
    // A prefix under another would be listed twice, by two cursors.
    for a in &prefixes {
        if let Some(b) = prefixes
            .iter()
            .find(|b| *b != a && a.starts_with(b.as_str()))
        {
            p.push(
                format!("{key}.bucket_list_prefix"),
                format!("{key}.bucket_list_prefix: {a:?} lies under {b:?}: its objects would be listed twice"),
            );
        }
    }
    let interval = input
        .bucket_list_interval
        .map_or(DEFAULT_LIST_INTERVAL, |d| d.0);
    if interval < Duration::from_secs(1) || interval > Duration::from_secs(24 * 3600) {
        p.push(
            format!("{key}.bucket_list_interval"),
            format!("{key}.bucket_list_interval must be between 1s and 24h"),
        );
    }
    let lookback = input.bucket_list_lookback.map_or(DEFAULT_LOOKBACK, |d| d.0);
    if lookback > Duration::from_secs(7 * 24 * 3600) {
        p.push(
            format!("{key}.bucket_list_lookback"),
            format!("{key}.bucket_list_lookback must be at most 7d"),
        );
    }
    let start = input.start_timestamp.as_deref().and_then(|s| {
        parse_time_bound(s)
            .map_err(|m| {
                p.push(
                    format!("{key}.start_timestamp"),
                    format!("{key}.start_timestamp: {m}"),
                )
            })
            .ok()
    });
    let ignore_older = input.ignore_older.map(|d| d.0).filter(|d| !d.is_zero());
    S3PollSettings {
        bucket,
        prefixes,
        interval,
        lookback,
        start,
        ignore_older,
    }
}

/// Checks the backup and delete keys. `listed`: the bucket and prefixes the input lists (polling,
/// `s3import`), to refuse a backup it would list again; `None` for `sqs` (checked per object when read).
pub(super) fn validate_finalise(
    input: &RawInput,
    key: &str,
    listed: Option<&[(String, String)]>,
    p: &mut Problems,
) -> Finalise {
    let backup_bucket = bucket(
        ("backup_to_bucket_arn", input.backup_to_bucket_arn.as_ref()),
        (
            "non_aws_backup_to_bucket_name",
            input.non_aws_backup_to_bucket_name.as_ref(),
        ),
        key,
        p,
    );
    let prefix = input.backup_to_bucket_prefix.clone().unwrap_or_default();
    if backup_bucket.is_none() {
        for (k, there) in [
            (
                "backup_to_bucket_prefix",
                input.backup_to_bucket_prefix.is_some(),
            ),
            (
                "delete_after_backup",
                input.delete_after_backup == Some(true),
            ),
        ] {
            if there {
                p.push(
                    format!("{key}.{k}"),
                    format!("{key}.{k} needs a backup bucket (backup_to_bucket_arn or non_aws_backup_to_bucket_name)"),
                );
            }
        }
    }
    let after_read = input.delete_after_read == Some(true);
    if after_read && backup_bucket.is_some() {
        p.push(
            format!("{key}.delete_after_read"),
            format!("{key}.delete_after_read keeps no copy; with a backup bucket, say delete_after_backup"),
        );
    }
    if let (Some(b), Some(listed)) = (&backup_bucket, listed) {
        for (lb, lp) in listed {
            if b == lb && (prefix.starts_with(lp.as_str()) || prefix.is_empty()) {
                p.push(
                    format!("{key}.backup_to_bucket_prefix"),
                    format!("{key}.backup_to_bucket_prefix {prefix:?} in bucket {b} lies under the listed prefix {lp:?}: the backups would be read and backed up again; choose a prefix outside it or another bucket"),
                );
                break;
            }
        }
    }
    Finalise {
        backup: backup_bucket.map(|bucket| Backup { bucket, prefix }),
        delete: input.delete_after_backup == Some(true) || after_read,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_arns() {
        assert_eq!(bucket_of_arn("arn:aws:s3:::logs-1").unwrap(), "logs-1");
        assert_eq!(bucket_of_arn("arn:aws-cn:s3:::b").unwrap(), "b");
        for bad in [
            "logs-1",
            "arn:aws:s3:::",
            "arn:aws:s3:us-east-1:123:accesspoint/ap",
            "arn:aws:sqs:::b",
            "arn:aws:s3:::b/prefix",
        ] {
            assert!(bucket_of_arn(bad).is_err(), "{bad}");
        }
    }
}
