//! `s3logsbeat parse`: a file (or stdin) in, NDJSON events on stdout, a summary on stderr.
//!
//! Each line printed is exactly what an output receives: the document with `@metadata` (`_id`,
//! `format`, ...). It uses the same [`ObjectParser`] as the daemon, so a format can be tried offline.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use crate::cli::ParseArgs;
use crate::config::processors::Processors;
use crate::config::{
    self, AwsSettings, EnrichSettings, FieldNames, FormatOptions, FormatSpec, Formats, LogFormat,
    Mode, Settings,
};
use crate::event::processors::Finished;
use crate::event::Event;
use crate::object::DEFAULT_MAX_LINE_BYTES;
use crate::object::{ObjectId, ObjectParser, ObjectStats};

/// What `parse` did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The counts.
    pub stats: ObjectStats,
    /// What the step after parsing (ECS names, processors) did.
    pub finished: Finished,
    /// Wall time.
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "lines={} events={} parse_failures={} events_filtered={} json_values_capped={} truncated_lines={} blank_lines={} header_lines={} records_skipped={} object_skipped={} bytes={} compressed_bytes={} compression={} seconds={:.3}",
            s.lines,
            s.events,
            s.parse_failures,
            self.finished.filtered,
            s.json_capped + self.finished.capped,
            s.truncated_lines,
            s.blank_lines,
            s.header_lines,
            s.skipped_records,
            s.skipped,
            s.bytes,
            s.bytes_in,
            s.compression,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Builds the format from the flags with the config's own rules; errors name the flag.
pub fn format_spec(args: &ParseArgs) -> Result<Formats, String> {
    let flag = |o: &str| match o {
        "types" => "--type".to_string(),
        _ => format!("--{}", o.replace('_', "-")),
    };
    let format = args
        .format
        .ok_or("--format is required (or -c FILE to parse as an input of that config)")?;
    let mut opts = FormatOptions {
        timestamp_field: args.timestamp_field.clone(),
        timestamp_format: args.timestamp_format.clone(),
        decode_json: args.decode_json.then_some(true),
        pattern: args.pattern.clone(),
        types: Default::default(),
    };
    for t in &args.types {
        let (k, v) = t.split_once('=').ok_or_else(|| {
            format!("--type {t}: expected NAME=TYPE (integer, float, boolean or string)")
        })?;
        opts.types.insert(k.to_string(), v.to_string());
    }
    if format == LogFormat::Auto {
        if let Some(o) = [
            ("timestamp_field", opts.timestamp_field.is_some()),
            ("timestamp_format", opts.timestamp_format.is_some()),
            ("decode_json", args.decode_json),
            ("pattern", opts.pattern.is_some()),
            ("types", !opts.types.is_empty()),
        ]
        .iter()
        .find(|(_, given)| *given)
        {
            return Err(format!(
                "{}: --format auto uses each format's defaults; name the format to give options",
                flag(o.0)
            ));
        }
        return Ok(Formats::auto());
    }
    FormatSpec::build(format, &opts, |o| {
        format!("{} (--format {})", flag(o), format)
    })
    .map(Formats::one)
    .map_err(|(_, m)| m)
}

/// How to parse: from the flags, or from an input of the config (`-c`).
/// Why writing events stopped.
enum Stop {
    /// Writing failed (a closed pipe ends the command quietly).
    Write(io::Error),
    /// A document could not be read back for the step after parsing: the object's error.
    Unreadable(String),
}

struct Recipe {
    formats: Formats,
    aws: AwsSettings,
    field_names: FieldNames,
    enrich: EnrichSettings,
    processors: Processors,
    max_line_bytes: usize,
}

