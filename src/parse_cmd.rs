//! `s3logsbeat parse`: a file (or stdin) in, NDJSON events on stdout, a summary on stderr.
//!
//! Each line printed is exactly what an output receives: the document with `@metadata` (`_id`,
//! `format`, ...). It uses the same [`ObjectParser`] as the daemon, so a format can be tried offline.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use crate::cli::ParseArgs;
use crate::config::processors::Processors;
use crate::config::{self, EnrichSettings, FieldNames, FormatSpec, Mode, Settings};
use crate::object::DEFAULT_MAX_LINE_BYTES;
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
    let format = args
        .format
        .ok_or("--format is required (or -c FILE to parse as an input of that config)")?;
    FormatSpec::build(
        format,
        args.timestamp_field.as_deref(),
        args.timestamp_format.as_deref(),
        |o| format!("{} (--format {})", flag(o), format),
    )
    .map_err(|(_, m)| m)
}

/// How to parse: from the flags, or from an input of the config (`-c`).
struct Recipe {
    spec: FormatSpec,
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
            spec,
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
    if let Some(f) = args.format {
        if f != input.format.format() {
            return Err(format!(
                "--format {f}: s3logsbeat.inputs.{} reads {}",
                input.index,
                input.format.format()
            ));
        }
    }
    let mut enrich = input.enrich.clone();
    if let Some(p) = args.parse_errors {
        enrich.parse_errors = p;
    }
    Ok(Recipe {
        spec: input.format.clone(),
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
        spec,
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
        max_line_bytes,
    );
    let mut chunk = vec![0u8; 256 * 1024];
    let mut buf: Vec<u8> = Vec::with_capacity(512 * 1024);
    let mut write_events = |parser: &mut ObjectParser<'_>, buf: &mut Vec<u8>| -> io::Result<()> {
        for mut e in parser.drain() {
            if field_names == FieldNames::Ecs {
                crate::ecs::apply(spec.format(), &mut e);
            }
            if !crate::processors::apply(&processors, &mut e) {
                continue;
            }
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
