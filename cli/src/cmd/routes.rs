//! `featgen routes`: the static inventory of endpoints and tasks with their feature's ownership.

use std::path::PathBuf;

use featgen_lint::{RoutesFormat, Rule};

use crate::Status;
use crate::cmd::lint::scan;
use crate::config::Config;

/// Arguments of `featgen routes`.
#[derive(clap::Args, Debug)]
pub struct RoutesArgs {
    /// Files or directories to scan [default: .].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Registry file or directory [config: registry; default: registry].
    #[arg(long, value_name = "PATH")]
    pub registry: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RoutesOutput::Table)]
    pub format: RoutesOutput,
}

/// Output formats of `featgen routes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RoutesOutput {
    /// Aligned columns.
    Table,
    /// A JSON array.
    Json,
    /// CSV with a header row.
    Csv,
}

/// Runs `featgen routes`: prints the inventory on stdout; files that do not parse are reported
/// on stderr and make the exit status 2.
pub fn run(config: &Config, args: &RoutesArgs) -> Status {
    let report = match scan(config, args.registry.as_ref(), &args.paths) {
        Ok(found) => found,
        Err(status) => return status,
    };
    let format = match args.format {
        RoutesOutput::Table => RoutesFormat::Table,
        RoutesOutput::Json => RoutesFormat::Json,
        RoutesOutput::Csv => RoutesFormat::Csv,
    };
    print!("{}", featgen_lint::render_routes(&report.routes, format));
    let mut status = Status::Ok;
    for finding in report
        .findings
        .iter()
        .filter(|f| f.rule == Rule::ParseError)
    {
        eprintln!("error: {}: {}", finding.location, finding.message);
        status = Status::Error;
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_exit_status() {
        let config = Config::default();
        let mut args = RoutesArgs {
            paths: vec![PathBuf::from("../examples")],
            registry: Some(PathBuf::from("../registry")),
            format: RoutesOutput::Csv,
        };
        assert_eq!(run(&config, &args), Status::Ok);
        args.paths = vec![PathBuf::from("../lint/tests/fixtures/broken")];
        assert_eq!(run(&config, &args), Status::Error);
    }
}
