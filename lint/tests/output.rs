//! Output formats on a real fixture: SARIF validated against the OASIS SARIF 2.1.0 schema (with
//! the Python `jsonschema` of the test venv), JSON fields, GitHub annotations, the human
//! rendering, and baselines.

use std::path::Path;

use featgen_lint::{Baseline, Format, KnownFeatures, LintConfig, Report, Summary, lint, render};
use featgen_registry::Registry;

fn run(fixture: &str) -> Report {
    let registry = Path::new("tests/fixtures/registry.yaml");
    let loaded = Registry::load(registry).unwrap_or_else(|d| panic!("fixture registry: {d}"));
    lint(
        &[Path::new("tests/fixtures").join(fixture)],
        &KnownFeatures::from_registry(&loaded),
        registry,
        &LintConfig::default(),
    )
    .unwrap_or_else(|e| panic!("lint: {e}"))
}

fn summary(report: &Report) -> Summary {
    Summary {
        files: report.files,
        baselined: 0,
    }
}

#[test]
fn sarif_is_valid_sarif_2_1_0() {
    let report = run("axum");
    let sarif = render(&report.findings, Format::Sarif, summary(&report));
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("lint.sarif");
    std::fs::write(&log, &sarif).expect("write sarif");
    featgen_tests::run_ok(featgen_tests::python_command().args([
        "-c",
        "import json, sys, jsonschema\n\
         schema = json.load(open(sys.argv[1]))\n\
         log = json.load(open(sys.argv[2]))\n\
         cls = jsonschema.validators.validator_for(schema)\n\
         cls.check_schema(schema)\n\
         cls(schema, format_checker=cls.FORMAT_CHECKER).validate(log)\n",
        "tests/fixtures/sarif-schema-2.1.0.json",
        log.to_str().expect("utf-8 path"),
    ]));
    let value: serde_json::Value = serde_json::from_str(&sarif).expect("json");
    let run = &value["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert!(rules.contains(&"unassigned-endpoint") && rules.contains(&"unused-feature"));
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), report.findings.len());
    let closure = results
        .iter()
        .find(|r| {
            r["message"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("closure"))
        })
        .expect("closure finding");
    assert_eq!(closure["level"], "error");
    assert_eq!(
        closure["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "tests/fixtures/axum/src/main.rs"
    );
    // Fingerprints are unique within a run and do not depend on line numbers.
    let prints: std::collections::HashSet<&str> = results
        .iter()
        .map(|r| {
            r["partialFingerprints"]["featgenKey/v1"]
                .as_str()
                .expect("fingerprint")
        })
        .collect();
    assert_eq!(prints.len(), results.len());
    let mut moved = report.findings.clone();
    for finding in &mut moved {
        finding.location.line += 3;
    }
    let again: serde_json::Value =
        serde_json::from_str(&render(&moved, Format::Sarif, summary(&report))).expect("json");
    for (a, b) in results
        .iter()
        .zip(again["runs"][0]["results"].as_array().expect("results"))
    {
        assert_eq!(a["partialFingerprints"], b["partialFingerprints"]);
    }
}

#[test]
fn json_has_one_object_per_finding_with_every_field() {
    let report = run("axum");
    let json: serde_json::Value =
        serde_json::from_str(&render(&report.findings, Format::Json, summary(&report)))
            .expect("json");
    let items = json.as_array().expect("array");
    assert_eq!(items.len(), report.findings.len());
    let send = items
        .iter()
        .find(|i| i["handler"] == "handlers::messages::send")
        .expect("send");
    assert_eq!(
        send,
        &serde_json::json!({
            "rule": "unassigned-endpoint",
            "severity": "error",
            "path": "tests/fixtures/axum/src/handlers/messages.rs",
            "line": 7,
            "column": 14,
            "message": "handler `handlers::messages::send` has no feature",
            "handler": "handlers::messages::send",
            "registered_at": {"path": "tests/fixtures/axum/src/main.rs", "line": 13, "column": 54},
            "suggestion": "add `#[route(POST, \"/messages\", feature = ...)]` to `send`",
        })
    );
}

#[test]
fn github_annotations_name_file_line_and_rule() {
    let report = run("markers");
    let text = render(&report.findings, Format::Github, summary(&report));
    assert!(
        text.lines().any(|l| l.starts_with(
            "::error file=tests/fixtures/markers/src/lib.rs,line=7,col=30,title=unknown-feature::"
        ) && l.contains("did you mean `Messaging`?")),
        "{text}"
    );
    assert!(text.contains(
        "::warning file=tests/fixtures/registry.yaml,line=29,col=12,title=unused-feature::"
    ));
}

#[test]
fn human_output_is_rustc_style_grouped_by_rule() {
    let report = run("markers");
    let text = render(&report.findings, Format::Human, summary(&report));
    let expected = "\
error[missing-feature]: `#[route]` on `no_feature` has no `feature`
 --> tests/fixtures/markers/src/lib.rs:4:1
  |
4 | #[route(GET, \"/a\")]
  | ^^^^^^^^^^^^^^^^^^^
  |
  = help: name the feature this code serves, e.g. `feature = Messaging`
";
    assert!(text.starts_with(expected), "{text}");
    assert!(text.contains(
        "error[unknown-feature]: `python_style` names feature `TEXT_IN_VOICE`, which is not in the registry"
    ));
    assert!(
        text.contains("= help: did you mean `TextInVoice`?"),
        "{text}"
    );
    assert!(text.contains(
        "warning[deprecated-feature]: `old_gift` uses deprecated feature `GiftLinks` (gift-links): \
         Gift links are replaced by gift cards."
    ));
    assert!(text.contains("= help: use `GiftCards` instead"));
    assert!(
        text.ends_with("featgen lint: 6 errors, 6 warnings in 1 file\n"),
        "{text}"
    );
    // Grouped by rule: every missing-feature comes before the first unknown-feature.
    let last_missing = text.rfind("error[missing-feature]").expect("missing");
    let first_unknown = text.find("error[unknown-feature]").expect("unknown");
    assert!(last_missing < first_unknown);
}

#[test]
fn baseline_lets_only_new_violations_fail() {
    let report = run("axum");
    let baseline = Baseline::from_json(&Baseline::from_findings(&report.findings).to_json())
        .expect("round trip");
    let (fresh, suppressed) = baseline.filter(report.findings.clone());
    assert!(fresh.is_empty());
    assert_eq!(suppressed, report.findings.len());
    let other = run("actix");
    let (fresh, _) = baseline.filter(other.findings.clone());
    assert!(
        fresh
            .iter()
            .any(|f| f.handler.as_deref() == Some("api::history"))
    );
}
