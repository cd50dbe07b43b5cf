//! Reading billing files: gzip or plain; CSV, newline-delimited JSON, a JSON array or Parquet;
//! one row at a time, with the line (or Parquet row group and row) it came from.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

// The header is looked up for every cell of every row: foldhash, not SipHash.
use foldhash::HashMap;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::{RowProblem, SkipReason};
use crate::columnar::{Cell as ParquetCell, ColumnarError, ParquetSource, ParquetTable};
use crate::time::UtcTime;

/// One billing row, whatever the file's syntax.
pub(crate) enum Row<'a> {
    /// A CSV record and the header's column positions.
    Csv {
        record: &'a csv::StringRecord,
        header: &'a HashMap<String, usize>,
    },
    /// A JSON object (a line of NDJSON or an element of an array).
    Json(&'a Map<String, Value>),
    /// Row `index` of a Parquet row group's columns, each named in `header`.
    Parquet {
        columns: &'a RowGroupColumns<'a>,
        index: usize,
        header: &'a HashMap<String, usize>,
    },
}

/// A cell: text from CSV, a value from JSON, or nothing.
enum Cell<'a> {
    Absent,
    Text(&'a str),
    Json(&'a Value),
    Parquet(&'a ParquetCell),
}

impl<'a> Row<'a> {
    /// Whether the row has the column at all (a CSV header, or a JSON key).
    pub(crate) fn has(&self, column: &str) -> bool {
        match self {
            Row::Csv { header, .. } | Row::Parquet { header, .. } => header.contains_key(column),
            Row::Json(object) => object.contains_key(column),
        }
    }

    /// Whether every row of the file has this row's columns (a Parquet schema), so that what
    /// the columns say is the same for all its rows.
    pub(crate) fn has_file_columns(&self) -> bool {
        matches!(self, Row::Parquet { .. })
    }

    /// The column names of the row, for messages.
    pub(crate) fn columns(&self) -> Vec<&str> {
        match self {
            Row::Csv { header, .. } | Row::Parquet { header, .. } => {
                let mut names: Vec<(&usize, &str)> = header
                    .iter()
                    .map(|(name, at)| (at, name.as_str()))
                    .collect();
                names.sort();
                names.into_iter().map(|(_, name)| name).collect()
            }
            Row::Json(object) => object.keys().map(String::as_str).collect(),
        }
    }

    fn cell(&self, column: &str) -> Cell<'a> {
        match self {
            Row::Csv { record, header } => {
                match header.get(column).and_then(|&at| record.get(at)) {
                    Some(text) => Cell::Text(text),
                    None => Cell::Absent,
                }
            }
            Row::Json(object) => object.get(column).map_or(Cell::Absent, Cell::Json),
            Row::Parquet {
                columns,
                index,
                header,
            } => match header.get(column) {
                Some(&at) => columns
                    .column(at)
                    .and_then(|column| column.get(*index))
                    .map_or(Cell::Absent, Cell::Parquet),
                None => Cell::Absent,
            },
        }
    }

    /// The text of a cell; `None` when absent, empty, JSON null or the literal `NULL` that real
    /// exports write. JSON numbers and booleans are given as their JSON text.
    pub(crate) fn text(&self, column: &str) -> Option<Cow<'a, str>> {
        let text = match self.cell(column) {
            Cell::Absent | Cell::Json(Value::Null) => return None,
            Cell::Text(text) => text,
            Cell::Json(Value::String(text)) => text.as_str(),
            Cell::Json(other) => return Some(Cow::Owned(other.to_string())),
            Cell::Parquet(ParquetCell::Null) => return None,
            Cell::Parquet(ParquetCell::Text(text)) => text.as_str(),
            Cell::Parquet(ParquetCell::Json(value)) => return Some(Cow::Owned(value.to_string())),
            Cell::Parquet(ParquetCell::TimeMicros(micros)) => {
                return Some(Cow::Owned(format!("{micros} µs since 1970")));
            }
            Cell::Parquet(other) => return Some(Cow::Owned(parquet_scalar_text(other))),
        }
        .trim();
        (!text.is_empty() && text != "NULL" && text != "null").then_some(Cow::Borrowed(text))
    }

    /// A decimal amount. JSON numbers that are not integers arrive as binary floats (BigQuery's
    /// `FLOAT64` cost): they are read through their shortest round-trip text, so `0.1` is 0.1.
    pub(crate) fn decimal(&self, column: &str) -> Result<Option<Decimal>, RowProblem> {
        let text = match self.cell(column) {
            Cell::Json(Value::Number(number)) => {
                if let Some(integer) = number.as_i64() {
                    return Ok(Some(Decimal::from(integer)));
                }
                number.as_f64().map(|float| Cow::Owned(float.to_string()))
            }
            Cell::Parquet(ParquetCell::Decimal(value)) => return Ok(Some(*value)),
            Cell::Parquet(ParquetCell::Int(value)) => {
                return Decimal::try_from_i128_with_scale(*value, 0)
                    .map(Some)
                    .map_err(|_| RowProblem {
                        reason: SkipReason::UnparsableNumber,
                        column: column.to_owned(),
                        detail: format!("{value} is too large for a decimal"),
                    });
            }
            Cell::Parquet(
                cell @ (ParquetCell::Bool(_) | ParquetCell::TimeMicros(_) | ParquetCell::Json(_)),
            ) => {
                return Err(RowProblem {
                    reason: SkipReason::UnparsableNumber,
                    column: column.to_owned(),
                    detail: format!(
                        "a Parquet {} value is not an amount (store the column as DECIMAL, a number or a STRING)",
                        cell.type_name()
                    ),
                });
            }
            _ => self.text(column),
        };
        let Some(text) = text else { return Ok(None) };
        text.parse::<Decimal>()
            .or_else(|_| Decimal::from_scientific(&text))
            .map(Some)
            .map_err(|_| RowProblem {
                reason: SkipReason::UnparsableNumber,
                column: column.to_owned(),
                detail: format!("`{text}` is not a decimal number"),
            })
    }

    /// A time (see [`UtcTime`]'s accepted forms).
    pub(crate) fn time(&self, column: &str) -> Result<Option<UtcTime>, RowProblem> {
        let problem = |detail: String| RowProblem {
            reason: SkipReason::UnparsableTime,
            column: column.to_owned(),
            detail,
        };
        match self.cell(column) {
            Cell::Parquet(ParquetCell::TimeMicros(micros)) if micros % 1_000_000 == 0 => {
                return Ok(Some(UtcTime(micros / 1_000_000)));
            }
            Cell::Parquet(ParquetCell::TimeMicros(micros)) => {
                return Err(problem(format!(
                    "{micros} µs since 1970 is not on a whole second"
                )));
            }
            Cell::Parquet(
                cell @ (ParquetCell::Bool(_)
                | ParquetCell::Int(_)
                | ParquetCell::Float(_)
                | ParquetCell::Decimal(_)
                | ParquetCell::Json(_)),
            ) => {
                return Err(problem(format!(
                    "a Parquet {} value is not a time (store the column as TIMESTAMP or a STRING)",
                    cell.type_name()
                )));
            }
            _ => {}
        }
        let Some(text) = self.text(column) else {
            return Ok(None);
        };
        text.parse::<UtcTime>().map(Some).map_err(|err| RowProblem {
            reason: SkipReason::UnparsableTime,
            column: column.to_owned(),
            detail: err.to_string(),
        })
    }

    /// A JSON value: nested in JSON rows, JSON text in a CSV cell.
    pub(crate) fn json(&self, column: &str) -> Result<Option<Cow<'a, Value>>, RowProblem> {
        match self.cell(column) {
            Cell::Json(Value::String(_)) | Cell::Text(_) => {
                let Some(text) = self.text(column) else {
                    return Ok(None);
                };
                serde_json::from_str(&text)
                    .map(|value| Some(Cow::Owned(value)))
                    .map_err(|err| RowProblem {
                        reason: SkipReason::InvalidJson,
                        column: column.to_owned(),
                        detail: format!("not JSON: {err}"),
                    })
            }
            Cell::Json(Value::Null) | Cell::Absent | Cell::Parquet(ParquetCell::Null) => Ok(None),
            Cell::Json(value) | Cell::Parquet(ParquetCell::Json(value)) => {
                Ok(Some(Cow::Borrowed(value)))
            }
            Cell::Parquet(ParquetCell::Text(_)) => {
                let Some(text) = self.text(column) else {
                    return Ok(None);
                };
                serde_json::from_str(&text)
                    .map(|value| Some(Cow::Owned(value)))
                    .map_err(|err| RowProblem {
                        reason: SkipReason::InvalidJson,
                        column: column.to_owned(),
                        detail: format!("not JSON: {err}"),
                    })
            }
            Cell::Parquet(cell) => Err(RowProblem {
                reason: SkipReason::InvalidJson,
                column: column.to_owned(),
                detail: format!(
                    "a Parquet {} value is not JSON (store the column as a STRING of JSON, a STRUCT, LIST or MAP)",
                    cell.type_name()
                ),
            }),
        }
    }

    /// For CSV: whether this record repeats a header (concatenated exports); the values are
    /// then column names.
    pub(crate) fn record_values(&self) -> Option<Vec<&str>> {
        match self {
            Row::Csv { record, .. } => Some(record.iter().map(str::trim).collect()),
            Row::Json(_) | Row::Parquet { .. } => None,
        }
    }
}

