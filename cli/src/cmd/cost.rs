//! `featgen cost`: CPU shares and the cloud bill in, cost rows that sum to the bill out.
//!
//! Reads the share files (any row format of `featgen_attribution::format`), or computes the
//! share rows from profiles or Pyroscope with `featgen shares`'s options and code
//! ([`ShareSourceArgs`]), then reads the billing files, and writes the priced rows to `--out`
//! (atomically) or stdout. The reconciliation goes to stderr: human text, or one JSON document
//! with `--summary json` (the default when `--format json`). Exit status: 0 when the rows
//! balance, 2 on bad input (located, with the fix), too many skipped billing rows, or a
//! reconciliation that does not balance.

use std::cell::RefCell;
use std::path::PathBuf;

use featgen_attribution::billing::{
    BillReader, BillingFormat, BillingOptions, CostColumn, DeploymentKey,
};
use featgen_attribution::cost::{CostError, Reconciliation, allocate, sort_shares};
use featgen_attribution::format::{self, Format, RowWriter};
use featgen_attribution::postgres::{self, PgWriter};
use featgen_attribution::time::HOUR;
use featgen_attribution::{CostRow, ShareRow};

use crate::Status;
use crate::cmd::share_source::{ShareSourceArgs, read_shares};
use crate::config::Config;

/// Format of the reconciliation summary on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    /// Text for people.
    Human,
    /// One JSON document.
    Json,
}

/// Arguments of `featgen cost`.
#[derive(clap::Args, Debug)]
pub struct CostArgs {
    /// Share rows written by `featgen shares` (NDJSON, JSON, CSV or Parquet, gzip or not);
    /// repeatable. Or the profiles themselves, with `featgen shares`'s options.
    #[arg(
        long,
        value_name = "FILE",
        num_args = 1..,
        required_unless_present_any = ["profiles", "pyroscope"],
        conflicts_with = "ShareSourceArgs"
    )]
    pub shares: Vec<PathBuf>,
    /// Instead of --shares: the CPU shares computed here, as `featgen shares` computes them.
    #[command(flatten)]
    pub source: ShareSourceArgs,
    /// Billing export (CSV, NDJSON, a JSON array or Parquet, gzip or not); repeatable.
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub billing: Vec<PathBuf>,
    /// Billing format: article, focus, gcp, aws [default: detected from each file's columns].
    #[arg(long, value_name = "FORMAT", value_parser = clap::builder::ValueParser::new(str::parse::<BillingFormat>))]
    pub billing_format: Option<BillingFormat>,
    /// Currency of billing rows that carry none (the article's).
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// Amount billed: FOCUS EffectiveCost (default), BilledCost, ListCost, ContractedCost; `net`
    /// for AWS's net split columns (GCP is always net of credits).
    #[arg(long, value_name = "COLUMN", value_parser = clap::builder::ValueParser::new(str::parse::<CostColumn>))]
    pub cost: Option<CostColumn>,
    /// Tag or label naming the deployment [default: FOCUS `deployment`, GCP
    /// `k8s-workload-name`, AWS `aws:eks:deployment`].
    #[arg(long, value_name = "KEY")]
    pub deployment_tag: Option<String>,
    /// GCP and AWS: deployment key `name`, `namespace` (namespace/name) or `cluster`
    /// (cluster/namespace/name), to match the profiles' `deployment` label.
    #[arg(long, value_name = "KEY", default_value = "name", value_parser = clap::builder::ValueParser::new(str::parse::<DeploymentKey>))]
    pub deployment_key: DeploymentKey,
    /// Billing rows that may be skipped (unreadable number or time, end before start, missing
    /// amount) before the run fails.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_skipped: u64,
    /// Format of the cost rows: ndjson, json, csv, parquet [default: from --out's extension,
    /// else ndjson].
    #[arg(long, value_name = "FORMAT", value_parser = clap::builder::ValueParser::new(str::parse::<Format>))]
    pub format: Option<Format>,
    /// Format of the reconciliation on stderr [default: json with --format json, else human].
    #[arg(long, value_enum)]
    pub summary: Option<SummaryFormat>,
    /// Also write the billed slices as the hourly billing table (CSV) that the warehouse's
    /// `attribution.sql` reads.
    #[arg(long, value_name = "FILE")]
    pub billing_hourly_out: Option<PathBuf>,
    /// Also write the rows to PostgreSQL's `fact_feature_cost` (`postgres://...` or libpq
    /// `key=value` pairs), replacing the (start_time, deployment) slices written in one
    /// transaction; the rows then go to stdout only with `--out -`. (`--to` is the period's
    /// end, as in `featgen shares`.)
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// A PEM file of CA certificates to trust for `--postgres`, beside Mozilla's.
    #[arg(long, value_name = "FILE", requires = "postgres")]
    pub ca_file: Option<PathBuf>,
    /// Write the rows here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `featgen cost`.
