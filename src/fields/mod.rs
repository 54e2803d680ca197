//! What a parser writes, below the formats that write it: field names and values ([`json`]: [`Name`],
//! [`Value`], JSON escaping and the depth caps), times ([`time`]: [`Timestamp`] and the calendar), and
//! the sink fixed-column formats write through ([`sink`]: [`FieldSink`], [`JsonFields`]).
//!
//! These are the event's vocabulary: `crate::formats` writes them, `config/` names [`RESERVED_NAMES`],
//! and the event stage (`event/`, above both) turns them into documents. What must stay true: nothing
//! here imports a format, the config or the event stage, so the formats stay a library below the
//! settings and the settings reach nothing above them.

pub mod json;
pub mod sink;
pub mod time;

pub use json::*;
pub use sink::{FieldSink, JsonFields};
pub use time::*;

/// Names of fields s3logsbeat writes into every document itself: a key capture, a header column or a
/// top-level global field may not take them (each says how it steps aside).
pub const RESERVED_NAMES: [&str; 8] = [
    "@timestamp",
    "@metadata",
    "log",
    "beat",
    "tags",
    "fields",
    "message",
    "error",
];
