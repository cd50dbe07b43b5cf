//! Billing exports read into one hourly form: per (step, deployment, currency), the amount billed.
//!
//! Four formats, each in its own module, are detected from their columns (or forced): the source
//! article's rows ([`article`]), FOCUS 1.0 to 1.2 ([`focus`]), the GCP detailed export with GKE
//! cost allocation ([`gcp`]) and AWS CUR 2.0 with split cost allocation data ([`aws`]). Files are
//! CSV, newline-delimited JSON, a JSON array or Parquet (flat columns by the column readers, nested
//! ones as JSON), gzip or not. A row whose charge period covers
//! several steps (a daily row) is spread over them in proportion to the seconds it overlaps each,
//! by the exact rule of [`crate::apportion`], so the parts sum to the row. A row that names no
//! deployment lands in an unallocated slice (`deployment` empty, or GKE's `kube:*` name).
//!
//! Rows that cannot be read (an unparsable number or time, an end before its start, a null
//! amount) are skipped and counted by reason; more than `max_skipped` of them fail the load,
//! naming the first of each reason by file, line and column. Problems with a whole file (a
//! missing column, two formats in one file) and a currency that changes within a
//! deployment-hour are errors at once.

pub mod article;
pub mod aws;
pub mod focus;
pub mod gcp;
mod input;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

// Every billing row is looked up by its deployment, currency and slice: foldhash, not SipHash.
use foldhash::{HashMap, HashSet};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::apportion::apportion;
use crate::time::{HOUR, UtcTime};
use input::{ReadError, Row};

/// A billing export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingFormat {
    /// The source article's rows: `usage_start_time`, `total_cost`, `k8s_deployment`, ...
    Article,
    /// FOCUS 1.0–1.2: `ChargePeriodStart`, `BillingCurrency`, the cost columns, `Tags`.
    Focus,
    /// GCP detailed usage export with GKE cost allocation labels.
    Gcp,
    /// AWS CUR 2.0 with split cost allocation data.
    Aws,
}

impl BillingFormat {
    /// Every format, in detection order.
    pub const ALL: [BillingFormat; 4] = [
        BillingFormat::Focus,
        BillingFormat::Aws,
        BillingFormat::Article,
        BillingFormat::Gcp,
    ];

    /// The name used on the command line and in messages.
    pub const fn name(self) -> &'static str {
        match self {
            BillingFormat::Article => "article",
            BillingFormat::Focus => "focus",
            BillingFormat::Gcp => "gcp",
            BillingFormat::Aws => "aws",
        }
    }

    /// The format whose signature columns a row (or a header) has, if any.
    pub fn detect(has: impl Fn(&str) -> bool) -> Option<BillingFormat> {
        BillingFormat::ALL.into_iter().find(|format| match format {
            BillingFormat::Focus => {
                has("ChargePeriodStart") && (has("BilledCost") || has("EffectiveCost"))
            }
            BillingFormat::Aws => {
                has("line_item_usage_start_date") && has("split_line_item_split_cost")
            }
            BillingFormat::Article => has("usage_start_time") && has("total_cost"),
            BillingFormat::Gcp => has("usage_start_time") && has("cost"),
        })
    }
}

impl FromStr for BillingFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<BillingFormat, String> {
        BillingFormat::ALL
            .into_iter()
            .find(|format| format.name() == text)
            .ok_or_else(|| format!("unknown billing format `{text}` (article, focus, gcp, aws)"))
    }
}

/// Which amount of a row is billed (`--cost`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostColumn {
    /// FOCUS `EffectiveCost`: amortized, after discounts; what showback uses (FOCUS default).
    EffectiveCost,
    /// FOCUS `BilledCost`: what the invoice says.
    BilledCost,
    /// FOCUS `ListCost`: at public prices.
    ListCost,
    /// FOCUS `ContractedCost`: at negotiated prices.
    ContractedCost,
    /// AWS: the `_net_` split columns (after discounts); GCP: cost plus credits (its default).
    Net,
}

impl FromStr for CostColumn {
    type Err = String;

