//! Row files: NDJSON, JSON, CSV and Parquet, written atomically and read back.
//!
//! Every format keeps the contract's column order and values:
//!
//! - **NDJSON** (the default): one JSON object per line.
//! - **JSON**: the source article's array, one row per line between `[` and `]`.
//! - **CSV**: a header in contract order, null as an empty field, decimals as written
//!   (`12.340`), times as `2025-06-12 15:00:00 UTC`.
//! - **Parquet**: what a warehouse loads fastest (columnar, typed, Snappy-compressed). Times are
//!   `TIMESTAMP(MICROS, isAdjustedToUTC=true)`, which DuckDB reads as `TIMESTAMPTZ` and BigQuery
//!   as `TIMESTAMP`, both UTC instants with no time zone guesswork; money is
//!   `DECIMAL(38, 18)` ([`PARQUET_DECIMAL_SCALE`]): exact, wide enough for any bill (20 integer
//!   digits) and finer than any billing export (AWS and GCP bill to at most 10 places), so
//!   `cost` round-trips exactly; only the derived per-request ratios, which can have up to 28
//!   places, are rounded to 18 (half to even). Integers are `INT64`, `percentage_of_cpu`
//!   `DOUBLE`, text `STRING`.
//!
//! Output is deterministic: the same rows give the same bytes. A file is written to a temporary
//! file beside it and renamed into place, so a failed run never leaves a partial file. Reading
//! detects the format from the content (Parquet's magic, a JSON array, JSON lines, else CSV)
//! unless it is given, and accepts gzip-compressed files of every format.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, FixedLenByteArray};
use parquet::data_type::{FixedLenByteArrayType, Int64Type};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::columnar::{Cell, ColumnCursor, ParquetSource, ParquetTable};
use crate::row::{Bucket, CostRow, Name, Names, ShareRow};
use crate::time::UtcTime;

/// Scale of the Parquet `DECIMAL(38, 18)` money columns.
pub const PARQUET_DECIMAL_SCALE: u32 = 18;
/// Rows per Parquet row group: DuckDB's own default, the unit it reads in parallel.
const PARQUET_ROW_GROUP: usize = 122_880;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const PARQUET_MAGIC: &[u8; 4] = b"PAR1";

/// A file format for rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// One JSON object per line (the default).
    Ndjson,
    /// A JSON array of objects.
    Json,
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// Every format, in the order the CLI lists them.
    pub const ALL: [Format; 4] = [Format::Ndjson, Format::Json, Format::Csv, Format::Parquet];

    /// The name used by `--format`.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }

    /// The format a file name implies (`rows.csv`, `rows.ndjson.gz`, `rows.jsonl`), if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let extension = name.rsplit_once('.')?.1;
        match extension {
            "ndjson" | "jsonl" => Some(Format::Ndjson),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// The format of (already decompressed) content from its first bytes: Parquet's magic, a
    /// JSON array, a JSON object per line (or nothing), else CSV.
    pub fn sniff(head: &[u8]) -> Format {
        if head.starts_with(PARQUET_MAGIC) {
            return Format::Parquet;
        }
        let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
        match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => Format::Json,
            // Empty content is zero rows of JSON lines.
            Some(b'{') | None => Format::Ndjson,
            _ => Format::Csv,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        match text.to_ascii_lowercase().as_str() {
            "ndjson" | "jsonl" => Ok(Format::Ndjson),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "parquet" => Ok(Format::Parquet),
            _ => Err(format!(
                "unknown format `{text}`: use ndjson, json, csv or parquet"
            )),
        }
    }
}

/// What went wrong writing or reading rows, and where.
#[derive(Debug)]
pub struct FormatError {
    /// The file (`-` for stdin or stdout).
    pub path: String,
    /// Line, row and column when known (`line 3, column `cpu_ns``).
    pub location: Option<String>,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

impl FormatError {
    fn new(path: &str, location: Option<String>, message: impl fmt::Display) -> FormatError {
        FormatError {
            path: path.to_owned(),
            location,
            message: message.to_string(),
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(f, "{}: {location}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

impl std::error::Error for FormatError {}

/// The SQL-ish type of a column, which fixes its Parquet type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A UTC instant (`TIMESTAMP` in Parquet, the contract's text elsewhere).
    Time,
    /// UTF-8 text.
    Text,
    /// A 64-bit float.
    Float,
    /// A 64-bit signed integer.
    Int,
    /// An exact decimal (money).
    Decimal,
}

/// One column of a row kind, in contract order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The field name, as in JSON, the CSV header and SQL.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Whether it may be null.
    pub nullable: bool,
    /// Whether its values repeat from row to row (names, step times, ids), as opposed to
    /// measurements that are nearly all distinct (CPU, shares, money): Parquet
    /// dictionary-encodes only the former, where a dictionary saves space instead of costing
    /// a hash per value.
    pub repeats: bool,
    /// Whether rows are written in this column's order (the (`start_time`, `deployment`)
    /// slice key, and `end_time` with it): Parquet keeps min/max statistics for these only,
    /// where they let a reader skip row groups; any other column's values span nearly their
    /// whole range in every row group, so its statistics would prune nothing and cost a
    /// comparison per value.
    pub sorted: bool,
}

const fn column(name: &'static str, kind: Kind, nullable: bool) -> Column {
    Column {
        name,
        kind,
        nullable,
        // Times and text repeat; numbers are measurements unless said otherwise.
        repeats: matches!(kind, Kind::Time | Kind::Text),
        sorted: false,
    }
}

/// `column` that rows are sorted by.
const fn sorted(column: Column) -> Column {
    Column {
        sorted: true,
        ..column
    }
}

/// `column` of a number that repeats from row to row (an id).
const fn repeating(column: Column) -> Column {
    Column {
        repeats: true,
        ..column
    }
}

/// One typed cell of a row, its text held as `T`: [`Value`] when written, [`Field`] when read.
#[derive(Clone, Debug, PartialEq)]
pub enum Datum<T> {
    /// SQL null.
    Null,
    /// A UTC instant.
    Time(UtcTime),
    /// Text.
    Text(T),
    /// A float.
    Float(f64),
    /// An integer (wide enough for `u64` counters; Parquet and SQL take what fits `i64`).
    Int(i128),
    /// An exact decimal.
    Decimal(Decimal),
}

/// One cell of a row, borrowed from it for writing.
pub type Value<'a> = Datum<std::borrow::Cow<'a, str>>;

/// One cell of a row as read, before it becomes a field: its text a shared [`Name`], so that
/// reading a name that repeats copies no text.
pub type Field = Datum<Name>;

/// A row kind that the formats can write and read: [`ShareRow`] and [`CostRow`].
pub trait Row: Serialize + DeserializeOwned + Send + 'static {
    /// The warehouse table of this row kind.
    const TABLE: &'static str;
    /// The columns, in contract order (the order of the serde fields).
    const COLUMNS: &'static [Column];

    /// The cell of `COLUMNS[column]`.
    fn value(&self, column: usize) -> Value<'_>;

    /// The (step start, deployment) slice the row belongs to: what a warehouse write replaces.
    fn slice(&self) -> (UtcTime, &str);

    /// A row from its cells, one per column in `COLUMNS` order, each of the column's kind
    /// (or null where the column is nullable).
    fn from_values(values: impl Iterator<Item = Field>) -> Result<Self, String>;
}

fn text(value: &str) -> Value<'_> {
    Value::Text(value.into())
}

fn opt_text(value: Option<&str>) -> Value<'_> {
    value.map_or(Value::Null, text)
}

fn int(value: impl Into<i128>) -> Value<'static> {
    Value::Int(value.into())
}

fn opt_int(value: Option<u64>) -> Value<'static> {
    value.map_or(Value::Null, int)
}

fn opt_decimal(value: Option<Decimal>) -> Value<'static> {
    value.map_or(Value::Null, Value::Decimal)
}

/// Takes typed cells out of a row's values, in column order.
struct Cells<I>(I);