/// The text of a Parquet scalar that is not text itself.
fn parquet_scalar_text(cell: &ParquetCell) -> String {
    match cell {
        ParquetCell::Bool(value) => value.to_string(),
        ParquetCell::Int(value) => value.to_string(),
        ParquetCell::Float(value) => value.to_string(),
        ParquetCell::Decimal(value) => value.to_string(),
        other => format!("{other:?}"),
    }
}

/// Where a row is in its file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Position {
    /// The 1-based line (JSON array: element; Parquet: row of the file).
    pub line: u64,
    /// The 0-based Parquet row group.
    pub row_group: Option<u32>,
}

impl Position {
    fn line(line: u64) -> Position {
        Position {
            line,
            row_group: None,
        }
    }
}

/// Why a file could not be read at all (not a row's problem).
pub(crate) struct ReadError {
    /// The 1-based line (Parquet: row), when known.
    pub line: Option<u64>,
    /// The Parquet row group, when known.
    pub row_group: Option<u32>,
    /// The column, when one is at fault.
    pub column: Option<String>,
    /// What went wrong.
    pub message: String,
}

impl ReadError {
    fn at(line: Option<u64>, message: String) -> ReadError {
        ReadError {
            line,
            row_group: None,
            column: None,
            message,
        }
    }
}

