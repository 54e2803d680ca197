//! Inputs: where objects to read come from.
//!
//! - [`notification`]: SQS message bodies (S3, SNS-wrapped, EventBridge) → objects.
//! - [`sqs`]: the daemon's pollers, workers, visibility heartbeat and deleter.

pub mod notification;
pub mod sqs;