pub fn run(config: &Config, args: &CostArgs) -> Status {
    // From profiles or Pyroscope: the rows `featgen shares` would write, by the same code.
    let computed = if args.source.given() {
        match read_shares(config, &args.source) {
            Ok((read, _)) => {
                eprintln!(
                    "{} share row(s): {}",
                    read.shares.rows.len(),
                    read.description
                );
                Some(read.shares.rows)
            }
            Err(status) => return status,
        }
    } else {
        None
    };
    match price(args, computed) {
        Ok(summary) => {
            let summary_format = args.summary.unwrap_or(match args.format {
                Some(Format::Json) => SummaryFormat::Json,
                _ => SummaryFormat::Human,
            });
            match summary_format {
                SummaryFormat::Human => eprint!("{summary}"),
                SummaryFormat::Json => eprintln!(
                    "{}",
                    serde_json::to_string(&summary).expect("the summary serializes")
                ),
            }
            if summary.balanced() {
                Status::Ok
            } else {
                eprintln!(
                    "error: the cost rows do not sum to the bill (a featgen bug; please report it)"
                );
                Status::Error
            }
        }
        Err(message) => {
            eprintln!("error: {message}");
            Status::Error
        }
    }
}

/// Prices the share rows (`computed`, else those of `--shares`) against the bill.
fn price(args: &CostArgs, computed: Option<Vec<ShareRow>>) -> Result<Reconciliation, String> {
    let read_error = RefCell::new(None);
    let step = match &computed {
        Some(_) => args.source.step.seconds(),
        None => share_stream(&args.shares, &read_error)
            .next()
            .map_or(HOUR, |row| row.end_time.unix() - row.start_time.unix()),
    };
    if let Some(err) = read_error.take() {
        return Err(err);
    }
    let mut bill = BillReader::new(BillingOptions {
        format: args.billing_format,
        currency: args.currency.clone(),
        cost: args.cost,
        deployment_tag: args.deployment_tag.clone(),
        deployment_key: args.deployment_key,
        step,
        max_skipped: args.max_skipped,
    });
    for path in &args.billing {
        bill.read_file(path).map_err(|err| err.to_string())?;
    }
    let bill = bill.finish().map_err(|err| err.to_string())?;
    if let Some(path) = &args.billing_hourly_out {
        bill.write_hourly_csv(path).map_err(|err| err.to_string())?;
    }
    // The share rows stream when the files come in (start_time, deployment) order, as `featgen
    // shares` writes them, and each (step, deployment)'s cost rows are written as soon as it is
    // priced; otherwise the rows are read again, whole, and sorted. `--postgres` streams them
    // too, by batches, into one transaction committed at the end.
    let out_format = args
        .format
        .or_else(|| args.out.as_deref().and_then(Format::from_path))
        .unwrap_or(Format::Ndjson);
    let write_out = args.postgres.is_none() || args.out.is_some();
    let new_writer = || -> Result<Option<RowWriter<CostRow>>, String> {
        write_out
            .then(|| RowWriter::create(out_format, args.out.as_deref()))
            .transpose()
            .map_err(|err| err.to_string())
    };
    let mut client = match &args.postgres {
        Some(conninfo) => {
            let options = postgres::PgOptions {
                ca_file: args.ca_file.clone(),
            };
            Some(postgres::connect(conninfo, &options).map_err(|err| err.to_string())?)
        }
        None => None,
    };
    // Share rows in memory (computed, or sorted after the files turned out unsorted), else the
    // files streamed.
    let mut shares = computed;
    loop {
        // Each attempt has its own output file and transaction: an abandoned attempt's
        // temporary file is removed and its rows rolled back when they drop.
        let mut writer = new_writer()?;
        let mut warehouse = begin(&mut client)?;
        let mut emit = |row: CostRow| -> std::io::Result<()> {
            if let Some(warehouse) = &mut warehouse {
                warehouse.write(&row).map_err(std::io::Error::other)?;
            }
            match &mut writer {
                Some(writer) => writer.write(row).map_err(std::io::Error::other),
                None => Ok(()),
            }
        };
        let streamed = match shares.take() {
            Some(rows) => allocate(&bill, rows, &mut emit),
            None => allocate(&bill, share_stream(&args.shares, &read_error), &mut emit),
        };
        if let Some(err) = read_error.take() {
            return Err(err);
        }
        let summary = match streamed {
            Err(CostError::Unsorted { .. }) => {
                let mut rows: Vec<ShareRow> = share_stream(&args.shares, &read_error).collect();
                if let Some(err) = read_error.take() {
                    return Err(err);
                }
                sort_shares(&mut rows);
                shares = Some(rows);
                continue;
            }
            other => other.map_err(|err| err.to_string())?,
        };
        if let Some(warehouse) = warehouse {
            let report = warehouse.finish().map_err(|err| err.to_string())?;
            eprintln!(
                "fact_feature_cost: {} slices replaced ({} rows deleted, {} inserted)",
                report.slices, report.deleted, report.inserted
            );
        }
        if let Some(writer) = writer {
            writer.finish().map_err(|err| err.to_string())?;
        }
        return Ok(summary);
    }
}

/// A transaction writing `fact_feature_cost` on `client`, when there is one (`--postgres`).
fn begin(client: &mut Option<postgres::Client>) -> Result<Option<PgWriter<'_, CostRow>>, String> {
    client
        .as_mut()
        .map(PgWriter::begin)
        .transpose()
        .map_err(|err| err.to_string())
}

/// The share rows of `paths`, merged in (start_time, deployment) order; the first read error
/// ends them and is kept in `error`.
fn share_stream<'a>(
    paths: &'a [PathBuf],
    error: &'a RefCell<Option<String>>,
) -> impl Iterator<Item = ShareRow> + 'a {
    let keep = move |err: String| {
        error.borrow_mut().get_or_insert(err);
    };
    format::read_merged::<ShareRow>(paths, None)
        .map_err(|err| keep(err.to_string()))
        .into_iter()
        .flatten()
        .map_while(move |row| row.map_err(|err| keep(err.to_string())).ok())
}
