//! `featgen cost`: CPU shares and the cloud bill in, cost rows that sum to the bill out.
//!
//! Reads the share files, then the billing files, and streams the priced rows to `--out` (a
//! temporary file beside it, renamed into place when everything succeeded) or stdout. The
//! reconciliation goes to stderr: human text, or one JSON document with `--summary json`
//! (the default when `--format json`). Exit status: 0 when the rows balance, 2 on bad input
//! (located, with the fix), too many skipped billing rows, or a reconciliation that does not
//! balance.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use featgen_attribution::billing::{
    BillReader, BillingFormat, BillingOptions, CostColumn, DeploymentKey,
};
use featgen_attribution::cost::{Reconciliation, allocate, sort_shares};
use featgen_attribution::time::HOUR;
use featgen_attribution::{CostRow, ShareRow};

use crate::Status;

/// Format of the cost rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RowFormat {
    /// One JSON object per line.
    Ndjson,
    /// One JSON array.
    Json,
}

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
    /// Share rows written by `featgen shares` (NDJSON or a JSON array); repeatable.
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub shares: Vec<PathBuf>,
    /// Billing export (CSV, NDJSON or a JSON array, gzip or not); repeatable.
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
    /// Format of the cost rows.
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: RowFormat,
    /// Format of the reconciliation on stderr [default: json with --format json, else human].
    #[arg(long, value_enum)]
    pub summary: Option<SummaryFormat>,
    /// Write the rows here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `featgen cost`.
pub fn run(args: &CostArgs) -> Status {
    match price(args) {
        Ok(summary) => {
            let summary_format = args.summary.unwrap_or(match args.format {
                RowFormat::Json => SummaryFormat::Json,
                RowFormat::Ndjson => SummaryFormat::Human,
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

fn price(args: &CostArgs) -> Result<Reconciliation, String> {
    let mut shares = Vec::new();
    for path in &args.shares {
        read_shares(path, &mut shares)?;
    }
    sort_shares(&mut shares);
    let step = shares
        .first()
        .map_or(HOUR, |row| row.end_time.unix() - row.start_time.unix());
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
    let mut out = Output::open(args.out.as_deref())?;
    let mut first = true;
    let format = args.format;
    let summary = allocate(&bill, shares, |row: CostRow| {
        let writer = out.writer();
        match format {
            RowFormat::Ndjson => {}
            RowFormat::Json => writer.write_all(if first { b"[\n" } else { b",\n" })?,
        }
        first = false;
        serde_json::to_writer(&mut *writer, &row)?;
        if format == RowFormat::Ndjson {
            writer.write_all(b"\n")?;
        }
        Ok(())
    })
    .map_err(|err| err.to_string())?;
    if format == RowFormat::Json {
        out.writer()
            .write_all(if first { b"[]\n" } else { b"\n]\n" })
            .map_err(|err| err.to_string())?;
    }
    out.commit()?;
    Ok(summary)
}

/// Reads share rows from NDJSON or a JSON array.
fn read_shares(path: &Path, rows: &mut Vec<ShareRow>) -> Result<(), String> {
    let fail = |line: usize, err: &dyn std::fmt::Display| {
        format!(
            "{}:{line}: not a share row: {err} (give the NDJSON or JSON output of `featgen shares`)",
            path.display()
        )
    };
    let file = std::fs::File::open(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let mut reader = std::io::BufReader::new(file);
    if reader
        .fill_buf()
        .map_err(|err| fail(0, &err))?
        .trim_ascii_start()
        .starts_with(b"[")
    {
        let array: Vec<ShareRow> =
            serde_json::from_reader(reader).map_err(|err| fail(err.line(), &err))?;
        rows.extend(array);
        return Ok(());
    }
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|err| fail(index + 1, &err))?;
        if !line.trim().is_empty() {
            rows.push(serde_json::from_str(&line).map_err(|err| fail(index + 1, &err))?);
        }
    }
    Ok(())
}

/// Stdout, or a temporary file beside `--out` renamed into place by [`Output::commit`] (removed
/// if the run fails first), so a failed run never leaves a partial file.
enum Output {
    Stdout(BufWriter<std::io::Stdout>),
    File {
        writer: BufWriter<std::fs::File>,
        temp: PathBuf,
        path: PathBuf,
    },
}

impl Output {
    fn open(path: Option<&Path>) -> Result<Output, String> {
        let Some(path) = path else {
            return Ok(Output::Stdout(BufWriter::new(std::io::stdout())));
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = dir.join(format!(".{name}.featgen-{}.tmp", std::process::id()));
        let file = std::fs::File::create(&temp)
            .map_err(|err| format!("cannot write {}: {err}", temp.display()))?;
        Ok(Output::File {
            writer: BufWriter::new(file),
            temp,
            path: path.to_owned(),
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Output::Stdout(writer) => writer,
            Output::File { writer, .. } => writer,
        }
    }

    fn commit(mut self) -> Result<(), String> {
        self.writer()
            .flush()
            .map_err(|err| format!("cannot write the cost rows: {err}"))?;
        if let Output::File { temp, path, .. } = &self {
            std::fs::rename(temp, path)
                .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        }
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Output::File { temp, .. } = self {
            // After a commit the temporary file is gone and this fails harmlessly.
            let _ = std::fs::remove_file(temp);
        }
    }
}
