//! `logging.*`, checked once: the raw block in, [`LoggingSettings`] out. An unknown level is an error
//! (a typo must not silently log at `info`).

use super::raw;
use super::Problems;

/// How much is logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `error` (also `critical`).
    Error,
    /// `warning` (also `warn`).
    Warning,
    /// `info`, the default.
    Info,
    /// `debug`.
    Debug,
}

/// Validated `logging`.
#[derive(Clone, Debug)]
pub struct LoggingSettings {
    /// The level for everything.
    pub level: Level,
    /// Debug selectors from the file (`sqs`, `s3`, `elasticsearch`, `logstash`, `*`); `-d` adds to these.
    pub selectors: Vec<String>,
}

impl Default for LoggingSettings {
    fn default() -> LoggingSettings {
        LoggingSettings {
            level: Level::Info,
            selectors: Vec::new(),
        }
    }
}

pub(super) fn validate(l: &raw::Logging, p: &mut Problems) -> LoggingSettings {
    let level = match l.level.as_deref().unwrap_or("info") {
        "error" | "critical" => Level::Error,
        "warning" | "warn" => Level::Warning,
        "info" => Level::Info,
        "debug" => Level::Debug,
        other => {
            p.push(
                "logging.level",
                format!("logging.level {other:?} is not a level: expected error, warning, info or debug"),
            );
            Level::Info
        }
    };
    LoggingSettings {
        level,
        selectors: l
            .selectors
            .iter()
            .flat_map(|s| s.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    }
}
