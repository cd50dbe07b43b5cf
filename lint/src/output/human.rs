//! Human output: rustc-style diagnostics (rendered by `featgen_registry::diagnostic`, like every
//! featgen command) grouped by rule, then a summary line.

use std::fmt::Write as _;

use featgen_registry::diagnostic::{Diagnostic, DiagnosticCode, Label, SourceCache};

use super::{Summary, counts};
use crate::finding::{Finding, Location, Rule, Severity};

/// The findings, grouped by rule in [`Rule::ALL`] order, then the summary.
pub(super) fn render(findings: &[Finding], summary: Summary) -> String {
    let mut sources = SourceCache::new();
    let mut out = String::new();
    for rule in Rule::ALL {
        for finding in findings.iter().filter(|f| f.rule == rule) {
            let diagnostic = diagnostic(finding, &mut sources);
            out.push_str(&diagnostic.render(&mut sources));
            out.push('\n');
        }
    }
    let (errors, warnings) = counts(findings);
    let _ = write!(
        out,
        "featgen lint: {errors} {}, {warnings} {} in {} {}",
        plural(errors, "error"),
        plural(warnings, "warning"),
        summary.files,
        plural(summary.files, "file")
    );
    if summary.baselined > 0 {
        let _ = write!(out, " ({} baselined)", summary.baselined);
    }
    out.push('\n');
    out
}

impl DiagnosticCode for Rule {
    fn id(self) -> &'static str {
        Rule::id(self)
    }
}

fn diagnostic(finding: &Finding, sources: &mut SourceCache) -> Diagnostic<Rule> {
    let code = finding.rule;
    let mut diagnostic = match finding.severity() {
        Severity::Error => Diagnostic::error(code, &finding.message),
        Severity::Warning => Diagnostic::warning(code, &finding.message),
    }
    .at(label(&finding.location, sources));
    if let Some(registered) = &finding.registered_at {
        diagnostic = diagnostic.also(label(registered, sources).with_message("registered here"));
    }
    if let Some(suggestion) = &finding.suggestion {
        diagnostic = diagnostic.help(suggestion);
    }
    diagnostic
}

/// A label underlining the token at `at`: a whole attribute or decorator, a string, else a
/// path or registry name.
fn label(at: &Location, sources: &mut SourceCache) -> Label {
    let len = sources
        .line(at.path.as_ref(), at.line)
        .map(|line| {
            let token: String = line
                .chars()
                .skip(at.column.saturating_sub(1) as usize)
                .collect();
            let token = token.trim_end();
            if token.starts_with(['#', '@']) {
                token.chars().count()
            } else if let Some(quoted) = token.strip_prefix('"') {
                quoted
                    .find('"')
                    .map_or(1, |end| quoted[..end].chars().count() + 2)
            } else {
                token
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '.' | '-'))
                    .count()
            }
        })
        .unwrap_or(1);
    Label::new(
        &at.path,
        at.line,
        at.column,
        u32::try_from(len.max(1)).unwrap_or(1),
    )
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}
