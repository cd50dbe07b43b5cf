//! Output formats of `featgen lint`: human (rustc-style), JSON, SARIF 2.1.0, GitHub annotations.

mod github;
mod human;
mod json;
mod sarif;

use crate::finding::{Finding, Severity};

/// Output format of `featgen lint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// rustc-style diagnostics grouped by rule, with a summary line.
    Human,
    /// A JSON array, one object per finding.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=..::message`).
    Github,
}

/// Counts shown in summaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Source files linted.
    pub files: usize,
    /// Findings suppressed by the baseline.
    pub baselined: usize,
}

/// Renders `findings` (sorted) in `format`.
pub fn render(findings: &[Finding], format: Format, summary: Summary) -> String {
    match format {
        Format::Human => human::render(findings, summary),
        Format::Json => json::render(findings),
        Format::Sarif => sarif::render(findings),
        Format::Github => github::render(findings),
    }
}

/// Number of errors and warnings in `findings`.
fn counts(findings: &[Finding]) -> (usize, usize) {
    let errors = findings
        .iter()
        .filter(|f| f.severity() == Severity::Error)
        .count();
    (errors, findings.len() - errors)
}