    fn from_str(text: &str) -> Result<CostColumn, String> {
        Ok(match text {
            "EffectiveCost" => CostColumn::EffectiveCost,
            "BilledCost" => CostColumn::BilledCost,
            "ListCost" => CostColumn::ListCost,
            "ContractedCost" => CostColumn::ContractedCost,
            "net" => CostColumn::Net,
            _ => {
                return Err(format!(
                    "unknown cost `{text}` (EffectiveCost, BilledCost, ListCost, ContractedCost, net)"
                ));
            }
        })
    }
}

/// Which parts of a Kubernetes workload's identity make the deployment key (GCP and AWS):
/// `name`, `namespace/name` or `cluster/namespace/name`, to match the profiles' `deployment`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeploymentKey {
    /// The workload's name alone (default).
    #[default]
    Name,
    /// `namespace/name`.
    Namespace,
    /// `cluster/namespace/name`.
    Cluster,
}

impl DeploymentKey {
    /// Joins the parts the key asks for; `None` without a name.
    pub(crate) fn join(
        self,
        cluster: Option<&str>,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Option<String> {
        let name = name?;
        Some(match self {
            DeploymentKey::Name => name.to_owned(),
            DeploymentKey::Namespace => format!("{}/{name}", namespace.unwrap_or("")),
            DeploymentKey::Cluster => {
                format!(
                    "{}/{}/{name}",
                    cluster.unwrap_or(""),
                    namespace.unwrap_or("")
                )
            }
        })
    }
}

impl FromStr for DeploymentKey {
    type Err = String;

    fn from_str(text: &str) -> Result<DeploymentKey, String> {
        match text {
            "name" => Ok(DeploymentKey::Name),
            "namespace" => Ok(DeploymentKey::Namespace),
            "cluster" => Ok(DeploymentKey::Cluster),
            _ => Err(format!(
                "unknown deployment key `{text}` (name, namespace, cluster)"
            )),
        }
    }
}

/// How billing files are read.
#[derive(Clone, Debug)]
pub struct BillingOptions {
    /// Force a format instead of detecting it from each file's columns.
    pub format: Option<BillingFormat>,
    /// Currency of formats that carry none (the article's): ISO 4217, default `USD`.
    pub currency: String,
    /// Which amount is billed; `None` for each format's default.
    pub cost: Option<CostColumn>,
    /// The tag or label naming the deployment; `None` for each format's default.
    pub deployment_tag: Option<String>,
    /// GCP and AWS: which parts of the workload identity make the deployment key.
    pub deployment_key: DeploymentKey,
    /// Step length in seconds (the shares' step; an hour by default).
    pub step: i64,
    /// Rows that may be skipped before the load fails.
    pub max_skipped: u64,
}

impl Default for BillingOptions {
    fn default() -> BillingOptions {
        BillingOptions {
            format: None,
            currency: "USD".into(),
            cost: None,
            deployment_tag: None,
            deployment_key: DeploymentKey::Name,
            step: HOUR,
            max_skipped: 0,
        }
    }
}

/// Who a billing row charges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A deployment, named as the profiles' `deployment` label names it.
    Deployment(String),
    /// No deployment: the unallocated bucket, by the name the bill gives it (GKE's
    /// `kube:unallocated`, `kube:system-overhead`) or empty.
    Unallocated(String),
}

/// One billing row as a format reads it, before it is spread over steps.
#[derive(Clone, Debug)]
pub struct Charge {
    /// Start of the charge period, inclusive.
    pub start: UtcTime,
    /// End of the charge period, exclusive.
    pub end: UtcTime,
    /// Who is charged.
    pub target: Target,
    /// ISO 4217 currency.
    pub currency: String,
    /// The amount, at the row's own precision.
    pub amount: Decimal,
    /// AWS: the resource whose cost this split row carries (its parent instance).
    pub split_parent: Option<String>,
    /// AWS: a row without split data, dropped when its resource is some split row's parent
    /// (the split rows already carry its cost).
    pub resource_id: Option<String>,
}

/// Why a row was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// An amount that is not a decimal number.
    UnparsableNumber,
    /// A time that is not a time.
    UnparsableTime,
    /// A charge period that ends before it starts.
    EndBeforeStart,
    /// A charge period longer than [`MAX_CHARGE_SECONDS`]: a typo in a year would otherwise
    /// spread one row over millions of hours.
    PeriodTooLong,
    /// No amount, start or end (empty or `NULL`).
    MissingValue,
    /// A tags, labels or credits cell that is not JSON.
    InvalidJson,
}

