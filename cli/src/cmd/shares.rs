//! `featgen shares`: CPU share per (step, deployment, feature, endpoint) from a directory of
//! pprof files or from Grafana Pyroscope, to a file, PostgreSQL and DogStatsD. Parses arguments
//! and prints; `featgen-attribution` does the work.

use std::path::PathBuf;

use featgen_attribution::format::{self, Format};
use featgen_attribution::postgres::{self, PgOptions};
use featgen_attribution::statsd::{self, StatsdOptions};

use crate::Status;
use crate::cmd::share_source::{ShareSourceArgs, error, read_shares};
use crate::config::Config;

/// Arguments of `featgen shares`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("input").args(["profiles", "pyroscope"]).required(true)))]
pub struct SharesArgs {
    /// Where the CPU comes from, the registry and the period.
    #[command(flatten)]
    pub source: ShareSourceArgs,
    /// Output format: ndjson, json, csv or parquet [default: from --out's extension, else
    /// ndjson].
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Output file, written atomically [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write the rows into PostgreSQL's `fact_cpu_share` (`postgres://...`), replacing the
    /// (step, deployment) slices written, in one transaction. (`--to` is the period's end.)
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// With --postgres: a PEM file of CA certificates to trust besides Mozilla's.
    #[arg(long, value_name = "PEM", requires = "postgres")]
    pub ca_file: Option<PathBuf>,
    /// Also send DogStatsD gauges `featgen.cpu_share` and `featgen.cpu_seconds` per row to the
    /// Agent (`HOST:PORT`, or `unix:///path/dsd.socket`), stamped with the row's hour.
    #[arg(long, value_name = "ADDRESS")]
    pub statsd: Option<String>,
    /// With --statsd: one series per feature (endpoints summed, no `endpoint` tag), to bound
    /// the number of custom metrics.
    #[arg(long, requires = "statsd")]
    pub statsd_feature_level: bool,
}

/// Runs `featgen shares`.
pub fn run(config: &Config, args: &SharesArgs) -> Status {
    let (read, period) = match read_shares(config, &args.source) {
        Ok(read) => read,
        Err(status) => return status,
    };
    let shares = read.shares;
    let format = args
        .format
        .or_else(|| args.out.as_deref().and_then(Format::from_path))
        .unwrap_or(Format::Ndjson);
    if let Err(err) = format::write_rows(shares.rows.iter(), format, args.out.as_deref()) {
        return error(&err.to_string());
    }
    eprintln!(
        "{} row(s) for {} to {}: {}",
        shares.rows.len(),
        period.from(),
        period.to(),
        read.description
    );
    if let Some(conninfo) = &args.postgres {
        let options = PgOptions {
            ca_file: args.ca_file.clone(),
        };
        match postgres::write(conninfo, &options, &shares.rows) {
            Ok(report) => eprintln!(
                "fact_cpu_share: {} slice(s) replaced, {} row(s) deleted, {} inserted",
                report.slices, report.deleted, report.inserted
            ),
            Err(err) => return error(&err.to_string()),
        }
    }
    if let Some(address) = &args.statsd {
        let options = StatsdOptions {
            feature_level: args.statsd_feature_level,
            ..StatsdOptions::default()
        };
        match statsd::send(address, &shares.rows, &options) {
            Ok(report) => eprintln!(
                "statsd {address}: {} metric(s) in {} datagram(s)",
                report.metrics, report.datagrams
            ),
            Err(err) => return error(&err.to_string()),
        }
    }
    Status::Ok
}
