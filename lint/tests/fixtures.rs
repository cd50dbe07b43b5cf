//! Every fixture tree under `tests/fixtures/` is linted and its findings compared with the
//! `expected.txt` beside it: one line per finding, `rule path:line:column handler`, paths
//! relative to the fixture.

use std::path::{Path, PathBuf};

use featgen_codegen::Registry;
use featgen_lint::{Finding, KnownFeatures, LintConfig, Report, lint};

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
    check("axum", &LintConfig::default());
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
}
