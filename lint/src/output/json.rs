//! JSON: an array with one object per finding
//! `{rule, severity, path, line, column, message, handler, registered_at, suggestion}`.

use serde_json::{Value, json};

use crate::finding::Finding;

/// One finding as a JSON object (also used by the SARIF `properties`).
pub(super) fn finding(finding: &Finding) -> Value {
    json!({
        "rule": finding.rule.id(),
        "severity": finding.severity().as_str(),
        "path": finding.location.path,
        "line": finding.location.line,
        "column": finding.location.column,
        "message": finding.message,
        "handler": finding.handler,
        "registered_at": finding.registered_at,
        "suggestion": finding.suggestion,
    })
}

/// The array, one finding per line so that line-based tools can still grep it.
pub(super) fn render(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "[]\n".to_owned();
    }
    let lines: Vec<String> = findings.iter().map(|f| finding(f).to_string()).collect();
    format!("[\n{}\n]\n", lines.join(",\n"))
}
