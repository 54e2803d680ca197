//! Command line: global beats flags (`-c`, `-E`) and the subcommands.
//!
//! `s3logsbeat` with no subcommand is `run`, as in every beat.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::FieldNames;
use crate::event::enrich::ParseErrorPolicy;
use crate::formats::LogFormat;

/// Ships the logs AWS writes to S3 (ALB, NLB, ELB, ALB connection logs, CloudFront, WAF, CloudTrail,
/// VPC flow logs, S3 access logs, CloudWatch Logs via Firehose, JSON, custom lines) to Elasticsearch or
/// Logstash.
///
/// Without a subcommand it runs the daemon (`run`); the flags before a subcommand are `run`'s, and the
/// config flags given there also apply to the subcommand (`s3logsbeat -c f.yml test config`).
#[derive(Debug, Parser)]
#[command(name = "s3logsbeat", version = crate::VERSION, propagate_version = true)]
pub struct Cli {
    /// `run`'s flags, for `s3logsbeat [flags]` with no subcommand.
    #[command(flatten)]
    pub run: RunArgs,
    /// What to do (default: run).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where the config comes from: the file, `-E` overrides and the `--path.*` directories.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// Configuration file. Default: `s3logsbeat.yml` in `--path.config` (the working directory).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override a config key: `-E output.elasticsearch.hosts=["es:9200"]` (repeatable).
    #[arg(short = 'E', value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// `path.home`: the default base of the other paths. Default: the binary's directory.
    #[arg(long = "path.home", value_name = "DIR")]
    pub path_home: Option<PathBuf>,
    /// `path.config`: where the config file is looked for. Default: the working directory.
    #[arg(long = "path.config", value_name = "DIR")]
    pub path_config: Option<PathBuf>,
    /// `path.data`: where s3logsbeat keeps its data. Default: `${path.home}/data`.
    #[arg(long = "path.data", value_name = "DIR")]
    pub path_data: Option<PathBuf>,
    /// `path.logs`: where log files go (`logging.to_files`). Default: `${path.home}/logs`.
    #[arg(long = "path.logs", value_name = "DIR")]
    pub path_logs: Option<PathBuf>,
}

impl ConfigArgs {
    /// The config file: `-c`, else `s3logsbeat.yml` in `--path.config`.
    pub fn file(&self) -> PathBuf {
        match (&self.config, &self.path_config) {
            (Some(c), Some(dir)) if c.is_relative() => dir.join(c),
            (Some(c), _) => c.clone(),
            (None, Some(dir)) => dir.join("s3logsbeat.yml"),
            (None, None) => PathBuf::from("s3logsbeat.yml"),
        }
    }

    /// `-E` overrides, with the `--path.*` flags as `path.*` keys (they win over the file, as in beats).
    pub fn overrides(&self) -> Vec<String> {
        let mut o = self.overrides.clone();
        for (k, v) in [
            ("path.home", &self.path_home),
            ("path.config", &self.path_config),
            ("path.data", &self.path_data),
            ("path.logs", &self.path_logs),
        ] {
            if let Some(v) = v {
                o.push(format!("{k}={}", v.display()));
            }
        }
        o
    }

    /// Fills what is not set here from `outer` (the flags given before the subcommand).
    fn inherit(&mut self, outer: &ConfigArgs) {
        if self.config.is_none() {
            self.config = outer.config.clone();
        }
        let mut o = outer.overrides.clone();
        o.append(&mut self.overrides);
        self.overrides = o;
        for (mine, theirs) in [
            (&mut self.path_home, &outer.path_home),
            (&mut self.path_config, &outer.path_config),
            (&mut self.path_data, &outer.path_data),
            (&mut self.path_logs, &outer.path_logs),
        ] {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.config.is_none()
            && self.overrides.is_empty()
            && self.path_home.is_none()
            && self.path_config.is_none()
            && self.path_data.is_none()
            && self.path_logs.is_none()
    }
}

/// Logging flags of the commands that log.
#[derive(Debug, Clone, Default, Args)]
pub struct LogArgs {
    /// Log to stderr (the default here unless `logging.to_files`; accepted for beats habits).
    #[arg(short = 'e')]
    pub log_to_stderr: bool,
    /// Debug logging for these selectors (comma-separated: sqs, s3, elasticsearch, logstash, publish,
    /// aws for the AWS SDK's own lines, or `*` for all of s3logsbeat's).
    #[arg(short = 'd', value_name = "SELECTORS")]
    pub debug: Vec<String>,
}

impl LogArgs {
    fn inherit(&mut self, outer: &LogArgs) {
        self.log_to_stderr |= outer.log_to_stderr;
        let mut d = outer.debug.clone();
        d.append(&mut self.debug);
        self.debug = d;
    }