impl SkipReason {
    /// The name used in summaries.
    pub const fn name(self) -> &'static str {
        match self {
            SkipReason::UnparsableNumber => "unparsable_number",
            SkipReason::UnparsableTime => "unparsable_time",
            SkipReason::EndBeforeStart => "end_before_start",
            SkipReason::PeriodTooLong => "period_too_long",
            SkipReason::MissingValue => "missing_value",
            SkipReason::InvalidJson => "invalid_json",
        }
    }

    /// How to fix such a row.
    pub const fn fix(self) -> &'static str {
        match self {
            SkipReason::UnparsableNumber => {
                "write a plain decimal number such as 12.34 (no currency sign, no thousands separator)"
            }
            SkipReason::UnparsableTime => {
                "write a UTC time such as 2025-06-12 15:00:00 UTC or 2025-06-12T15:00:00Z"
            }
            SkipReason::EndBeforeStart => "swap the start and end columns, or fix the period",
            SkipReason::PeriodTooLong => {
                "fix the start or end, or split the charge into rows of at most 366 days"
            }
            SkipReason::MissingValue => {
                "fill the cell, or choose a cost column that this export fills (--cost)"
            }
            SkipReason::InvalidJson => "write the cell as a JSON object or array",
        }
    }
}

/// The longest charge period a billing row may cover: 366 days (a leap year), longer than any
/// provider's billing period.
pub const MAX_CHARGE_SECONDS: i64 = 366 * 24 * 3_600;

/// A row's problem, found by a format's reader.
#[derive(Clone, Debug)]
pub struct RowProblem {
    /// Why the row cannot be read.
    pub reason: SkipReason,
    /// The column at fault.
    pub column: String,
    /// What is in it.
    pub detail: String,
}

impl RowProblem {
    pub(crate) fn missing(column: &str) -> RowProblem {
        RowProblem {
            reason: SkipReason::MissingValue,
            column: column.to_owned(),
            detail: "empty or NULL".into(),
        }
    }
}

/// Skipped rows of one reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkipCount {
    /// How many rows.
    pub rows: u64,
    /// The first one, located: `file:line: column "X": ...`.
    pub first: String,
}

/// A billing file that cannot be used: where, what, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillingError {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line (for a JSON array, the element; for Parquet, the row of the file), when
    /// the problem has one.
    pub line: Option<u64>,
    /// The 0-based Parquet row group, for Parquet files.
    pub row_group: Option<u32>,
    /// The column at fault, when there is one.
    pub column: Option<String>,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for BillingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", place(&self.file, self.line, self.row_group))?;
        if let Some(column) = &self.column {
            write!(f, ": column `{column}`")?;
        }
        write!(f, ": {} (fix: {})", self.problem, self.fix)
    }
}

impl std::error::Error for BillingError {}

/// `file:line`, or `file: row group G, row N` for Parquet.
fn place(file: &Path, line: Option<u64>, row_group: Option<u32>) -> String {
    match (line, row_group) {
        (Some(row), Some(group)) => format!("{}: row group {group}, row {row}", file.display()),
        (None, Some(group)) => format!("{}: row group {group}", file.display()),
        (Some(line), None) => format!("{}:{line}", file.display()),
        (None, None) => file.display().to_string(),
    }
}

/// The key of a billed slice: output order is (start, deployment, currency).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SliceKey {
    /// Start of the step.
    pub start: UtcTime,
    /// The deployment, or the unallocated bucket's name (possibly empty).
    pub deployment: String,
    /// ISO 4217 currency.
    pub currency: String,
}

/// The amount billed to one (step, deployment, currency).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slice {
    /// The sum of the rows' parts in this step, at the finest precision among them.
    pub amount: Decimal,
    /// Whether this slice is the unallocated bucket rather than a deployment.
    pub unallocated: bool,
}

