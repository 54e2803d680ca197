//! The `s3logsbeat` binary: parses the command line, runs the command, maps errors to exit codes
//! (0 done, 1 failed or not everything delivered, 2 usage or configuration error).

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use s3logsbeat::cli::{
    Cli, Command, ConfigArgs, ExportCommand, ImportArgs, LogArgs, OutputTestArgs, ParseArgs,
    RunArgs, SetupArgs, TestCommand,
};
use s3logsbeat::config::{
    load, redact, ConfigError, FieldNames, LogFormat, Mode, OutputSettings, Settings,
};
use s3logsbeat::import::ImportMode;
use s3logsbeat::outputs::elasticsearch::template;
use s3logsbeat::outputs::elasticsearch::{setup, Elasticsearch};
use s3logsbeat::outputs::Output;
use s3logsbeat::shutdown::Shutdown;
use s3logsbeat::{import, parse_cmd, pipeline};

/// A line on stderr; a closed or broken stderr is ignored (`eprintln!` would panic).
macro_rules! say {
    ($($t:tt)*) => {{
        let _ = writeln!(io::stderr(), $($t)*);
    }};
}

/// A line on stdout; a closed or broken stdout is ignored (`println!` would panic).
macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(io::stdout(), $($t)*);
    }};
}

fn main() -> ExitCode {
    tune_malloc();
    // One process-wide TLS crypto provider, whatever the dependency graph enables.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let command = match Cli::parse().resolve() {
        Ok(c) => c,
        Err(e) => {
            say!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Run(args) => run(&args),
        Command::S3import(args) => s3import(&args),
        Command::Parse(args) => parse(&args),
        Command::Test(TestCommand::Config(c)) => match load_settings(&c, Mode::All) {
            Ok(settings) => {
                for w in &settings.warnings {
                    say!("warning: {w}");
                }
                out!("Config OK");
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Test(TestCommand::Output(a)) => test_output(&a),
        Command::Test(TestCommand::Input(a)) => test_input(&a),
        Command::Export(ExportCommand::Config(c)) => {
            match load::load_file(&c.file(), &c.overrides()) {
                Ok(loaded) if loaded.errors.is_empty() => {
                    let tree = redact::redact(&loaded.tree, &loaded.source.from_env);
                    let text = s3logsbeat::config::yaml::to_string(&tree);
                    let _ = io::stdout().write_all(text.as_bytes());
                    ExitCode::SUCCESS
                }
                Ok(loaded) => config_errors(loaded.errors),
                Err(errors) => config_errors(errors),
            }
        }
        Command::Export(ExportCommand::Template(a)) => {
            let settings = match load_settings(&a.config, Mode::All) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let mut body =
                template::template(&template_formats(&settings, &a.format), &settings.template);
            let opensearch = match a.target.as_deref() {
                Some(t) => t == "opensearch",
                None => settings.output.kind() == "opensearch",
            };
            if opensearch {
                body = template::for_opensearch(&body, true);
            }
            out!(
                "{}",
                serde_json::to_string_pretty(&body).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Command::Setup(a) => setup(&a),
        Command::Version => {
            out!(
                "s3logsbeat version {} ({}-{})",
                s3logsbeat::VERSION,
                std::env::consts::ARCH,
                std::env::consts::OS
            );
            ExitCode::SUCCESS
        }
    }
}

/// What the template covers: `--format` (original names), else each input's format and field names.
fn template_formats(settings: &Settings, asked: &[LogFormat]) -> Vec<(LogFormat, FieldNames)> {
    if asked.is_empty() {
        return template::formats_in_use(&settings.inputs);
    }
    let mut formats: Vec<(LogFormat, FieldNames)> =
        asked.iter().map(|f| (*f, FieldNames::Original)).collect();
    formats.sort_by_key(|(f, _)| f.name());
    formats.dedup();
    formats
}

fn parse(args: &ParseArgs) -> ExitCode {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = if args.file == "-" {
        parse_cmd::run(args, &mut stdin.lock(), &mut out)
    } else if args.file.starts_with("s3://") {
        parse_cmd::aws_settings(args)
            .and_then(|aws| parse_cmd::open_s3(&args.file, &aws))
            .and_then(|mut body| parse_cmd::run(args, &mut body, &mut out))
    } else {
        match std::fs::File::open(&args.file) {
            Ok(mut f) => parse_cmd::run(args, &mut f, &mut out),
            Err(e) => Err(format!("{}: {e}", args.file)),
        }
    };
    match result {
        Ok(summary) => {
            say!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            say!("s3logsbeat parse: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Settings from the config flags; problems printed, exit code 2.
fn load_settings(c: &ConfigArgs, mode: Mode) -> Result<Settings, ExitCode> {
    Settings::load(&c.file(), &c.overrides(), mode).map_err(config_errors)
}

/// A small runtime for the one-shot commands that talk to the output.
fn small_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            say!("cannot start the runtime: {e}");
            ExitCode::FAILURE
        })
}

fn test_input(a: &OutputTestArgs) -> ExitCode {
    use s3logsbeat::inputs::check::{self, Level};
    let settings = match load_settings(&a.config, Mode::All) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if !a.log.debug.is_empty() {
        let _ = s3logsbeat::ops::logging::init(&settings.logging, &a.log.debug, true);
    }
    let runtime = match small_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let mut ok = true;
        for input in &settings.inputs {
            let mut aws = input.aws.clone();
            let (kind, first_queue) = match &input.source {
                s3logsbeat::config::InputSource::Sqs(q) => {
                    ("sqs", q.queues.first().map(String::as_str))
                }
                s3logsbeat::config::InputSource::S3(_) => ("s3", None),
                s3logsbeat::config::InputSource::S3Poll(_) => ("s3, polled", None),
                s3logsbeat::config::InputSource::CloudwatchLogs(c) => {
                    if aws.region.is_none() {
                        aws.region = c
                            .region
                            .clone()
                            .or_else(|| c.names.iter().find_map(|(r, _)| r.clone()));
                    }
                    ("cloudwatch_logs", None)
                }
            };
            out!("s3logsbeat.inputs.{} (type: {kind}):", input.index);
            let clients = match s3logsbeat::aws::clients(&aws, first_queue).await {
                Ok(c) => c,
                Err(e) => {
                    ok = false;
                    out!("  AWS... ERROR: {e}");
                    continue;
                }
            };
            for f in check::input(input, &clients).await {
                let level = match f.level {
                    Level::Ok => "OK",
                    Level::Warning => "WARNING",
                    Level::Error => {
                        ok = false;
                        "ERROR"
                    }
                };
                out!("  {}... {level}: {}", f.target, f.message);
            }
        }
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
}

fn test_output(a: &OutputTestArgs) -> ExitCode {
    let settings = match load_settings(&a.config, Mode::All) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if !a.log.debug.is_empty() {
        let _ = s3logsbeat::ops::logging::init(&settings.logging, &a.log.debug, true);
    }
    let runtime = match small_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let metrics = std::sync::Arc::new(s3logsbeat::ops::metrics::Metrics::default());
        let mut output = match Output::new(&settings.output, metrics) {
            Ok(o) => o,
            Err(e) => {
                say!("{e}");
                return ExitCode::FAILURE;
            }
        };
        // Named, not installed: `test output` says whether it is there.
        if let (Output::Elasticsearch(es), true) = (&mut output, settings.template.enabled) {
            es.install_template_first(&settings.template.name, serde_json::Value::Null, false);
        }
        let mut ok = true;
        out!("{}:", settings.output.kind());
        for (target, r) in output.check().await {
            match r {
                Ok(what) => out!("  {target}... OK: {what}"),
                Err(why) => {
                    ok = false;
                    out!("  {target}... ERROR: {why}");
                }
            }
        }
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
}

fn setup(a: &SetupArgs) -> ExitCode {
    let settings = match load_settings(&a.config, Mode::All) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // `--index-template` or nothing: the template is the one asset there is to set up.
    let _ = a.index_template;
    if !a.log.debug.is_empty() {
        let _ = s3logsbeat::ops::logging::init(&settings.logging, &a.log.debug, true);
    }
    let OutputSettings::Elasticsearch(es) = &settings.output else {
        say!(
            "setup: the index template goes to Elasticsearch, and output.{} is configured",
            settings.output.kind()
        );
        return ExitCode::FAILURE;
    };
    let runtime = match small_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let metrics = std::sync::Arc::new(s3logsbeat::ops::metrics::Metrics::default());
        let es = match Elasticsearch::new(es, metrics) {
            Ok(e) => e,
            Err(e) => {
                say!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let t = &settings.template;
        let body = template::template(&template_formats(&settings, &[]), t);
        match setup::install_template(es.transport(), &t.name, &body, t.overwrite).await {
            Ok(what) => out!("{what}"),
            Err(why) => {
                say!("setup: index template {} not installed: {why}", t.name);
                return ExitCode::FAILURE;
            }
        }
        if let Some(ism) = &t.ism {
            let body = template::ism_policy(ism, &t.pattern);
            match setup::install_ism(es.transport(), &ism.name, &body, ism.overwrite).await {
                Ok(what) => out!("{what}"),
                Err(why) => {
                    say!("setup: ISM policy {} not installed: {why}", ism.name);
                    return ExitCode::FAILURE;
                }
            }
        }
        ExitCode::SUCCESS
    })
}

/// Prints every config problem; exit code 2.
fn config_errors(errors: Vec<ConfigError>) -> ExitCode {
    for e in errors {
        say!("{e}");
    }
    ExitCode::from(2)
}

/// Settings for `mode`, logging and the runtime; a config error is printed and becomes exit code 2.
fn prepare(
    c: &ConfigArgs,
    log: &LogArgs,
    mode: Mode,
) -> Result<(Settings, tokio::runtime::Runtime), ExitCode> {
    let settings = load_settings(c, mode)?;
    if let Err(e) = s3logsbeat::ops::logging::init(&settings.logging, &log.debug, log.log_to_stderr)
    {
        say!("cannot open the log files: {e}");
        return Err(ExitCode::FAILURE);
    }
    for w in &settings.warnings {
        tracing::warn!("{w}");
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = settings.max_procs {
        builder.worker_threads(n);
    }
    let runtime = builder.enable_all().build().map_err(|e| {
        say!("cannot start the runtime: {e}");
        ExitCode::FAILURE
    })?;
    Ok((settings, runtime))
}

fn run(args: &RunArgs) -> ExitCode {
    let (settings, runtime) = match prepare(&args.config, &args.log, Mode::Sqs) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let once = args.once;
    runtime.block_on(async move {
        let shutdown = Shutdown::new();
        let timeout = settings.shutdown_timeout;
        let signals = spawn_signal_handler(shutdown.clone(), timeout);
        tracing::info!(version = s3logsbeat::VERSION, once, "s3logsbeat is running");
        let result = pipeline::run(settings, once, shutdown).await;
        signals.abort();
        match result {
            Err(e) => {
                say!("{e}");
                start_error_code(&e)
            }
            Ok(summary) => {
                let text = summary.metrics.summary();
                tracing::info!("s3logsbeat stopped: {text}");
                if let Some(why) = &summary.failure {
                    say!("s3logsbeat stopped on a failure: {why}: {text}");
                    return ExitCode::FAILURE;
                }
                if once && !summary.complete() {
                    say!("s3logsbeat --once: not everything was delivered: {text}");
                    return ExitCode::FAILURE;
                }
                if once {
                    say!("s3logsbeat --once: done: {text}");
                }
                ExitCode::SUCCESS
            }
        }
    })
}

/// Stops on SIGINT/SIGTERM and aborts after `timeout` (or at a second signal). Returns the task.
fn spawn_signal_handler(
    trigger: Shutdown,
    timeout: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        wait_for_signal().await;
        if timeout.is_zero() {
            // Abort alone (it is also a stop): a stop first would let the pipeline see "stopping, not
            // aborted" in between and promise a delivery it will not wait for (a flaky logging test).
            trigger.abort();
            tracing::info!("signal received: stopping; shutdown_timeout is 0, so what was read is not waited for: its messages go back to the queue");
            return;
        }
        trigger.stop();
        tracing::info!(
            "signal received: stopping; waiting up to {} (shutdown_timeout) for what was read to be delivered",
            s3logsbeat::config::values::format_duration(timeout)
        );
        tokio::select! {
            _ = tokio::time::sleep(timeout) => tracing::info!("shutdown_timeout reached: giving up on undelivered events"),
            _ = wait_for_signal() => tracing::info!("second signal: giving up on undelivered events"),
        }
        trigger.abort();
    })
}

/// Exit code of a run that could not start: 2 for an output setup problem (like a config error), 1 for
/// missing AWS region or credentials or a monitoring port that cannot be listened on.
fn start_error_code(e: &pipeline::StartError) -> ExitCode {
    match e {
        pipeline::StartError::Output(_) => ExitCode::from(2),
        pipeline::StartError::Aws { .. } | pipeline::StartError::Http(_) => ExitCode::FAILURE,
    }
}

fn s3import(args: &ImportArgs) -> ExitCode {
    let mode = match (&args.to_queue, args.dry_run) {
        (Some(_), true) => {
            say!("s3import: --dry-run and --to-queue exclude each other");
            return ExitCode::from(2);
        }
        (Some(q), false) => ImportMode::ToQueue(q.clone()),
        (None, true) => ImportMode::DryRun,
        (None, false) => ImportMode::Read,
    };
    let (settings, runtime) = match prepare(&args.config, &args.log, Mode::S3) {
        Ok(p) => p,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let shutdown = Shutdown::new();
        let signals = spawn_signal_handler(shutdown.clone(), settings.shutdown_timeout);
        let result = import::run(settings, mode.clone(), shutdown).await;
        signals.abort();
        match result {
            Err(e) => {
                say!("{e}");
                start_error_code(&e)
            }
            Ok(summary) => {
                let line = summary.line();
                if std::io::IsTerminal::is_terminal(&io::stderr()) {
                    say!();
                }
                if summary.complete(&mode) {
                    say!("s3import: done: {line}");
                    ExitCode::SUCCESS
                } else {
                    say!("s3import: not everything was imported: {line}");
                    ExitCode::FAILURE
                }
            }
        }
    })
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// One glibc malloc arena for the whole process, set before any thread starts. glibc gives each thread
/// that contends for the heap its own arena (up to 8 per core) and keeps the memory freed into each: with
/// tokio's workers and blocking threads that held about 6 MB more at the peak of `make bench-e2e`'s drain
/// (43.7 MB against 37.4 MB VmHWM), for no measurable CPU (10.5 against 10.7 CPU-s per million events,
/// within the machine's noise). `MALLOC_ARENA_MAX` in the environment still wins.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}
