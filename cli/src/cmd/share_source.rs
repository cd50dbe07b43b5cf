//! The options `featgen shares` and `featgen cost` share: where the CPU comes from (a directory
//! of profiles or Grafana Pyroscope), the registry that resolves feature names, and the period.
//! Both commands flatten [`ShareSourceArgs`] and call [`read_shares`], so `featgen cost
//! --profiles DIR` prices exactly the rows `featgen shares --profiles DIR` writes.

use std::path::PathBuf;

use featgen_attribution::period::{Period, Step};
use featgen_attribution::pprof::LabelNames;
use featgen_attribution::profiles::ReadOptions;
use featgen_attribution::pyroscope::{PyroscopeClient, PyroscopeOptions, PyroscopeQuery};
use featgen_attribution::resolve::Resolver;
use featgen_attribution::shares::{CpuSource, SourceShares, share_rows};
use featgen_attribution::time::UtcTime;

use crate::Status;
use crate::config::Config;

/// Where CPU shares come from, and over which period.
#[derive(clap::Args, Debug)]
pub struct ShareSourceArgs {
    /// Directory of pprof files (gzip or plain), read recursively.
    #[arg(long, value_name = "DIR", conflicts_with = "pyroscope")]
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
    /// Count and skip damaged files (corrupt, truncated, oversized) instead of failing.
    #[arg(long)]
    pub skip_damaged: bool,
}

impl ShareSourceArgs {
    /// Whether a source (`--profiles` or `--pyroscope`) was given.
    pub fn given(&self) -> bool {
        self.profiles.is_some() || self.pyroscope.is_some()
    }
}

/// Share rows of the period, with the period. Warnings go to stderr; on failure the message
/// has been printed and the status is the exit status.
pub fn read_shares(
    config: &Config,
    args: &ShareSourceArgs,
) -> Result<(SourceShares, Period), Status> {
    let seconds = args.step.seconds();
    let period = match (args.from, args.to) {
        (None, None) => Ok(Period::last_complete(now(), args.step)),
        (Some(from), None) => Period::new(from, UtcTime(from.unix() + seconds), args.step),
        (None, Some(to)) => Period::new(UtcTime(to.unix() - seconds), to, args.step),
        (Some(from), Some(to)) => Period::new(from, to, args.step),
    }
    .map_err(|message| error(&message))?;
    let resolver = resolver(config, args)?;
    let source = match (&args.profiles, &args.pyroscope) {
        (Some(dir), _) => CpuSource::Profiles {
            dir: dir.clone(),
            options: ReadOptions {
                labels: LabelNames {
                    deployment: args.deployment_label.clone(),
                },
                period,
                skip_damaged: args.skip_damaged,
                threads: 0,
            },
        },
        (None, Some(url)) => {
            let options = PyroscopeOptions::from_env().map_err(|message| error(&message))?;
            let client = PyroscopeClient::new(url, options).map_err(|message| error(&message))?;
            let query = PyroscopeQuery {
                service: args.service.clone(),
                selector: args.selector.clone(),
                deployment_label: args.deployment_label.clone(),
                from: period.from(),
                to: period.to(),
                step_seconds: seconds,
            };
            CpuSource::Pyroscope {
                client: Box::new(client),
                query,
            }
        }
        (None, None) => return Err(error("give --profiles DIR or --pyroscope URL")),
    };
    let read = share_rows(&source, args.step, &resolver).map_err(|message| error(&message))?;
    for warning in &read.warnings {
        eprintln!("warning: {warning}");
    }
    Ok((read, period))
}

/// The registry's resolver. A registry named by the flag or the config must load; the default
/// `registry` may be absent (every feature is then unknown, which the warnings say).
fn resolver(config: &Config, args: &ShareSourceArgs) -> Result<Resolver, Status> {
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

/// Prints `error: MESSAGE` and gives the status of a failed run.
pub fn error(message: &str) -> Status {
    eprintln!("error: {message}");
    Status::Error
}

fn now() -> UtcTime {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    UtcTime(since_epoch.as_secs() as i64)
}