impl<I: Iterator<Item = Field>> Cells<I> {
    fn next(&mut self) -> Field {
        self.0.next().unwrap_or(Field::Null)
    }
    fn time(&mut self) -> Result<UtcTime, String> {
        match self.next() {
            Field::Time(time) => Ok(time),
            other => Err(format!("expected a time, found {other:?}")),
        }
    }
    fn opt_text(&mut self) -> Result<Option<Name>, String> {
        match self.next() {
            Field::Null => Ok(None),
            Field::Text(text) => Ok(Some(text)),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
    fn text(&mut self) -> Result<Name, String> {
        self.opt_text()?
            .ok_or_else(|| "expected text, found null".to_owned())
    }
    fn float(&mut self) -> Result<f64, String> {
        match self.next() {
            Field::Float(value) => Ok(value),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
    fn opt_int<T: TryFrom<i128>>(&mut self) -> Result<Option<T>, String> {
        match self.next() {
            Field::Null => Ok(None),
            Field::Int(value) => T::try_from(value)
                .map(Some)
                .map_err(|_| format!("integer {value} out of range")),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
    fn int<T: TryFrom<i128>>(&mut self) -> Result<T, String> {
        self.opt_int()?
            .ok_or_else(|| "expected an integer, found null".to_owned())
    }
    fn opt_decimal(&mut self) -> Result<Option<Decimal>, String> {
        match self.next() {
            Field::Null => Ok(None),
            Field::Decimal(value) => Ok(Some(value)),
            other => Err(format!("expected a decimal, found {other:?}")),
        }
    }
    fn decimal(&mut self) -> Result<Decimal, String> {
        self.opt_decimal()?
            .ok_or_else(|| "expected a decimal, found null".to_owned())
    }
}

/// The share row's columns, which also open the cost row.
macro_rules! share_columns {
    () => {
        [
            sorted(column("start_time", Kind::Time, false)),
            sorted(column("end_time", Kind::Time, false)),
            sorted(column("deployment", Kind::Text, false)),
            column("feature", Kind::Text, true),
            column("endpoint", Kind::Text, true),
            column("percentage_of_cpu", Kind::Float, false),
            repeating(column("feature_id", Kind::Int, false)),
            column("feature_group", Kind::Text, true),
            column("team", Kind::Text, true),
            column("tier", Kind::Text, true),
            column("cpu_ns", Kind::Int, false),
            column("samples", Kind::Int, false),
            column("requests", Kind::Int, true),
        ]
    };
}

const SHARE_COLUMNS: [Column; 13] = share_columns!();

const COST_COLUMNS: [Column; 18] = {
    let share = share_columns!();
    let mut all = [column("", Kind::Text, false); 18];
    let mut at = 0;
    while at < share.len() {
        all[at] = share[at];
        at += 1;
    }
    all[13] = column("cost", Kind::Decimal, false);
    all[14] = column("currency", Kind::Text, false);
    all[15] = column("bucket", Kind::Text, false);
    all[16] = column("cost_per_request", Kind::Decimal, true);
    all[17] = column("cost_if_equal_per_request", Kind::Decimal, true);
    all
};

/// The cell of a share column, for the fields that share and cost rows have in common.
macro_rules! share_value {
    ($row:expr, $column:expr) => {
        match $column {
            0 => Value::Time($row.start_time),
            1 => Value::Time($row.end_time),
            2 => text(&$row.deployment),
            3 => opt_text($row.feature.as_deref()),
            4 => opt_text($row.endpoint.as_deref()),
            5 => Value::Float($row.percentage_of_cpu),
            6 => int($row.feature_id),
            7 => opt_text($row.feature_group.as_deref()),
            8 => opt_text($row.team.as_deref()),
            9 => opt_text($row.tier.as_deref()),
            10 => int($row.cpu_ns),
            11 => int($row.samples),
            12 => opt_int($row.requests),
            _ => Value::Null,
        }
    };
}

/// A share or cost row from cells, the share fields first, then `$rest`.
macro_rules! share_fields {
    ($ty:ident, $cells:ident, { $($rest:tt)* }) => {
        $ty {
            start_time: $cells.time()?,
            end_time: $cells.time()?,
            deployment: $cells.text()?,
            feature: $cells.opt_text()?,
            endpoint: $cells.opt_text()?,
            percentage_of_cpu: $cells.float()?,
            feature_id: $cells.int()?,
            feature_group: $cells.opt_text()?,
            team: $cells.opt_text()?,
            tier: $cells.opt_text()?,
            cpu_ns: $cells.int()?,
            samples: $cells.int()?,
            requests: $cells.opt_int()?,
            $($rest)*
        }
    };
}

impl Row for ShareRow {
    const TABLE: &'static str = "fact_cpu_share";
    const COLUMNS: &'static [Column] = &SHARE_COLUMNS;

    fn value(&self, column: usize) -> Value<'_> {
        share_value!(self, column)
    }

    fn slice(&self) -> (UtcTime, &str) {
        (self.start_time, &self.deployment)
    }

    fn from_values(values: impl Iterator<Item = Field>) -> Result<ShareRow, String> {
        let mut cells = Cells(values);
        Ok(share_fields!(ShareRow, cells, {}))
    }
}

impl Row for CostRow {
    const TABLE: &'static str = "fact_feature_cost";
    const COLUMNS: &'static [Column] = &COST_COLUMNS;

    fn value(&self, column: usize) -> Value<'_> {
        match column {
            13 => Value::Decimal(self.cost),
            14 => text(&self.currency),
            15 => text(self.bucket.name()),
            16 => opt_decimal(self.cost_per_request),
            17 => opt_decimal(self.cost_if_equal_per_request),
            _ => share_value!(self, column),
        }
    }

    fn slice(&self) -> (UtcTime, &str) {
        (self.start_time, &self.deployment)
    }

    fn from_values(values: impl Iterator<Item = Field>) -> Result<CostRow, String> {
        let mut cells = Cells(values);
        Ok(share_fields!(CostRow, cells, {
            cost: cells.decimal()?,
            currency: cells.text()?,
            bucket: parse_bucket(&cells.text()?)?,
            cost_per_request: cells.opt_decimal()?,
            cost_if_equal_per_request: cells.opt_decimal()?,
        }))
    }
}

fn parse_bucket(name: &str) -> Result<Bucket, String> {
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error, StrDeserializer};
    let deserializer: StrDeserializer<'_, Error> = name.into_deserializer();
    serde::Deserialize::deserialize(deserializer).map_err(|_| {
        format!("unknown bucket `{name}`: use feature, unattributed, unprofiled or unallocated")
    })
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes `rows` as `format` to `out`, or to stdout when `out` is `None` or `-`; returns the
/// number of rows written.
///
/// A file is written beside its final path and renamed into place only when complete, so
/// readers never see a partial file and a failed run leaves the previous file as it was.
/// Stdout gets the rows only once they are all written (staged in a temporary file).
pub fn write_rows<'a, R: Row + 'a>(
    rows: impl IntoIterator<Item = &'a R>,
    format: Format,
    out: Option<&Path>,
) -> Result<u64, FormatError> {
    let staged = Staged::create(out)?;
    let mut encoder = Encoder::new(format, staged.sink()?, &staged.name())?;
    for row in rows {
        encoder.write(row)?;
    }
    let count = encoder.finish()?;
    staged.finish()?;
    Ok(count)
}

/// Writes `rows` as `format` to `writer` (flushed at the end); `name` names it in errors.
pub fn write_rows_to<'a, R: Row + 'a, W: Write + Send>(
    rows: impl IntoIterator<Item = &'a R>,
    format: Format,
    writer: W,
    name: &str,
) -> Result<u64, FormatError> {
    let mut encoder = Encoder::new(format, writer, name)?;
    for row in rows {
        encoder.write(row)?;
    }
    encoder.finish()
}

/// Rows written one at a time as they are made, encoded on a thread of its own: the streaming
/// form of [`write_rows`], with the same bytes and the same all-or-nothing output. Memory holds
/// a few batches of rows and at most one Parquet row group. Dropped without
/// [`RowWriter::finish`], it leaves no file.
pub struct RowWriter<R: Row> {
    batch: Vec<R>,
    send: Option<std::sync::mpsc::SyncSender<ToEncoder<R>>>,
    worker: Option<std::thread::JoinHandle<Result<u64, FormatError>>>,
}

/// What the writer sends its encoding thread.
enum ToEncoder<R> {
    /// Rows to encode.
    Rows(Vec<R>),
    /// The last rows: end the output and put it in place.
    Finish(Vec<R>),
}

impl<R: Row> RowWriter<R> {
    /// A writer of `format` to `out` (a temporary file beside it), or to stdout when `out` is
    /// `None` or `-`.
    pub fn create(format: Format, out: Option<&Path>) -> Result<RowWriter<R>, FormatError> {
        let staged = Staged::create(out)?;
        let mut encoder = Encoder::new(format, staged.sink()?, &staged.name())?;
        let name = staged.name();
        let (send, receive) = std::sync::mpsc::sync_channel::<ToEncoder<R>>(4);
        let worker = std::thread::spawn(move || {
            for message in receive {
                let (ToEncoder::Rows(batch) | ToEncoder::Finish(batch)) = &message;
                for row in batch {
                    encoder.write(row)?;
                }
                if let ToEncoder::Finish(_) = message {
                    let count = encoder.finish()?;
                    staged.finish()?;
                    return Ok(count);
                }
            }
            // Dropped unfinished: the staged file goes, never renamed.
            Err(FormatError::new(
                &name,
                None,
                "the writer was dropped unfinished",
            ))
        });
        Ok(RowWriter {
            batch: Vec::with_capacity(BATCH),
            send: Some(send),
            worker: Some(worker),
        })
    }

    /// Writes one row (an encoding error shows here or at [`RowWriter::finish`]).
    pub fn write(&mut self, row: R) -> Result<(), FormatError> {
        self.batch.push(row);
        if self.batch.len() == BATCH {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            let sent = self
                .send
                .as_ref()
                .is_some_and(|send| send.send(ToEncoder::Rows(batch)).is_ok());
            if !sent {
                // The encoder stopped: its error says why.
                return Err(self
                    .join()
                    .err()
                    .unwrap_or_else(|| FormatError::new("-", None, "the row writer stopped")));
            }
        }
        Ok(())
    }

    /// Ends the output (Parquet's last row group and footer), syncs it and renames it into
    /// place, or copies it to stdout; returns the number of rows written.
    pub fn finish(mut self) -> Result<u64, FormatError> {
        let batch = std::mem::take(&mut self.batch);
        if let Some(send) = &self.send {
            // A failed send means the encoder stopped; join reports why.
            let _ = send.send(ToEncoder::Finish(batch));
        }
        self.join()
    }

    fn join(&mut self) -> Result<u64, FormatError> {
        self.send = None;
        match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Err(FormatError::new(
                "-",
                None,
                "the row writer already stopped",
            )),
        }
    }
}

impl<R: Row> Drop for RowWriter<R> {
    fn drop(&mut self) {
        // Unfinished: closing the channel ends the encoder, which removes the staged file.
        self.send = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// Where written bytes go until they are complete.
enum Staged {
    /// A file beside the output, renamed into place.
    File(AtomicFile),
    /// A temporary file, copied to stdout.
    Stdout(TempFile),
}

impl Staged {
    fn create(out: Option<&Path>) -> Result<Staged, FormatError> {
        Ok(match out.filter(|path| path.as_os_str() != "-") {
            Some(path) => Staged::File(AtomicFile::create(path)?),
            None => {
                let dir = std::env::temp_dir();
                let temp = TempFile::create(&dir, std::ffi::OsStr::new("featgen-stdout")).map_err(
                    |err| {
                        FormatError::new(
                            "-",
                            None,
                            format!("cannot create a temporary file in {}: {err}", dir.display()),
                        )
                    },
                )?;
                Staged::Stdout(temp)
            }
        })
    }

    fn name(&self) -> String {
        match self {
            Staged::File(file) => file.path.display().to_string(),
            Staged::Stdout(_) => "-".to_owned(),
        }
    }

    /// A buffered writer onto the staged file.
    fn sink(&self) -> Result<Sink, FormatError> {
        let temp = match self {
            Staged::File(file) => &file.temp,
            Staged::Stdout(temp) => temp,
        };
        let handle = temp
            .file
            .try_clone()
            .map_err(|err| FormatError::new(&self.name(), None, format!("cannot write: {err}")))?;
        Ok(Box::new(BufWriter::with_capacity(1 << 16, handle)))
    }

    /// Puts the complete bytes in place: renamed over the output, or copied to stdout.
    fn finish(self) -> Result<(), FormatError> {
        match self {
            Staged::File(file) => file.commit(),
            Staged::Stdout(mut temp) => {
                let fail = |err: io::Error| {
                    FormatError::new("-", None, format!("cannot write to stdout: {err}"))
                };
                temp.file.seek(io::SeekFrom::Start(0)).map_err(fail)?;
                let mut stdout = io::stdout().lock();
                io::copy(&mut temp.file, &mut stdout).map_err(fail)?;
                stdout.flush().map_err(fail)
            }
        }
    }
}

/// The byte sink of a [`RowWriter`].
type Sink = Box<dyn Write + Send>;

/// Encodes rows of one format onto a sink.
struct Encoder<R: Row, W: Write + Send> {
    kind: EncoderKind<R, W>,
    name: String,
    count: u64,
}

enum EncoderKind<R: Row, W: Write + Send> {
    Ndjson(W),
    Json(W),
    Csv { sink: W, line: String },
    Parquet(Box<ParquetEncoder<R, W>>),
}

impl<R: Row, W: Write + Send> Encoder<R, W> {
    fn new(format: Format, mut sink: W, name: &str) -> Result<Encoder<R, W>, FormatError> {
        let io_error =
            |err: io::Error| FormatError::new(name, None, format!("cannot write: {err}"));
        let kind = match format {
            Format::Ndjson => EncoderKind::Ndjson(sink),
            Format::Json => {
                sink.write_all(b"[").map_err(io_error)?;
                EncoderKind::Json(sink)
            }
            Format::Csv => {
                let header: Vec<&str> = R::COLUMNS.iter().map(|column| column.name).collect();
                writeln!(sink, "{}", header.join(",")).map_err(io_error)?;
                EncoderKind::Csv {
                    sink,
                    line: String::new(),
                }
            }
            Format::Parquet => EncoderKind::Parquet(Box::new(ParquetEncoder::new(sink, name)?)),
        };
        Ok(Encoder {
            kind,
            name: name.to_owned(),
            count: 0,
        })
    }

    fn write(&mut self, row: &R) -> Result<(), FormatError> {
        let name = &self.name;
        let io_error =
            |err: io::Error| FormatError::new(name, None, format!("cannot write: {err}"));
        let json_error = |err: serde_json::Error| {
            FormatError::new(name, Some(format!("row {}", self.count + 1)), err)
        };
        match &mut self.kind {
            EncoderKind::Ndjson(sink) => {
                serde_json::to_writer(&mut *sink, row).map_err(json_error)?;
                sink.write_all(b"\n").map_err(io_error)?;
            }
            EncoderKind::Json(sink) => {
                sink.write_all(if self.count == 0 { b"\n" } else { b",\n" })
                    .map_err(io_error)?;
                serde_json::to_writer(&mut *sink, row).map_err(json_error)?;
            }
            EncoderKind::Csv { sink, line } => {
                line.clear();
                for index in 0..R::COLUMNS.len() {
                    if index > 0 {
                        line.push(',');
                    }
                    push_csv_field(line, &row.value(index));
                }
                line.push('\n');
                sink.write_all(line.as_bytes()).map_err(io_error)?;
            }
            EncoderKind::Parquet(encoder) => encoder.write(row, name)?,
        }
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<u64, FormatError> {
        let name = self.name.as_str();
        let io_error =
            |err: io::Error| FormatError::new(name, None, format!("cannot write: {err}"));
        let mut sink = match self.kind {
            EncoderKind::Ndjson(sink) | EncoderKind::Csv { sink, .. } => sink,
            EncoderKind::Json(mut sink) => {
                sink.write_all(b"\n]\n").map_err(io_error)?;
                sink
            }
            EncoderKind::Parquet(encoder) => encoder.finish(name)?,
        };
        sink.flush().map_err(io_error)?;
        Ok(self.count)
    }
}

/// Appends one CSV field: null is an empty field, and an empty string is `""` so that
/// loaders (DuckDB, PostgreSQL's `COPY ... CSV`) keep it apart from null; text with a comma,
/// quote or line break is quoted with quotes doubled (RFC 4180).
fn push_csv_field(line: &mut String, value: &Value<'_>) {
    use std::fmt::Write as _;
    let _ = match value {
        Value::Null => Ok(()),
        Value::Text(text) if text.is_empty() || text.contains([',', '"', '\n', '\r']) => {
            line.push('"');
            line.push_str(&text.replace('"', "\"\""));
            line.push('"');
            Ok(())
        }
        Value::Text(text) => line.write_str(text),
        Value::Time(time) => write!(line, "{time}"),
        Value::Float(value) => write!(line, "{value}"),
        Value::Int(value) => write!(line, "{value}"),
        Value::Decimal(value) => write!(line, "{value}"),
    };
}

fn parquet_schema(table: &str, columns: &[Column]) -> String {
    let mut schema = format!("message {table} {{\n");
    for column in columns {
        let repetition = if column.nullable {
            "OPTIONAL"
        } else {
            "REQUIRED"
        };
        let physical = match column.kind {
            Kind::Time => "INT64 {} (TIMESTAMP(MICROS,true))".to_owned(),
            Kind::Text => "BYTE_ARRAY {} (STRING)".to_owned(),
            Kind::Float => "DOUBLE {}".to_owned(),
            Kind::Int => "INT64 {} (INTEGER(64,true))".to_owned(),
            Kind::Decimal => {
                format!("FIXED_LEN_BYTE_ARRAY (16) {{}} (DECIMAL(38,{PARQUET_DECIMAL_SCALE}))")
            }
        };
        schema.push_str(&format!(
            "  {repetition} {};\n",
            physical.replace("{}", column.name)
        ));
    }
    schema.push('}');
    schema
}

/// `10^n` for every scale up to [`PARQUET_DECIMAL_SCALE`], to bring a mantissa to it.
const POWERS_OF_TEN: [i128; PARQUET_DECIMAL_SCALE as usize + 1] = {
    let mut powers = [1; PARQUET_DECIMAL_SCALE as usize + 1];
    let mut at = 1;
    while at < powers.len() {
        powers[at] = powers[at - 1] * 10;
        at += 1;
    }
    powers
};

/// The `DECIMAL(38, 18)` bytes of `value`: its mantissa at scale 18, big-endian.
fn decimal_bytes(value: Decimal) -> Result<[u8; 16], String> {
    // Rounding is needed only past 18 places (the per-request ratios).
    let rounded = if value.scale() > PARQUET_DECIMAL_SCALE {
        value.round_dp_with_strategy(PARQUET_DECIMAL_SCALE, RoundingStrategy::MidpointNearestEven)
    } else {
        value
    };
    let mantissa = rounded
        .mantissa()
        .checked_mul(POWERS_OF_TEN[(PARQUET_DECIMAL_SCALE - rounded.scale()) as usize])
        .filter(|m| m.unsigned_abs() < 10_u128.pow(38))
        .ok_or_else(|| format!("{value} does not fit DECIMAL(38, {PARQUET_DECIMAL_SCALE})"))?;
    Ok(mantissa.to_be_bytes())
}

/// One column of the row group being filled: its values and, when nullable, its levels.
struct ColumnBuffer {
    levels: Vec<i16>,
    values: ColumnValues,
}

/// Text and decimals are buffered as one byte arena per column (with each value's end offset
/// for text), reused from row group to row group, and handed to the writer as slices of small
/// blocks copied out of it ([`ColumnValues::slices`]): one allocation per few thousand bytes
/// instead of one per cell.
enum ColumnValues {
    Int64(Vec<i64>),
    Double(Vec<f64>),
    Bytes { data: Vec<u8>, ends: Vec<usize> },
    Decimal(Vec<u8>),
}

/// The size of the blocks [`ColumnValues::slices`] copies values into. The writer keeps a
/// DECIMAL column's minimum and maximum (its statistics) until the file ends, and each pins the
/// whole block it is a slice of: with one block per column and row group, every row group's
/// decimals stayed in memory (6 MB per 122,880 cost rows, 1 GB for a month).
const SLICE_BLOCK: usize = 4_096;

impl ColumnValues {
    /// The arena's values, each ending at its offset in `ends`, as the writer's byte arrays
    /// (put in `out`, emptied first): slices of blocks of about [`SLICE_BLOCK`] bytes copied
    /// from the arena, which is left empty (its capacity kept for the next row group).
    fn slices<T: From<ByteArray>>(
        data: &mut Vec<u8>,
        ends: impl Iterator<Item = usize>,
        out: &mut Vec<T>,
    ) {
        let mut block = bytes::Bytes::new();
        // Where the current block starts in the arena, and where the next value starts.
        let mut block_start = 0;
        let mut start = 0;
        out.clear();
        out.extend(ends.map(|end| {
            if end > block_start + block.len() {
                let block_end = (start + SLICE_BLOCK).max(end).min(data.len());
                block = bytes::Bytes::copy_from_slice(&data[start..block_end]);
                block_start = start;
            }
            let value = ByteArray::from(block.slice(start - block_start..end - block_start));
            start = end;
            T::from(value)
        }));
        data.clear();
    }
}

/// Parquet written a row group at a time: rows are converted into column buffers as they
/// come, and each full row group is written out.
struct ParquetEncoder<R: Row, W: Write + Send> {
    file: SerializedFileWriter<W>,
    columns: Vec<ColumnBuffer>,
    /// The writer's values of one text or decimal column, reused from column to column.
    text_values: Vec<ByteArray>,
    decimal_values: Vec<FixedLenByteArray>,
    buffered: usize,
    written: u64,
    row: std::marker::PhantomData<fn(&R)>,
}

impl<R: Row, W: Write + Send> ParquetEncoder<R, W> {
    fn new(sink: W, name: &str) -> Result<ParquetEncoder<R, W>, FormatError> {
        let fail = |err: &dyn fmt::Display| {
            FormatError::new(name, None, format!("cannot write Parquet: {err}"))
        };
        let schema =
            parquet::schema::parser::parse_message_type(&parquet_schema(R::TABLE, R::COLUMNS))
                .map_err(|err| fail(&err))?;
        let properties = R::COLUMNS
            .iter()
            .fold(
                WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_max_row_group_size(PARQUET_ROW_GROUP),
                |mut builder, column| {
                    let path = || parquet::schema::types::ColumnPath::from(column.name);
                    if !column.repeats {
                        builder = builder.set_column_dictionary_enabled(path(), false);
                    }
                    if !column.sorted {
                        builder =
                            builder.set_column_statistics_enabled(path(), EnabledStatistics::None);
                    }
                    if column.kind == Kind::Float {
                        // A share's float is noise to Snappy (0% saved on the cost benchmark's day)
                        // so compressing it only costs time.
                        builder = builder.set_column_compression(path(), Compression::UNCOMPRESSED);
                    }
                    builder
                },
            )
            .build();
        let file = SerializedFileWriter::new(sink, Arc::new(schema), Arc::new(properties))
            .map_err(|err| fail(&err))?;
        let columns = R::COLUMNS
            .iter()
            .map(|column| ColumnBuffer {
                levels: Vec::new(),
                values: match column.kind {
                    Kind::Time | Kind::Int => ColumnValues::Int64(Vec::new()),
                    Kind::Float => ColumnValues::Double(Vec::new()),
                    Kind::Text => ColumnValues::Bytes {
                        data: Vec::new(),
                        ends: Vec::new(),
                    },
                    Kind::Decimal => ColumnValues::Decimal(Vec::new()),
                },
            })
            .collect();
        Ok(ParquetEncoder {
            file,
            columns,
            text_values: Vec::new(),
            decimal_values: Vec::new(),
            buffered: 0,
            written: 0,
            row: std::marker::PhantomData,
        })
    }

    fn write(&mut self, row: &R, name: &str) -> Result<(), FormatError> {
        let at = self.written + self.buffered as u64 + 1;
        for (index, (column, buffer)) in R::COLUMNS.iter().zip(&mut self.columns).enumerate() {
            let bad = |err: &dyn fmt::Display| {
                FormatError::new(
                    name,
                    Some(format!("row {at}, column `{}`", column.name)),
                    format!("cannot write Parquet: {err}"),
                )
            };
            let value = row.value(index);
            if column.nullable {
                buffer.levels.push(i16::from(value != Value::Null));
            }
            match (value, &mut buffer.values) {
                (Value::Null, _) if column.nullable => {}
                (Value::Time(time), ColumnValues::Int64(out)) => out.push(
                    time.unix()
                        .checked_mul(1_000_000)
                        .ok_or_else(|| bad(&"time out of range"))?,
                ),
                (Value::Int(value), ColumnValues::Int64(out)) => {
                    out.push(i64::try_from(value).map_err(|_| {
                        bad(&format!("{value} does not fit a signed 64-bit integer"))
                    })?)
                }
                (Value::Float(value), ColumnValues::Double(out)) => out.push(value),
                (Value::Text(text), ColumnValues::Bytes { data, ends }) => {
                    data.extend_from_slice(text.as_bytes());
                    ends.push(data.len());
                }
                (Value::Decimal(value), ColumnValues::Decimal(out)) => {
                    out.extend_from_slice(&decimal_bytes(value).map_err(|err| bad(&err))?)
                }
                (other, _) => return Err(bad(&format!("unexpected {other:?}"))),
            }
        }
        self.buffered += 1;
        if self.buffered == PARQUET_ROW_GROUP {
            self.flush_group(name)?;
        }
        Ok(())
    }

    fn flush_group(&mut self, name: &str) -> Result<(), FormatError> {
        let fail = |err: &dyn fmt::Display| {
            FormatError::new(name, None, format!("cannot write Parquet: {err}"))
        };
        let mut row_group = self.file.next_row_group().map_err(|err| fail(&err))?;
        for (column, buffer) in R::COLUMNS.iter().zip(&mut self.columns) {
            let mut writer = row_group
                .next_column()
                .map_err(|err| fail(&err))?
                .ok_or_else(|| fail(&"schema has fewer columns than the row"))?;
            let levels = column.nullable.then_some(buffer.levels.as_slice());
            let result = match &mut buffer.values {
                ColumnValues::Int64(values) => {
                    let result = writer
                        .typed::<Int64Type>()
                        .write_batch(values, levels, None);
                    values.clear();
                    result
                }
                ColumnValues::Double(values) => {
                    let result = writer
                        .typed::<DoubleType>()
                        .write_batch(values, levels, None);
                    values.clear();
                    result
                }
                ColumnValues::Bytes { data, ends } => {
                    let values = &mut self.text_values;
                    ColumnValues::slices(data, ends.drain(..), values);
                    let result = writer
                        .typed::<ByteArrayType>()
                        .write_batch(values, levels, None);
                    values.clear();
                    result
                }
                ColumnValues::Decimal(data) => {
                    let ends = (1..=data.len() / 16).map(|at| at * 16);
                    let values = &mut self.decimal_values;
                    ColumnValues::slices(data, ends, values);
                    let result = writer
                        .typed::<FixedLenByteArrayType>()
                        .write_batch(values, levels, None);
                    values.clear();
                    result
                }
            };
            result.map_err(|err| fail(&err))?;
            buffer.levels.clear();
            writer.close().map_err(|err| fail(&err))?;
        }
        row_group.close().map_err(|err| fail(&err))?;
        self.written += self.buffered as u64;
        self.buffered = 0;
        Ok(())
    }

    /// Writes the last row group and the footer; gives the sink back.
    fn finish(mut self, name: &str) -> Result<W, FormatError> {
        if self.buffered > 0 {
            self.flush_group(name)?;
        }
        self.file
            .into_inner()
            .map_err(|err| FormatError::new(name, None, format!("cannot write Parquet: {err}")))
    }
}

/// Runs `write` on a new temporary file beside `path`, then syncs it and renames it to `path`;
/// the temporary file is removed if anything fails.
pub fn write_file_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut File) -> Result<T, FormatError>,
) -> Result<T, FormatError> {
    let mut file = AtomicFile::create(path)?;
    let value = write(&mut file.temp.file)?;
    file.commit()?;
    Ok(value)
}

/// A file written beside its final path and renamed into place by [`AtomicFile::commit`].
struct AtomicFile {
    temp: TempFile,
    path: PathBuf,
}

impl AtomicFile {
    fn create(path: &Path) -> Result<AtomicFile, FormatError> {
        let name = path.display().to_string();
        let dir = match path.parent() {
            // A device's directory (`/dev`) is no place for a temporary file.
            _ if is_device_or_pipe(path) => std::env::temp_dir(),
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = path
            .file_name()
            .ok_or_else(|| FormatError::new(&name, None, "not a file name"))?;
        let temp = TempFile::create(&dir, file_name).map_err(|err| {
            FormatError::new(
                &name,
                None,
                format!("cannot create a temporary file in {}: {err}", dir.display()),
            )
        })?;
        Ok(AtomicFile {
            temp,
            path: path.to_path_buf(),
        })
    }

    /// Syncs the file and renames it to its final path; a device or pipe there (`/dev/null`,
    /// a FIFO) gets the bytes copied into it instead, since a rename would replace it with a
    /// regular file.
    fn commit(mut self) -> Result<(), FormatError> {
        let name = self.path.display().to_string();
        let fail =
            |what: &str, err: io::Error| FormatError::new(&name, None, format!("{what}: {err}"));
        if is_device_or_pipe(&self.path) {
            self.temp
                .file
                .seek(io::SeekFrom::Start(0))
                .map_err(|err| fail("cannot read back the temporary file", err))?;
            let mut device = fs::OpenOptions::new()
                .write(true)
                .open(&self.path)
                .map_err(|err| fail("cannot open", err))?;
            io::copy(&mut self.temp.file, &mut device).map_err(|err| fail("cannot write", err))?;
            return device.flush().map_err(|err| fail("cannot write", err));
        }
        self.temp
            .file
            .sync_all()
            .map_err(|err| fail("cannot sync", err))?;
        fs::rename(&self.temp.path, &self.path)
            .map_err(|err| fail("cannot rename the temporary file", err))?;
        self.temp.path = PathBuf::new();
        Ok(())
    }
}

/// Whether `path` names an existing file that is neither regular nor a directory (a character
/// device such as `/dev/null`, a FIFO, a socket), which output is written through, not renamed
/// over.
fn is_device_or_pipe(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| !meta.is_file() && !meta.is_dir())
}

/// A temporary file that removes itself unless renamed (its `path` then emptied).
struct TempFile {
    file: File,
    path: PathBuf,
}

impl TempFile {
    fn create(dir: &Path, final_name: &std::ffi::OsStr) -> io::Result<TempFile> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        loop {
            let mut name = std::ffi::OsString::from(".");
            name.push(final_name);
            name.push(format!(
                ".{}.{}.tmp",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let path = dir.join(name);
            // Readable too: stdout's staged rows are read back to be copied out.
            match fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => return Ok(TempFile { file, path }),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(err),
            }
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Rows read from a file, one at a time (JSON arrays and Parquet read from stdin or gzip are
/// held in memory; everything else streams).
pub struct RowReader<R> {
    rows: Box<dyn Iterator<Item = Result<R, FormatError>>>,
}

impl<R> Iterator for RowReader<R> {
    type Item = Result<R, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rows.next()
    }
}

/// Opens `path` (`-` for stdin) for reading rows of kind `R`: gzip is undone, and the format is
/// `format` if given, else detected from the content.
pub fn read_rows<R: Row + 'static>(
    path: &Path,
    format: Option<Format>,
) -> Result<RowReader<R>, FormatError> {
    let name = path.display().to_string();
    let fail = |err: io::Error| FormatError::new(&name, None, format!("cannot read: {err}"));
    let raw: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).map_err(fail)?)
    };
    let mut input = BufReader::with_capacity(1 << 16, raw);
    let gzipped = input.fill_buf().map_err(fail)?.starts_with(&GZIP_MAGIC);
    let mut input: Box<dyn BufRead + Send> = if gzipped {
        Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(input),
        ))
    } else {
        Box::new(input)
    };
    let detected = Format::sniff(input.fill_buf().map_err(fail)?);
    let format = match format {
        // A `.json` name or `--format json` also covers JSON lines: the content decides.
        Some(Format::Json | Format::Ndjson)
            if matches!(detected, Format::Json | Format::Ndjson) =>
        {
            detected
        }
        Some(format) => format,
        None => detected,
    };
    let rows: Box<dyn Iterator<Item = Result<R, FormatError>> + Send> = match format {
        Format::Ndjson => Box::new(read_ndjson(input, name)),
        Format::Json => {
            let rows: Vec<R> = serde_json::from_reader(input).map_err(|err| {
                FormatError::new(&name, Some(json_location(&err)), json_message(&err))
            })?;
            Box::new(rows.into_iter().map(Ok))
        }
        Format::Csv => Box::new(read_csv(input, name)?),
        Format::Parquet => {
            let file = if gzipped || path.as_os_str() == "-" {
                let mut bytes = Vec::new();
                input.read_to_end(&mut bytes).map_err(fail)?;
                ParquetSource::Memory(bytes::Bytes::from(bytes))
            } else {
                ParquetSource::File(File::open(path).map_err(fail)?)
            };
            Box::new(read_parquet(file, name)?)
        }
    };
    Ok(RowReader {
        rows: Box::new(in_background(rows)),
    })
}

/// Rows decoded per message from the reading thread: large enough that the channel costs
/// nothing per row, small enough that memory stays a few batches.
const BATCH: usize = 2_048;

/// Runs `rows` on a thread of its own, so that decoding (parsing CSV or JSON, decompressing and
/// decoding Parquet) runs on one core while the consumer works on another. At most a few
/// batches are in flight; the thread stops at the first error, or when the consumer drops the
/// iterator.
fn in_background<T: Send + 'static>(
    rows: impl Iterator<Item = Result<T, FormatError>> + Send + 'static,
) -> impl Iterator<Item = Result<T, FormatError>> {
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<Result<T, FormatError>>>(4);
    std::thread::spawn(move || {
        let mut rows = rows.fuse();
        loop {
            let mut batch = Vec::with_capacity(BATCH);
            for row in rows.by_ref() {
                let failed = row.is_err();
                batch.push(row);
                if failed || batch.len() == BATCH {
                    break;
                }
            }
            let done = batch.len() < BATCH || batch.last().is_some_and(Result::is_err);
            if batch.is_empty() || send.send(batch).is_err() || done {
                return;
            }
        }
    });
    receive.into_iter().flatten()
}