    fn is_empty(&self) -> bool {
        !self.log_to_stderr && self.debug.is_empty()
    }
}

/// `run`.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// The config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
    /// Drain every queue until it is empty, wait until every event is delivered, then exit (non-zero if
    /// anything could not be delivered).
    #[arg(long)]
    pub once: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: the `type: sqs` inputs, until SIGINT/SIGTERM (or, with --once, until the queues
    /// are empty).
    Run(RunArgs),
    /// Import objects already in buckets: the `type: s3` inputs, once (also `s3imports`).
    #[command(alias = "s3imports")]
    S3import(ImportArgs),
    /// Parse a log file offline and print the events an output would receive, one JSON per line.
    Parse(ParseArgs),
    /// Check the configuration or the output.
    #[command(subcommand)]
    Test(TestCommand),
    /// Print the configuration (secrets redacted) or the index template.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Install the index template in Elasticsearch, then exit.
    Setup(SetupArgs),
    /// Print the version.
    Version,
}

/// `test ...`.
#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Load and validate the config file (every input, every output); print `Config OK` or the problems.
    Config(ConfigArgs),
    /// Connect to the configured output and say what answered (Elasticsearch version and cluster,
    /// Logstash reachable, a writable file directory) or why not; non-zero exit on failure.
    Output(OutputTestArgs),
    /// Check each input's AWS side from the account: the queue (readable, who may send to it, its
    /// dead-letter queue, its encryption), the bucket's notifications, and reading an object; nothing
    /// is changed and no message is received. Non-zero exit on an error.
    Input(OutputTestArgs),
}

/// `test output` and `test input`.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputTestArgs {
    /// The config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
}

/// `export ...`.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Print the configuration as s3logsbeat reads it (dotted keys expanded, `-E` and `${VAR}` applied),
    /// with every secret replaced by `<redacted>`.
    Config(ConfigArgs),
    /// Print the index template (`_index_template` body) for the configured inputs' formats.
    Template(TemplateArgs),
}

/// `export template`.
#[derive(Debug, Clone, Default, Args)]
pub struct TemplateArgs {
    /// The config (`setup.template.*`, the inputs' formats).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Only this format's fields, whatever the inputs are (repeatable).
    #[arg(long, value_parser = parse_format)]
    pub format: Vec<LogFormat>,
    /// `elasticsearch`, or `opensearch` (2.7 and later: `flat_object` for Elasticsearch's `flattened`).
    /// Default: the configured output's.
    #[arg(long, value_parser = ["elasticsearch", "opensearch"])]
    pub target: Option<String>,
}

/// `setup`.
#[derive(Debug, Clone, Default, Args)]
pub struct SetupArgs {
    /// The config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
    /// Install the index template (the default: it is the only asset s3logsbeat installs).
    #[arg(long)]
    pub index_template: bool,
}

impl Cli {
    /// The command to run, with the flags given before it applied; a flag that does not belong to the
    /// command is an error naming it.
    pub fn resolve(self) -> Result<Command, String> {
        let outer = self.run;
        let Some(mut command) = self.command else {
            return Ok(Command::Run(outer));
        };
        let not_for = |what: &str, cmd: &str| {
            Err(format!(
                "{what} is not a flag of `{cmd}` (see `s3logsbeat {cmd} --help`)"
            ))
        };
        if outer.once && !matches!(command, Command::Run(_)) {
            return not_for("--once", command.name());
        }
        match &mut command {
            Command::Run(a) => {
                a.config.inherit(&outer.config);
                a.log.inherit(&outer.log);
                a.once |= outer.once;
            }
            Command::S3import(a) => {
                a.config.inherit(&outer.config);
                a.log.inherit(&outer.log);
            }
            Command::Setup(a) => {
                a.config.inherit(&outer.config);
                a.log.inherit(&outer.log);
            }
            Command::Test(TestCommand::Output(a)) | Command::Test(TestCommand::Input(a)) => {
                a.config.inherit(&outer.config);
                a.log.inherit(&outer.log);
            }
            Command::Test(TestCommand::Config(c)) | Command::Export(ExportCommand::Config(c)) => {
                if !outer.log.is_empty() {
                    return not_for("-e/-d", command.name());
                }
                c.inherit(&outer.config);
            }
            Command::Export(ExportCommand::Template(a)) => {
                if !outer.log.is_empty() {
                    return not_for("-e/-d", command.name());
                }
                a.config.inherit(&outer.config);
            }
            Command::Parse(a) => {
                if !outer.log.is_empty() {
                    return not_for("-e/-d", "parse");
                }
                a.config.inherit(&outer.config);
            }
            Command::Version => {
                if !outer.config.is_empty() || !outer.log.is_empty() {
                    return not_for("-c/-E/-e/-d/--path.*", "version");
                }
            }
        }
        Ok(command)
    }
}

