//! Logging as beats users expect: validated [`LoggingSettings`] in, a tracing subscriber out. Text or one
//! JSON object per line (time, level, message and the fields: queue, object, message id), to stderr
//! and/or to files rotated by size (`logging.files.*`: `rotateeverybytes`, `keepfiles`, `permissions`);
//! `logging.selectors` and `-d` turn on debug for parts (`sqs`, `s3`, `elasticsearch`, `logstash`, `*`).
//!
//! What must stay true: a log line that cannot be written (a closed stderr, a full disk) is dropped,
//! never a panic or a stall of the pipeline.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

use crate::config::{Level, LogFileSettings, LoggingSettings};

/// The AWS SDK's crates: their warnings (a credential provider that found nothing, tried before the one
/// that did) are noise before s3logsbeat's own one clear line, so they show only with the `aws` selector.
const AWS_SDK: [&str; 8] = [
    "aws_sdk_sqs",
    "aws_sdk_s3",
    "aws_config",
    "aws_smithy",
    "aws_runtime",
    "aws_credential_types",
    "aws_sigv4",
    "aws_types",
];

/// Where a debug selector's module may sit: at the root, or in one of the folders of the flow.
const SELECTOR_FOLDERS: [&str; 9] = [
    "",
    "inputs::",
    "inputs::sqs::",
    "object::",
    "formats::",
    "event::",
    "fields::",
    "outputs::",
    "ops::",
];

/// What is logged, by target, at `level` with the debug `selectors`.
fn targets(level: LevelFilter, selectors: &[&str]) -> Targets {
    // As in beats: `debug` with selectors is debug for those only; the libraries (hyper...) stay at
    // info, and the AWS SDK at error, unless the `aws` selector asks for them, or their lines would
    // drown ours.
    let ours = if level == LevelFilter::DEBUG && !selectors.is_empty() {
        LevelFilter::INFO
    } else {
        level
    };
    let libraries = level.min(LevelFilter::INFO);
    let aws = selectors.contains(&"aws");
    let mut targets = Targets::new()
        .with_default(libraries)
        .with_target("s3logsbeat", ours);
    for lib in AWS_SDK {
        let l = if aws {
            LevelFilter::DEBUG
        } else {
            level.min(LevelFilter::ERROR)
        };
        targets = targets.with_target(lib, l);
    }
    for sel in selectors {
        let name = match *sel {
            "*" => {
                targets = targets.with_target("s3logsbeat", LevelFilter::DEBUG);
                continue;
            }
            "aws" => continue,
            "es" => "elasticsearch",
            // The queue and the outputs' hand-over, as libbeat's `publish`.
            "publish" => {
                for t in [
                    "s3logsbeat::publish",
                    "s3logsbeat::queue",
                    "s3logsbeat::outputs",
                ] {
                    targets = targets.with_target(t, LevelFilter::DEBUG);
                }
                continue;
            }
            other => other,
        };
        // A selector names a part wherever it sits in the flow: a target of its own
        // (`s3logsbeat::sqs`) or a module of that name in any folder (`-d fetch` is
        // `s3logsbeat::object::fetch`, `-d elasticsearch` `s3logsbeat::outputs::elasticsearch`).
        for folder in SELECTOR_FOLDERS {
            targets =
                targets.with_target(format!("s3logsbeat::{folder}{name}"), LevelFilter::DEBUG);
        }
    }
    targets
}

/// Installs the process's subscriber. `extra_selectors` come from `-d`; `force_stderr` from `-e`.
pub fn init(
    settings: &LoggingSettings,
    extra_selectors: &[String],
    force_stderr: bool,
) -> io::Result<()> {
    let level = match settings.level {
        Level::Error => LevelFilter::ERROR,
        Level::Warning => LevelFilter::WARN,
        Level::Info => LevelFilter::INFO,
        Level::Debug => LevelFilter::DEBUG,
    };
    let selectors: Vec<&str> = extra_selectors
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .chain(settings.selectors.iter().map(String::as_str))
        .filter(|s| !s.is_empty())
        .collect();
    let targets = targets(level, &selectors);
    let files = match &settings.files {
        Some(f) => Some(RotatingFile::open(f)?),
        None => None,
    };
    let writer = Sink {
        stderr: settings.to_stderr || force_stderr,
        file: files.map(|f| Arc::new(Mutex::new(f))),
    };
    let base = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false);
    let registry = tracing_subscriber::registry();
    if settings.json {
        let _ = registry
            .with(
                base.json()
                    .flatten_event(true)
                    .with_current_span(false)
                    // The AWS SDK's request spans would make every debug line several times longer.
                    .with_span_list(false)
                    .with_filter(targets),
            )
            .try_init();
    } else {
        let _ = registry.with(base.with_filter(targets)).try_init();
    }
    Ok(())
}