/// Where billing rows are read from.
pub(crate) enum Source<'a> {
    /// A file: a plain Parquet file is read a row group at a time, never whole.
    File(std::fs::File),
    /// Any other byte stream.
    Stream(Box<dyn Read + 'a>),
}

/// Calls `visit` with every row of `source` and its 1-based line (for a JSON array: the
/// element's 1-based index; Parquet: the row group and the row of the file). Gzip is recognized
/// by its magic bytes; Parquet by `PAR1`; JSON by a first non-blank byte `{` (NDJSON) or `[`
/// (an array); anything else is CSV with a header line.
pub(crate) fn for_each_row<E: From<ReadError>>(
    source: Source<'_>,
    mut visit: impl FnMut(Position, &Row) -> Result<(), E>,
) -> Result<(), E> {
    let io_error = |err: std::io::Error| ReadError::at(None, err.to_string());
    let source: Box<dyn Read + '_> = match source {
        Source::File(mut file) => {
            let mut magic = [0; 4];
            let parquet = file.read_exact(&mut magic).is_ok() && &magic == b"PAR1";
            file.seek(SeekFrom::Start(0)).map_err(io_error)?;
            if parquet {
                return for_each_parquet_row(ParquetSource::File(file), visit);
            }
            Box::new(file)
        }
        Source::Stream(stream) => stream,
    };
    let mut buffered = BufReader::with_capacity(1 << 16, source);
    let gzip = buffered
        .fill_buf()
        .map_err(io_error)?
        .starts_with(&[0x1f, 0x8b]);
    let mut source: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    };
    if source.fill_buf().map_err(io_error)?.starts_with(b"PAR1") {
        // The footer is at the end: a stream (or a gzipped file) is read whole first.
        let mut bytes = Vec::new();
        source.read_to_end(&mut bytes).map_err(io_error)?;
        return for_each_parquet_row(ParquetSource::Memory(bytes::Bytes::from(bytes)), visit);
    }
    let first = loop {
        let bytes = source.fill_buf().map_err(io_error)?;
        match bytes.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(at) => break Some(bytes[at]),
            None if bytes.is_empty() => break None,
            None => {
                let length = bytes.len();
                source.consume(length);
            }
        }
    };
    match first {
        None => Ok(()),
        Some(b'[') => {
            let value: Value = serde_json::from_reader(source).map_err(|err| {
                ReadError::at(Some(err.line() as u64), format!("invalid JSON: {err}"))
            })?;
            let Value::Array(rows) = value else {
                unreachable!("a document starting with `[` is an array")
            };
            for (index, row) in rows.iter().enumerate() {
                let Value::Object(object) = row else {
                    return Err(not_an_object(index as u64 + 1).into());
                };
                visit(Position::line(index as u64 + 1), &Row::Json(object))?;
            }
            Ok(())
        }
        Some(b'{') => {
            let mut line = String::new();
            let mut number = 0;
            loop {
                line.clear();
                number += 1;
                if source.read_line(&mut line).map_err(io_error)? == 0 {
                    return Ok(());
                }
                if line.trim().is_empty() {
                    continue;
                }
                let object: Map<String, Value> = serde_json::from_str(&line).map_err(|err| {
                    ReadError::at(Some(number), format!("not a JSON object: {err}"))
                })?;
                visit(Position::line(number), &Row::Json(&object))?;
            }
        }
        Some(_) => {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::Headers)
                .from_reader(source);
            let csv_error = |err: csv::Error| {
                ReadError::at(
                    err.position().map(csv::Position::line),
                    format!("invalid CSV: {err}"),
                )
            };
            let header: HashMap<String, usize> = reader
                .headers()
                .map_err(csv_error)?
                .iter()
                .enumerate()
                .map(|(at, name)| (name.to_owned(), at))
                .collect();
            let mut record = csv::StringRecord::new();
            while reader.read_record(&mut record).map_err(csv_error)? {
                let line = record.position().map_or(0, csv::Position::line);
                visit(
                    Position::line(line),
                    &Row::Csv {
                        record: &record,
                        header: &header,
                    },
                )?;
            }
            Ok(())
        }
    }
}

