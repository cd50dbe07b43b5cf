//! featgen-demo: `featgen demo`, the whole flow on one machine.
//!
//! The example chat service runs as three deployments (separate processes with their own
//! `deployment` label and request mix, profiler on, directory sink), a bounded load on loopback
//! drives them, and once they have stopped and flushed their profiles the embedded pipeline runs:
//! profiles → CPU shares → cost against a bill in the source article's form → one HTML report.

// One unsafe block, the accuracy workload's thread CPU clock, allowed where it stands.
#![deny(unsafe_code)]

pub mod accuracy;
pub mod fleet;
pub mod load;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use featgen_attribution::UtcTime;
use load::Call;

/// One deployment of the demo fleet.
#[derive(Clone, Copy, Debug)]
pub struct Deployment {
    /// Its `deployment` label.
    pub name: &'static str,
    /// The weighted request mix the load sends it.
    pub mix: &'static [(Call, u32)],
    /// Cores billed per hour (at [`CORE_HOUR_MICROS`]).
    pub cores: u64,
    /// GiB of memory billed per hour (at [`GIB_HOUR_MICROS`]).
    pub memory_gib: u64,
}

/// The demo fleet: three deployments of one codebase with different route mixes, as in the
/// source article (one service binary, many deployments).
pub const FLEET: [Deployment; 3] = [
    Deployment {
        name: "chat-api",
        mix: &[
            (Call::SendMessage, 5),
            (Call::ListMessages, 2),
            (Call::EditMessage, 2),
            (Call::Typing, 1),
        ],
        cores: 48,
        memory_gib: 192,
    },
    Deployment {
        name: "voice-api",
        mix: &[(Call::VoiceText, 6), (Call::Typing, 3), (Call::Me, 1)],
        cores: 24,
        memory_gib: 96,
    },
    Deployment {
        name: "profile-api",
        mix: &[
            (Call::Me, 8),
            (Call::ListMessages, 1),
            (Call::SendMessage, 1),
        ],
        cores: 8,
        memory_gib: 32,
    },
];

/// What `featgen demo` does, and where.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Where profiles, rows and the report go.
    pub dir: PathBuf,
    /// How long the load runs.
    pub load: Duration,
    /// Connections per deployment.
    pub connections: usize,
}

impl Default for DemoOptions {
    fn default() -> DemoOptions {
        DemoOptions {
            dir: PathBuf::from("featgen-demo"),
            load: Duration::from_secs(40),
            connections: 2,
        }
    }
}

/// Why the demo stopped.
#[derive(Debug)]
pub enum DemoError {
    /// Starting, loading or stopping the fleet failed.
    Fleet(String),
    /// Reading or writing the demo's files failed.
    Io(PathBuf, std::io::Error),
}

impl std::fmt::Display for DemoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DemoError::Fleet(what) => write!(f, "demo fleet: {what}"),
            DemoError::Io(path, err) => write!(f, "{}: {err}", path.display()),
        }
    }
}

impl std::error::Error for DemoError {}

/// What the fleet stage produced.
#[derive(Clone, Debug)]
pub struct FleetRun {
    /// Where every deployment wrote its profiles.
    pub profiles: PathBuf,
    /// When the first deployment started.
    pub started: SystemTime,
    /// When the last one stopped.
    pub stopped: SystemTime,
    /// Requests served, per deployment, in [`FLEET`] order.
    pub requests: Vec<(String, u64)>,
}

/// Runs the fleet: starts every deployment with `command(name, profiles_dir)`, drives the load,
/// stops them and waits for their last profiles.
pub fn run_fleet(
    options: &DemoOptions,
    command: impl Fn(&str, &Path) -> Command,
) -> Result<FleetRun, DemoError> {
    let profiles = options.dir.join("profiles");
    if profiles.exists() {
        std::fs::remove_dir_all(&profiles).map_err(|err| DemoError::Io(profiles.clone(), err))?;
    }
    std::fs::create_dir_all(&profiles).map_err(|err| DemoError::Io(profiles.clone(), err))?;
    let started = SystemTime::now();
    let mut running = Vec::with_capacity(FLEET.len());
    for deployment in FLEET {
        running.push(fleet::RunningDeployment::start(
            deployment.name,
            command(deployment.name, &profiles),
        )?);
    }
    let deadline = Instant::now() + options.load;
    let requests = std::thread::scope(|scope| {
        let drivers: Vec<_> = running
            .iter()
            .zip(FLEET)
            .flat_map(|(process, deployment)| {
                (0..options.connections).map(move |_| {
                    scope.spawn(move || {
                        load::drive(process.addr, deployment.mix, deadline, 2_000_000)
                    })
                })
            })
            .collect();
        drivers
            .into_iter()
            .map(|driver| {
                driver
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("load thread panicked")))
            })
            .collect::<Result<Vec<u64>, _>>()
    })
    .map_err(|err| DemoError::Fleet(format!("load: {err}")))?;
    let mut served = Vec::with_capacity(FLEET.len());
    for (process, counts) in running
        .into_iter()
        .zip(requests.chunks(options.connections))
    {
        served.push((process.name.clone(), counts.iter().sum()));
        process.stop(Duration::from_secs(30))?;
    }
    Ok(FleetRun {
        profiles,
        started,
        stopped: SystemTime::now(),
        requests: served,
    })
}

