//! SARIF 2.1.0 for GitHub code scanning: every rule with its default level, one result per
//! finding, and `partialFingerprints` derived from the baseline key (rule, file, handler) so that
//! re-uploads after unrelated edits update alerts instead of duplicating them.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::baseline;
use crate::finding::{Finding, Location, Rule};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The SARIF log.
pub(super) fn render(findings: &[Finding]) -> String {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id(),
                "shortDescription": {"text": rule.description()},
                "defaultConfiguration": {"level": rule.severity().as_str()},
            })
        })
        .collect();
    let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
    let results: Vec<Value> = findings
        .iter()
        .map(|finding| {
            let key = baseline::key(finding);
            let occurrence = seen.entry(key.clone()).or_insert(0);
            *occurrence += 1;
            let fingerprint = fnv1a(&format!("{}\0{}\0{}\0{}", key.0, key.1, key.2, occurrence));
            let mut text = finding.message.clone();
            if let Some(suggestion) = &finding.suggestion {
                text.push_str(&format!(" (help: {suggestion})"));
            }
            let mut result = json!({
                "ruleId": finding.rule.id(),
                "ruleIndex": Rule::ALL.iter().position(|r| *r == finding.rule).unwrap_or(0),
                "level": finding.severity().as_str(),
                "message": {"text": text},
                "locations": [location(&finding.location, None)],
                "partialFingerprints": {"featgenKey/v1": format!("{fingerprint:016x}")},
            });
            if let Some(registered) = &finding.registered_at {
                result["relatedLocations"] = json!([location(registered, Some("registered here"))]);
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "featgen lint",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}

fn location(at: &Location, message: Option<&str>) -> Value {
    let mut value = json!({
        "physicalLocation": {
            "artifactLocation": {"uri": uri(&at.path)},
            "region": {"startLine": at.line, "startColumn": at.column},
        }
    });
    if let Some(message) = message {
        value["id"] = json!(0);
        value["message"] = json!({"text": message});
    }
    value
}

/// A relative URI reference for a path: percent-encodes what is not allowed unescaped.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(byte))
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// FNV-1a, 64 bits: stable across platforms and Rust versions, unlike `DefaultHasher`.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_and_uris_are_stable() {
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(uri("src/my file.rs"), "src/my%20file.rs");
    }
}
