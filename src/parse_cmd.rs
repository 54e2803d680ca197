//! `s3logsbeat parse`: a file (or stdin) in, NDJSON events on stdout, a summary on stderr.
//!
//! Each line printed is exactly what an output receives: the document with `@metadata` (`_id`,
//! `format`, ...). It uses the same [`ObjectParser`] as the daemon, so a format can be tried offline.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use crate::cli::ParseArgs;
use crate::config::{self, EnrichSettings, FormatSpec};
use crate::object::{ObjectId, ObjectParser, ObjectStats};

/// What `parse` did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The counts.
    pub stats: ObjectStats,
    /// Wall time.
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "lines={} events={} parse_failures={} truncated_lines={} blank_lines={} header_lines={} bytes={} compressed_bytes={} compression={} seconds={:.3}",
            s.lines,
            s.events,
            s.parse_failures,
            s.truncated_lines,
            s.blank_lines,
            s.header_lines,
            s.bytes,
            s.bytes_in,
            s.compression,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Builds the format from the flags with the config's own rules; errors name the flag.
pub fn format_spec(args: &ParseArgs) -> Result<FormatSpec, String> {
    let flag = |o: &str| format!("--{}", o.replace('_', "-"));
    FormatSpec::build(
        args.format,
        args.timestamp_field.as_deref(),
        args.timestamp_format.as_deref(),
        |o| format!("{} (--format {})", flag(o), args.format),
    )
    .map_err(|(_, m)| m)
}

/// Runs `parse`, reading `input` and writing events to `out`.
pub fn run(args: &ParseArgs, input: &mut dyn Read, out: &mut dyn Write) -> Result<Summary, String> {
    let start = Instant::now();
    let spec = format_spec(args)?;
    let hostname = crate::config::hostname();
    let mut settings = EnrichSettings::new(args.name.as_deref().unwrap_or(&hostname), &hostname);
    settings.parse_errors = args.parse_errors;
    if let Some(re) = &args.key_regex_fields {
        settings.key_regex =
            Some(config::key_regex(re).map_err(|m| format!("--key-regex-fields: {m}"))?);
    }
    let name = if args.file == "-" {
        "-"
    } else {
        args.file.as_str()
    };
    let (path, key) = match &args.key {
        Some(k) => match k.strip_prefix("s3://") {
            Some(rest) => (
                k.clone(),
                rest.split_once('/').map_or("", |(_, key)| key).to_string(),
            ),
            None => (k.clone(), k.clone()),
        },
        None => (name.to_string(), name.to_string()),
    };
    let mut parser = ObjectParser::new(
        &spec,
        &settings,
        ObjectId {
            path: &path,
            key: &key,
            last_modified: None,
        },
        args.max_line_bytes,
    );
    let mut chunk = vec![0u8; 256 * 1024];
    let mut buf: Vec<u8> = Vec::with_capacity(512 * 1024);
    let mut write_events = |parser: &mut ObjectParser<'_>, buf: &mut Vec<u8>| -> io::Result<()> {
        for e in parser.drain() {
            if !args.quiet {
                e.write_with_metadata(buf);
                buf.push(b'\n');
            }
        }
        if buf.len() > 256 * 1024 {
            out.write_all(buf)?;
            buf.clear();
        }
        Ok(())
    };
    let stopped = |e: io::Error| -> Result<(), String> {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Ok(())
        } else {
            Err(format!("writing events: {e}"))
        }
    };
    loop {
        let n = match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("{name}: {e}")),
        };
        // Fed in small pieces, written in between, so memory does not depend on the compression ratio.
        for piece in chunk[..n].chunks(crate::fetch::FEED_BYTES) {
            let mut written = Ok(());
            parser
                .feed_all(piece, |p| {
                    if written.is_ok() {
                        written = write_events(p, &mut buf);
                    }
                })
                .map_err(|e| e.to_string())?;
            if let Err(e) = written {
                stopped(e)?;
                return Ok(Summary {
                    stats: parser.stats(),
                    elapsed: start.elapsed(),
                });
            }
        }
    }
    let finished = parser.finish();
    let r = write_events(&mut parser, &mut buf)
        .and_then(|_| out.write_all(&buf))
        .and_then(|_| out.flush());
    if let Err(e) = r {
        stopped(e)?;
    }
    let stats = finished.map_err(|e| e.to_string())?;
    Ok(Summary {
        stats,
        elapsed: start.elapsed(),
    })
}
