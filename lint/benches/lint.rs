//! Benchmark of `featgen lint` on two generated trees of 1,000,000 lines of Rust in 5,000 files,
//! linted by `featgen_lint::lint` and searched by `rg '#\[route\('` in the same run:
//!
//! - `pruned`: 2,000 handlers in 1,000 files, the rest ordinary code that mostly never needs
//!   parsing (30 MB);
//! - `axum`: a monorepo where every file imports axum and has handlers, a router, structs and
//!   impls, 117 bytes a line (117 MB, the size issue 14 measured), so that every file is parsed
//!   and none is skipped.
//!
//! Run with `lint/bench.sh -- [pruned] [axum] [--runs N]` (installs ripgrep when missing, then
//! `cargo bench`; both trees by default). Each tree is generated in a temporary directory at
//! every run and removed afterwards (`FEATGEN_BENCH_TREE=DIR` keeps them in `DIR/<tree>`, and
//! writes what the first lint run found, findings then routes as JSON, to `DIR/<tree>.found.json`
//! so that versions of the lint can be compared).
//! Figures are the best of several runs with a warm page cache, as a CI runner would see on
//! re-runs; the peak resident memory of each lint run is read from `/proc/self/status` after
//! resetting it (Linux).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The allocator of the `featgen` binary (see cli/src/main.rs), so that the figures are the
/// command's: the lint makes millions of small allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use featgen_lint::{
    Format, KnownFeature, KnownFeatures, LintConfig, RoutesFormat, Rule, Summary, lint, render,
    render_routes,
};

const FILES: usize = 5_000;
const LINES: usize = 1_000_000;
const HANDLERS: usize = 2_000;
/// Files per directory (modules `m0` .. `m49`).
const PER_DIR: usize = 100;
/// Every this many handlers lacks `#[route]`, so the lint has something to report.
const UNASSIGNED_EVERY: usize = 100;
/// Lint runs per tree unless `--runs N` says otherwise.
const RUNS: usize = 5;
/// One ordinary (handler-less) file in this many spawns a task.
const SPAWNING_EVERY: usize = 5;
/// Handlers per file of the axum tree.
const AXUM_HANDLERS: usize = 4;

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

/// A generated tree and what linting it must find.
struct Tree {
    name: &'static str,
    generate: fn(&Path) -> Totals,
}

/// What a generator wrote.
#[derive(Clone, Copy, Default)]
struct Totals {
    files: usize,
    lines: usize,
    bytes: usize,
    handlers: usize,
    /// Handlers without `#[route]`.
    unassigned: usize,
}

const TREES: [Tree; 2] = [
    Tree {
        name: "pruned",
        generate: generate_pruned,
    },
    Tree {
        name: "axum",
        generate: generate_axum,
    },
];

