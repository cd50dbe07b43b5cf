//! Hostile input (issue 15): nesting that would overflow a parser's stack, files past the size
//! limit. Each deep file is either linted or a `parse-error` finding for that file alone; every
//! other file is still linted.

use std::path::Path;

use featgen_lint::{Finding, KnownFeatures, LintConfig, MAX_FILE_BYTES, Report, Rule, lint};
use featgen_registry::Registry;

fn lint_tree(root: &Path) -> Report {
    let registry = Path::new("tests/fixtures/registry.yaml");
    let known = KnownFeatures::from_registry(
        &Registry::load(registry).unwrap_or_else(|d| panic!("fixture registry: {d}")),
    );
    lint(
        &[root.to_path_buf()],
        &known,
        registry,
        &LintConfig::default(),
    )
    .unwrap_or_else(|e| panic!("lint: {e}"))
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `rule file` of every finding except the registry's unused features.
fn findings(report: &Report, root: &Path) -> Vec<String> {
    let root = format!("{}/", root.display());
    report
        .findings
        .iter()
        .filter(|f| f.rule != Rule::UnusedFeature)
        .map(|f: &Finding| {
            let path = f
                .location
                .path
                .strip_prefix(&root)
                .unwrap_or(&f.location.path);
            format!("{} {path}", f.rule)
        })
        .collect()
}

/// An unassigned Python endpoint: proof that the file it is in (or beside) was linted.
const UNASSIGNED_PY: &str = "@route(\"/x\")\ndef handler():\n    ...\n";

#[test]
fn deep_nesting_is_linted_or_a_parse_error_for_that_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The reproduction: 1,000 nested parentheses in a file that names a trigger
    // (rustc accepts it, and so does the linter).
    let parens = format!(
        "use featgen::route;\nfn f() -> i32 {{ let _r = route; {}1{} }}\n",
        "(".repeat(1000),
        ")".repeat(1000)
    );
    write(root, "svc/src/parens.rs", &parens);
    // A 100,000-call router chain and a 100,000-term sum: past the documented depth.
    let chain = format!(
        "use axum::{{Router, routing::get}};\npub fn router() -> Router {{ Router::new(){} }}\n",
        ".route(\"/x\", get(h))".repeat(100_000)
    );
    write(root, "svc/src/chain.rs", &chain);
    let sum = format!(
        "pub fn f() -> i32 {{ let _r = route; 1{} }}\n",
        " + 1".repeat(100_000)
    );
    write(root, "svc/src/sum.rs", &sum);
    // As many prefix operators: syn parses each by recursion.
    let nots = format!(
        "pub fn f() -> bool {{ let _r = route; {}true }}\n",
        "!".repeat(100_000)
    );
    write(root, "svc/src/nots.rs", &nots);
    // Python: 7,000 nested lists and a 6,000-term sum, each beside an unassigned endpoint.
    let lists = format!(
        "x = {}1{}\n{UNASSIGNED_PY}",
        "[".repeat(7000),
        "]".repeat(7000)
    );
    write(root, "app/lists.py", &lists);
    let py_sum = format!("x = 1{}\n{UNASSIGNED_PY}", " + 1".repeat(6000));
    write(root, "app/sum.py", &py_sum);
    // An ordinary file that is linted whatever happens to its neighbours.
    write(root, "app/plain.py", UNASSIGNED_PY);

    let report = lint_tree(root);
    assert_eq!(
        findings(&report, root),
        [
            "missing-feature app/lists.py",
            "missing-feature app/plain.py",
            "missing-feature app/sum.py",
            "parse-error svc/src/chain.rs",
            "parse-error svc/src/nots.rs",
            "parse-error svc/src/sum.rs",
        ],
        "{:#?}",
        report.findings
    );
    let chain_error = report
        .findings
        .iter()
        .find(|f| f.location.path.ends_with("chain.rs"))
        .unwrap();
    assert!(
        chain_error.message.contains("nested more deeply"),
        "{chain_error:?}"
    );
    assert_eq!(chain_error.location.line, 2, "{chain_error:?}");
    assert_eq!(report.files, 7);
}

#[test]
fn nesting_just_under_the_limit_is_linted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Each parenthesis level is two units: the deepest accepted nesting of the most
    // stack-hungry construct, in a file that is parsed (it names `route`).
    let depth = featgen_lint::MAX_NESTING / 2 - 20;
    let parens = format!(
        "fn f() -> i32 {{ let _r = route; {}1{} }}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    write(root, "svc/src/lib.rs", &parens);
    let report = lint_tree(root);
    assert_eq!(findings(&report, root), Vec::<String>::new(), "{report:#?}");
}

#[test]
fn files_past_the_size_limit_are_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let line = "// padding padding padding padding padding padding padding padding padding\n";
    let big = line.repeat(MAX_FILE_BYTES as usize / line.len() + 1);
    write(root, "svc/src/big.rs", &big);
    let comment = "# padding padding padding padding padding padding padding padding padding\n";
    let big_py = comment.repeat(MAX_FILE_BYTES as usize / comment.len() + 1);
    write(root, "app/big.py", &big_py);
    write(root, "app/plain.py", UNASSIGNED_PY);
    let report = lint_tree(root);
    assert_eq!(
        findings(&report, root),
        [
            "parse-error app/big.py",
            "missing-feature app/plain.py",
            "parse-error svc/src/big.rs",
        ]
    );
    assert!(
        report.findings[0].message.contains("larger than 8 MiB"),
        "{:?}",
        report.findings[0]
    );
}