fn recipe(args: &ParseArgs) -> Result<Recipe, String> {
    let from_config = args.config.config.is_some() || args.config.path_config.is_some();
    if !from_config {
        if args.input.is_some() {
            return Err("--input needs -c FILE".into());
        }
        let spec = format_spec(args)?;
        let hostname = crate::config::hostname();
        let mut enrich = EnrichSettings::new(args.name.as_deref().unwrap_or(&hostname), &hostname);
        enrich.parse_errors = args.parse_errors.unwrap_or_default();
        if let Some(re) = &args.key_regex_fields {
            enrich.key_regex =
                Some(config::key_regex(re).map_err(|m| format!("--key-regex-fields: {m}"))?);
        }
        return Ok(Recipe {
            formats: spec,
            aws: AwsSettings::default(),
            field_names: args.field_names.unwrap_or_default(),
            enrich,
            processors: Processors::default(),
            max_line_bytes: args.max_line_bytes.unwrap_or(DEFAULT_MAX_LINE_BYTES),
        });
    }
    // The config says it all; a flag that would say it differently is refused rather than ignored.
    for (set, flag) in [
        (args.key_regex_fields.is_some(), "--key-regex-fields"),
        (args.timestamp_field.is_some(), "--timestamp-field"),
        (args.timestamp_format.is_some(), "--timestamp-format"),
        (args.pattern.is_some(), "--pattern"),
        (!args.types.is_empty(), "--type"),
        (args.decode_json, "--decode-json"),
        (args.name.is_some(), "--name"),
    ] {
        if set {
            return Err(format!(
                "{flag} cannot be given with -c: the input's own settings are used (change them with -E)"
            ));
        }
    }
    let file = args.config.file();
    let settings = Settings::load(&file, &args.config.overrides(), Mode::All).map_err(|errs| {
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let input = match args.input {
        None => settings.inputs.first(),
        Some(n) => settings.inputs.iter().find(|i| i.index == n),
    }
    .ok_or_else(|| match args.input {
        Some(n) => format!(
            "{}: s3logsbeat.inputs.{n}: no such enabled input (there are {})",
            file.display(),
            settings.inputs.len()
        ),
        None => format!("{}: no enabled input", file.display()),
    })?;
    let formats = match args.format {
        None => input.formats.clone(),
        Some(LogFormat::Auto) => Formats::auto(),
        Some(f) => match input.formats.all().into_iter().find(|s| s.format() == f) {
            Some(spec) => Formats::one(spec.clone()),
            None => {
                let reads: Vec<&str> = input
                    .formats
                    .all()
                    .iter()
                    .map(|s| s.format().name())
                    .collect();
                return Err(format!(
                    "--format {f}: s3logsbeat.inputs.{} reads {}",
                    input.index,
                    reads.join(", ")
                ));
            }
        },
    };
    let mut enrich = input.enrich.clone();
    if let Some(p) = args.parse_errors {
        enrich.parse_errors = p;
    }
    Ok(Recipe {
        formats,
        aws: input.aws.clone(),
        field_names: args.field_names.unwrap_or(input.field_names),
        enrich,
        processors: input.processors.clone(),
        max_line_bytes: args.max_line_bytes.unwrap_or(input.max_line_bytes),
    })
}

/// Runs `parse`, reading `input` and writing events to `out`.
pub fn run(args: &ParseArgs, input: &mut dyn Read, out: &mut dyn Write) -> Result<Summary, String> {
    let start = Instant::now();
    let Recipe {
        formats,
        aws: _,
        field_names,
        enrich: settings,
        processors,
        max_line_bytes,
    } = recipe(args)?;
    let name = if args.file == "-" {
        "-"
    } else {
        args.file.as_str()
    };
    let key_arg = args
        .key
        .clone()
        .or_else(|| args.file.starts_with("s3://").then(|| args.file.clone()));
    let (path, key) = match &key_arg {
        Some(k) => match k.strip_prefix("s3://") {
            Some(rest) => (
                k.clone(),
                rest.split_once('/').map_or("", |(_, key)| key).to_string(),
            ),
            None => (k.clone(), k.clone()),
        },
        None => (name.to_string(), name.to_string()),
    };
    let bucket = path
        .strip_prefix("s3://")
        .and_then(|r| r.split_once('/'))
        .map_or("", |(b, _)| b);
    let spec = formats.choose(bucket, &key).ok_or_else(|| {
        format!(
            "{path}: no format for this key (auto does not know it, and no file_selectors entry matches): give --format"
        )
    })?;
    let mut parser = ObjectParser::new(
        spec,
        &settings,
        ObjectId {
            path: &path,
            key: &key,
            last_modified: None,
        },
        max_line_bytes,
    );
    let mut chunk = vec![0u8; 256 * 1024];
    let mut buf: Vec<u8> = Vec::with_capacity(512 * 1024);
    // Read at the end and at an early stop, while the closure still holds it.
    let post = std::cell::Cell::new(Finished::default());
    let mut write_events = |parser: &mut ObjectParser<'_>, buf: &mut Vec<u8>| -> Result<(), Stop> {
        let mut events: Vec<Event> = parser.drain().collect();
        let done =
            crate::event::processors::finish(spec.format(), field_names, &processors, &mut events)
                .map_err(|why| Stop::Unreadable(format!("{path}: {why}")))?;
        let mut sum = post.get();
        sum.filtered += done.filtered;
        sum.capped += done.capped;
        post.set(sum);
        if !args.quiet {
            for e in &events {
                e.write_with_metadata(buf);
                buf.push(b'\n');
            }
        }
        if buf.len() > 256 * 1024 {
            out.write_all(buf).map_err(Stop::Write)?;
            buf.clear();
        }
        Ok(())
    };
    let stopped = |e: Stop| -> Result<(), String> {
        match e {
            Stop::Write(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Stop::Write(e) => Err(format!("writing events: {e}")),
            Stop::Unreadable(why) => Err(why),
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
        for piece in chunk[..n].chunks(crate::object::fetch::FEED_BYTES) {
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
                    finished: post.get(),
                    elapsed: start.elapsed(),
                });
            }
        }
    }
    let finished = parser.finish();
    let r = write_events(&mut parser, &mut buf)
        .and_then(|_| out.write_all(&buf).map_err(Stop::Write))
        .and_then(|_| out.flush().map_err(Stop::Write));
    if let Err(e) = r {
        stopped(e)?;
    }
    let stats = finished.map_err(|e| e.to_string())?;
    Ok(Summary {
        stats,
        finished: post.get(),
        elapsed: start.elapsed(),
    })
}