fn main() {
    // `cargo bench` passes `--bench`; the rest selects trees and the number of runs.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(RUNS);
    let chosen: Vec<&Tree> = TREES
        .iter()
        .filter(|t| args.iter().any(|a| a == t.name))
        .collect();
    let chosen = if chosen.is_empty() {
        TREES.iter().collect()
    } else {
        chosen
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let kept = std::env::var_os("FEATGEN_BENCH_TREE");
    let keep = kept.is_some();
    let parent = kept.map_or_else(|| dir.path().to_owned(), PathBuf::from);
    for tree in chosen {
        bench(tree, &parent.join(tree.name), runs, keep);
    }
}

/// Generates `tree` in `root` (unless a kept tree is there, complete), then lints it and
/// searches it with ripgrep `runs` times each.
fn bench(tree: &Tree, root: &Path, runs: usize, keep: bool) {
    let done = root.with_extension("totals");
    let kept = std::fs::read_to_string(&done).ok().and_then(|text| {
        let n: Vec<usize> = text
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        match n[..] {
            [files, lines, bytes, handlers, unassigned] => Some(Totals {
                files,
                lines,
                bytes,
                handlers,
                unassigned,
            }),
            _ => None,
        }
    });
    let totals = kept.unwrap_or_else(|| {
        let _ = std::fs::remove_dir_all(root);
        let totals = (tree.generate)(root);
        let Totals {
            files,
            lines,
            bytes,
            handlers,
            unassigned,
        } = totals;
        let _ = std::fs::write(
            &done,
            format!("{files} {lines} {bytes} {handlers} {unassigned}"),
        );
        totals
    });
    println!(
        "{} tree: {} files, {} lines, {:.1} MB, {} handlers ({} without #[route]) in {}",
        tree.name,
        totals.files,
        totals.lines,
        totals.bytes as f64 / 1e6,
        totals.handlers,
        totals.unassigned,
        root.display()
    );

    let features = known_features();
    let config = LintConfig::default();
    let roots = [root.to_owned()];
    let mut findings = 0;
    let mut peaks = Vec::new();
    let (lint_time, lint_cpu) = best_of(runs, || {
        reset_peak_memory();
        let report = lint(&roots, &features, root, &config).expect("lint");
        assert_eq!(report.files, totals.files, "every file linted");
        findings = report
            .findings
            .iter()
            .filter(|f| f.rule == Rule::UnassignedEndpoint)
            .count();
        drop(report);
        peaks.extend(peak_memory_mb());
    });
    assert_eq!(findings, totals.unassigned, "unassigned handlers found");
    if keep {
        // What the lint found, findings then routes (outside the timed runs), to compare
        // versions of the lint.
        let report = lint(&roots, &features, root, &config).expect("lint");
        let summary = Summary {
            files: report.files,
            baselined: 0,
        };
        let found = render(&report.findings, Format::Json, summary)
            + &render_routes(&report.routes, RoutesFormat::Json);
        std::fs::write(root.with_extension("found.json"), found).expect("write the findings");
    }

    let mut matches = 0;
    let (rg_time, rg_cpu) = best_of(runs, || {
        let output = Command::new("rg")
            .args(["--count-matches", "--no-filename", r"#\[route\("])
            .arg(root)
            .output()
            .expect("ripgrep (`rg`) must be installed: run lint/bench.sh");
        matches = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| l.trim().parse::<usize>().ok())
            .sum();
    });
    assert_eq!(matches, totals.handlers - totals.unassigned);

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let peak = match (
        peaks.iter().copied().reduce(f64::min),
        peaks.iter().copied().reduce(f64::max),
    ) {
        (Some(low), Some(high)) => format!("peak memory {low:.0}–{high:.0} MB"),
        _ => "peak memory not measured (no /proc)".to_owned(),
    };
    println!(
        "featgen lint: {:.3} s wall, {:.2} s CPU, {:.0} MB of source per CPU-second, {peak} \
         ({findings} unassigned endpoints found)",
        lint_time.as_secs_f64(),
        lint_cpu,
        totals.bytes as f64 / 1e6 / lint_cpu.max(0.01),
    );
    println!(
        "rg '#\\[route\\(': {:.3} s wall, {:.2} s CPU ({matches} matches)",
        rg_time.as_secs_f64(),
        rg_cpu
    );
    println!(
        "ratio: {:.1}x rg (best of {runs} runs each, {threads} threads)",
        lint_time.as_secs_f64() / rg_time.as_secs_f64(),
    );
}

/// Resets the peak resident set size the kernel tracks for this process (Linux; ignored
/// elsewhere), so that each run's peak is its own.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size since the last reset, in MB (`VmHWM` of `/proc/self/status`).
fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e6)
}

