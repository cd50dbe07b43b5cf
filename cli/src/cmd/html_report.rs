//! `featgen report`: cost (and share) rows into one self-contained HTML page.

use std::path::PathBuf;

use featgen_attribution::UtcTime;
use featgen_report::read::RowFiles;
use featgen_report::{Options, render};

use crate::Status;

/// Arguments of `featgen report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Cost rows as `featgen cost` writes them (NDJSON, JSON, CSV or Parquet; gzip too).
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    costs: Vec<PathBuf>,
    /// Share rows as `featgen shares` writes them: CPU of deployment-steps the bill lacks.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    shares: Vec<PathBuf>,
    /// The HTML file to write (replaced atomically).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Start of the window, inclusive (`2025-06-12 00:00:00 UTC` or RFC 3339); default: the
    /// first row. Rows of the same length before it feed "What changed". The window is
    /// widened to whole hours (whole days when it is longer than a week).
    #[arg(long, value_name = "TIME")]
    from: Option<UtcTime>,
    /// End of the window, exclusive; default: the end of the last row.
    #[arg(long, value_name = "TIME")]
    to: Option<UtcTime>,
    /// Only this deployment.
    #[arg(long, value_name = "NAME")]
    deployment: Option<String>,
    /// Only amounts in this currency (needed when the rows carry several).
    #[arg(long, value_name = "CODE")]
    currency: Option<String>,
}

/// Reads the rows, writes the page; errors name the file, line and column.
pub fn run(args: &ReportArgs) -> Status {
    let rows = RowFiles {
        costs: args.costs.clone(),
        shares: args.shares.clone(),
    };
    let options = Options {
        from: args.from,
        to: args.to,
        deployment: args.deployment.clone(),
        currency: args.currency.clone(),
    };
    let html = match render(&rows, &options) {
        Ok(html) => html,
        Err(err) => {
            eprintln!("error: {err}");
            return Status::Error;
        }
    };
    if let Err(err) = featgen_codegen::output::write_atomic(&args.out, &html) {
        eprintln!("error: cannot write {}: {err}", args.out.display());
        return Status::Error;
    }
    println!(
        "wrote {} ({} KB): open it in a browser, it needs no network",
        args.out.display(),
        html.len().div_ceil(1024)
    );
    Status::Ok
}