#[test]
fn deeply_nested_modules_cost_linear_time() {
    // 2,000 nested `mod` blocks (4 nesting units each: 8,000, under the limit), each with
    // functions and an import, every hundredth with a marked handler and the router that
    // registers it, and at the bottom a handler without a feature. Every fact once named its
    // module by the whole path, so that this file made millions of copies of module names;
    // facts now name their module by number. (What is left grows with the output: the names of
    // the 21 handlers reported, each 2,000 modules deep at most.)
    const DEPTH: usize = 2_000;
    const MARKED_EVERY: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut text = String::from("use axum::{Router, routing::get};\nuse featgen::route;\n");
    for level in 0..DEPTH {
        text.push_str(&format!(
            "mod m{level} {{\n use super::*;\n pub fn a() {{}}\n pub fn b() {{}}\n pub fn c() {{}}\n"
        ));
        if level % MARKED_EVERY == 0 {
            text.push_str(&format!(
                " #[route(GET, \"/{level}\", feature = Messaging)]\n pub async fn h() {{}}\n \
                 pub fn router() -> Router {{ Router::new().route(\"/{level}\", get(h)) }}\n"
            ));
        }
    }
    text.push_str(
        "pub async fn unassigned() {}\n\
         pub fn last() -> Router { Router::new().route(\"/last\", get(unassigned)) }\n",
    );
    text.push_str(&"}\n".repeat(DEPTH));
    write(root, "svc/src/lib.rs", &text);
    let report = lint_tree(root);
    assert_eq!(
        findings(&report, root),
        ["unassigned-endpoint svc/src/lib.rs"],
        "{:#?}",
        report.findings
    );
    let deepest = report
        .findings
        .iter()
        .find(|f| f.rule == Rule::UnassignedEndpoint)
        .unwrap();
    let handler = deepest.handler.as_deref().unwrap();
    assert_eq!(handler.matches("::").count(), DEPTH, "{handler}");
    assert!(handler.ends_with(&format!("m{}::unassigned", DEPTH - 1)));
    // Every marked handler and the unassigned one are in the inventory.
    assert_eq!(report.routes.len(), DEPTH / MARKED_EVERY + 1);
}

#[test]
fn nest_chains_across_functions_cost_linear_time() {
    // 10,000 routers, each nesting the next under `/n`, the innermost registering a handler
    // without a feature. They are defined innermost first, the order in which settling
    // prefixes one level per pass over every `.nest` took 10,000 passes of 10,000 nests, each
    // copying its outer prefix (up to 20 KB; about 3 * 10^11 bytes in all): minutes. Settled
    // breadth-first, each nest once, and spelled out only for the one router that registers a
    // path, it is milliseconds (the test's time is parsing the file).
    const DEPTH: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut text = String::from(
        "use axum::{Router, routing::get};\npub async fn unassigned() {}\n\
         pub fn r0() -> Router { Router::new().route(\"/x\", get(unassigned)) }\n",
    );
    for level in 1..DEPTH {
        text.push_str(&format!(
            "pub fn r{level}() -> Router {{ Router::new().nest(\"/n\", r{}()) }}\n",
            level - 1
        ));
    }
    write(root, "svc/src/lib.rs", &text);
    let report = lint_tree(root);
    assert_eq!(
        findings(&report, root),
        ["unassigned-endpoint svc/src/lib.rs"],
        "{:#?}",
        report.findings
    );
    let route = &report.routes[..];
    assert_eq!(route.len(), 1);
    let expected = format!("{}/x", "/n".repeat(DEPTH - 1));
    assert_eq!(route[0].path.as_deref(), Some(expected.as_str()));
}

#[test]
fn a_router_nested_at_several_places_takes_the_shallowest() {
    // `inner` is nested under `/deep/in` (two levels) before `/in` (one level) in source
    // order; the shallower nesting wins. `a` and `b` nest only each other: no prefix.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "svc/src/lib.rs",
        "use axum::{Router, routing::get};\n\
         pub async fn unassigned() {}\n\
         pub async fn cyclic() {}\n\
         pub fn middle() -> Router { Router::new().nest(\"/in\", inner()) }\n\
         pub fn app() -> Router { Router::new().nest(\"/deep\", middle()).nest(\"/in\", inner()) }\n\
         pub fn inner() -> Router { Router::new().route(\"/x\", get(unassigned)) }\n\
         pub fn a() -> Router { Router::new().nest(\"/b\", b()) }\n\
         pub fn b() -> Router { Router::new().nest(\"/a\", a()).route(\"/y\", get(cyclic)) }\n",
    );
    let report = lint_tree(root);
    let mut paths: Vec<_> = report
        .routes
        .iter()
        .map(|r| r.path.clone().unwrap_or_default())
        .collect();
    paths.sort();
    assert_eq!(paths, ["/in/x", "/y"], "{:#?}", report.routes);
}
