//! GitHub Actions workflow commands: `::error file=PATH,line=N,col=N,title=RULE::message`.

use crate::finding::{Finding, Severity};

/// One annotation per finding.
pub(super) fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        let level = match finding.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = finding.message.clone();
        if let Some(registered) = &finding.registered_at {
            message.push_str(&format!("\nregistered at {registered}"));
        }
        if let Some(suggestion) = &finding.suggestion {
            message.push_str(&format!("\nhelp: {suggestion}"));
        }
        out.push_str(&format!(
            "::{level} file={},line={},col={},title={}::{}\n",
            property(&finding.location.path),
            finding.location.line,
            finding.location.column,
            property(finding.rule.id()),
            data(&message),
        ));
    }
    out
}

/// Escapes a command's message (GitHub's `escapeData`).
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property (GitHub's `escapeProperty`).
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Location, Rule};

    #[test]
    fn escapes_properties_and_data() {
        let finding = Finding {
            rule: Rule::UnassignedEndpoint,
            location: Location {
                path: "src/a,b.rs".to_owned(),
                line: 3,
                column: 7,
            },
            message: "100% of `x`".to_owned(),
            handler: None,
            registered_at: None,
            suggestion: Some("add it".to_owned()),
        };
        assert_eq!(
            render(&[finding]),
            "::error file=src/a%2Cb.rs,line=3,col=7,title=unassigned-endpoint::100%25 of `x`%0Ahelp: add it\n"
        );
    }
}