/// The fastest of `runs` runs: wall time, and CPU seconds (this process and its children) of
/// that run. The CPU figure shows how much the wall time owes to other load on the machine.
fn best_of(runs: usize, mut run: impl FnMut()) -> (Duration, f64) {
    (0..runs)
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

/// Writes a tree of `FILES` files and `LINES` lines in Cargo's layout: `src/lib.rs` declaring
/// `m0`..`m49`, each a directory whose `mod.rs` declares its leaves `f<N>.rs`. `lib` and
/// `module` write the root's and a directory's own code after their `mod` lines, `leaf` a leaf
/// (with its handlers and how many lack `#[route]`), `pad` fills each file up to its share of
/// the lines.
fn generate(
    root: &Path,
    lib: impl Fn(usize) -> String,
    module: impl Fn(usize, std::ops::Range<usize>) -> String,
    mut leaf: impl FnMut(usize, usize) -> (String, usize, usize),
    pad: fn(String, usize) -> String,
) -> Totals {
    let src = root.join("src");
    let dirs = FILES.div_ceil(PER_DIR);
    // lib.rs and one mod.rs per directory are files too.
    let leaves = FILES - 1 - dirs;
    let lines_per_file = LINES / FILES;
    let mut totals = Totals::default();
    let mut write = |path: PathBuf, text: String, handlers: usize, unassigned: usize| {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        totals.files += 1;
        totals.lines += text.lines().count();
        totals.bytes += text.len();
        totals.handlers += handlers;
        totals.unassigned += unassigned;
        std::fs::write(path, text).expect("write");
        totals
    };
    let mut text = String::from("//! Generated service.\n");
    for d in 0..dirs {
        let _ = writeln!(text, "pub mod m{d};");
    }
    text.push_str(&lib(dirs));
    let mut written = write(src.join("lib.rs"), pad(text, lines_per_file), 0, 0);
    let mut first = 0;
    for d in 0..dirs {
        let count = (leaves - first).min(PER_DIR);
        let mut text = String::from("//! Generated module.\n");
        for f in first..first + count {
            let _ = writeln!(text, "pub mod f{f};");
        }
        text.push_str(&module(d, first..first + count));
        written = write(
            src.join(format!("m{d}/mod.rs")),
            pad(text, lines_per_file),
            0,
            0,
        );
        for f in first..first + count {
            let (text, handlers, unassigned) = leaf(f, leaves);
            // The last leaf absorbs rounding of the line count.
            let lines = if f + 1 == leaves {
                // (The directories' routers may have run over their share.)
                LINES.saturating_sub(written.lines)
            } else {
                lines_per_file
            };
            written = write(
                src.join(format!("m{d}/f{f}.rs")),
                pad(text, lines),
                handlers,
                unassigned,
            );
        }
        first += count;
    }
    written
}

/// The repository's first tree: `HANDLERS` handlers in a fifth of the files, the rest ordinary
/// code that the lint mostly never parses.
fn generate_pruned(root: &Path) -> Totals {
    let handler_files = HANDLERS / 2;
    let mut next_handler = 0;
    generate(
        root,
        |_| String::new(),
        |_, _| String::new(),
        |f, leaves| {
            // Handler files are spread evenly.
            let handlers = if f * handler_files / leaves != (f + 1) * handler_files / leaves {
                2
            } else {
                0
            };
            let text = leaf_file(f, next_handler, handlers);
            let unassigned = (next_handler..next_handler + handlers)
                .filter(|id| id.is_multiple_of(UNASSIGNED_EVERY))
                .count();
            next_handler += handlers;
            (text, handlers, unassigned)
        },
        pad,
    )
}

/// A monorepo where every file is an axum module: leaves with a store, `AXUM_HANDLERS`
/// handlers (one in `UNASSIGNED_EVERY` without `#[route]`) and their router, nested by each
/// directory's router and those by the root's; everything padded with structs and impls. The
/// last leaf is a plain module with the health check every router registers (without
/// `#[route]`: one more finding), which the lint finds only by resolving the registrations.
fn generate_axum(root: &Path) -> Totals {
    let mut next_handler = 0;
    generate(
        root,
        |dirs| nesting_router("m", 0..dirs),
        // The health check's module has no router.
        |_, leaves| {
            nesting_router(
                "f",
                leaves.filter(|&f| f + 1 != FILES - 1 - FILES.div_ceil(PER_DIR)),
            )
        },
        |f, leaves| {
            let shared = format!("crate::m{}::f{}", (leaves - 1) / PER_DIR, leaves - 1);
            if f + 1 == leaves {
                let text = "//! The health check every shard serves, in one place.\n\n\
                            /// Answers while the process is up.\n\
                            pub async fn health() -> &'static str {\n    \"ok\"\n}\n";
                return (text.to_owned(), 1, 1);
            }
            let text = axum_leaf(f, next_handler, &shared);
            let unassigned = (next_handler..next_handler + AXUM_HANDLERS)
                .filter(|id| id.is_multiple_of(UNASSIGNED_EVERY))
                .count();
            next_handler += AXUM_HANDLERS;
            (text, AXUM_HANDLERS, unassigned)
        },
        pad_axum,
    )
}

/// A router nesting the routers of modules `<prefix><n>` for `n` in `children`.
fn nesting_router(prefix: &str, children: impl Iterator<Item = usize>) -> String {
    let mut text = String::from(
        "\nuse axum::Router;\n\n/// Every route of this module, under its prefix.\n\
         pub fn router() -> Router {\n    Router::new()\n",
    );
    for n in children {
        let _ = writeln!(
            text,
            "        .nest(\"/{prefix}{n}\", {prefix}{n}::router())"
        );
    }
    text.push_str("}\n");
    text
}

/// A leaf module of the axum tree: a store and its items, `AXUM_HANDLERS` handlers numbered
/// from `first` (the unassigned ones without `#[route]`), the router that registers them and
/// the health check of module `shared`.
fn axum_leaf(index: usize, first: usize, shared: &str) -> String {
    let mut text = format!(
        r#"//! Orders of shard {index}: the HTTP handlers, the in-memory store they share, and the router.
use std::collections::HashMap;
use std::sync::{{Arc, RwLock}};

use axum::extract::{{Json, Path, State}};
use axum::http::StatusCode;
use axum::routing::{{get, post}};
use axum::Router;
use featgen::route;
use serde::{{Deserialize, Serialize}};

use {shared} as shared;

/// One order as the API returns it, with the customer it belongs to and the lines it is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {{ pub id: u64, pub customer: String, pub lines: Vec<OrderLine0>, pub note: Option<String> }}

/// Orders by id, shared by every handler of the shard behind a lock (reads far outnumber writes).
#[derive(Debug, Default)]
pub struct Store {{ orders: RwLock<HashMap<u64, Order>>, next_id: RwLock<u64> }}

impl Store {{
    /// The order with `id`, cloned out of the lock so that the handler can serialize it at leisure.
    pub fn get(&self, id: u64) -> Option<Order> {{ self.orders.read().ok()?.get(&id).cloned() }}

    /// Every order of `customer`, sorted by id so that pages are stable between requests.
    pub fn list(&self, customer: &str) -> Vec<Order> {{
        let orders = self.orders.read().map(|o| o.values().filter(|o| o.customer == customer).cloned().collect::<Vec<_>>());
        let mut orders = orders.unwrap_or_default();
        orders.sort_by_key(|o| o.id);
        orders
    }}

    /// Stores `order` under a fresh id and returns the id; ids are never reused, even after a delete.
    pub fn insert(&self, mut order: Order) -> u64 {{
        let mut next = self.next_id.write().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        order.id = *next;
        self.orders.write().unwrap_or_else(|e| e.into_inner()).insert(order.id, order);
        *next
    }}
}}

/// Every route of this shard; the directory's router nests it under the shard's prefix.
pub fn router() -> Router<Arc<Store>> {{
    Router::new()
        .route("/orders/{{customer}}", get(list_orders).post(create_order))
        .route("/order/{{id}}", get(get_order).delete(delete_order))
        .route("/health", get(shared::health))
}}
"#
    );
    let handlers = [
        (
            "list_orders",
            "GET",
            "/orders/{customer}",
            "Path(customer): Path<String>",
            "Json<Vec<Order>>",
            "Json(store.list(&customer))",
        ),
        (
            "create_order",
            "POST",
            "/orders/{customer}",
            "Json(order): Json<Order>",
            "Json<u64>",
            "Json(store.insert(order))",
        ),
        (
            "get_order",
            "GET",
            "/order/{id}",
            "Path(id): Path<u64>",
            "Result<Json<Order>, StatusCode>",
            "store.get(id).map(Json).ok_or(StatusCode::NOT_FOUND)",
        ),
        (
            "delete_order",
            "DELETE",
            "/order/{id}",
            "Path(id): Path<u64>",
            "StatusCode",
            "match store.get(id) { Some(_) => StatusCode::NO_CONTENT, None => StatusCode::NOT_FOUND }",
        ),
    ];
    for (h, (name, method, path, extractor, output, body)) in handlers.iter().enumerate() {
        let id = first + h;
        let _ = writeln!(
            text,
            "\n/// `{method} {path}` of shard {index}: answers from the shared store, never blocking on a write for long."
        );
        if !id.is_multiple_of(UNASSIGNED_EVERY) {
            let feature = featgen_registry::ident::rust_variant(FEATURES[id % FEATURES.len()]);
            let _ = writeln!(text, "#[route({method}, \"{path}\", feature = {feature})]");
        }
        let _ = writeln!(
            text,
            "pub async fn {name}(State(store): State<Arc<Store>>, {extractor}) -> {output} {{\n    {body}\n}}"
        );
    }
    text
}

/// Appends the ordinary code of an axum service (request and record types, their impls with
/// lookups and formatting) up to `lines` lines.
fn pad_axum(mut text: String, lines: usize) -> String {
    let mut n = 0;
    while text.lines().count() + 18 <= lines {
        let _ = write!(
            text,
            r#"
/// One line of an order (kind {n}), as the reporting endpoints show it to account managers and support staff; amounts are in cents, never floats, so that totals add up exactly, and every field is what the warehouse system last confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderLine{n} {{ pub id: u64, pub customer: String, pub sku: String, pub quantity: u32, pub unit_price_cents: u64, pub tags: Vec<String>, pub warehouse: Option<String>, pub shipped_at: Option<u64>, pub currency: String, pub discount_code: Option<String>, pub gift_message: Option<String>, pub created_at: u64, pub updated_at: u64, pub source_channel: String, pub priority: u8, pub returned_quantity: u32, pub refund_cents: Option<u64>, pub sales_rep: Option<String> }}

impl OrderLine{n} {{
    /// The total in cents, with the bulk discount that applies past ten units of the same sku on one order, and the loyalty discount past a hundred units (the two never add up, and neither applies to gift orders).
    pub fn total_cents(&self) -> u64 {{ let gross = self.unit_price_cents.saturating_mul(u64::from(self.quantity)).saturating_add(u64::from(self.priority) * 100); if self.quantity > 100 {{ gross - gross / 10 }} else if self.quantity > 10 {{ gross - gross / 20 }} else {{ gross }} }}

    /// A line of text for the order summary e-mail, naming the customer as the account manager knows them, and the warehouse the line ships from, in the customer's own currency, as the e-mail templates of the notification service expect it.
    pub fn describe(&self, customers: &HashMap<String, String>, warehouses: &HashMap<String, String>, currencies: &HashMap<String, String>) -> String {{
        let customer = customers.get(&self.customer).or_else(|| customers.get(self.customer.trim())).or_else(|| customers.get(&self.customer.to_lowercase())).map(String::as_str).unwrap_or("an unknown customer of this shard, probably one migrated from the previous order system");
        let _currency = currencies.get(&self.currency).map(String::as_str).unwrap_or("USD"); let warehouse = self.warehouse.as_ref().and_then(|w| warehouses.get(w)).map(String::as_str).unwrap_or("the default warehouse of the customer's region, until the dispatch service assigns another one");
        let tags: Vec<&str> = self.tags.iter().map(|t| t.as_str()).filter(|t| !t.is_empty() && t.len() < {n} + 40 && !t.starts_with("internal:") && !t.starts_with("debug:")).take(16).collect::<Vec<_>>().into_iter().filter(|t| !t.eq_ignore_ascii_case("hidden") && !t.contains(char::is_whitespace)).collect();
        format!("{{customer}} ordered {{}} x {{}} for {{}} cents from {{warehouse}} ({{}} tags: {{}}; shipped: {{}}; priority {{}})", self.quantity, self.sku, self.total_cents(), tags.len(), tags.join(", "), self.shipped_at.is_some(), self.priority)
    }}
}}
"#
        );
        n += 1;
    }
    while text.lines().count() < lines {
        text.push_str("// Nothing else in this shard: the store above is all the state its handlers need to answer every request it gets, and the router says which.\n");
    }
    text
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
