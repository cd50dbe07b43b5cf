//! What the linter reports: rules, severities, locations and findings.

use std::fmt;
use std::path::Path;

use serde::Serialize;

pub use featgen_registry::Severity;

/// A check of the linter. The ids are part of the output contract (baselines, SARIF rule ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// A function used as an HTTP handler without `#[route(..., feature = ...)]`.
    UnassignedEndpoint,
    /// A function registered as a background task without `#[task(feature = ...)]`.
    UnassignedTask,
    /// `#[route]`/`#[task]` (or a configured Python decorator) without `feature`.
    MissingFeature,
    /// A `feature` that the registry does not have.
    UnknownFeature,
    /// A registry feature that no endpoint or task uses.
    UnusedFeature,
    /// Code that still uses a deprecated feature.
    DeprecatedFeature,
    /// A source file that does not parse; the rest is still linted.
    ParseError,
}

impl Rule {
    /// Every rule, in the order of the README.
    pub const ALL: [Rule; 7] = [
        Rule::UnassignedEndpoint,
        Rule::UnassignedTask,
        Rule::MissingFeature,
        Rule::UnknownFeature,
        Rule::UnusedFeature,
        Rule::DeprecatedFeature,
        Rule::ParseError,
    ];

    /// The stable kebab-case id.
    pub fn id(self) -> &'static str {
        match self {
            Rule::UnassignedEndpoint => "unassigned-endpoint",
            Rule::UnassignedTask => "unassigned-task",
            Rule::MissingFeature => "missing-feature",
            Rule::UnknownFeature => "unknown-feature",
            Rule::UnusedFeature => "unused-feature",
            Rule::DeprecatedFeature => "deprecated-feature",
            Rule::ParseError => "parse-error",
        }
    }

    /// The severity every finding of this rule has.
    pub fn severity(self) -> Severity {
        match self {
            Rule::UnusedFeature | Rule::DeprecatedFeature => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// One sentence describing the rule (SARIF `shortDescription`, human summaries).
    pub fn description(self) -> &'static str {
        match self {
            Rule::UnassignedEndpoint => {
                "HTTP handlers must carry #[route(..., feature = ...)] so their CPU has an owner"
            }
            Rule::UnassignedTask => {
                "Background tasks must carry #[task(feature = ...)] so their CPU has an owner"
            }
            Rule::MissingFeature => "#[route]/#[task] and their Python decorators need a feature",
            Rule::UnknownFeature => "The feature must exist in the registry",
            Rule::UnusedFeature => "Every registry feature should be used by an endpoint or task",
            Rule::DeprecatedFeature => "Code should move off deprecated features",
            Rule::ParseError => "Source files must parse to be linted",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A position in a source file: a path as given on the command line (with `/` separators),
/// 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    /// The file, relative to the working directory when it was given relative.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path, self.line, self.column)
    }
}

/// Display form of a path: `/` separators, no leading `./`.
pub(crate) fn display(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    match text.strip_prefix("./") {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

/// One violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule violated.
    pub rule: Rule,
    /// Where to fix it: the handler's definition when known, else the registration site.
    pub location: Location,
    /// One line saying what is wrong.
    pub message: String,
    /// The handler, task or feature concerned: the stable part of the baseline key
    /// (`handlers::list_messages`, `Chat::send`, `<closure> GET /health`, `gift-links`).
    pub handler: Option<String>,
    /// Where the handler is registered (router or task call), when that differs from `location`.
    pub registered_at: Option<Location>,
    /// How to fix it.
    pub suggestion: Option<String>,
}

impl Finding {
    /// The severity of the finding's rule.
    pub fn severity(&self) -> Severity {
        self.rule.severity()
    }
}
