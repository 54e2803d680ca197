//! Inputs: where objects to read come from.
//!
//! - [`notification`]: SQS message bodies (S3, SNS-wrapped, EventBridge) → objects.
//! - [`sqs`]: the daemon's pollers, visibility heartbeat and deleter.
//! - [`s3_list`]: `s3import`'s ListObjectsV2 listings.
//! - [`s3_poll`]: `type: s3` with `bucket_arn`, buckets without notifications listed by the daemon from a
//!   cursor per prefix in the state store.
//! - [`cloudwatch`]: `type: cloudwatch_logs`, log groups polled with checkpoints in the state store.
//! - [`check`]: `test input`, each input's queues and buckets checked from the account.

pub mod check;
pub mod cloudwatch;
pub mod notification;
pub mod s3_list;
pub mod s3_poll;
pub mod sqs;
