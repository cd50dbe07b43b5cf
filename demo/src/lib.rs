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

use load::Call;

/// One deployment of the demo fleet.
#[derive(Clone, Copy, Debug)]
pub struct Deployment {
    /// Its `deployment` label.
    pub name: &'static str,
    /// The weighted request mix the load sends it.
    pub mix: &'static [(Call, u32)],
    /// What the demo bill charges for it per hour, in USD.
    pub dollars_per_hour: &'static str,
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
        dollars_per_hour: "12.40",
    },
    Deployment {
        name: "voice-api",
        mix: &[(Call::VoiceText, 6), (Call::Typing, 3), (Call::Me, 1)],
        dollars_per_hour: "7.25",
    },
    Deployment {
        name: "profile-api",
        mix: &[
            (Call::Me, 8),
            (Call::ListMessages, 1),
            (Call::SendMessage, 1),
        ],
        dollars_per_hour: "3.10",
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

/// Runs the whole demo: the fleet, then the pipeline over its profiles.
pub fn run(
    options: &DemoOptions,
    command: impl Fn(&str, &Path) -> Command,
) -> Result<FleetRun, DemoError> {
    let fleet = run_fleet(options, command)?;
    for (deployment, requests) in &fleet.requests {
        eprintln!("  {deployment}: {requests} requests");
    }
    Ok(fleet)
}
