//! `featgen lint`: finds endpoints and tasks that have no feature.
//!
//! The linter reads source code statically (it never depends on the runtime route list):
//! Rust with syn, Python with tree-sitter, every file in parallel, honouring `.gitignore`.
//! [`lint`] walks the given roots and returns a [`Report`] of [`Finding`]s and the static route
//! inventory; [`render`] and [`render_routes`] format them; a [`Baseline`] keeps recorded
//! violations from failing.
//!
//! ```no_run
//! use featgen_lint::{Format, KnownFeatures, LintConfig, Summary, lint, render};
//! # fn features() -> KnownFeatures { KnownFeatures::default() }
//! let report = lint(&["src".into()], &features(), "registry".as_ref(), &LintConfig::default())?;
//! print!("{}", render(&report.findings, Format::Human, Summary { files: report.files, baselined: 0 }));
//! # Ok::<(), featgen_lint::LintError>(())
//! ```

#![forbid(unsafe_code)]

mod baseline;
mod check;
mod config;
mod facts;
mod features;
mod finding;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod output;
mod python;
mod routes;
mod rust;
mod sources;

use std::fmt;
use std::path::{Path, PathBuf};

pub use baseline::Baseline;
pub use config::LintConfig;
pub use features::{Deprecated, KnownFeature, KnownFeatures, Language};
pub use finding::{Finding, Location, Rule, Severity};
pub use output::{Format, Summary, render};
pub use routes::{RouteEntry, RoutesFormat, render_routes};
pub use rust::depth::MAX_NESTING;
pub use sources::MAX_FILE_BYTES;

/// What a lint run found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Every finding, sorted by file, line, column and rule.
    pub findings: Vec<Finding>,
    /// Endpoints and tasks found, sorted by file and line.
    pub routes: Vec<RouteEntry>,
    /// Number of source files linted.
    pub files: usize,
}

impl Report {
    /// Whether some file could not be read or parsed (exit status 2).
    pub fn has_parse_errors(&self) -> bool {
        self.findings.iter().any(|f| f.rule == Rule::ParseError)
    }
}

/// Whether `findings` fail the lint: any error, or any warning with `deny_warnings`.
pub fn fails(findings: &[Finding], deny_warnings: bool) -> bool {
    findings
        .iter()
        .any(|f| f.severity() == Severity::Error || deny_warnings)
}

/// Why a lint run could not happen at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LintError {
    /// A path given to lint does not exist.
    Path(PathBuf, String),
    /// The `[lint]` configuration is invalid (a bad glob).
    Config(String),
}

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LintError::Path(path, why) => write!(f, "{}: {why}", path.display()),
            LintError::Config(why) => write!(f, "invalid [lint] configuration: {why}"),
        }
    }
}

impl std::error::Error for LintError {}

/// Lints every `.rs` and `.py` file under `roots` (files or directories) against `features`.
///
/// `registry` is where `unused-feature` findings point. Files that do not parse become
/// [`Rule::ParseError`] findings; everything else is still linted.
///
/// # Errors
/// A root that does not exist, or an invalid glob in `config`. Unreadable directories and
/// files, files too large or too deeply nested, are [`Rule::ParseError`] findings.
pub fn lint(
    roots: &[PathBuf],
    features: &KnownFeatures,
    registry: &Path,
    config: &LintConfig,
) -> Result<Report, LintError> {
    let sources = sources::collect(roots, config)?;
    let files = sources.files;
    let at = Location {
        path: finding::display(registry),
        line: 1,
        column: 1,
    };
    let (mut findings, mut routes) = check::check(sources, features, &at);
    findings
        .sort_by(|a, b| (&a.location, a.rule, &a.handler).cmp(&(&b.location, b.rule, &b.handler)));
    findings.dedup();
    routes.sort_by(|a, b| (&a.file, a.line, &a.handler).cmp(&(&b.file, b.line, &b.handler)));
    Ok(Report {
        findings,
        routes,
        files,
    })
}
