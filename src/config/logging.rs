//! `logging.*`, checked once: the raw block in, [`LoggingSettings`] out. An unknown level is an error (a
//! typo must not silently log at `info`); files are rotated by size as beats do (`rotateeverybytes`,
//! `keepfiles`, `permissions`).

use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// `logging.files`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFileSettings {
    /// Directory (`logging.files.path`, default `path.logs`).
    pub dir: PathBuf,
    /// Base name.
    pub name: String,
    /// Rotate when a file would grow past this many bytes.
    pub rotate_bytes: u64,
    /// Files kept, the current one included.
    pub keep: u32,
    /// Unix mode of the files.
    pub mode: u32,
}

/// Validated `logging`.
#[derive(Clone, Debug)]
pub struct LoggingSettings {
    /// The level for everything.
    pub level: Level,
    /// Debug selectors from the file (`sqs`, `s3`, `elasticsearch`, `logstash`, `*`); `-d` adds to these.
    pub selectors: Vec<String>,
    /// One JSON object per line.
    pub json: bool,
    /// Log to stderr (`-e` forces it).
    pub to_stderr: bool,
    /// Log to rotating files.
    pub files: Option<LogFileSettings>,
    /// How often the counters line is logged; `None`: never.
    pub metrics_period: Option<Duration>,
}

impl Default for LoggingSettings {
    fn default() -> LoggingSettings {
        LoggingSettings {
            level: Level::Info,
            selectors: Vec::new(),
            json: false,
            to_stderr: true,
            files: None,
            metrics_period: Some(Duration::from_secs(30)),
        }
    }
}

pub(super) fn validate(
    l: &raw::Logging,
    logs: &std::path::Path,
    p: &mut Problems,
) -> LoggingSettings {
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
    let to_files = l.to_files.unwrap_or(false);
    let files = to_files.then(|| {
        let f = l.files.clone().unwrap_or_default();
        let mode = match &f.permissions {
            None => 0o600,
            Some(v) => match octal(v) {
                Some(m) if m <= 0o777 => m,
                _ => {
                    p.push(
                        "logging.files.permissions",
                        format!("logging.files.permissions {v:?} is not a Unix file mode such as 0600"),
                    );
                    0o600
                }
            },
        };
        let keep = f.keepfiles.unwrap_or(7);
        if !(2..=1024).contains(&keep) {
            p.push("logging.files.keepfiles", format!("logging.files.keepfiles {keep} is out of range 2..1024"));
        }
        let rotate_bytes = f.rotateeverybytes.unwrap_or(10 * 1024 * 1024);
        if rotate_bytes == 0 {
            p.push("logging.files.rotateeverybytes", "logging.files.rotateeverybytes must be at least 1");
        }
        LogFileSettings {
            dir: f.path.clone().map(PathBuf::from).unwrap_or_else(|| Path::to_path_buf(logs)),
            name: f.name.clone().unwrap_or_else(|| "s3logsbeat".into()),
            rotate_bytes: rotate_bytes.max(1),
            keep: keep.clamp(2, 1024),
            mode,
        }
    });
    let metrics = l.metrics.clone().unwrap_or_default();
    let metrics_period = match (metrics.enabled.unwrap_or(true), metrics.period) {
        (false, _) => None,
        (true, Some(d)) if d.0.is_zero() => {
            p.push(
                "logging.metrics.period",
                "logging.metrics.period must be more than 0",
            );
            None
        }
        (true, period) => Some(period.map_or(Duration::from_secs(30), |d| d.0)),
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
        json: l.json,
        // Beats log to stderr unless files are asked for; `-e` puts stderr back.
        to_stderr: l.to_stderr.unwrap_or(!to_files),
        files,
        metrics_period,
    }
}

/// A file mode written as beats configs write it: `0600` (read by YAML as the number 600, or as a
/// string), or already a number.
fn octal(v: &super::tree::Value) -> Option<u32> {
    let text = match v {
        super::tree::Value::Number(n) => n.as_u64()?.to_string(),
        super::tree::Value::String(s) => s.trim_start_matches("0o").to_string(),
        _ => return None,
    };
    u32::from_str_radix(&text, 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(yaml: &str) -> (LoggingSettings, Vec<(String, String)>) {
        let l: raw::Logging = super::super::yaml::from_str(yaml).unwrap();
        let mut p = Problems::default();
        let s = validate(&l, std::path::Path::new("/var/log/s3lb"), &mut p);
        (s, p.list)
    }

    #[test]
    fn beats_logging_keys() {
        let (s, errs) = settings(
            "level: debug\nto_files: true\nfiles: {name: ship, rotateeverybytes: 1024, keepfiles: 3, permissions: 0640}\njson: true\nmetrics: {period: 10s}\n",
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(s.level, Level::Debug);
        assert!(
            s.json && !s.to_stderr,
            "files instead of stderr unless asked"
        );
        let f = s.files.unwrap();
        assert_eq!(
            (
                f.dir.as_path(),
                f.name.as_str(),
                f.rotate_bytes,
                f.keep,
                f.mode
            ),
            (
                std::path::Path::new("/var/log/s3lb"),
                "ship",
                1024,
                3,
                0o640
            )
        );
        assert_eq!(s.metrics_period, Some(Duration::from_secs(10)));
        let (s, _) = settings("metrics: {enabled: false}\n");
        assert!(s.to_stderr && s.files.is_none() && s.metrics_period.is_none());
    }

    #[test]
    fn mistakes_are_named() {
        let (_, errs) =
            settings("level: verbose\nto_files: true\nfiles: {permissions: 999, keepfiles: 1}\n");
        let keys: Vec<&str> = errs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "logging.level",
                "logging.files.permissions",
                "logging.files.keepfiles"
            ]
        );
    }
}