/// Every billing file read: the hourly slices and the counts behind them.
///
/// Billing exports are not sorted, so the whole bill is held, in a compact form: each slice is
/// its start, the indices of its deployment and currency names (each name stored once) and its
/// amount, 40 bytes, in output order. A month of 300 deployments is 216,720 slices, 8.7 MB.
#[derive(Clone, Debug, Default)]
pub struct Bill {
    /// Step length in seconds.
    pub step: i64,
    /// The billed slices, in output order: (start, deployment name, currency code).
    slices: Vec<CompactSlice>,
    /// Deployment (or unallocated bucket) names, indexed by [`CompactSlice::deployment`].
    deployments: Vec<String>,
    /// Currency codes, indexed by [`CompactSlice::currency`].
    currencies: Vec<String>,
    /// Billing rows read (skipped ones included).
    pub rows_read: u64,
    /// Skipped rows by reason.
    pub skipped: BTreeMap<SkipReason, SkipCount>,
    /// AWS rows without split data whose resource the split rows already carry (not billed
    /// twice).
    pub split_parents_dropped: u64,
}

/// A row of the hourly billing table (`billing_hourly`) that the warehouse's `attribution.sql`
/// reads: one billed slice, with its amount also as integer units at its scale, so that the SQL
/// splits exactly the integers `featgen cost` splits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HourlyBillingRow {
    /// Start of the step.
    pub start_time: UtcTime,
    /// End of the step.
    pub end_time: UtcTime,
    /// The deployment, or the unallocated bucket's name (possibly empty).
    pub deployment: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// The amount billed.
    pub amount: Decimal,
    /// `amount × 10^amount_scale`, an integer.
    pub amount_units: i128,
    /// The amount's decimal places: the finest among the billing rows summed into it.
    pub amount_scale: u32,
    /// Whether the slice is the unallocated bucket rather than a deployment.
    pub unallocated: bool,
}

/// A billed slice as the [`Bill`] holds it.
#[derive(Clone, Copy, Debug)]
struct CompactSlice {
    start: UtcTime,
    deployment: u32,
    currency: u32,
    amount: Decimal,
    unallocated: bool,
}

/// The key that orders a bill's slices for output: (start, deployment name, currency code).
fn output_order<'a>(
    deployments: &'a [String],
    currencies: &'a [String],
    slice: &CompactSlice,
) -> (UtcTime, &'a str, &'a str) {
    (
        slice.start,
        &deployments[slice.deployment as usize],
        &currencies[slice.currency as usize],
    )
}

/// The index of `name` in `names`, added when new (`index` maps names to their indices).
fn intern(names: &mut Vec<String>, index: &mut HashMap<String, u32>, name: &str) -> u32 {
    if let Some(&at) = index.get(name) {
        return at;
    }
    let at = u32::try_from(names.len()).expect("fewer than 2^32 names");
    names.push(name.to_owned());
    index.insert(name.to_owned(), at);
    at
}

impl Bill {
    /// An empty bill of steps of `step` seconds.
    pub fn new(step: i64) -> Bill {
        Bill {
            step,
            ..Bill::default()
        }
    }

    /// The number of billed slices.
    pub fn len(&self) -> usize {
        self.slices.len()
    }

    /// Whether nothing is billed.
    pub fn is_empty(&self) -> bool {
        self.slices.is_empty()
    }

