//! s3logsbeat: ships the logs AWS writes to S3 to Elasticsearch or Logstash.
//!
//! # Layout
//!
//! The modules follow one log line from an SQS notification to an output, top to bottom:
//!
//! - [`config`]: `s3logsbeat.yml` (the original's keys), `-E` overrides, validated once into settings;
//!   read by all, it reaches nothing.
//! - [`aws`]: the SQS and S3 clients and AWS error codes, for the inputs and the object stage.
//! - [`inputs`]: where work comes from: SQS polling (notification bodies, visibility
//!   heartbeat, deletion of delivered messages), `s3import`'s listings, and `test input`.
//! - [`object`]: the object stage: a pool of readers per input, `GetObject` as a stream, decompression
//!   (a large gzip object inflated on a thread of its own), framing into lines or JSON values with their
//!   byte offsets.
//! - [`formats`]: one parser per `log_format`, a unit in, fields out; routing by key. [`fields`]: what
//!   they write (names, values, times, JSON), below them.
//! - [`event`]: fields in, documents out: the event and its JSON, `@timestamp`, metadata, the
//!   deterministic `_id`, failure events; then the one step after parsing (ECS names, processors).
//! - [`queue`]: the bounded publish queue and the batcher: where backpressure stops polling.
//! - [`outputs`]: Elasticsearch bulk (and its index template), Logstash, console, file; each reports
//!   delivery.
//! - [`ack`]: acknowledgement by ownership: a message is deleted only when all its events are delivered,
//!   and any work that ends otherwise fails its message.
//! - [`pipeline`]: the daemon's wiring and ordered shutdown ([`shutdown`]); [`import`]: `s3import`;
//!   [`parse_cmd`]: `s3logsbeat parse`; [`cli`]: the command line.
//! - [`ops`]: counters, the monitoring endpoint, logging, supervision (every task's end looked at).
//! - [`state`]: checkpoints and leases that survive a restart, in files or in S3 (conditional writes).
//! - [`error`], [`percent`], [`scan`], [`backoff`]: error chains, percent-encoding, the hot path's byte
//!   scans and the wait between two tries of every retry loop, used across the stages; [`faults`]:
//!   test-only fault hooks (the `fault-hooks` feature).

pub mod ack;
pub mod aws;
pub mod backoff;
pub mod cli;
pub mod config;
pub mod error;
pub mod event;
pub mod faults;
pub mod fields;
pub mod formats;
pub mod import;
pub mod inputs;
pub mod object;
pub mod ops;
pub mod outputs;
pub mod parse_cmd;
pub mod percent;
pub mod pipeline;
pub mod queue;
pub mod scan;
pub mod shutdown;
pub mod state;

/// This program's version, sent as `beat.version` and `@metadata.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
