//! s3logsbeat: ships the logs AWS writes to S3 to Elasticsearch or Logstash.
//!
//! # Layout
//!
//! The modules follow one log line from an S3 object to an output:
//!
//! - [`config`]: `s3logsbeat.yml` (the original's keys), `-E` overrides, validated once into settings.
//! - [`object`]: the bytes of one object as a stream: compression sniffed from the first bytes, lines
//!   split with their byte offsets, a maximum line length.
//! - [`formats`]: one parser per `log_format`, line in, fields out.
//! - [`enrich`]: fields in, [`event::Event`] out: `@timestamp`, `log.*`, `beat.*`, `key_regex_fields`,
//!   global `fields`/`tags`, the deterministic `_id`, and failure events for lines that did not parse.
//! - [`event`]: the event model and its JSON.
//! - [`cli`]: the command line.
//! - [`parse_cmd`]: `s3logsbeat parse`, the offline way to try a format.

pub mod cli;
pub mod config;
pub mod enrich;
pub mod event;
pub mod formats;
pub mod object;
pub mod parse_cmd;

/// This program's version, sent as `beat.version` and `@metadata.version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