    /// The slices in output order, (start, deployment, currency).
    pub fn slices(&self) -> impl Iterator<Item = (SliceKey, Slice)> + '_ {
        self.slices.iter().map(|slice| {
            (
                SliceKey {
                    start: slice.start,
                    deployment: self.deployments[slice.deployment as usize].clone(),
                    currency: self.currencies[slice.currency as usize].clone(),
                },
                Slice {
                    amount: slice.amount,
                    unallocated: slice.unallocated,
                },
            )
        })
    }

    /// Adds a slice, unless its key is billed already (then the bill is unchanged and `false`
    /// is returned). For bills built in code: each call is linear in the slices and names held
    /// ([`BillReader`] sums its rows in a hash map and sorts once instead).
    pub fn insert(&mut self, key: SliceKey, slice: Slice) -> bool {
        let found = self.slices.binary_search_by(|held| {
            output_order(&self.deployments, &self.currencies, held).cmp(&(
                key.start,
                key.deployment.as_str(),
                key.currency.as_str(),
            ))
        });
        let Err(at) = found else { return false };
        let compact = CompactSlice {
            start: key.start,
            deployment: self.name_index(&key.deployment, false),
            currency: self.name_index(&key.currency, true),
            amount: slice.amount,
            unallocated: slice.unallocated,
        };
        self.slices.insert(at, compact);
        true
    }

    /// The index of a deployment (or, with `currency`, a currency) name, added when new.
    fn name_index(&mut self, name: &str, currency: bool) -> u32 {
        let names = if currency {
            &mut self.currencies
        } else {
            &mut self.deployments
        };
        match names.iter().position(|held| held == name) {
            Some(at) => at as u32,
            None => {
                names.push(name.to_owned());
                (names.len() - 1) as u32
            }
        }
    }

    /// The slices as rows of the hourly billing table, in key order.
    pub fn hourly_rows(&self) -> impl Iterator<Item = HourlyBillingRow> + '_ {
        self.slices().map(|(key, slice)| HourlyBillingRow {
            start_time: key.start,
            end_time: UtcTime(key.start.unix() + self.step),
            deployment: key.deployment.clone(),
            currency: key.currency.clone(),
            amount: slice.amount,
            amount_units: slice.amount.mantissa(),
            amount_scale: slice.amount.scale(),
            unallocated: slice.unallocated,
        })
    }

    /// Writes the hourly billing table as CSV with a header to `path`, atomically.
    pub fn write_hourly_csv(&self, path: &Path) -> Result<(), crate::format::FormatError> {
        let name = path.display().to_string();
        crate::format::write_file_atomically(path, |file| {
            let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(file));
            let fail = |err: &dyn fmt::Display| crate::format::FormatError {
                path: name.clone(),
                location: None,
                message: format!("cannot write: {err}"),
            };
            for row in self.hourly_rows() {
                writer.serialize(row).map_err(|err| fail(&err))?;
            }
            writer.flush().map_err(|err| fail(&err))
        })
    }
}

/// Where a row was read, for messages.
#[derive(Clone, Copy, Debug)]
struct RowAt {
    file: usize,
    line: u64,
    row_group: Option<u32>,
}

/// A slice being summed while the files are read.
struct OpenSlice {
    amount: Decimal,
    /// Whether the first charge of the slice named no deployment.
    unallocated: bool,
    /// The first charge that named a deployment (not an unallocated bucket), if any: a
    /// deployment-hour billed in two currencies is an error that names it.
    first_deployment_row: Option<RowAt>,
}

/// Reads billing files one after the other into a [`Bill`].
pub struct BillReader {
    options: BillingOptions,
    files: Vec<PathBuf>,
    bill: Bill,
    /// Indices of `bill.deployments` by name.
    deployment_index: HashMap<String, u32>,
    /// Indices of `bill.currencies` by code.
    currency_index: HashMap<String, u32>,
    /// The slices summed so far, by (start, deployment index, currency index), in no order.
    open: HashMap<(UtcTime, u32, u32), OpenSlice>,
    split_parents: HashSet<String>,
    unsplit: Vec<(Charge, RowAt)>,
}

impl BillReader {
    /// A reader with `options`.
    pub fn new(options: BillingOptions) -> BillReader {
        let bill = Bill {
            step: options.step,
            ..Bill::default()
        };
        BillReader {
            options,
            files: Vec::new(),
            bill,
            deployment_index: HashMap::default(),
            currency_index: HashMap::default(),
            open: HashMap::default(),
            split_parents: HashSet::default(),
            unsplit: Vec::new(),
        }
    }

    /// Reads one billing file (`-` is not special: give a path).
    pub fn read_file(&mut self, path: &Path) -> Result<(), BillingError> {
        let file = std::fs::File::open(path).map_err(|err| BillingError {
            file: path.to_owned(),
            line: None,
            row_group: None,
            column: None,
            problem: format!("cannot open: {err}"),
            fix: "give the path of a readable billing export".into(),
        })?;
        self.read_from(path, input::Source::File(file))
    }

    /// Reads one billing source, named `path` in messages.
    pub fn read(&mut self, path: &Path, source: impl std::io::Read) -> Result<(), BillingError> {
        self.read_from(path, input::Source::Stream(Box::new(source)))
    }