impl Command {
    /// The command line name.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Run(_) => "run",
            Command::S3import(_) => "s3import",
            Command::Parse(_) => "parse",
            Command::Test(TestCommand::Config(_)) => "test config",
            Command::Test(TestCommand::Output(_)) => "test output",
            Command::Test(TestCommand::Input(_)) => "test input",
            Command::Export(ExportCommand::Config(_)) => "export config",
            Command::Export(ExportCommand::Template(_)) => "export template",
            Command::Setup(_) => "setup",
            Command::Version => "version",
        }
    }
}

/// `s3import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
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
    /// With `-c`: parse as this input of the config does (its format, options, fields, tags,
    /// key_regex_fields and processors), counted from 0. Default: the first input.
    #[arg(long, value_name = "N")]
    pub input: Option<usize>,
    /// A config whose input (`--input`) says how to parse; without it, the flags below do.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The log format (required without `-c`; with it, one of the input's), or `auto` to recognise it
    /// from the key (`--key`, or the `s3://` path).
    #[arg(long, short = 'f', value_parser = parse_format)]
    pub format: Option<LogFormat>,
    /// The object key the file came from: `s3://bucket/key` gives the same `_id`s and `log.file.path`
    /// as the daemon; a bare key is matched by `--key-regex-fields`. Default: the file name.
    #[arg(long)]
    pub key: Option<String>,
    /// A regex whose named groups, matched against the key, become fields.
    #[arg(long)]
    pub key_regex_fields: Option<String>,
    /// `json`, `custom`: the field (json) or named group (custom) holding the time.
    #[arg(long)]
    pub timestamp_field: Option<String>,
    /// `json`, `custom`: how the time is written (timeUnixMilliseconds, timeUnixSeconds, timeISO8601,
    /// time:<Go layout>, time:<strftime>).
    #[arg(long)]
    pub timestamp_format: Option<String>,
    /// `custom`: the regular expression whose named groups are the fields.
    #[arg(long)]
    pub pattern: Option<String>,
    /// `custom`: a group's type, `NAME=integer|float|boolean|string` (repeatable).
    #[arg(long = "type", value_name = "NAME=TYPE")]
    pub types: Vec<String>,
    /// `cloudwatch`: also decode a message that is a JSON object into `json`.
    #[arg(long)]
    pub decode_json: bool,
    /// Longest line in bytes; longer lines are cut and flagged.
    /// Default: 10 MiB, or the input's `max_line_bytes` with `-c`.
    #[arg(long)]
    pub max_line_bytes: Option<usize>,
    /// `ship` lines that do not parse as tagged events, or `drop` them.
    /// Default: ship, or the input's `parse_errors` with `-c`.
    #[arg(long, value_parser = parse_policy)]
    pub parse_errors: Option<ParseErrorPolicy>,
    /// `beat.name` of the events. Default: the host name.
    #[arg(long)]
    pub name: Option<String>,
    /// `original` or `ecs` field names. Default: original, or the input's `field_names` with `-c`.
    #[arg(long, value_parser = parse_field_names)]
    pub field_names: Option<FieldNames>,
    /// Print the summary only, not the events.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// The file to read (gzip and zstd are detected); `-` is standard input; `s3://bucket/key` downloads
    /// that object (with the input's AWS settings under `-c`, else the environment's).
    #[arg(default_value = "-")]
    pub file: String,
}

fn parse_format(s: &str) -> Result<LogFormat, String> {
    if s == "auto" {
        return Ok(LogFormat::Auto);
    }
    LogFormat::from_name(s).ok_or_else(|| {
        format!(
            "unknown format {s:?}: expected {}, or auto",
            LogFormat::names()
        )
    })
}

fn parse_field_names(s: &str) -> Result<FieldNames, String> {
    match s {
        "original" => Ok(FieldNames::Original),
        "ecs" => Ok(FieldNames::Ecs),
        _ => Err(format!("{s:?}: expected original or ecs")),
    }
}

fn parse_policy(s: &str) -> Result<ParseErrorPolicy, String> {
    match s {
        "ship" => Ok(ParseErrorPolicy::Ship),
        "drop" => Ok(ParseErrorPolicy::Drop),
        _ => Err(format!("{s:?}: expected ship or drop")),
    }
}
