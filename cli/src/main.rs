//! The `featgen` binary. Thin by design: argument parsing and exit codes live here, every
//! behaviour lives in a library crate (`featgen-registry`, `featgen-codegen`, `featgen-lint`).

#![forbid(unsafe_code)]

mod cmd;
mod config;

/// mimalloc rather than glibc's allocator: a large build makes hundreds of thousands of
/// allocations across a dozen short-lived threads, and glibc gives each thread a fresh arena
/// whose every page faults in on first touch (15,000 faults for a 10,000-feature registry).
/// mimalloc backs its segments with transparent huge pages and reuses freed pages across
/// threads; `featgen build` runs a quarter to a third faster (README, "Benchmark: `featgen
/// build`").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status shared by every command (see the README): 0 ok, 1 findings, 2 errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Everything is fine.
    Ok,
    /// The registry is invalid, generated files are stale, or lint found violations.
    Findings,
    /// Usage, configuration or I/O error.
    Error,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        match status {
            Status::Ok => ExitCode::SUCCESS,
            Status::Findings => ExitCode::from(1),
            Status::Error => ExitCode::from(2),
        }
    }
}

/// featgen: what each product feature costs to run.
#[derive(Parser, Debug)]
#[command(name = "featgen", version, about, long_about = None)]
struct Cli {
    /// Path of featgen.toml (default: ./featgen.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate the registry, update featgen.lock and write the generated files.
    Build(cmd::build::BuildArgs),
    /// Fail (exit 1) when featgen.lock or any generated file is stale.
    Check(cmd::build::BuildArgs),
    /// Validate the registry and report every problem; writes nothing.
    Validate(cmd::validate::ValidateArgs),
    /// Write a starter registry and featgen.toml.
    Init(cmd::init::InitArgs),
    /// Find endpoints and tasks without a feature.
    Lint(cmd::lint::LintArgs),
    /// List every endpoint and task found in the sources, with its feature.
    Routes(cmd::routes::RoutesArgs),
    /// CPU share per (hour, deployment, feature, endpoint) from a directory of pprof files.
    Shares(cmd::shares::SharesArgs),
    /// Price CPU shares with the cloud bill: cost rows that sum exactly to it.
    Cost(cmd::cost::CostArgs),
    /// Write one self-contained HTML report of what each feature costs, from cost rows.
    Report(cmd::html_report::ReportArgs),
    /// Run the whole flow on this machine: example fleet, profiles, shares, cost, report.
    Demo(cmd::demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout with exit 0; usage errors to stderr.
            let _ = err.print();
            return if err.use_stderr() {
                Status::Error
            } else {
                Status::Ok
            }
            .into();
        }
    };
    let config = match config::Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return Status::Error.into();
        }
    };
    let status = match cli.command {
        Command::Build(args) => cmd::build::run(&config, &args, cmd::build::Mode::Write),
        Command::Check(args) => cmd::build::run(&config, &args, cmd::build::Mode::Check),
        Command::Validate(args) => cmd::validate::run(&config, &args),
        Command::Init(args) => cmd::init::run(&args),
        Command::Lint(args) => cmd::lint::run(&config, &args),
        Command::Routes(args) => cmd::routes::run(&config, &args),
        Command::Shares(args) => cmd::shares::run(&config, &args),
        Command::Cost(args) => cmd::cost::run(&config, &args),
        Command::Report(args) => cmd::html_report::run(&args),
        Command::Demo(args) => cmd::demo::run(&args),
    };
    status.into()
}
