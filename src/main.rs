//! The `s3logsbeat` binary: parses the command line, runs the command, maps errors to exit codes
//! (0 done, 1 failed, 2 usage or configuration error).

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use s3logsbeat::cli::{Cli, Command, ExportCommand, TestCommand};
use s3logsbeat::config::{load, Mode, Settings};
use s3logsbeat::parse_cmd;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => {
            let stdin = io::stdin();
            let stdout = io::stdout();
            let mut out = stdout.lock();
            let result = if args.file == "-" {
                parse_cmd::run(&args, &mut stdin.lock(), &mut out)
            } else {
                match std::fs::File::open(&args.file) {
                    Ok(mut f) => parse_cmd::run(&args, &mut f, &mut out),
                    Err(e) => Err(format!("{}: {e}", args.file)),
                }
            };
            match result {
                Ok(summary) => {
                    eprintln!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("s3logsbeat parse: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Test(TestCommand::Config) => {
            match Settings::load(&cli.config, &cli.overrides, Mode::All) {
                Ok(_) => {
                    println!("Config OK");
                    ExitCode::SUCCESS
                }
                Err(errors) => {
                    for e in errors {
                        eprintln!("{e}");
                    }
                    ExitCode::from(2)
                }
            }
        }
        Command::Export(ExportCommand::Config) => {
            match load::load_file(&cli.config, &cli.overrides) {
                Ok((_, tree)) => {
                    let text = serde_yaml::to_string(&tree).unwrap_or_default();
                    let _ = io::stdout().write_all(text.as_bytes());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Version => {
            println!(
                "s3logsbeat version {} ({}-{})",
                s3logsbeat::VERSION,
                std::env::consts::ARCH,
                std::env::consts::OS
            );
            ExitCode::SUCCESS
        }
    }
}
