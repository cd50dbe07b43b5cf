//! Every fixture tree under `tests/fixtures/` is linted and its findings compared with the
//! `expected.txt` beside it: one line per finding, `rule path:line:column handler`, paths
//! relative to the fixture.

use std::path::{Path, PathBuf};

use featgen_lint::{Finding, KnownFeatures, LintConfig, Report, lint};
use featgen_registry::Registry;

fn fixtures() -> &'static Path {
    Path::new("tests/fixtures")
}

fn features() -> KnownFeatures {
    let registry = Registry::load(&fixtures().join("registry.yaml"))
        .unwrap_or_else(|d| panic!("fixture registry: {d}"));
    KnownFeatures::from_registry(&registry)
}

fn run(name: &str, config: &LintConfig) -> Report {
    lint(
        &[fixtures().join(name)],
        &features(),
        &fixtures().join("registry.yaml"),
        config,
    )
    .unwrap_or_else(|e| panic!("lint {name}: {e}"))
}

fn line(finding: &Finding, root: &str) -> String {
    let at = &finding.location;
    let path = at.path.strip_prefix(root).unwrap_or(&at.path);
    format!(
        "{} {path}:{}:{} {}",
        finding.rule,
        at.line,
        at.column,
        finding.handler.as_deref().unwrap_or("-")
    )
}

fn check(name: &str, config: &LintConfig) -> Report {
    let report = run(name, config);
    let root = format!("tests/fixtures/{name}/");
    let actual: Vec<String> = report.findings.iter().map(|f| line(f, &root)).collect();
    let expected_path: PathBuf = fixtures().join(name).join("expected.txt");
    let expected = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
    let expected: Vec<&str> = expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert_eq!(
        actual,
        expected,
        "findings of fixture `{name}`:\n{}",
        actual.join("\n")
    );
    report
}

#[test]
fn axum_routers() {
    let report = check("axum", &LintConfig::default());
    // Routes of a router built elsewhere are under the prefix it is nested at.
    let stats = report
        .routes
        .iter()
        .find(|r| r.handler == "admin::stats")
        .expect("stats");
    assert_eq!(
        (stats.method.as_deref(), stats.path.as_deref()),
        (Some("GET"), Some("/admin/stats"))
    );
}

#[test]
fn actix_routes_and_attributes() {
    check("actix", &LintConfig::default());
}

#[test]
fn configured_task_calls() {
    let config = LintConfig {
        task_calls: [
            "tokio::spawn",
            "tokio::task::spawn",
            "Scheduler::register",
            ".register",
        ]
        .map(String::from)
        .to_vec(),
        ..LintConfig::default()
    };
    check("tasks", &config);
}

#[test]
fn marker_arguments() {
    check("markers", &LintConfig::default());
}

#[test]
fn python_decorators() {
    check("python", &LintConfig::default());
}

#[test]
fn unparsable_files_are_reported_and_the_rest_is_linted() {
    let report = check("broken", &LintConfig::default());
    assert!(report.has_parse_errors());
}

#[test]
fn repository_examples_lint_clean() {
    let registry_path = Path::new("../registry");
    let registry = Registry::load(registry_path).unwrap_or_else(|d| panic!("registry: {d}"));
    let examples = Path::new("../examples");
    let report = lint(
        &[examples.to_path_buf()],
        &KnownFeatures::from_registry(&registry),
        registry_path,
        &LintConfig::default(),
    )
    .unwrap_or_else(|e| panic!("lint examples: {e}"));
    // Warnings (features the examples do not use) are expected; errors are not.
    let errors: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.severity() == featgen_lint::Severity::Error)
        .map(|f| format!("{}: {}", f.location, f.message))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(
        report
            .routes
            .iter()
            .any(|r| r.path.as_deref() == Some("/channels/{channel_id}/messages")),
        "the example's routes are found: {:?}",
        report.routes
    );
    // The endpoint label, as profiles carry it: `endpoint = ".."`, else the function's name.
    let endpoint_of = |handler: &str| {
        report
            .routes
            .iter()
            .find(|r| r.handler.ends_with(handler))
            .and_then(|r| r.endpoint.as_deref())
    };
    assert_eq!(endpoint_of("send_message"), Some("messages.send"));
    assert_eq!(endpoint_of("start_typing"), Some("start_typing"));
    assert_eq!(endpoint_of("expire_typing"), Some("typing.expire"));
}

/// Writes `files` (path, text) under a new temporary directory.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

const UNASSIGNED: &str = "pub fn app() -> axum::Router {\n    \
                          axum::Router::new().route(\"/x\", axum::routing::get(x))\n}\n\
                          async fn x() {}\n";

fn unassigned_files(dir: &Path, config: &LintConfig) -> Vec<String> {
    let report = lint(
        &[dir.to_path_buf()],
        &features(),
        &fixtures().join("registry.yaml"),
        config,
    )
    .expect("lint");
    let mut files: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule == featgen_lint::Rule::UnassignedEndpoint)
        .map(|f| {
            let path = Path::new(&f.location.path);
            path.strip_prefix(dir).unwrap_or(path).display().to_string()
        })
        .collect();
    files.sort();
    files
}

#[test]
fn honours_gitignore_and_configured_globs() {
    let dir = tree(&[
        (".gitignore", "/generated/\n"),
        ("src/lib.rs", UNASSIGNED),
        ("generated/src/lib.rs", UNASSIGNED),
        ("vendor/src/lib.rs", UNASSIGNED),
        ("other/src/lib.rs", UNASSIGNED),
    ]);
    assert_eq!(
        unassigned_files(dir.path(), &LintConfig::default()),
        ["other/src/lib.rs", "src/lib.rs", "vendor/src/lib.rs"]
    );
    let config = LintConfig {
        exclude: vec!["vendor/**".to_owned()],
        ..LintConfig::default()
    };
    assert_eq!(
        unassigned_files(dir.path(), &config),
        ["other/src/lib.rs", "src/lib.rs"]
    );
    let config = LintConfig {
        include: vec!["src/**".to_owned()],
        ..LintConfig::default()
    };
    assert_eq!(unassigned_files(dir.path(), &config), ["src/lib.rs"]);
}

#[test]
fn missing_paths_and_bad_globs_are_errors() {
    let missing = lint(
        &[PathBuf::from("tests/fixtures/no-such-dir")],
        &features(),
        &fixtures().join("registry.yaml"),
        &LintConfig::default(),
    );
    assert!(
        matches!(missing, Err(featgen_lint::LintError::Path(..))),
        "{missing:?}"
    );
    let config = LintConfig {
        exclude: vec!["[".to_owned()],
        ..LintConfig::default()
    };
    let bad = lint(
        &[fixtures().join("axum")],
        &features(),
        &fixtures().join("registry.yaml"),
        &config,
    );
    assert!(
        matches!(bad, Err(featgen_lint::LintError::Config(_))),
        "{bad:?}"
    );
}

#[test]
fn handlers_of_other_workspace_crates() {
    check("workspace", &LintConfig::default());
}
