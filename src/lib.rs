//! s3logsbeat: ships the logs AWS writes to S3 to Elasticsearch or Logstash.
//!
//! # Layout
//!
//! The modules follow one log line from an SQS notification to an output:
//!
//! - [`config`]: `s3logsbeat.yml` (the original's keys), `-E` overrides, validated once into settings.
//! - [`aws`]: SQS and S3 clients (credential chain, endpoint, path style, assumed role).
//! - [`inputs`]: SQS polling, notification bodies, visibility heartbeat, deletion of delivered messages.
//! - [`fetch`]: `GetObject` as a stream into the object parser; [`inflate`]: a large gzip object
//!   inflated on a thread of its own, beside its parsing.
//! - [`object`]: the bytes of one object as a stream: compression sniffed from the first bytes, lines
//!   split with their byte offsets, a maximum line length.
//! - [`formats`]: one parser per `log_format`, line in, fields out.
//! - [`enrich`]: fields in, [`event::Event`] out: `@timestamp`, `log.*`, `beat.*`, `key_regex_fields`,
//!   global `fields`/`tags`, the deterministic `_id`, and failure events for lines that did not parse;
//!   [`ids`] computes the `_id`s several lines at a time.
//! - [`event`]: the event model and its JSON; [`doc`]: the documents, one buffer per chunk of events.
//! - [`queue`]: the bounded publish queue and the batcher: where backpressure stops polling.
//! - [`outputs`]: Elasticsearch bulk, console, file; each reports delivery.
//! - [`reader`]: the object stage shared by the daemon and `s3import`: a pool of readers per input.
//! - [`ack`]: acknowledgement by ownership: a message is deleted only when all its events are delivered,
//!   and any work that ends otherwise fails its message.
//! - [`import`]: `s3import`, the one-shot backfill of objects already in buckets.
//! - [`pipeline`]: wiring and ordered shutdown ([`shutdown`]); [`supervise`]: every task's end looked at;
//!   [`metrics`]: the counters; [`monitor`]: the endpoint that serves them, with [`process`]'s CPU,
//!   memory and file descriptors.
//! - [`error`], [`percent`], [`scan`]: error chains, percent-encoding and the hot path's byte scans,
//!   used across the stages.
//! - [`faults`]: test-only fault hooks (the `fault-hooks` feature).
//! - [`cli`]: the command line.
//! - [`parse_cmd`]: `s3logsbeat parse`, the offline way to try a format.

pub mod ack;
pub mod aws;
pub mod cli;
pub mod config;
pub mod doc;
pub mod ecs;
pub mod enrich;
pub mod error;
pub mod event;
pub mod faults;
pub mod fetch;
pub mod formats;
pub mod framing;
pub mod gunzip;
pub mod ids;
pub mod import;
pub mod inflate;
pub mod inputs;
pub mod logging;
pub mod metrics;
pub mod monitor;
pub mod object;
pub mod outputs;
pub mod parse_cmd;
pub mod percent;
pub mod pipeline;
pub mod process;
pub mod processors;
pub mod queue;
pub mod reader;
pub mod route;
pub mod scan;
pub mod shutdown;
pub mod supervise;
pub mod template;

/// This program's version, sent as `beat.version` and `@metadata.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
