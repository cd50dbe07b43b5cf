//! Registries of the shapes issue 15 names as pathological, most at the 8 MiB file limit, timed
//! phase by phase: load (read, parse, decode, validate), human rendering and JSON rendering.
//! Issue 15 asks for the limit to validate in under a second in both formats.
//!
//! ```sh
//! cargo bench -p featgen-registry --bench limits                 # every case
//! cargo bench -p featgen-registry --bench limits -- teams        # cases whose name has `teams`
//! cargo bench -p featgen-registry --bench limits -- --write DIR  # only write the registries
//! ```
//!
//! Each phase is run five times; the fastest wall time and the least CPU time (user + system,
//! all threads, from `/proc/self/stat`: the machine is shared, and CPU time is what another
//! process does not inflate) are shown. `--write DIR` writes each case as `DIR/<case>.yaml`,
//! to time the release `featgen validate --registry DIR/<case>.yaml` with `/usr/bin/time -v`.
//! The allocator is the `featgen` binary's (mimalloc), since most of the work is small
//! allocations.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use featgen_registry::load::MAX_FILE_BYTES;
use featgen_registry::{Registry, SourceCache};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs of each phase; the fastest counts.
const RUNS: usize = 5;

/// Appends `item(i)` for i = 0, 1, ... up to `count` items while the text stays within the file
/// limit.
fn fill(mut text: String, count: usize, item: impl Fn(usize) -> String) -> String {
    for i in 0..count {
        let next = item(i);
        if (text.len() + next.len()) as u64 > MAX_FILE_BYTES {
            break;
        }
        text.push_str(&next);
    }
    text
}

/// `teams` declared teams and up to `features` features (as many as fit when `usize::MAX`),
/// each naming an unknown team: one `unknown-team` diagnostic with a "did you mean" lookup per
/// feature.
fn unknown_teams(teams: usize, features: usize) -> String {
    let mut head = String::from("teams:\n");
    for i in 0..teams {
        let _ = writeln!(head, "  - team-{i}");
    }
    head.push_str("features:\n");
    fill(head, features, |i| {
        format!("  - feature: f-{i}\n    team: unknown-{i}\n    tier: S\n    feature_group: chat\n")
    })
}

/// Up to `lines` lines of `- feature: f-N`: one `missing-field` diagnostic per 16 bytes or so.
fn incomplete_features(lines: usize) -> String {
    fill(String::new(), lines, |i| format!("- feature: f-{i}\n"))
}

/// A valid registry of complete features up to the limit: 1.2 million YAML nodes.
fn complete_features() -> String {
    fill(String::new(), usize::MAX, |i| {
        format!("- feature: f-{i}\n  team: t\n  tier: S\n  feature_group: g\n")
    })
}

/// Process CPU time so far (user + system, every thread), from `/proc/self/stat` in clock
/// ticks of 10 ms; zero where there is no such file.
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which is in parentheses and may hold spaces): the state
    // is the first, utime the 12th and stime the 13th.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|field| field.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Fastest wall time and least CPU time of [`RUNS`] runs, and the last run's value.
struct Timed<T> {
    wall: Duration,
    cpu: Duration,
    value: T,
}

fn timed<T>(mut run: impl FnMut() -> T) -> Timed<T> {
    let (mut wall, mut cpu) = (Duration::MAX, Duration::MAX);
    let mut last = None;
    for _ in 0..RUNS {
        let (start, start_cpu) = (Instant::now(), cpu_time());
        let value = run();
        wall = wall.min(start.elapsed());
        cpu = cpu.min(cpu_time().saturating_sub(start_cpu));
        last = Some(value);
    }
    Timed {
        wall,
        cpu,
        value: last.expect("at least one run"),
    }
}

fn measure(name: &str, path: &Path, bytes: usize) {
    let load = timed(|| Registry::load(path));
    let diagnostics = match &load.value {
        Ok(registry) => {
            println!(
                "{name:<28} {:>5.2} MiB  valid, {} features  load {:>6.0} ms (CPU {:>5.0} ms)",
                bytes as f64 / (1 << 20) as f64,
                registry.features.len(),
                ms(load.wall),
                ms(load.cpu),
            );
            return;
        }
        Err(diagnostics) => diagnostics,
    };
    // Both written as `featgen validate` writes them, through a 64 KiB buffer.
    let human = timed(|| write_out(|out| diagnostics.write_human(&mut SourceCache::new(), out)));
    let json = timed(|| write_out(|out| diagnostics.write_json(out)));
    println!(
        "{name:<28} {:>5.2} MiB  {:>7} diagnostics  load {:>6.0} ms (CPU {:>5.0})  human {:>6.0} ms (CPU {:>5.0}, {:>5.1} MB)  json {:>6.0} ms (CPU {:>5.0}, {:>5.1} MB)  total CPU: human {:>5.0} ms, json {:>5.0} ms",
        bytes as f64 / (1 << 20) as f64,
        diagnostics.0.len(),
        ms(load.wall),
        ms(load.cpu),
        ms(human.wall),
        ms(human.cpu),
        human.value as f64 / 1e6,
        ms(json.wall),
        ms(json.cpu),
        json.value as f64 / 1e6,
        ms(load.cpu + human.cpu),
        ms(load.cpu + json.cpu),
    );
}

/// Runs `write` on a buffered sink (not /dev/null, which a bench must never create when it is
/// missing); returns the bytes written.
fn write_out(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> usize {
    let mut out = BufWriter::with_capacity(1 << 16, Counted(std::io::sink(), 0));
    write(&mut out).and_then(|()| out.flush()).expect("write");
    out.get_ref().1
}

/// A writer that counts the bytes it passes on.
struct Counted<W>(W, usize);

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.0.write(bytes)?;
        self.1 += written;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    // `cargo bench` passes `--bench`; `--write DIR` only writes the registries; any other
    // argument selects cases.
    let mut args = std::env::args().skip(1);
    let mut only = Vec::new();
    let mut write_to = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--write" => write_to = Some(args.next().expect("--write DIR")),
            a if a.starts_with("--") => {}
            _ => only.push(arg),
        }
    }
    type Case = (&'static str, fn() -> String);
    let cases: [Case; 6] = [
        ("unknown-teams-2000-8mib", || {
            unknown_teams(2_000, usize::MAX)
        }),
        ("unknown-teams-5000", || unknown_teams(5_000, 5_000)),
        ("unknown-teams-60000", || unknown_teams(60_000, 60_000)),
        ("incomplete-features-100000", || {
            incomplete_features(100_000)
        }),
        ("incomplete-features-8mib", || {
            incomplete_features(usize::MAX)
        }),
        ("complete-features-8mib", complete_features),
    ];
    let dir = tempfile::tempdir().expect("temporary directory");
    let dir = write_to.as_deref().map_or(dir.path(), Path::new);
    if write_to.is_none() {
        println!("load average {}", load_average());
    }
    for (name, text) in cases {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let text = text();
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, &text).expect("write the registry");
        if write_to.is_some() {
            println!("{}", path.display());
        } else {
            measure(name, &path, text.len());
        }
    }
    if write_to.is_none() {
        println!("load average {}", load_average());
    }
}
