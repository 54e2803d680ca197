//! The state store in S3 (`state.s3`): a document's bytes in, an object out, written only over the
//! version it names.
//!
//! Document `name` is the object `<key>` for the main document (`name` empty) and `<key>.<name>` for the
//! others (a lease per input), so one bucket and key name all of an instance's state. A new object is
//! written with `If-None-Match: *` and a replacement with `If-Match: <ETag it read>`; S3 refuses either
//! with 412 (or 409 when two conditional writes race) if another writer got there first, and that is
//! [`StateError::Conflict`]. What must stay true: no write is ever made without one of these conditions,
//! so two instances never overwrite each other's state.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;

use super::{StateError, Version};

/// Documents as objects under one key.
#[derive(Debug, Clone)]
pub struct S3Store {
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
}

impl S3Store {
    /// A store at `s3://bucket/key`.
    pub fn new(s3: aws_sdk_s3::Client, bucket: &str, key: &str) -> S3Store {
        S3Store {
            s3,
            bucket: bucket.to_string(),
            key: key.to_string(),
        }
    }

    /// The object key of document `name`.
    pub fn key(&self, name: &str) -> String {
        if name.is_empty() {
            self.key.clone()
        } else {
            format!("{}.{name}", self.key)
        }
    }

    /// `s3://bucket/key` of document `name`.
    pub fn describe(&self, name: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(name))
    }

    fn error(&self, name: &str, e: impl std::error::Error + 'static) -> StateError {
        StateError::Io {
            what: self.describe(name),
            why: crate::error::chain(&e),
        }
    }

    /// The bytes and ETag of `name`, or `None` if there is no such object.
    pub async fn read(&self, name: &str) -> Result<Option<(Vec<u8>, Version)>, StateError> {
        let got = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(name))
            .send()
            .await;
        let out = match got {
            Ok(o) => o,
            Err(e) if e.code() == Some("NoSuchKey") => return Ok(None),
            Err(e) => return Err(self.error(name, e)),
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| self.error(name, e))?
            .into_bytes()
            .to_vec();
        Ok(Some((bytes, Version(etag))))
    }

    /// Writes `bytes` as `name` over the object of ETag `replaces` (`None`: only if there is none).
    pub async fn write(
        &self,
        name: &str,
        bytes: Vec<u8>,
        replaces: Option<&Version>,
    ) -> Result<Version, StateError> {
        let mut put = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(name))
            .content_type("application/json")
            .body(ByteStream::from(bytes));
        put = match replaces {
            Some(v) => put.if_match(&v.0),
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(out) => Ok(Version(out.e_tag().unwrap_or_default().to_string())),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                // 412: the condition failed; 409: another conditional write to the key was in flight;
                // NoSuchKey: the object we read was deleted since.
                if matches!(status, Some(412) | Some(409))
                    || matches!(
                        e.code(),
                        Some("PreconditionFailed")
                            | Some("ConditionalRequestConflict")
                            | Some("NoSuchKey")
                    )
                {
                    Err(StateError::Conflict {
                        what: self.describe(name),
                    })
                } else {
                    Err(self.error(name, e))
                }
            }
        }
    }
}