/// The rows of several files, each in (step start, deployment) order, merged into that order
/// (rows of equal keys in file order), reading one row ahead per file. Files out of order
/// make rows out of order, which [`crate::cost::allocate`] detects.
pub fn read_merged<R: Row>(
    paths: &[PathBuf],
    format: Option<Format>,
) -> Result<Merged<R>, FormatError> {
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let mut rows = read_rows::<R>(path, format)?;
        let head = rows.next().transpose()?;
        files.push(MergedFile { rows, head });
    }
    Ok(Merged {
        files,
        failed: false,
    })
}

/// The rows of [`read_merged`].
pub struct Merged<R> {
    files: Vec<MergedFile<R>>,
    failed: bool,
}

struct MergedFile<R> {
    rows: RowReader<R>,
    head: Option<R>,
}

impl<R: Row> MergedFile<R> {
    /// Takes the head row and reads the next one.
    fn pop(&mut self) -> Result<Option<R>, FormatError> {
        let row = self.head.take();
        if row.is_some() {
            self.head = self.rows.next().transpose()?;
        }
        Ok(row)
    }
}

impl<R: Row> Iterator for Merged<R> {
    type Item = Result<R, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let at = (0..self.files.len())
            .filter(|&at| self.files[at].head.is_some())
            .min_by(|&a, &b| {
                let key = |at: usize| self.files[at].head.as_ref().map(Row::slice);
                key(a).cmp(&key(b))
            })?;
        let row = self.files[at].pop().transpose()?;
        self.failed = row.is_err();
        Some(row)
    }
}

