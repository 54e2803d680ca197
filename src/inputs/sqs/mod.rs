//! The SQS input: S3 event notifications on SQS queues in, jobs for the readers out; a message is deleted
//! only when every event from it is delivered.
//!
//! - [`poller`]: one per queue; receives as many messages as there are free readers.
//! - [`registry`]: the messages in flight and how each one's work ended.
//! - [`heartbeat`]: extends the visibility of messages still being worked on.
//! - [`deleter`]: deletes delivered messages, gives failed ones back.
//! - [`batch`]: SQS's ten-entry batch calls.
//! - [`sampler`]: one per watched queue; its depth for the monitoring endpoint (GetQueueAttributes).
//!
//! What must stay true: this input is the only code that deletes a message or changes its visibility;
//! outputs never call SQS.

pub mod batch;
pub mod deleter;
pub mod heartbeat;
pub mod poller;
pub mod registry;
pub mod sampler;