    fn read_from(&mut self, path: &Path, source: input::Source<'_>) -> Result<(), BillingError> {
        let file = self.files.len();
        self.files.push(path.to_owned());
        let mut format: Option<(BillingFormat, Box<dyn FormatReader>)> = None;
        let mut format_checked = false;
        let result = input::for_each_row(source, |position, row| -> Result<(), Located> {
            let at = RowAt {
                file,
                line: position.line,
                row_group: position.row_group,
            };
            let (file_format, reader) = match &mut format {
                Some((file_format, reader)) => {
                    // A Parquet file's columns are its schema's: checked once, not per row.
                    if !format_checked {
                        self.check_same_format(*file_format, row, at)?;
                        format_checked = row.has_file_columns();
                    }
                    (*file_format, reader)
                }
                None => {
                    let detected = match self.options.format {
                        Some(forced) => forced,
                        None => BillingFormat::detect(|column| row.has(column)).ok_or_else(|| {
                            self.error(at, None, format!(
                                "no billing format has these columns: {}",
                                row.columns().join(", ")
                            ), "give an export in the article's, FOCUS, GCP or AWS CUR 2.0 form, or name its format with --billing-format".into())
                        })?,
                    };
                    let reader = new_format_reader(detected, &self.options).map_err(|message| {
                        self.error(
                            at,
                            None,
                            message,
                            "drop the option or give an export of a format it applies to".into(),
                        )
                    })?;
                    for column in reader.required() {
                        if !row.has(column) {
                            return Err(self.error(
                                at,
                                Some(column.to_owned()),
                                format!("missing column in a {} export", detected.name()),
                                format!("add the column `{column}` (the first row lacks it), or name the format with --billing-format"),
                            ).into());
                        }
                    }
                    let (file_format, reader) = format.insert((detected, reader));
                    (*file_format, reader)
                }
            };
            self.bill.rows_read += 1;
            match reader.charge(row) {
                Ok(charge) => self.add(charge, at, file_format, reader.currency_column()),
                Err(problem) => {
                    self.skip(problem, at);
                    Ok(())
                }
            }
        });
        result.map_err(|located| match located {
            Located::Error(err) => err,
            Located::Read(read) => BillingError {
                file: path.to_owned(),
                line: read.line,
                row_group: read.row_group,
                column: read.column,
                problem: read.message,
                fix: "give a well-formed CSV (with a header line), NDJSON, JSON array or Parquet file, gzip or not".into(),
            },
        })
    }

    /// Finishes reading: drops AWS parents the split rows carry, then fails when more rows
    /// were skipped than allowed.
    pub fn finish(mut self) -> Result<Bill, BillingError> {
        for (charge, at) in std::mem::take(&mut self.unsplit) {
            let carried = charge
                .resource_id
                .as_ref()
                .is_some_and(|id| self.split_parents.contains(id));
            if carried {
                self.bill.split_parents_dropped += 1;
            } else {
                self.spread(charge, at, "line_item_currency_code")?;
            }
        }
        let skipped: u64 = self.bill.skipped.values().map(|count| count.rows).sum();
        if skipped > self.options.max_skipped {
            let reasons: Vec<String> = self
                .bill
                .skipped
                .iter()
                .map(|(reason, count)| {
                    format!(
                        "{} {} rows, first {}; {}",
                        count.rows,
                        reason.name(),
                        count.first,
                        reason.fix()
                    )
                })
                .collect();
            return Err(BillingError {
                file: self.files.first().cloned().unwrap_or_default(),
                line: None,
                row_group: None,
                column: None,
                problem: format!(
                    "{skipped} billing rows cannot be read (more than --max-skipped {}): {}",
                    self.options.max_skipped,
                    reasons.join("; ")
                ),
                fix: format!("fix those rows, or allow skipping them with --max-skipped {skipped}"),
            });
        }
        let mut bill = self.bill;
        bill.slices = self
            .open
            .into_iter()
            .map(|((start, deployment, currency), open)| CompactSlice {
                start,
                deployment,
                currency,
                amount: open.amount,
                unallocated: open.unallocated,
            })
            .collect();
        let (deployments, currencies) = (&bill.deployments, &bill.currencies);
        bill.slices.sort_unstable_by(|a, b| {
            output_order(deployments, currencies, a).cmp(&output_order(deployments, currencies, b))
        });
        Ok(bill)
    }

    fn error(
        &self,
        at: RowAt,
        column: Option<String>,
        problem: String,
        fix: String,
    ) -> BillingError {
        BillingError {
            file: self.files[at.file].clone(),
            line: Some(at.line),
            row_group: at.row_group,
            column,
            problem,
            fix,
        }
    }

    fn place(&self, at: RowAt) -> String {
        place(&self.files[at.file], Some(at.line), at.row_group)
    }