/// The AWS settings `parse` downloads an `s3://` object with: the input's under `-c`, else the
/// environment's.
pub fn aws_settings(args: &ParseArgs) -> Result<AwsSettings, String> {
    recipe(args).map(|r| r.aws)
}

/// Opens `s3://bucket/key` for reading: a thread runs the download and hands the body over in chunks
/// through a bounded channel, so the object is never held whole.
pub fn open_s3(uri: &str, aws: &AwsSettings) -> Result<Box<dyn Read + Send>, String> {
    let (bucket, key) = uri
        .strip_prefix("s3://")
        .and_then(|r| r.split_once('/'))
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| format!("{uri}: expected s3://bucket/key"))?;
    let (bucket, key) = (bucket.to_string(), key.to_string());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    let clients = rt
        .block_on(crate::aws::clients(aws, None))
        .map_err(|e| format!("{uri}: {e}"))?;
    let mut body = rt
        .block_on(clients.s3.get_object().bucket(&bucket).key(&key).send())
        .map_err(|e| format!("{uri}: GetObject failed: {}", crate::error::chain(&e)))?
        .body;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<u8>, String>>(8);
    let uri = uri.to_string();
    std::thread::Builder::new()
        .name("parse-s3".into())
        .spawn(move || {
            rt.block_on(async move {
                loop {
                    let next = match body.try_next().await {
                        Ok(Some(c)) => Ok(c.to_vec()),
                        Ok(None) => break,
                        Err(e) => Err(format!(
                            "{uri}: reading the body failed: {}",
                            crate::error::chain(&e)
                        )),
                    };
                    let failed = next.is_err();
                    // The reader went away (stdout closed): stop downloading.
                    if tx.send(next).is_err() || failed {
                        break;
                    }
                }
            })
        })
        .map_err(|e| format!("starting the download: {e}"))?;
    Ok(Box::new(ChannelReader {
        rx,
        current: Vec::new(),
        pos: 0,
    }))
}

/// Reads the chunks a download thread sends.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Result<Vec<u8>, String>>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.current = c;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(io::Error::other(e)),
                // The thread ended: the body is complete.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
