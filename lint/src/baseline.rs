//! Baselines: today's violations recorded in a file so that only new ones fail, which is how a
//! codebase with many existing endpoints adopts the lint.
//!
//! A violation is keyed by rule, file and handler, never by line, so unrelated edits that move
//! code do not make recorded violations look new. Keys carry a count: a second unassigned closure
//! on the same route in the same file is new.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Rule};

/// Version of the baseline file format.
const VERSION: u32 = 1;

/// The stable identity of a finding: rule id, file, handler.
pub fn key(finding: &Finding) -> (String, String, String) {
    (
        finding.rule.id().to_owned(),
        finding.location.path.clone(),
        finding.handler.clone().unwrap_or_default(),
    )
}

/// Recorded violations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    counts: BTreeMap<(String, String, String), usize>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    violations: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    rule: String,
    path: String,
    handler: String,
    count: usize,
}

impl Baseline {
    /// Records `findings` (parse errors excluded: a file that does not parse is never accepted).
    pub fn from_findings(findings: &[Finding]) -> Self {
        let mut counts = BTreeMap::new();
        for finding in findings.iter().filter(|f| f.rule != Rule::ParseError) {
            *counts.entry(key(finding)).or_insert(0) += 1;
        }
        Baseline { counts }
    }

    /// Number of recorded violations.
    pub fn len(&self) -> usize {
        self.counts.values().sum()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Reads a baseline written by [`Baseline::to_json`].
    ///
    /// # Errors
    /// A message saying what is wrong with the text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let file: File = serde_json::from_str(text).map_err(|err| err.to_string())?;
        if file.version != VERSION {
            return Err(format!(
                "unsupported baseline version {} (expected {VERSION})",
                file.version
            ));
        }
        let mut counts = BTreeMap::new();
        for entry in file.violations {
            *counts
                .entry((entry.rule, entry.path, entry.handler))
                .or_insert(0) += entry.count;
        }
        Ok(Baseline { counts })
    }

    /// The baseline as pretty JSON, sorted, ending with a newline.
    pub fn to_json(&self) -> String {
        let file = File {
            version: VERSION,
            violations: self
                .counts
                .iter()
                .map(|((rule, path, handler), count)| Entry {
                    rule: rule.clone(),
                    path: path.clone(),
                    handler: handler.clone(),
                    count: *count,
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Splits `findings` into new ones (returned) and recorded ones (counted).
    pub fn filter(&self, findings: Vec<Finding>) -> (Vec<Finding>, usize) {
        let mut remaining = self.counts.clone();
        let mut suppressed = 0;
        let fresh = findings
            .into_iter()
            .filter(|finding| match remaining.get_mut(&key(finding)) {
                Some(left) if *left > 0 && finding.rule != Rule::ParseError => {
                    *left -= 1;
                    suppressed += 1;
                    false
                }
                _ => true,
            })
            .collect();
        (fresh, suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Location;

    fn finding(rule: Rule, path: &str, line: u32, handler: &str) -> Finding {
        Finding {
            rule,
            location: Location {
                path: path.to_owned(),
                line,
                column: 1,
            },
            message: String::new(),
            handler: Some(handler.to_owned()),
            registered_at: None,
            suggestion: None,
        }
    }

    #[test]
    fn survives_line_moves_and_catches_new_violations() {
        let today = vec![
            finding(Rule::UnassignedEndpoint, "src/a.rs", 10, "list"),
            finding(Rule::UnassignedEndpoint, "src/a.rs", 20, "<closure> GET /x"),
        ];
        let baseline =
            Baseline::from_json(&Baseline::from_findings(&today).to_json()).expect("round trip");
        assert_eq!(baseline.len(), 2);
        let tomorrow = vec![
            finding(Rule::UnassignedEndpoint, "src/a.rs", 14, "list"),
            finding(Rule::UnassignedEndpoint, "src/a.rs", 24, "<closure> GET /x"),
            finding(Rule::UnassignedEndpoint, "src/a.rs", 30, "<closure> GET /x"),
            finding(Rule::UnassignedTask, "src/a.rs", 40, "list"),
        ];
        let (fresh, suppressed) = baseline.filter(tomorrow);
        assert_eq!(suppressed, 2);
        let lines: Vec<u32> = fresh.iter().map(|f| f.location.line).collect();
        assert_eq!(lines, [30, 40]);
    }

    #[test]
    fn never_records_parse_errors() {
        let baseline = Baseline::from_findings(&[finding(Rule::ParseError, "src/a.rs", 1, "")]);
        assert!(baseline.is_empty());
    }

    #[test]
    fn rejects_other_versions() {
        let error =
            Baseline::from_json(r#"{"version": 2, "violations": []}"#).expect_err("version");
        assert!(error.contains("version 2"), "{error}");
    }
}
