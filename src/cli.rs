//! Command line: global beats flags (`-c`, `-E`) and the subcommands.
//!
//! `s3logsbeat` with no subcommand is `run`, as in every beat.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::enrich::ParseErrorPolicy;
use crate::formats::LogFormat;

/// Ships AWS logs from S3 (ALB, ELB, CloudFront, WAF, JSON) to Elasticsearch or Logstash.
#[derive(Debug, Parser)]
#[command(name = "s3logsbeat", version = crate::VERSION, propagate_version = true)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        short = 'c',
        long = "config",
        global = true,
        default_value = "s3logsbeat.yml"
    )]
    pub config: PathBuf,
    /// Override a config key: `-E output.elasticsearch.hosts=["es:9200"]` (repeatable).
    #[arg(short = 'E', value_name = "KEY=VALUE", global = true)]
    pub overrides: Vec<String>,
    /// Log to stderr (the default here; accepted for beats habits).
    #[arg(short = 'e', global = true)]
    pub log_to_stderr: bool,
    /// Debug logging for these selectors (comma-separated: sqs, s3, elasticsearch, publish, or `*`).
    #[arg(short = 'd', value_name = "SELECTORS", global = true)]
    pub debug: Vec<String>,
    /// `run`: drain every queue until it is empty, wait until every event is delivered, then exit
    /// (non-zero if anything could not be delivered).
    #[arg(long, global = true)]
    pub once: bool,
    /// What to do (default: run).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: the `type: sqs` inputs, until SIGINT/SIGTERM (or, with --once, until the queues
    /// are empty).
    Run,
    /// Import objects already in buckets: the `type: s3` inputs, once (also `s3imports`).
    #[command(alias = "s3imports")]
    S3import(ImportArgs),
    /// Parse a log file offline and print the events an output would receive, one JSON per line.
    Parse(ParseArgs),
    /// Check the configuration.
    #[command(subcommand)]
    Test(TestCommand),
    /// Print the configuration after `-E` overrides.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Print the version.
    Version,
}

/// `test ...`.
#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Load and validate the config file (every input, every output); print `Config OK` or the problems.
    Config,
}

/// `export ...`.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Print the configuration as s3logsbeat reads it (dotted keys expanded, `-E` and `${VAR}` applied).
    Config,
}

/// `s3import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// List the objects that would be imported (key and size) and read nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send one S3 event notification per object to this SQS queue instead of reading it, so the daemons
    /// on that queue share the backfill.
    #[arg(long, value_name = "QUEUE_URL")]
    pub to_queue: Option<String>,
}

/// `parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// The log format.
    #[arg(long, short = 'f', value_parser = parse_format)]
    pub format: LogFormat,
    /// The object key the file came from: `s3://bucket/key` gives the same `_id`s and `log.file.path`
    /// as the daemon; a bare key is matched by `--key-regex-fields`. Default: the file name.
    #[arg(long)]
    pub key: Option<String>,
    /// A regex whose named groups, matched against the key, become fields.
    #[arg(long)]
    pub key_regex_fields: Option<String>,
    /// `json`: the field holding the time.
    #[arg(long)]
    pub timestamp_field: Option<String>,
    /// `json`: how the time is written (timeUnixMilliseconds, timeUnixSeconds, timeISO8601,
    /// time:<Go layout>, time:<strftime>).
    #[arg(long)]
    pub timestamp_format: Option<String>,
    /// Longest line in bytes; longer lines are cut and flagged.
    #[arg(long, default_value_t = crate::object::DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
    /// `ship` lines that do not parse as tagged events, or `drop` them.
    #[arg(long, default_value = "ship", value_parser = parse_policy)]
    pub parse_errors: ParseErrorPolicy,
    /// `beat.name` of the events. Default: the host name.
    #[arg(long)]
    pub name: Option<String>,
    /// Print the summary only, not the events.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// The file to read (gzip and zstd are detected); `-` is standard input.
    #[arg(default_value = "-")]
    pub file: String,
}

fn parse_format(s: &str) -> Result<LogFormat, String> {
    LogFormat::from_name(s)
        .ok_or_else(|| format!("unknown format {s:?}: expected alb, elb, cloudfront, waf or json"))
}

fn parse_policy(s: &str) -> Result<ParseErrorPolicy, String> {
    match s {
        "ship" => Ok(ParseErrorPolicy::Ship),
        "drop" => Ok(ParseErrorPolicy::Drop),
        _ => Err(format!("{s:?}: expected ship or drop")),
    }
}