/// The source article's price of a core-hour (an N2 custom core in the Americas), in
/// millionths of a dollar.
pub const CORE_HOUR_MICROS: u64 = 31_611;
/// The source article's price of a GiB-hour of memory, in millionths of a dollar.
pub const GIB_HOUR_MICROS: u64 = 4_237;

/// Writes the fleet's bill for the hours `[first_hour, end)` (Unix seconds, hour-aligned) in the
/// source article's form: a core row and a memory row per deployment-hour.
pub fn write_bill(path: &Path, first_hour: i64, end: i64) -> Result<(), DemoError> {
    let dollars = |micros: u64| format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    let mut csv = String::from(
        "sku,description,resource,usage_start_time,usage_end_time,quantity,cost_per,total_cost,k8s_deployment\n",
    );
    for hour in (first_hour..end).step_by(3_600) {
        let (start, end) = (UtcTime::from_unix(hour), UtcTime::from_unix(hour + 3_600));
        for deployment in FLEET {
            for (sku, description, resource, quantity, price) in [
                (
                    "CP-N2-CUSTOM-CORE",
                    "N2 Custom Instance Core running in Americas",
                    "cpu",
                    deployment.cores,
                    CORE_HOUR_MICROS,
                ),
                (
                    "CP-N2-CUSTOM-RAM",
                    "N2 Custom Instance Ram running in Americas",
                    "memory",
                    deployment.memory_gib,
                    GIB_HOUR_MICROS,
                ),
            ] {
                csv.push_str(&format!(
                    "{sku},{description},{resource},{start},{end},{quantity}.0,{},{},{}\n",
                    dollars(price),
                    dollars(quantity * price),
                    deployment.name
                ));
            }
        }
    }
    std::fs::write(path, csv).map_err(|err| DemoError::Io(path.to_owned(), err))
}

/// Runs `command`, showing it as the user would type it; fails when it does.
fn run_step(mut command: Command) -> Result<(), DemoError> {
    let shown: Vec<String> = std::iter::once("featgen".to_owned())
        .chain(
            command
                .get_args()
                .map(|arg| arg.to_string_lossy().into_owned()),
        )
        .collect();
    eprintln!("$ {}", shown.join(" "));
    let status = command
        .status()
        .map_err(|err| DemoError::Fleet(format!("running {}: {err}", shown.join(" "))))?;
    if status.success() {
        Ok(())
    } else {
        Err(DemoError::Fleet(format!(
            "`{}` failed ({status})",
            shown.join(" ")
        )))
    }
}

/// Where the demo's results are.
#[derive(Clone, Debug)]
pub struct DemoRun {
    /// What the fleet served.
    pub fleet: FleetRun,
    /// The share rows.
    pub shares: PathBuf,
    /// The bill the demo priced.
    pub billing: PathBuf,
    /// The cost rows.
    pub costs: PathBuf,
    /// The HTML report.
    pub report: PathBuf,
}

/// Runs the whole demo: the fleet (each deployment started with `deployment(name,
/// profiles_dir)`), then the pipeline over its profiles with the same binary's commands
/// (`featgen()` must be that binary): shares, the bill, cost, report.
pub fn run(
    options: &DemoOptions,
    deployment: impl Fn(&str, &Path) -> Command,
    featgen: impl Fn() -> Command,
) -> Result<DemoRun, DemoError> {
    let fleet = run_fleet(options, deployment)?;
    for (deployment, requests) in &fleet.requests {
        eprintln!("  {deployment}: {requests} requests served");
    }
    let unix = |time: SystemTime| {
        time.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() as i64)
    };
    let first_hour = UtcTime::from_unix(unix(fleet.started)).floor(3_600);
    let end = UtcTime::from_unix(unix(fleet.stopped) + 3_599).floor(3_600);
    let in_dir = |name: &str| options.dir.join(name);
    let (shares, billing, costs, report) = (
        in_dir("shares.ndjson"),
        in_dir("billing.csv"),
        in_dir("costs.ndjson"),
        in_dir("report.html"),
    );

    let mut command = featgen();
    command.arg("shares").arg("--profiles").arg(&fleet.profiles);
    command
        .arg("--from")
        .arg(first_hour.to_string())
        .arg("--to")
        .arg(end.to_string());
    command.arg("--out").arg(&shares);
    run_step(command)?;

    write_bill(&billing, first_hour.unix(), end.unix())?;
    eprintln!(
        "  wrote the fleet's bill in the source article's form: {}",
        billing.display()
    );
    let mut command = featgen();
    command
        .arg("cost")
        .arg("--shares")
        .arg(&shares)
        .arg("--billing")
        .arg(&billing)
        .arg("--out")
        .arg(&costs);
    run_step(command)?;

    let mut command = featgen();
    command
        .arg("report")
        .arg("--costs")
        .arg(&costs)
        .arg("--shares")
        .arg(&shares)
        .arg("--out")
        .arg(&report);
    run_step(command)?;
    Ok(DemoRun {
        fleet,
        shares,
        billing,
        costs,
        report,
    })
}