fn not_an_object(index: u64) -> ReadError {
    ReadError::at(Some(index), "array element is not a JSON object".into())
}

/// The columns of one Parquet row group, each decoded when a row first asks for it: a format
/// reads a few of an export's columns (the article's 4 of 9), and decoding the others (text
/// descriptions, SKUs) was most of the work of reading a bill.
pub(crate) struct RowGroupColumns<'t> {
    table: &'t ParquetTable,
    group: usize,
    columns: Vec<OnceCell<Vec<ParquetCell>>>,
    /// The first column that could not be decoded: the file's error, reported after the row.
    failed: RefCell<Option<ColumnarError>>,
}

impl<'t> RowGroupColumns<'t> {
    fn new(table: &'t ParquetTable, group: usize) -> RowGroupColumns<'t> {
        RowGroupColumns {
            table,
            group,
            columns: (0..table.names().len()).map(|_| OnceCell::new()).collect(),
            failed: RefCell::new(None),
        }
    }

    /// The cells of column `at`, decoded on first use; `None` (and the error kept) when they
    /// cannot be.
    fn column(&self, at: usize) -> Option<&Vec<ParquetCell>> {
        let slot = self.columns.get(at)?;
        if let Some(cells) = slot.get() {
            return Some(cells);
        }
        match self.table.read_row_group(self.group, &[at]) {
            Ok(mut columns) => Some(slot.get_or_init(|| columns.pop().unwrap_or_default())),
            Err(err) => {
                self.failed.borrow_mut().get_or_insert(err);
                None
            }
        }
    }
}

/// Visits the rows of a Parquet file, a row group at a time, decoding only the columns the
/// format reads.
fn for_each_parquet_row<E: From<ReadError>>(
    source: ParquetSource,
    mut visit: impl FnMut(Position, &Row) -> Result<(), E>,
) -> Result<(), E> {
    let located = |err: ColumnarError| ReadError {
        line: err.row,
        // The format counts row groups in an i32: the index fits.
        row_group: err.row_group.map(|group| group as u32),
        column: err.column,
        message: err.message,
    };
    let table = ParquetTable::open(source).map_err(located)?;
    let header: HashMap<String, usize> = table
        .names()
        .iter()
        .enumerate()
        .map(|(at, name)| (name.clone(), at))
        .collect();
    let mut line = 0;
    for group in 0..table.row_groups() {
        let columns = RowGroupColumns::new(&table, group);
        for index in 0..table.rows_in(group) {
            line += 1;
            let at = Position {
                line,
                row_group: Some(group as u32),
            };
            let visited = visit(
                at,
                &Row::Parquet {
                    columns: &columns,
                    index,
                    header: &header,
                },
            );
            // A column that cannot be decoded read as absent: its error, not the row's, is
            // the file's.
            if let Some(err) = columns.failed.take() {
                return Err(located(err).into());
            }
            visited?;
        }
    }
    Ok(())
}
