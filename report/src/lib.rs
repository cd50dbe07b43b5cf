//! featgen-report: cost and share rows into one self-contained HTML report.
//!
//! `featgen report` reads the rows `featgen cost` and `featgen shares` write and draws what each
//! feature costs: a pie, a sunburst (feature group → feature → endpoint), a stacked area over
//! time, tables by team, tier, group, feature and endpoint, what changed against the previous
//! period (flagged only beyond sampling noise) and the naive "equal cost per request" charge
//! beside featgen's.
//!
//! The page is one file: the vendored Apache ECharts, the page's script and style and the data
//! are all inline, and a Content-Security-Policy forbids every request, so it opens from
//! `file://` and can be attached to a ticket. The rows are aggregated before they are embedded
//! (per time bucket, deployment and endpoint, then per period and deployment), so a month of a
//! large fleet stays a few megabytes. Every money figure is summed here with `rust_decimal` and
//! embedded as a decimal string; the page never adds money in floating point.
//!
//! Reading is done twice through [`Rows`]: once to find the window, the currency and the
//! billed deployment-steps, once to aggregate, so memory stays bounded by the aggregates and
//! not by the input.

#![forbid(unsafe_code)]

mod aggregate;
mod change;
mod html;
mod model;
pub mod read;

use std::fmt;

use featgen_attribution::{CostRow, ShareRow, UtcTime};

/// What to draw: the window and the deployment to narrow to.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Start of the report's window, inclusive; default: the earliest row.
    pub from: Option<UtcTime>,
    /// End of the report's window, exclusive; default: the end of the latest row.
    pub to: Option<UtcTime>,
    /// Only this deployment's rows.
    pub deployment: Option<String>,
    /// Only rows in this currency; needed when the cost rows carry several.
    pub currency: Option<String>,
}

/// A source of rows, read once per pass (twice in all).
pub trait Rows {
    /// Calls `sink` with every cost row, in input order.
    fn costs(&self, sink: &mut dyn FnMut(CostRow)) -> Result<(), Error>;
    /// Calls `sink` with every share row, in input order.
    fn shares(&self, sink: &mut dyn FnMut(ShareRow)) -> Result<(), Error>;
}

/// Rows already in memory (tests, benchmarks, callers that computed them).
#[derive(Clone, Debug, Default)]
pub struct RowsInMemory {
    /// The cost rows.
    pub costs: Vec<CostRow>,
    /// The share rows.
    pub shares: Vec<ShareRow>,
}

impl Rows for RowsInMemory {
    fn costs(&self, sink: &mut dyn FnMut(CostRow)) -> Result<(), Error> {
        self.costs.iter().cloned().for_each(sink);
        Ok(())
    }

    fn shares(&self, sink: &mut dyn FnMut(ShareRow)) -> Result<(), Error> {
        self.shares.iter().cloned().for_each(sink);
        Ok(())
    }
}

/// Why no report was written.
#[derive(Debug)]
pub enum Error {
    /// An input file could not be read or a row in it is malformed.
    Input(featgen_attribution::format::FormatError),
    /// The rows (after `--deployment`, `--from`, `--to`) cannot make a report.
    Rows(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(err) => err.fmt(f),
            Error::Rows(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

/// The report as one HTML document: the same rows and options always give the same bytes.
pub fn render(rows: &dyn Rows, options: &Options) -> Result<String, Error> {
    let aggregates = aggregate::Aggregates::read(rows, options)?;
    let data = model::build(&aggregates);
    Ok(html::page(&data))
}