/// Where log lines go.
#[derive(Clone)]
struct Sink {
    stderr: bool,
    file: Option<Arc<Mutex<RotatingFile>>>,
}

/// One log line's writer (tracing-subscriber writes a line per event).
struct Line {
    sink: Sink,
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.sink.stderr {
            let _ = io::stderr().write_all(buf);
        }
        if let Some(f) = &self.sink.file {
            let _ = f.lock().unwrap_or_else(|e| e.into_inner()).write_line(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line { sink: self.clone() }
    }
}

/// A log file rotated by size: `name` → `name.1` → … → `name.{keep-1}`, the oldest removed.
pub struct RotatingFile {
    settings: LogFileSettings,
    file: File,
    len: u64,
}

impl RotatingFile {
    /// Opens (creating the directory) `dir/name` for appending.
    pub fn open(s: &LogFileSettings) -> io::Result<RotatingFile> {
        fs::create_dir_all(&s.dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("logging.files.path {}: {e}", s.dir.display()),
            )
        })?;
        let (file, len) = Self::open_current(s)?;
        Ok(RotatingFile {
            settings: s.clone(),
            file,
            len,
        })
    }

    fn path(s: &LogFileSettings, n: u32) -> PathBuf {
        if n == 0 {
            s.dir.join(&s.name)
        } else {
            s.dir.join(format!("{}.{n}", s.name))
        }
    }

    fn open_current(s: &LogFileSettings) -> io::Result<(File, u64)> {
        let mut o = OpenOptions::new();
        o.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(s.mode);
        }
        let path = Self::path(s, 0);
        let f = o
            .open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let len = f.metadata()?.len();
        Ok((f, len))
    }

    /// Appends a line, rotating first if it would not fit.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.len > 0 && self.len + line.len() as u64 > self.settings.rotate_bytes {
            let s = &self.settings;
            let _ = fs::remove_file(Self::path(s, s.keep - 1));
            for n in (0..s.keep - 1).rev() {
                let from = Self::path(s, n);
                if from.exists() {
                    fs::rename(&from, Self::path(s, n + 1))?;
                }
            }
            (self.file, self.len) = Self::open_current(s)?;
        }
        self.file.write_all(line)?;
        self.len += line.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 23: an 859-character AWS SDK credential dump came before s3logsbeat's one clear line.
    #[test]
    fn the_aws_sdk_speaks_only_when_asked() {
        use tracing::Level as L;
        let t = targets(LevelFilter::INFO, &[]);
        assert!(!t.would_enable("aws_config::imds::credentials", &L::WARN));
        assert!(!t.would_enable("aws_smithy_runtime::client", &L::WARN));
        assert!(t.would_enable("aws_config::imds::credentials", &L::ERROR));
        assert!(t.would_enable("s3logsbeat::inputs::sqs", &L::INFO));
        assert!(t.would_enable("hyper::client", &L::INFO));
        let t = targets(LevelFilter::INFO, &["aws"]);
        assert!(t.would_enable("aws_config::imds::credentials", &L::DEBUG));
        let t = targets(LevelFilter::DEBUG, &["sqs"]);
        assert!(t.would_enable("s3logsbeat::sqs", &L::DEBUG));
        assert!(!t.would_enable("s3logsbeat::s3", &L::DEBUG));
        assert!(!t.would_enable("aws_config", &L::INFO));
        let t = targets(LevelFilter::ERROR, &[]);
        assert!(!t.would_enable("s3logsbeat", &L::WARN));
        // Selectors name parts wherever their modules sit in the folders of the flow.
        let t = targets(LevelFilter::INFO, &["fetch", "es", "publish"]);
        for on in [
            "s3logsbeat::object::fetch",
            "s3logsbeat::outputs::elasticsearch::retry",
            "s3logsbeat::elasticsearch",
            "s3logsbeat::queue",
        ] {
            assert!(t.would_enable(on, &L::DEBUG), "{on}");
        }
        assert!(!t.would_enable("s3logsbeat::inputs::sqs::poller", &L::DEBUG));
    }

    #[test]
    fn log_files_rotate_by_size_and_keep_their_number() {
        let dir = std::env::temp_dir().join(format!("s3lb-logs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let s = LogFileSettings {
            dir: dir.clone(),
            name: "s3logsbeat".into(),
            rotate_bytes: 100,
            keep: 3,
            mode: 0o600,
        };
        let mut f = RotatingFile::open(&s).unwrap();
        for i in 0..20 {
            f.write_line(format!("line {i:03} {}\n", "x".repeat(30)).as_bytes())
                .unwrap();
        }
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec!["s3logsbeat", "s3logsbeat.1", "s3logsbeat.2"]);
        let current = fs::read_to_string(dir.join("s3logsbeat")).unwrap();
        assert!(current.contains("line 019"), "{current}");
        assert!(current.len() <= 100);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("s3logsbeat"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
