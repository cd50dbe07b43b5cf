//! `featgen routes`: the static inventory of endpoints and tasks, for ownership reports.

use std::fmt::Write as _;

use serde::Serialize;

use crate::facts::Kind;
use crate::features::{KnownFeature, Language};
use crate::finding::Location;

/// One endpoint or task found in the sources, with its feature's ownership when assigned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RouteEntry {
    /// `route` or `task`.
    pub kind: &'static str,
    /// HTTP method (`GET`; `*` for any; `A|B` for several), when known.
    pub method: Option<String>,
    /// HTTP path, when known.
    pub path: Option<String>,
    /// The function (crate-relative path in Rust, name in Python).
    pub handler: String,
    /// The `endpoint` label profiles carry for it: the marker's `endpoint = ".."`, else the
    /// function's name; `None` when it has no marker.
    pub endpoint: Option<String>,
    /// YAML name of the feature; `None` when unassigned or not in the registry.
    pub feature: Option<String>,
    /// Feature group of the feature.
    pub group: Option<String>,
    /// Team owning the feature.
    pub team: Option<String>,
    /// Tier of the feature.
    pub tier: Option<String>,
    /// Where the function (or, failing that, its registration) is.
    pub file: String,
    /// Line of `file`.
    pub line: u32,
    /// `rust` or `python`.
    pub language: &'static str,
}

impl RouteEntry {
    pub(crate) fn new(kind: Kind, handler: &str, at: &Location, language: Language) -> Self {
        RouteEntry {
            kind: kind.as_str(),
            method: None,
            path: None,
            handler: handler.to_owned(),
            endpoint: None,
            feature: None,
            group: None,
            team: None,
            tier: None,
            file: at.path.clone(),
            line: at.line,
            language: match language {
                Language::Rust => "rust",
                Language::Python => "python",
            },
        }
    }

    pub(crate) fn assign(&mut self, feature: &KnownFeature) {
        self.feature = Some(feature.name.clone());
        self.group = Some(feature.group.clone());
        self.team = Some(feature.team.clone());
        self.tier = Some(feature.tier.clone());
    }

    /// The cells of the table and CSV formats, in [`HEADERS`] order.
    fn cells(&self) -> Vec<String> {
        let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
        vec![
            self.kind.to_owned(),
            or_dash(&self.method),
            or_dash(&self.path),
            self.handler.clone(),
            or_dash(&self.endpoint),
            or_dash(&self.feature),
            or_dash(&self.group),
            or_dash(&self.team),
            or_dash(&self.tier),
            self.file.clone(),
            self.line.to_string(),
            self.language.to_owned(),
        ]
    }
}

/// Column headers of the table and CSV formats.
const HEADERS: [&str; 12] = [
    "kind", "method", "path", "handler", "endpoint", "feature", "group", "team", "tier", "file",
    "line", "language",
];

/// Output format of `featgen routes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoutesFormat {
    /// Aligned columns for a terminal.
    Table,
    /// A JSON array of objects.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
}

/// Renders `routes` (already sorted) in `format`.
pub fn render_routes(routes: &[RouteEntry], format: RoutesFormat) -> String {
    match format {
        RoutesFormat::Json => {
            let mut out = serde_json::to_string_pretty(routes).unwrap_or_else(|_| "[]".to_owned());
            out.push('\n');
            out
        }
        RoutesFormat::Csv => {
            let mut out = String::new();
            let headers = HEADERS.map(String::from).to_vec();
            for row in std::iter::once(headers).chain(routes.iter().map(RouteEntry::cells)) {
                let cells: Vec<String> = row.iter().map(|c| csv_field(c)).collect();
                out.push_str(&cells.join(","));
                out.push_str("\r\n");
            }
            out
        }
        RoutesFormat::Table => {
            let headers = HEADERS.map(str::to_uppercase).to_vec();
            let rows: Vec<Vec<String>> = std::iter::once(headers)
                .chain(routes.iter().map(RouteEntry::cells))
                .collect();
            let mut widths = vec![0; HEADERS.len()];
            for row in &rows {
                for (width, cell) in widths.iter_mut().zip(row) {
                    *width = (*width).max(cell.chars().count());
                }
            }
            let mut out = String::new();
            for row in &rows {
                let mut line = String::new();
                for (cell, width) in row.iter().zip(&widths) {
                    let _ = write!(line, "{cell:<width$}  ");
                }
                out.push_str(line.trim_end());
                out.push('\n');
            }
            out
        }
    }
}

/// Quotes a CSV field when it needs it.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}
