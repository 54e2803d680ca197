//! Inputs: where objects to read come from.
//!
//! - [`notification`]: SQS message bodies (S3, SNS-wrapped, EventBridge) → objects.
//! - [`sqs`]: the daemon's pollers, visibility heartbeat and deleter.
//! - [`s3_list`]: `s3import`'s ListObjectsV2 listings.
//! - [`check`]: `test input`, each input's queues and buckets checked from the account.

pub mod check;
pub mod notification;
pub mod s3_list;
pub mod sqs;