    fn check_same_format(
        &self,
        file_format: BillingFormat,
        row: &Row,
        at: RowAt,
    ) -> Result<(), BillingError> {
        let other = match row.record_values() {
            Some(values) => BillingFormat::detect(|column| values.contains(&column)),
            None => BillingFormat::detect(|column| row.has(column)),
        };
        match other {
            Some(other) if other != file_format || row.record_values().is_some() => Err(self
                .error(
                    at,
                    None,
                    format!(
                        "mixed formats in one file: this row is a {} {}, the file began as {}",
                        other.name(),
                        if row.record_values().is_some() {
                            "header"
                        } else {
                            "row"
                        },
                        file_format.name()
                    ),
                    "split the file so that each holds one export".into(),
                )),
            _ => Ok(()),
        }
    }

    fn skip(&mut self, problem: RowProblem, at: RowAt) {
        let located = format!(
            "{}: column `{}`: {}",
            self.place(at),
            problem.column,
            problem.detail
        );
        self.bill
            .skipped
            .entry(problem.reason)
            .or_insert(SkipCount {
                rows: 0,
                first: located,
            })
            .rows += 1;
    }

    fn add(
        &mut self,
        charge: Charge,
        at: RowAt,
        format: BillingFormat,
        currency_column: &'static str,
    ) -> Result<(), Located> {
        if charge.end < charge.start {
            self.skip(
                RowProblem {
                    reason: SkipReason::EndBeforeStart,
                    column: format.end_column().into(),
                    detail: format!("ends at {} before its start {}", charge.end, charge.start),
                },
                at,
            );
            return Ok(());
        }
        if charge.end.unix() - charge.start.unix() > MAX_CHARGE_SECONDS {
            self.skip(
                RowProblem {
                    reason: SkipReason::PeriodTooLong,
                    column: format.end_column().into(),
                    detail: format!(
                        "covers {} to {}, more than the 366 days a billing row may span",
                        charge.start, charge.end
                    ),
                },
                at,
            );
            return Ok(());
        }
        if let Some(parent) = &charge.split_parent {
            self.split_parents.insert(parent.clone());
        }
        if charge.resource_id.is_some() {
            self.unsplit.push((charge, at));
            return Ok(());
        }
        Ok(self.spread(charge, at, currency_column)?)
    }

    /// Adds a charge to the slices of the steps it covers.
    fn spread(
        &mut self,
        charge: Charge,
        at: RowAt,
        currency_column: &'static str,
    ) -> Result<(), BillingError> {
        let step = self.bill.step;
        let first = charge.start.floor(step).unix();
        let last = if charge.end > charge.start {
            UtcTime(charge.end.unix() - 1).floor(step).unix()
        } else {
            first
        };
        let parts: Vec<(UtcTime, Decimal)> = if first == last {
            vec![(UtcTime(first), charge.amount)]
        } else {
            let starts: Vec<i64> = (first..=last).step_by(step as usize).collect();
            let seconds: Vec<u64> = starts
                .iter()
                .map(|&start| {
                    let from = start.max(charge.start.unix());
                    let to = (start + step).min(charge.end.unix());
                    (to - from) as u64
                })
                .collect();
            let amounts = apportion(charge.amount, &seconds)
                .expect("a period longer than a step has seconds");
            starts.into_iter().map(UtcTime).zip(amounts).collect()
        };
        let (deployment, unallocated) = match charge.target {
            Target::Deployment(name) => (name, false),
            Target::Unallocated(name) => (name, true),
        };
        let name = intern(
            &mut self.bill.deployments,
            &mut self.deployment_index,
            &deployment,
        );
        let currency = intern(
            &mut self.bill.currencies,
            &mut self.currency_index,
            &charge.currency,
        );
        for (start, amount) in parts {
            if !unallocated {
                // Another currency's slice of this deployment-hour, if one has a deployment's
                // charge: there are only as many currencies as the bill names.
                let other = (0..self.bill.currencies.len() as u32)
                    .filter(|&other| other != currency)
                    .find_map(|other| {
                        let open = self.open.get(&(start, name, other))?;
                        Some((other, open.first_deployment_row?))
                    });
                if let Some((other, first_at)) = other {
                    return Err(self.error(
                        at,
                        Some(currency_column.into()),
                        format!(
                            "the currency changes within the deployment-hour {start} of `{deployment}`: {} here, {} at {}",
                            charge.currency,
                            self.bill.currencies[other as usize],
                            self.place(first_at)
                        ),
                        "give each deployment's charges in one currency (one export per billing account)".into(),
                    ));
                }
            }
            let slice = self
                .open
                .entry((start, name, currency))
                .or_insert(OpenSlice {
                    amount: Decimal::ZERO,
                    unallocated,
                    first_deployment_row: None,
                });
            slice.amount += amount;
            if !unallocated && slice.first_deployment_row.is_none() {
                slice.first_deployment_row = Some(at);
            }
        }
        Ok(())
    }
}

