//! Registries at the 8 MiB file limit that are all diagnostics, timed phase by phase: load
//! (read, parse, decode, validate), human rendering and JSON rendering. Issue 15 asks for the
//! limit to validate in under a second in both formats.
//!
//! Run with `cargo bench -p featgen-registry --bench limits [CASE]` (CASE: a part of a case's
//! name, to run only that one). Each phase is run five times and the fastest is shown (wall
//! time, one process, on whatever else the machine is doing). The allocator is the `featgen`
//! binary's (mimalloc), since most of the work is small allocations.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use featgen_registry::load::MAX_FILE_BYTES;
use featgen_registry::{Diagnostics, Registry, SourceCache};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs of each phase; the fastest counts.
const RUNS: usize = 5;

/// Appends `item(i)` for i = 0, 1, ... while the text stays within the file limit.
fn fill(mut text: String, item: impl Fn(usize) -> String) -> String {
    for i in 0.. {
        let next = item(i);
        if (text.len() + next.len()) as u64 > MAX_FILE_BYTES {
            break;
        }
        text.push_str(&next);
    }
    text
}

/// 2,000 declared teams and as many features as fit, each naming an unknown team: one
/// `unknown-team` diagnostic with a "did you mean" lookup per feature.
fn unknown_teams() -> String {
    let mut head = String::from("teams:\n");
    for i in 0..2_000 {
        let _ = writeln!(head, "  - team-{i}");
    }
    head.push_str("features:\n");
    fill(head, |i| {
        format!("  - feature: f-{i}\n    team: unknown-{i}\n    tier: S\n    feature_group: chat\n")
    })
}

/// `- feature: f-N` lines only: one `missing-field` diagnostic per 16 bytes or so.
fn incomplete_features() -> String {
    fill(String::new(), |i| format!("- feature: f-{i}\n"))
}

fn fastest<T>(mut run: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let value = run();
        best = best.min(start.elapsed());
        last = Some(value);
    }
    (best, last.expect("at least one run"))
}

fn measure(name: &str, path: &Path) {
    let (load, result) = fastest(|| Registry::load(path));
    let diagnostics: Diagnostics = result.expect_err("every registry here is invalid");
    let (human, human_text) = fastest(|| diagnostics.render_human(&mut SourceCache::new()).len());
    let (json, json_text) = fastest(|| {
        let mut out = Vec::new();
        diagnostics.write_json(&mut out).expect("writing to memory");
        out.len()
    });
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<22} {:>8} diagnostics  load {:>7.1} ms  human {:>7.1} ms ({:>5.1} MB)  json {:>7.1} ms ({:>5.1} MB)  total human {:>7.1} ms, json {:>7.1} ms",
        diagnostics.0.len(),
        ms(load),
        ms(human),
        human_text as f64 / 1e6,
        ms(json),
        json_text as f64 / 1e6,
        ms(load + human),
        ms(load + json),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument selects cases.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let cases = [
        ("unknown teams", unknown_teams as fn() -> String),
        ("incomplete features", incomplete_features),
    ];
    for (name, text) in cases {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let text = text();
        let path = dir.path().join(format!("{}.yaml", name.replace(' ', "-")));
        std::fs::write(&path, text).expect("write the registry");
        measure(name, &path);
    }
}
