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

    /// The columns of the table and CSV formats, in order.
    fn columns(&self) -> [&str; 10] {
        [
            self.kind,
            self.method.as_deref().unwrap_or("-"),
            self.path.as_deref().unwrap_or("-"),
            self.handler.as_str(),
            self.feature.as_deref().unwrap_or("-"),
            self.group.as_deref().unwrap_or("-"),
            self.team.as_deref().unwrap_or("-"),
            self.tier.as_deref().unwrap_or("-"),
            self.file.as_str(),
            self.language,
        ]
    }
}

/// Column headers of the table and CSV formats.
const HEADERS: [&str; 10] = [
    "kind", "method", "path", "handler", "feature", "group", "team", "tier", "file", "language",
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
            let mut row = |cells: Vec<String>| {
                out.push_str(&cells.join(","));
                out.push_str("\r\n");
            };
            row(HEADERS
                .iter()
                .chain(["line"].iter())
                .map(|h| (*h).to_owned())
                .collect());
            for route in routes {
                let line = route.line.to_string();
                row(route
                    .columns()
                    .iter()
                    .chain([&line.as_str()])
                    .map(|c| csv_field(c))
                    .collect());
            }
            out
        }
        RoutesFormat::Table => {
            let rows: Vec<Vec<String>> = routes
                .iter()
                .map(|r| {
                    let mut cells: Vec<String> =
                        r.columns().iter().map(|c| (*c).to_owned()).collect();
                    cells[8] = format!("{}:{}", r.file, r.line);
                    cells
                })
                .collect();
            let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.len()).collect();
            for row in &rows {
                for (width, cell) in widths.iter_mut().zip(row) {
                    *width = (*width).max(cell.chars().count());
                }
            }
            let mut out = String::new();
            let header: Vec<String> = HEADERS.iter().map(|h| h.to_uppercase()).collect();
            for row in std::iter::once(&header).chain(&rows) {
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