/// An error while visiting rows: a located one, or the file's syntax.
enum Located {
    Error(BillingError),
    Read(ReadError),
}

impl From<BillingError> for Located {
    fn from(err: BillingError) -> Located {
        Located::Error(err)
    }
}

impl From<ReadError> for Located {
    fn from(err: ReadError) -> Located {
        Located::Read(err)
    }
}

impl BillingFormat {
    /// The column holding a row's end, for messages.
    const fn end_column(self) -> &'static str {
        match self {
            BillingFormat::Article | BillingFormat::Gcp => "usage_end_time",
            BillingFormat::Focus => "ChargePeriodEnd",
            BillingFormat::Aws => "line_item_usage_end_date",
        }
    }
}

/// A format's reader, configured by the options.
pub(crate) trait FormatReader {
    /// Columns the first row must have.
    fn required(&self) -> Vec<&'static str>;
    /// The column that holds the currency, for messages.
    fn currency_column(&self) -> &'static str;
    /// The row's charge.
    fn charge(&self, row: &Row) -> Result<Charge, RowProblem>;
}

fn new_format_reader(
    format: BillingFormat,
    options: &BillingOptions,
) -> Result<Box<dyn FormatReader>, String> {
    Ok(match format {
        BillingFormat::Article => Box::new(article::Article::new(options)?),
        BillingFormat::Focus => Box::new(focus::Focus::new(options)?),
        BillingFormat::Gcp => Box::new(gcp::Gcp::new(options)?),
        BillingFormat::Aws => Box::new(aws::Aws::new(options)?),
    })
}

/// The start and end of a row, both required.
pub(crate) fn period(row: &Row, start: &str, end: &str) -> Result<(UtcTime, UtcTime), RowProblem> {
    let start_time = row.time(start)?.ok_or_else(|| RowProblem::missing(start))?;
    let end_time = row.time(end)?.ok_or_else(|| RowProblem::missing(end))?;
    Ok((start_time, end_time))
}

/// A required amount.
pub(crate) fn amount(row: &Row, column: &str) -> Result<Decimal, RowProblem> {
    row.decimal(column)?
        .ok_or_else(|| RowProblem::missing(column))
}

/// The value of `key` in a tags or labels cell: a JSON object (`{"k": "v"}`) or an array of
/// `{"key": .., "value": ..}` (BigQuery's labels). Keys are compared after trimming (real
/// exports carry `" org"`) and, with `loose`, after folding case and punctuation to `_`
/// (`aws:eks:deployment` matches CUR 2.0's `aws_eks_deployment` and `resourceTags/aws:eks:deployment`).
pub(crate) fn tag_value(tags: &serde_json::Value, key: &str, loose: bool) -> Option<String> {
    let fold = |text: &str| -> String {
        let text = text.trim();
        let text = text.strip_prefix("resourceTags/").unwrap_or(text);
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    let wanted = fold(key);
    let matches =
        |candidate: &str| candidate.trim() == key.trim() || (loose && fold(candidate) == wanted);
    let value = match tags {
        serde_json::Value::Object(object) => object
            .iter()
            .filter(|(name, _)| matches(name))
            .map(|(_, value)| value)
            .find(|value| !value.is_null()),
        serde_json::Value::Array(items) => items
            .iter()
            .filter(|item| {
                item.get("key")
                    .and_then(|k| k.as_str())
                    .is_some_and(matches)
            })
            .filter_map(|item| item.get("value"))
            .find(|value| !value.is_null()),
        _ => None,
    }?;
    let text = match value {
        serde_json::Value::String(text) => text.trim().to_owned(),
        other => other.to_string(),
    };
    (!text.is_empty()).then_some(text)
}
