//! `featgen shares`: CPU share per (step, deployment, feature, endpoint) from a directory of
//! pprof files or from Grafana Pyroscope, to a file, PostgreSQL and DogStatsD. Parses arguments
//! and prints; `featgen-attribution` does the work.

use std::path::PathBuf;

use featgen_attribution::LabeledCpu;
use featgen_attribution::format::{self, Format};
use featgen_attribution::period::{Period, Step};
use featgen_attribution::postgres::{self, PgOptions};
use featgen_attribution::pprof::LabelNames;
use featgen_attribution::profiles::{ReadOptions, read_dir};
use featgen_attribution::pyroscope::{PyroscopeClient, PyroscopeOptions, PyroscopeQuery};
use featgen_attribution::resolve::Resolver;
use featgen_attribution::shares::shares;
use featgen_attribution::statsd::{self, StatsdOptions};
use featgen_attribution::time::UtcTime;

use crate::Status;
use crate::config::Config;

/// Arguments of `featgen shares`.
#[derive(clap::Args, Debug)]
pub struct SharesArgs {
    /// Directory of pprof files (gzip or plain), read recursively.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "pyroscope",
        conflicts_with = "pyroscope"
    )]
    pub profiles: Option<PathBuf>,
    /// Grafana Pyroscope to query instead (`SelectSeries`); credentials from
    /// FEATGEN_PYROSCOPE_USER/_PASSWORD/_TENANT/_HEADERS/_CA_FILE, never from flags.
    #[arg(long, value_name = "URL")]
    pub pyroscope: Option<String>,
    /// With --pyroscope: only this `service_name`.
    #[arg(long, value_name = "NAME", requires = "pyroscope")]
    pub service: Option<String>,
    /// With --pyroscope: a label selector to add, `{namespace="prod"}`.
    #[arg(long, value_name = "SELECTOR", requires = "pyroscope")]
    pub selector: Option<String>,
    /// Registry file or directory, for feature ids, groups, teams and tiers [config: registry;
    /// default: registry].
    #[arg(long, value_name = "PATH")]
    pub registry: Option<PathBuf>,
    /// The sample label naming the deployment; samples without it use `service_name`.
    #[arg(long, value_name = "NAME", default_value = "deployment")]
    pub deployment_label: String,
    /// Start of the first step (RFC 3339 or `2026-04-01 01:00:00 UTC`) [default: the last
    /// complete step].
    #[arg(long, value_name = "TIME")]
    pub from: Option<UtcTime>,
    /// End of the last step, exclusive [default: one step after --from, or now's step].
    #[arg(long, value_name = "TIME")]
    pub to: Option<UtcTime>,
    /// Step length: `1h` or `1d`.
    #[arg(long, value_name = "STEP", default_value = "1h")]
    pub step: Step,
    /// Output format: ndjson, json, csv or parquet [default: from --out's extension, else
    /// ndjson].
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Output file, written atomically [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Count and skip damaged files (corrupt, truncated, oversized) instead of failing.
    #[arg(long)]
    pub skip_damaged: bool,
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
    let seconds = args.step.seconds();
    let period = match (args.from, args.to) {
        (None, None) => Ok(Period::last_complete(now(), args.step)),
        (Some(from), None) => Period::new(from, UtcTime(from.unix() + seconds), args.step),
        (None, Some(to)) => Period::new(UtcTime(to.unix() - seconds), to, args.step),
        (Some(from), Some(to)) => Period::new(from, to, args.step),
    };
    let period = match period {
        Ok(period) => period,
        Err(message) => return error(&message),
    };
    let resolver = match resolver(config, args) {
        Ok(resolver) => resolver,
        Err(status) => return status,
    };
    let (cpu, source) = match (&args.profiles, &args.pyroscope) {
        (Some(dir), _) => {
            let options = ReadOptions {
                labels: LabelNames {
                    deployment: args.deployment_label.clone(),
                },
                period,
                skip_damaged: args.skip_damaged,
                threads: 0,
            };
            let read = match read_dir(dir, &options) {
                Ok(read) => read,
                Err(err) => return error(&err.to_string()),
            };
            for warning in read.summary.warnings() {
                eprintln!("warning: {warning}");
            }
            let summary = &read.summary;
            let source = format!(
                "{} CPU profile(s) read of {} file(s) under {}, {} outside the period",
                summary.profiles,
                summary.files,
                dir.display(),
                summary.outside_period
            );
            (read.cpu, source)
        }
        (None, Some(url)) => match query_pyroscope(url, args, &period) {
            Ok(cpu) => (cpu, format!("queried {url}")),
            Err(status) => return status,
        },
        (None, None) => return error("give --profiles DIR or --pyroscope URL"),
    };
    let shares = shares(cpu, args.step, &resolver);
    let format = args
        .format
        .or_else(|| args.out.as_deref().and_then(Format::from_path))
        .unwrap_or(Format::Ndjson);
    if let Err(err) = format::write_rows(shares.rows.iter(), format, args.out.as_deref()) {
        return error(&err.to_string());
    }
    for warning in shares.warnings() {
        eprintln!("warning: {warning}");
    }
    eprintln!(
        "{} row(s) for {} to {}: {source}",
        shares.rows.len(),
        period.from(),
        period.to(),
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

/// The registry's resolver. A registry named by the flag or the config must load; the default
/// `registry` may be absent (every feature is then unknown, which the warnings say).
fn resolver(config: &Config, args: &SharesArgs) -> Result<Resolver, Status> {
    let (path, explicit) = match (&args.registry, &config.registry) {
        (Some(path), _) => (path.clone(), true),
        (None, Some(path)) => (config.resolve(path), true),
        (None, None) => (PathBuf::from("registry"), false),
    };
    if !explicit && !path.exists() {
        eprintln!("warning: no registry at `registry`: every feature gets id -1 (pass --registry)");
        return Ok(Resolver::empty());
    }
    Resolver::load(&path).map_err(|err| {
        eprint!("{}", err.message);
        if err.invalid {
            Status::Findings
        } else {
            Status::Error
        }
    })
}

/// CPU per label set and step from Pyroscope, for the period.
fn query_pyroscope(
    url: &str,
    args: &SharesArgs,
    period: &Period,
) -> Result<Vec<LabeledCpu>, Status> {
    let options = PyroscopeOptions::from_env().map_err(|message| error(&message))?;
    let client = PyroscopeClient::new(url, options).map_err(|message| error(&message))?;
    let query = PyroscopeQuery {
        service: args.service.clone(),
        selector: args.selector.clone(),
        deployment_label: args.deployment_label.clone(),
        from: period.from(),
        to: period.to(),
        step_seconds: args.step.seconds(),
    };
    client.cpu(&query).map_err(|err| error(&err.to_string()))
}

fn error(message: &str) -> Status {
    eprintln!("error: {message}");
    Status::Error
}

fn now() -> UtcTime {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    UtcTime(since_epoch.as_secs() as i64)
}
