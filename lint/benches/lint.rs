//! Benchmark of the issue: a generated tree of 1,000,000 lines of Rust in 5,000 files with 2,000
//! handlers, linted by `featgen_lint::lint` and searched by `rg '#\[route\('` in the same run.
//!
//! Run with `lint/bench.sh` (installs ripgrep when missing, then `cargo bench`). The tree is
//! generated in a temporary directory at every run and removed afterwards. Figures are the
//! best of several runs with a warm page cache, as a CI runner would see on re-runs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use featgen_lint::{KnownFeature, KnownFeatures, LintConfig, Rule, lint};

const FILES: usize = 5_000;
const LINES: usize = 1_000_000;
const HANDLERS: usize = 2_000;
/// Files per directory (modules `m0` .. `m49`).
const PER_DIR: usize = 100;
/// Every this many handlers lacks `#[route]`, so the lint has something to report.
const UNASSIGNED_EVERY: usize = 100;
const RUNS: usize = 5;
/// One ordinary (handler-less) file in this many spawns a task.
const SPAWNING_EVERY: usize = 5;

const FEATURES: [&str; 8] = [
    "messaging",
    "message-edit",
    "typing-indicator",
    "text-in-voice",
    "reactions",
    "threads",
    "attachments",
    "presence",
];

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // FEATGEN_BENCH_TREE=DIR keeps the generated tree there, to profile or compare tools on it.
    let root = std::env::var_os("FEATGEN_BENCH_TREE")
        .map_or_else(|| dir.path().join("svc"), PathBuf::from);
    let (files, lines, handlers) = generate(&root);
    println!(
        "tree: {files} files, {lines} lines, {handlers} handlers in {}",
        root.display()
    );

    let features = known_features();
    let config = LintConfig::default();
    let roots = [root.clone()];
    let mut findings = 0;
    let (lint_time, lint_cpu) = best_of(|| {
        let report = lint(&roots, &features, &root, &config).expect("lint");
        assert_eq!(report.files, FILES, "every file linted");
        findings = report
            .findings
            .iter()
            .filter(|f| f.rule == Rule::UnassignedEndpoint)
            .count();
    });
    assert_eq!(
        findings,
        HANDLERS / UNASSIGNED_EVERY,
        "unassigned handlers found"
    );

    let mut matches = 0;
    let (rg_time, rg_cpu) = best_of(|| {
        let output = Command::new("rg")
            .args(["--count-matches", "--no-filename", r"#\[route\("])
            .arg(&root)
            .output()
            .expect("ripgrep (`rg`) must be installed: run lint/bench.sh");
        matches = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| l.trim().parse::<usize>().ok())
            .sum();
    });
    assert_eq!(matches, HANDLERS - HANDLERS / UNASSIGNED_EVERY);

    println!(
        "featgen lint: {:.3} s wall, {:.2} s CPU ({findings} unassigned endpoints found)",
        lint_time.as_secs_f64(),
        lint_cpu
    );
    println!(
        "rg '#\\[route\\(': {:.3} s wall, {:.2} s CPU ({matches} matches)",
        rg_time.as_secs_f64(),
        rg_cpu
    );
    println!(
        "ratio: {:.1}x rg (best of {RUNS} runs each, {} threads)",
        lint_time.as_secs_f64() / rg_time.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}

/// The fastest of `RUNS` runs: wall time, and CPU seconds (this process and its children) of
/// that run. The CPU figure shows how much the wall time owes to other load on the machine.
fn best_of(mut run: impl FnMut()) -> (Duration, f64) {
    (0..RUNS)
        .map(|_| {
            let cpu = cpu_seconds();
            let start = Instant::now();
            run();
            (start.elapsed(), cpu_seconds() - cpu)
        })
        .min_by_key(|(wall, _)| *wall)
        .unwrap_or_default()
}

/// User + system CPU time of this process and its waited-for children, from /proc (Linux),
/// at the kernel's 100 Hz tick resolution; 0 elsewhere.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name: utime, stime, cutime, cstime are 14..=17.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11..15).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}

fn known_features() -> KnownFeatures {
    KnownFeatures::new(
        FEATURES
            .iter()
            .map(|name| KnownFeature {
                name: (*name).to_owned(),
                rust_variant: featgen_registry::ident::rust_variant(name),
                python_member: featgen_registry::ident::python_member(name),
                team: "msgs-team".to_owned(),
                tier: "S".to_owned(),
                group: "chat".to_owned(),
                deprecated: None,
                defined_at: None,
            })
            .collect(),
    )
}