/// Reads every row of `path` into a vector; see [`read_rows`].
pub fn read_all<R: Row + 'static>(
    path: &Path,
    format: Option<Format>,
) -> Result<Vec<R>, FormatError> {
    read_rows(path, format)?.collect()
}

fn json_location(err: &serde_json::Error) -> String {
    format!("line {}, column {}", err.line(), err.column())
}

/// serde_json's message without its trailing position, which the location already gives.
fn json_message(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

fn read_ndjson<R: Row>(
    input: impl BufRead,
    name: String,
) -> impl Iterator<Item = Result<R, FormatError>> {
    input.lines().enumerate().filter_map(move |(index, line)| {
        let line_number = index + 1;
        let line = match line {
            Ok(line) => line,
            Err(err) => {
                return Some(Err(FormatError::new(
                    &name,
                    Some(format!("line {line_number}")),
                    format!("cannot read: {err}"),
                )));
            }
        };
        if line.trim().is_empty() {
            return None;
        }
        Some(serde_json::from_str(&line).map_err(|err| {
            FormatError::new(
                &name,
                Some(format!("line {line_number}, column {}", err.column())),
                json_message(&err),
            )
        }))
    })
}

fn read_csv<R: Row>(
    input: impl Read,
    name: String,
) -> Result<impl Iterator<Item = Result<R, FormatError>>, FormatError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(input);
    let headers = reader
        .headers()
        .map_err(|err| FormatError::new(&name, Some("line 1".into()), err))?
        .clone();
    // Columns are matched by name (extra columns are ignored); a missing one is an error.
    let mut positions = Vec::with_capacity(R::COLUMNS.len());
    for column in R::COLUMNS {
        let position = headers
            .iter()
            .position(|header| header.trim() == column.name);
        positions.push(position.ok_or_else(|| {
            FormatError::new(
                &name,
                Some("line 1".into()),
                format!(
                    "missing column `{}`: the header must name {}",
                    column.name,
                    R::COLUMNS
                        .iter()
                        .map(|column| column.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?);
    }
    // One record and one row of values, reused for every line.
    let mut record = csv::StringRecord::new();
    let mut values = Vec::with_capacity(R::COLUMNS.len());
    let mut times = TimeCache::default();
    let mut names = Names::default();
    let mut failed = false;
    Ok(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let row = match reader.read_record(&mut record) {
            Ok(false) => return None,
            Ok(true) => csv_row(
                &record,
                &positions,
                &mut values,
                &mut times,
                &mut names,
                &name,
            ),
            Err(err) => {
                let line = err
                    .position()
                    .map(|position| format!("line {}", position.line()));
                Err(FormatError::new(&name, line, err))
            }
        };
        failed = row.is_err();
        Some(row)
    }))
}

/// The last time text parsed per column, with its value: a step's rows all carry the same
/// start and end, so the parse is skipped for all but the first row of each step.
#[derive(Default)]
struct TimeCache {
    last: Vec<Option<(String, UtcTime)>>,
}

impl TimeCache {
    /// The time of `cell` in the column at `index`.
    fn parse(&mut self, index: usize, cell: &str) -> Result<UtcTime, String> {
        if self.last.len() <= index {
            self.last.resize(index + 1, None);
        }
        let slot = &mut self.last[index];
        if let Some((text, time)) = slot
            && text == cell
        {
            return Ok(*time);
        }
        let time = cell
            .parse()
            .map_err(|err: crate::time::TimeError| err.to_string())?;
        *slot = Some((cell.to_owned(), time));
        Ok(time)
    }
}

/// The row of one CSV record, its cells at `positions`.
fn csv_row<R: Row>(
    record: &csv::StringRecord,
    positions: &[usize],
    values: &mut Vec<Field>,
    times: &mut TimeCache,
    names: &mut Names,
    name: &str,
) -> Result<R, FormatError> {
    let line = record.position().map_or(0, |position| position.line());
    values.clear();
    for (index, (column, &position)) in R::COLUMNS.iter().zip(positions).enumerate() {
        let cell = record.get(position).unwrap_or_default();
        let value = if column.kind == Kind::Time && !cell.is_empty() {
            times.parse(index, cell).map(Field::Time)
        } else {
            value_from_text(column, cell, names)
        };
        let value = value.map_err(|err| {
            FormatError::new(
                name,
                Some(format!("line {line}, column `{}`", column.name)),
                err,
            )
        })?;
        values.push(value);
    }
    R::from_values(values.drain(..))
        .map_err(|err| FormatError::new(name, Some(format!("line {line}")), err))
}

/// A cell of `column` from CSV text: empty is null where the column may be null.
fn value_from_text(column: &Column, cell: &str, names: &mut Names) -> Result<Field, String> {
    if cell.is_empty() && column.nullable {
        return Ok(Field::Null);
    }
    Ok(match column.kind {
        // The record is UTF-8 already: the check cannot fail.
        Kind::Text => Field::Text(names.get(cell.as_bytes()).map_err(|err| err.to_string())?),
        Kind::Time => Field::Time(
            cell.parse()
                .map_err(|err: crate::time::TimeError| err.to_string())?,
        ),
        Kind::Float => Field::Float(
            cell.trim()
                .parse()
                .map_err(|_| format!("`{cell}` is not a number"))?,
        ),
        // Most integers fit 64 bits, which parse faster than 128.
        Kind::Int => Field::Int(
            cell.trim()
                .parse::<i64>()
                .map(i128::from)
                .or_else(|_| cell.trim().parse())
                .map_err(|_| format!("`{cell}` is not an integer"))?,
        ),
        Kind::Decimal => Field::Decimal(
            Decimal::from_str_exact(cell.trim())
                .or_else(|_| Decimal::from_scientific(cell.trim()))
                .map_err(|_| format!("`{cell}` is not a decimal number"))?,
        ),
    })
}

/// Reads Parquet row group by row group through the column readers ([`crate::columnar`]).
fn read_parquet<R: Row>(
    source: ParquetSource,
    name: String,
) -> Result<impl Iterator<Item = Result<R, FormatError>> + Send, FormatError> {
    let table = ParquetTable::open(source)
        .map_err(|err| FormatError::new(&name, err.location(), err.message))?;
    // Columns are matched by name, so files written by other tools (DuckDB's `COPY ... TO`)
    // read too; a missing nullable column reads as null.
    let mut wanted = Vec::new();
    let mut slots = Vec::with_capacity(R::COLUMNS.len());
    for column in R::COLUMNS {
        let position = table.names().iter().position(|field| field == column.name);
        if position.is_none() && !column.nullable {
            return Err(FormatError::new(
                &name,
                None,
                format!("missing column `{}`", column.name),
            ));
        }
        slots.push(position.map(|at| {
            wanted.push(at);
            wanted.len() - 1
        }));
    }
    let mut group = 0;
    let mut columns: Vec<ColumnCursor> = Vec::new();
    // Rows of the current row group not yet taken.
    let mut rows_left = 0_usize;
    let mut row = 0_u64;
    let mut failed = false;
    let mut values = Vec::with_capacity(R::COLUMNS.len());
    Ok(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        while rows_left == 0 && !wanted.is_empty() {
            if group == table.row_groups() {
                return None;
            }
            match table.row_group_cursors(group, &wanted) {
                Ok((rows, cursors)) => (rows_left, columns) = (rows, cursors),
                Err(err) => {
                    failed = true;
                    return Some(Err(FormatError::new(&name, err.location(), err.message)));
                }
            }
            group += 1;
        }
        rows_left = rows_left.saturating_sub(1);
        row += 1;
        let location = |column: Option<&str>| {
            let at = format!("row group {}, row {row}", group - 1);
            Some(match column {
                Some(column) => format!("{at}, column `{column}`"),
                None => at,
            })
        };
        values.clear();
        for (column, slot) in R::COLUMNS.iter().zip(&slots) {
            // Each wanted column is one slot's, taken in slot order.
            let cell = match slot {
                Some(at) => columns[*at].next_cell(),
                None => Ok(Cell::Null),
            };
            match cell.and_then(|cell| value_from_cell(column, cell)) {
                Ok(value) => values.push(value),
                Err(err) => {
                    failed = true;
                    return Some(Err(FormatError::new(
                        &name,
                        location(Some(column.name)),
                        err,
                    )));
                }
            }
        }
        let row = R::from_values(values.drain(..))
            .map_err(|err| FormatError::new(&name, location(None), err));
        failed = row.is_err();
        Some(row)
    }))
}

/// A cell of `column` from a Parquet cell of any reasonable type.
fn value_from_cell(column: &Column, cell: Cell) -> Result<Field, String> {
    let unexpected = |cell: &Cell| {
        format!(
            "expected {}, found a {} value",
            match column.kind {
                Kind::Time => "a TIMESTAMP",
                Kind::Text => "a STRING",
                Kind::Float => "a DOUBLE",
                Kind::Int => "an integer",
                Kind::Decimal => "a DECIMAL",
            },
            cell.type_name()
        )
    };
    let value = match (column.kind, cell) {
        (_, Cell::Null) if column.nullable => Field::Null,
        (_, Cell::Null) => return Err("null in a column that cannot be null".into()),
        (Kind::Time, Cell::TimeMicros(micros)) if micros % 1_000_000 == 0 => {
            Field::Time(UtcTime(micros / 1_000_000))
        }
        (Kind::Time, Cell::TimeMicros(micros)) => {
            return Err(format!(
                "{micros} µs is not on a whole second (steps start on whole seconds)"
            ));
        }
        (Kind::Time, Cell::Text(text)) => Field::Time(
            text.parse()
                .map_err(|err: crate::time::TimeError| err.to_string())?,
        ),
        (Kind::Text, Cell::Text(text)) => Field::Text(text),
        (Kind::Float, Cell::Float(value)) => Field::Float(value),
        (Kind::Int, Cell::Int(value)) => Field::Int(value),
        // Row files' money is at the file's scale (18 for featgen's Parquet): read back
        // without its trailing zeros, as written.
        (Kind::Decimal, Cell::Decimal(value)) => Field::Decimal(value.normalize()),
        (Kind::Decimal, Cell::Int(value)) => Field::Decimal(
            Decimal::try_from_i128_with_scale(value, 0)
                .map_err(|_| format!("{value} is too large for a decimal"))?,
        ),
        (Kind::Decimal, Cell::Text(text)) => Field::Decimal(
            text.parse()
                .map_err(|_| format!("`{text}` is not a decimal number"))?,
        ),
        (Kind::Decimal, cell @ Cell::Float(_)) => {
            return Err(format!(
                "{}: money must be a DECIMAL or a string, never a float (cast it to DECIMAL)",
                unexpected(&cell)
            ));
        }
        (_, cell) => return Err(unexpected(&cell)),
    };
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::UNATTRIBUTED_ID;

    fn share_rows() -> Vec<ShareRow> {
        let hour = |h: i64| UtcTime(1_749_740_400 + h * 3_600);
        vec![
            ShareRow {
                start_time: hour(0),
                end_time: hour(1),
                deployment: "messages-production".into(),
                feature: Some("messaging".into()),
                endpoint: Some("create_message".into()),
                percentage_of_cpu: 0.285_782_022_396_944_06,
                feature_id: 1,
                feature_group: Some("chat".into()),
                team: Some("msgs-team".into()),
                tier: Some("S".into()),
                cpu_ns: 1_028_815_280_630,
                samples: 102_881,
                requests: Some(3_400_101),
            },
            ShareRow {
                start_time: hour(0),
                end_time: hour(1),
                deployment: "messages-production".into(),
                feature: None,
                endpoint: None,
                percentage_of_cpu: 0.714_217_977_603_055_9,
                feature_id: UNATTRIBUTED_ID,
                feature_group: None,
                team: None,
                tier: None,
                cpu_ns: 2_571_184_719_370,
                samples: 257_118,
                requests: None,
            },
            ShareRow {
                start_time: hour(1),
                end_time: hour(2),
                deployment: "ünïcode, \"quoted\"\nline".into(),
                feature: Some("feature,with,commas".into()),
                endpoint: Some("GET /a\tb".into()),
                // A value that serde_json parses 1 ulp off without `float_roundtrip`.
                percentage_of_cpu: 0.1 + 11.0 / 7.0,
                feature_id: 9_000_000_000,
                feature_group: Some("g".into()),
                team: None,
                tier: Some("A".into()),
                cpu_ns: i64::MAX as u64,
                samples: 0,
                requests: Some(0),
            },
        ]
    }

    fn cost_rows() -> Vec<CostRow> {
        let share = share_rows();
        let cost = |row: &ShareRow, cost: &str, bucket: Bucket, per: Option<&str>| CostRow {
            cost_per_request: per.map(|p| p.parse().unwrap()),
            cost_if_equal_per_request: per.map(|_| "-0.000000000000000001".parse().unwrap()),
            ..CostRow::priced(row.clone(), cost.parse().unwrap(), "USD".into(), bucket)
        };
        let mut rows = vec![
            cost(&share[0], "12.340", Bucket::Feature, Some("0.0000036293")),
            cost(&share[1], "30.8399999999", Bucket::Unattributed, None),
            cost(
                &share[2],
                "-99999999999999999999.999999",
                Bucket::Unprofiled,
                Some("0"),
            ),
        ];
        // A bill that names no deployment: an empty string, which is not null.
        let mut unallocated = cost(&share[1], "0.01", Bucket::Unallocated, None);
        unallocated.deployment = "".into();
        rows.push(unallocated);
        rows
    }

    fn round_trip<R: Row + PartialEq + fmt::Debug + 'static>(rows: &[R]) {
        let dir = tempfile::tempdir().unwrap();
        for format in Format::ALL {
            let path = dir.path().join(format!("rows.{format}"));
            assert_eq!(
                write_rows(rows, format, Some(&path)).unwrap(),
                rows.len() as u64
            );
            let first = fs::read(&path).unwrap();
            write_rows(rows, format, Some(&path)).unwrap();
            assert_eq!(
                fs::read(&path).unwrap(),
                first,
                "{format}: not deterministic"
            );
            assert_eq!(
                read_all::<R>(&path, Some(format)).unwrap(),
                rows,
                "{format}"
            );
            assert_eq!(
                read_all::<R>(&path, None).unwrap(),
                rows,
                "{format} detected"
            );
            // Gzip of any format, under a name that says nothing.
            let gz = dir.path().join(format!("{format}-rows.gz"));
            let mut encoder = flate2::write::GzEncoder::new(
                File::create(&gz).unwrap(),
                flate2::Compression::fast(),
            );
            encoder.write_all(&first).unwrap();
            encoder.finish().unwrap();
            assert_eq!(read_all::<R>(&gz, None).unwrap(), rows, "{format}.gz");
            // Empty output still reads as zero rows (CSV keeps its header).
            let empty = dir.path().join(format!("empty.{format}"));
            write_rows::<R>(&[], format, Some(&empty)).unwrap();
            assert_eq!(read_all::<R>(&empty, Some(format)).unwrap(), []);
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".tmp"))
            .collect();
        assert_eq!(leftovers, Vec::<String>::new());
    }

    #[test]
    fn share_rows_round_trip_in_every_format() {
        round_trip(&share_rows());
    }

    #[test]
    fn cost_rows_round_trip_in_every_format() {
        round_trip(&cost_rows());
    }

    #[test]
    fn text_formats_are_the_contract() {
        let rows = share_rows();
        let mut json = Vec::new();
        write_rows_to(&rows[..2], Format::Json, &mut json, "-").unwrap();
        let json = String::from_utf8(json).unwrap();
        assert!(json.starts_with("[\n{\"start_time\":\"2025-06-12 15:00:00 UTC\",\"end_time\":\"2025-06-12 16:00:00 UTC\",\"deployment\":\"messages-production\",\"feature\":\"messaging\""), "{json}");
        assert!(json.ends_with("\"requests\":null}\n]\n"), "{json}");
        let mut csv = Vec::new();
        write_rows_to(&rows[..2], Format::Csv, &mut csv, "-").unwrap();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "start_time,end_time,deployment,feature,endpoint,percentage_of_cpu,feature_id,feature_group,team,tier,cpu_ns,samples,requests\n\
             2025-06-12 15:00:00 UTC,2025-06-12 16:00:00 UTC,messages-production,messaging,create_message,0.28578202239694406,1,chat,msgs-team,S,1028815280630,102881,3400101\n\
             2025-06-12 15:00:00 UTC,2025-06-12 16:00:00 UTC,messages-production,,,0.7142179776030559,-1,,,,2571184719370,257118,\n"
        );
        let mut csv = Vec::new();
        write_rows_to(&cost_rows()[..1], Format::Csv, &mut csv, "-").unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert!(
            csv.lines()
                .next()
                .unwrap()
                .ends_with(",cost,currency,bucket,cost_per_request,cost_if_equal_per_request")
        );
        assert!(
            csv.ends_with(",12.340,USD,feature,0.0000036293,-0.000000000000000001\n"),
            "{csv}"
        );
    }

    #[test]
    fn parses_and_detects_formats() {
        assert_eq!("NDJSON".parse(), Ok(Format::Ndjson));
        assert_eq!("parquet".parse(), Ok(Format::Parquet));
        assert!(
            "xml"
                .parse::<Format>()
                .unwrap_err()
                .contains("ndjson, json, csv or parquet")
        );
        for (name, format) in [
            ("a/rows.ndjson", Some(Format::Ndjson)),
            ("rows.jsonl.gz", Some(Format::Ndjson)),
            ("rows.JSON", Some(Format::Json)),
            ("rows.csv.gz", Some(Format::Csv)),
            ("rows.parquet", Some(Format::Parquet)),
            ("rows", None),
            ("rows.gz", None),
        ] {
            assert_eq!(Format::from_path(Path::new(name)), format, "{name}");
        }
        assert_eq!(Format::sniff(b"PAR1\x15"), Format::Parquet);
        assert_eq!(Format::sniff(b" \n[{"), Format::Json);
        assert_eq!(Format::sniff(b"{\"a\":1}"), Format::Ndjson);
        assert_eq!(Format::sniff(b"start_time,end_time"), Format::Csv);
    }

    fn read_error<R: Row + fmt::Debug + 'static>(content: &str, extension: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("bad.{extension}"));
        fs::write(&path, content).unwrap();
        let error = read_all::<R>(&path, Format::from_path(&path)).unwrap_err();
        error
            .to_string()
            .replace(&dir.path().display().to_string(), "DIR")
    }

    #[test]
    fn bad_input_names_file_line_and_column() {
        let mut ndjson = Vec::new();
        write_rows_to(&share_rows()[..1], Format::Ndjson, &mut ndjson, "-").unwrap();
        let line = String::from_utf8(ndjson).unwrap();
        let bad = format!("{line}\n{}", line.replace("1028815280630", "\"x\""));
        let error = read_error::<ShareRow>(&bad, "ndjson");
        assert!(
            error.starts_with("DIR/bad.ndjson: line 3, column "),
            "{error}"
        );
        assert!(
            error.contains("invalid type: string \"x\", expected u64"),
            "{error}"
        );
        let error = read_error::<ShareRow>("[{\"start_time\": \"2025-06-12 15:00\"}]", "json");
        assert!(error.contains("missing field `end_time`"), "{error}");

        let mut csv = Vec::new();
        write_rows_to(&share_rows()[..1], Format::Csv, &mut csv, "-").unwrap();
        let csv = String::from_utf8(csv).unwrap();
        let error =
            read_error::<ShareRow>(&csv.replace("2025-06-12 16:00:00 UTC", "yesterday"), "csv");
        assert!(
            error.starts_with("DIR/bad.csv: line 2, column `end_time`: "),
            "{error}"
        );
        assert!(error.contains("invalid time `yesterday`"), "{error}");
        let error = read_error::<ShareRow>(&csv.replace(",cpu_ns,", ",cpu,"), "csv");
        assert!(
            error.starts_with("DIR/bad.csv: line 1: missing column `cpu_ns`"),
            "{error}"
        );
        let error = read_error::<CostRow>(&csv, "csv");
        assert!(error.contains("missing column `cost`"), "{error}");

        let error = read_error::<ShareRow>("PAR1 truncated", "parquet");
        assert!(
            error.starts_with("DIR/bad.parquet: not a readable Parquet file"),
            "{error}"
        );
    }

    #[test]
    fn parquet_money_is_exact_at_scale_18() {
        let cases = [
            ("12.340", "12.34"),
            ("0.000000000000000001", "0.000000000000000001"),
            ("0.0000000000000000005", "0"),
            ("0.0000000000000000015", "0.000000000000000002"),
            (
                "-1234567890.123456789012345678",
                "-1234567890.123456789012345678",
            ),
        ];
        for (input, stored) in cases {
            let bytes = decimal_bytes(input.parse().unwrap()).unwrap();
            let cell = crate::columnar::decimal_cell(i128::from_be_bytes(bytes), 18).unwrap();
            let column = column("cost", Kind::Decimal, false);
            assert_eq!(
                value_from_cell(&column, cell).unwrap(),
                Field::Decimal(stored.parse().unwrap()),
                "{input}"
            );
        }
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.parquet");
        write_rows(&share_rows(), Format::Parquet, Some(&path)).unwrap();
        let before = fs::read(&path).unwrap();
        let mut rows = share_rows();
        rows[2].cpu_ns = u64::MAX;
        let error = write_rows(&rows, Format::Parquet, Some(&path))
            .unwrap_err()
            .to_string();
        assert!(error.ends_with("row 3, column `cpu_ns`: cannot write Parquet: 18446744073709551615 does not fit a signed 64-bit integer"), "{error}");
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// `--out /dev/null` run as root once renamed a regular file over `/dev/null`; a FIFO
    /// stands in for the device here.
    #[test]
    fn a_pipe_is_written_through_not_renamed_over() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("rows.pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
        };
        write_rows(&share_rows(), Format::Csv, Some(&fifo)).unwrap();
        let through_the_pipe = reader.join().unwrap();
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let file = dir.path().join("rows.csv");
        write_rows(&share_rows(), Format::Csv, Some(&file)).unwrap();
        assert_eq!(through_the_pipe, fs::read_to_string(file).unwrap());
    }
}