/// Writes the tree; returns (files, lines, handlers).
fn generate(root: &Path) -> (usize, usize, usize) {
    let src = root.join("src");
    let dirs = FILES.div_ceil(PER_DIR);
    // lib.rs and one mod.rs per directory are files too.
    let leaves = FILES - 1 - dirs;
    let lines_per_file = LINES / FILES;
    let handler_files = HANDLERS / 2;
    let mut totals = (0, 0, 0);
    let mut write = |path: PathBuf, text: String, handlers: usize| {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        totals.0 += 1;
        totals.1 += text.lines().count();
        totals.2 += handlers;
        std::fs::write(path, text).expect("write");
        totals
    };
    let mut lib = String::from("//! Generated service.\n");
    for d in 0..dirs {
        let _ = writeln!(lib, "pub mod m{d};");
    }
    let mut written = write(src.join("lib.rs"), pad(lib, lines_per_file), 0);
    let mut leaf = 0;
    let mut next_handler = 0;
    for d in 0..dirs {
        let count = (leaves - leaf).min(PER_DIR);
        let mut module = String::from("//! Generated module.\n");
        for f in leaf..leaf + count {
            let _ = writeln!(module, "pub mod f{f};");
        }
        written = write(
            src.join(format!("m{d}/mod.rs")),
            pad(module, lines_per_file),
            0,
        );
        for f in leaf..leaf + count {
            // Handler files are spread evenly; the last leaf absorbs rounding of the line count.
            let handlers = if f * handler_files / leaves != (f + 1) * handler_files / leaves {
                2
            } else {
                0
            };
            let text = leaf_file(f, next_handler, handlers);
            next_handler += handlers;
            let text = if f + 1 == leaves {
                let remaining = LINES - written.1;
                pad(text, remaining)
            } else {
                pad(text, lines_per_file)
            };
            written = write(src.join(format!("m{d}/f{f}.rs")), text, handlers);
        }
        leaf += count;
    }
    written
}

/// A leaf module: `handlers` handlers (numbered from `first`) with their router, then ordinary
/// code. One ordinary file in `SPAWNING_EVERY` also starts a background job, so that the lint
/// cannot skip it.
fn leaf_file(index: usize, first: usize, handlers: usize) -> String {
    let mut text = format!("//! Generated file {index}.\nuse std::collections::HashMap;\n");
    if handlers == 0 && index.is_multiple_of(SPAWNING_EVERY) {
        let _ = writeln!(
            text,
            "\npub fn start_{index}(ids: Vec<u64>) {{\n    tokio::spawn(async move {{\n        \
             for id in ids {{\n            println!(\"{{id}}\");\n        }}\n    }});\n}}"
        );
    }
    if handlers > 0 {
        text.push_str(
            "use axum::Router;\nuse axum::routing::{get, post};\nuse featgen::route;\n\n",
        );
        let _ = writeln!(text, "pub fn router() -> Router {{\n    Router::new()");
        for h in 0..handlers {
            let method = if h % 2 == 0 { "get" } else { "post" };
            let _ = writeln!(
                text,
                "        .route(\"/r{index}/{h}\", {method}(handler_{index}_{h}))"
            );
        }
        text.push_str("}\n\n");
        for h in 0..handlers {
            let id = first + h;
            let method = if h % 2 == 0 { "GET" } else { "POST" };
            if !id.is_multiple_of(UNASSIGNED_EVERY) {
                let feature = featgen_registry::ident::rust_variant(FEATURES[id % FEATURES.len()]);
                let _ = writeln!(
                    text,
                    "#[route({method}, \"/r{index}/{h}\", feature = {feature})]"
                );
            }
            let _ = writeln!(
                text,
                "pub async fn handler_{index}_{h}() -> String {{\n    format!(\"{{}}\", {id})\n}}\n"
            );
        }
    }
    text
}

/// Appends ordinary code (structs, impls, matches, closures, map lookups) up to `lines` lines.
fn pad(mut text: String, lines: usize) -> String {
    let mut n = 0;
    while text.lines().count() + 24 <= lines {
        let _ = write!(
            text,
            r#"
/// A record of kind {n}.
#[derive(Debug, Clone, PartialEq)]
pub struct Record{n} {{
    pub id: u64,
    pub name: String,
    pub tags: Vec<String>,
}}

impl Record{n} {{
    /// Looks the record up and summarises it.
    pub fn summary(&self, index: &HashMap<u64, String>) -> Option<String> {{
        let name = index.get(&self.id)?;
        let tags: Vec<&str> = self.tags.iter().map(|t| t.as_str()).filter(|t| !t.is_empty()).collect();
        match tags.len() {{
            0 => Some(format!("{{name}} ({{}})", self.id)),
            1 if self.id % 2 == 0 => Some(format!("{{name}}: {{}}", tags[0])),
            _ => {{
                let joined = tags.join(", ");
                if joined.len() > {n} + 40 {{ None }} else {{ Some(joined) }}
            }}
        }}
    }}
}}
"#
        );
        n += 1;
    }
    while text.lines().count() < lines {
        text.push_str("// filler\n");
    }
    text
}
