//! Parquet read by columns: each row group's flat columns decoded in typed batches (the
//! parquet crate's column readers), about ten times faster than its row-by-row record API.
//!
//! A column becomes one [`Cell`] per row, typed by its physical and logical type: text,
//! integers, floats, exact decimals (any `DECIMAL` encoding), timestamps and dates (as
//! microseconds), booleans. Nested columns (lists, structs, maps: BigQuery's `labels` and
//! `credits`) are read through the record API and given as JSON, so the billing formats see
//! the same JSON values as in a newline-JSON export.

use std::fs::File;

use parquet::basic::{Compression, ConvertedType, LogicalType, Repetition, TimeUnit};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::DataType;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::{ColumnDescriptor, Type, TypePtr};
use rust_decimal::Decimal;

use crate::row::{Name, Names};

/// One value of a column.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) enum Cell {
    /// Null (or a missing optional value).
    #[default]
    Null,
    /// `BOOLEAN`.
    Bool(bool),
    /// Any integer type, signed or unsigned.
    Int(i128),
    /// `FLOAT` or `DOUBLE`.
    Float(f64),
    /// A `STRING` (or unannotated `BYTE_ARRAY` holding UTF-8), shared with the column's other
    /// cells of the same text.
    Text(Name),
    /// A `DECIMAL` of any physical type, exactly.
    Decimal(Decimal),
    /// A `TIMESTAMP` (any unit), `DATE` or legacy `INT96`, as microseconds since the epoch.
    TimeMicros(i64),
    /// A nested column, as JSON.
    Json(serde_json::Value),
}

impl Cell {
    /// The Parquet type name of a cell, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Cell::Null => "null",
            Cell::Bool(_) => "BOOLEAN",
            Cell::Int(_) => "integer",
            Cell::Float(_) => "floating point",
            Cell::Text(_) => "STRING",
            Cell::Decimal(_) => "DECIMAL",
            Cell::TimeMicros(_) => "TIMESTAMP",
            Cell::Json(_) => "nested (LIST, STRUCT or MAP)",
        }
    }
}

/// Where a Parquet read failed.
#[derive(Debug)]
pub(crate) struct ColumnarError {
    /// The 0-based row group, when the problem is in one.
    pub row_group: Option<usize>,
    /// The 1-based row of the file, when the problem is one row's.
    pub row: Option<u64>,
    /// The column, when one is at fault.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ColumnarError {
    /// The location as `row group G, row N, column `c``, for messages.
    pub(crate) fn location(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(group) = self.row_group {
            parts.push(format!("row group {group}"));
        }
        if let Some(row) = self.row {
            parts.push(format!("row {row}"));
        }
        if let Some(column) = &self.column {
            parts.push(format!("column `{column}`"));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Where a file's bytes are.
pub(crate) enum ParquetSource {
    /// A file on disk, read as needed.
    File(File),
    /// Bytes in memory (stdin, or a gzipped file).
    Memory(bytes::Bytes),
}

/// A top-level column of the file.
enum Source {
    /// A flat column: its leaf index.
    Leaf(usize),
    /// A nested column: its type, projected for the record API.
    Nested(TypePtr),
}

/// An open Parquet file, read one row group at a time.
pub(crate) struct ParquetTable {
    reader: Box<dyn FileReader>,
    /// The root's name: a projection must repeat it.
    root: String,
    names: Vec<String>,
    sources: Vec<Source>,
}

impl ParquetTable {
    /// Opens `source` and reads its footer.
    pub(crate) fn open(source: ParquetSource) -> Result<ParquetTable, ColumnarError> {
        let fail = |err: parquet::errors::ParquetError| ColumnarError {
            row_group: None,
            row: None,
            column: None,
            message: format!("not a readable Parquet file: {err}"),
        };
        let reader: Box<dyn FileReader> = match source {
            ParquetSource::File(file) => Box::new(SerializedFileReader::new(file).map_err(fail)?),
            ParquetSource::Memory(bytes) => {
                Box::new(SerializedFileReader::new(bytes).map_err(fail)?)
            }
        };
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let mut names = Vec::new();
        let mut sources = Vec::new();
        for (root, field) in schema.root_schema().get_fields().iter().enumerate() {
            names.push(field.name().to_owned());
            let repeated = field.get_basic_info().has_repetition()
                && field.get_basic_info().repetition() == Repetition::REPEATED;
            let source = if field.is_primitive() && !repeated {
                let leaf = (0..schema.num_columns())
                    .find(|&leaf| schema.get_column_root_idx(leaf) == root)
                    .expect("a primitive root field is a leaf");
                Source::Leaf(leaf)
            } else {
                Source::Nested(field.clone())
            };
            sources.push(source);
        }
        Ok(ParquetTable {
            root: schema.root_schema().name().to_owned(),
            reader,
            names,
            sources,
        })
    }

    /// The top-level column names, in file order.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// How many row groups the file has.
    pub(crate) fn row_groups(&self) -> usize {
        self.reader.num_row_groups()
    }

    /// How many rows row group `group` has.
    pub(crate) fn rows_in(&self, group: usize) -> usize {
        self.reader.metadata().row_group(group).num_rows() as usize
    }

    /// Reads the columns `wanted` (indexes into [`ParquetTable::names`]) of row group `group`:
    /// one vector of cells per wanted column, each as long as the row group.
    pub(crate) fn read_row_group(
        &self,
        group: usize,
        wanted: &[usize],
    ) -> Result<Vec<Vec<Cell>>, ColumnarError> {
        let (rows, cursors) = self.row_group_cursors(group, wanted)?;
        cursors
            .into_iter()
            .zip(wanted)
            .map(|(mut cursor, &at)| {
                (0..rows)
                    .map(|_| cursor.next_cell())
                    .collect::<Result<Vec<Cell>, String>>()
                    .map_err(|message| ColumnarError {
                        row_group: Some(group),
                        row: None,
                        column: Some(self.names[at].clone()),
                        message,
                    })
            })
            .collect()
    }

    /// The columns `wanted` of row group `group` as cursors, each giving the group's cells
    /// in row order, and the group's row count. Flat columns are decoded in batches of
    /// [`CURSOR_BATCH`] rows as the cursor advances, so that a row group is never held as
    /// cells; nested ones are read whole through the record API.
    pub(crate) fn row_group_cursors(
        &self,
        group: usize,
        wanted: &[usize],
    ) -> Result<(usize, Vec<ColumnCursor>), ColumnarError> {
        let fail = |column: Option<usize>, message: String| ColumnarError {
            row_group: Some(group),
            row: None,
            column: column.map(|at| self.names[at].clone()),
            message,
        };
        let row_group = self
            .reader
            .get_row_group(group)
            .map_err(|err| fail(None, format!("cannot read the row group: {err}")))?;
        let rows = row_group.metadata().num_rows() as usize;
        // The crate is built with Snappy only (what featgen, DuckDB, BigQuery and Spark write
        // by default): name any other codec instead of the crate's "disabled feature".
        for (leaf, chunk) in row_group.metadata().columns().iter().enumerate() {
            let codec = chunk.compression();
            if !matches!(codec, Compression::UNCOMPRESSED | Compression::SNAPPY) {
                let root = row_group
                    .metadata()
                    .schema_descr()
                    .get_column_root_idx(leaf);
                if wanted.contains(&root) {
                    // `ZSTD(ZstdLevel(3))` is named `ZSTD`.
                    let codec = codec.to_string();
                    let codec = codec.split('(').next().unwrap_or_default();
                    return Err(fail(
                        Some(root),
                        format!(
                            "compressed with {codec}, which featgen does not read: write the file with SNAPPY or uncompressed (DuckDB: COMPRESSION snappy)"
                        ),
                    ));
                }
            }
        }
        let mut cursors = Vec::with_capacity(wanted.len());
        let mut nested = Vec::new();
        for (slot, &at) in wanted.iter().enumerate() {
            match &self.sources[at] {
                Source::Leaf(leaf) => {
                    let descr = row_group.metadata().schema_descr().column(*leaf);
                    let reader = row_group
                        .get_column_reader(*leaf)
                        .map_err(|err| fail(Some(at), err.to_string()))?;
                    cursors.push(ColumnCursor::Leaf(Box::new(LeafCursor::new(
                        reader, &descr, rows,
                    ))));
                }
                Source::Nested(field) => {
                    cursors.push(ColumnCursor::Cells(Vec::new().into_iter()));
                    nested.push((slot, at, field.clone()));
                }
            }
        }
        if !nested.is_empty() {
            let projection = Type::group_type_builder(&self.root)
                .with_fields(nested.iter().map(|(_, _, field)| field.clone()).collect())
                .build()
                .map_err(|err| fail(None, err.to_string()))?;
            let records = row_group
                .get_row_iter(Some(projection))
                .map_err(|err| fail(None, err.to_string()))?;
            let mut columns = vec![Vec::with_capacity(rows); nested.len()];
            for record in records {
                let record = record.map_err(|err| fail(None, err.to_string()))?;
                for (column, (_, field)) in columns.iter_mut().zip(record.get_column_iter()) {
                    column.push(Cell::Json(field.to_json_value()));
                }
            }
            for ((slot, _, _), column) in nested.iter().zip(columns) {
                cursors[*slot] = ColumnCursor::Cells(column.into_iter());
            }
        }
        Ok((rows, cursors))
    }
}

/// Rows a flat column's cursor decodes at a time: enough that the column reader's per-call
/// work is nothing per row, few enough that a row group's columns stay in the CPU's caches.
const CURSOR_BATCH: usize = 4_096;

/// One column of a row group, giving a cell per row in order.
pub(crate) enum ColumnCursor {
    /// A flat column, decoded in typed batches (boxed: its reader is large, and there is one
    /// cursor per column and row group).
    Leaf(Box<LeafCursor>),
    /// A nested column, already read as JSON cells.
    Cells(std::vec::IntoIter<Cell>),
}

impl ColumnCursor {
    /// The next row's cell; an error when the column has fewer values than the row group rows.
    pub(crate) fn next_cell(&mut self) -> Result<Cell, String> {
        match self {
            ColumnCursor::Leaf(leaf) => leaf.next_cell(),
            ColumnCursor::Cells(cells) => cells
                .next()
                .ok_or_else(|| "the column has fewer values than the row group rows".to_owned()),
        }
    }
}

/// A flat column chunk read through its typed column reader, a batch of rows at a time.
pub(crate) struct LeafCursor {
    values: LeafValues,
    /// How its integers read (dates, timestamps, decimals, unsigned).
    meaning: Meaning,
    /// Rows of the chunk not yet decoded.
    rows_left: usize,
    /// The chunk's text values: a column of names holds a few hundred distinct ones.
    names: Names,
}

/// What a column's physical values mean.
struct Meaning {
    max_def: i16,
    scale: u32,
    is_decimal: bool,
    is_date: bool,
    unsigned: bool,
    /// Microseconds per unit of an `INT64` timestamp (negative: units per microsecond).
    time_factor: Option<i64>,
}

/// The typed reader of each physical type, with its current batch.
enum LeafValues {
    Bool(Batch<parquet::data_type::BoolType>),
    Int32(Batch<parquet::data_type::Int32Type>),
    Int64(Batch<parquet::data_type::Int64Type>),
    Int96(Batch<parquet::data_type::Int96Type>),
    Float(Batch<parquet::data_type::FloatType>),
    Double(Batch<parquet::data_type::DoubleType>),
    Bytes(Batch<parquet::data_type::ByteArrayType>),
    Fixed(Batch<parquet::data_type::FixedLenByteArrayType>),
}

/// A typed column reader and the values and definition levels of its current batch.
struct Batch<T: DataType> {
    reader: ColumnReaderImpl<T>,
    values: Vec<T::T>,
    levels: Vec<i16>,
    /// The next value and level to hand out.
    value: usize,
    level: usize,
}

impl<T: DataType> Batch<T> {
    fn new(reader: ColumnReaderImpl<T>) -> Batch<T> {
        Batch {
            reader,
            values: Vec::new(),
            levels: Vec::new(),
            value: 0,
            level: 0,
        }
    }

    /// The next row's value, `None` for null; decodes the next batch when this one is used up.
    fn next(&mut self, max_def: i16, rows_left: &mut usize) -> Result<Option<T::T>, String> {
        let batch_len = if max_def > 0 {
            self.levels.len()
        } else {
            self.values.len()
        };
        let at = if max_def > 0 { self.level } else { self.value };
        if at == batch_len {
            let wanted = (*rows_left).min(CURSOR_BATCH);
            self.values.clear();
            self.levels.clear();
            self.value = 0;
            self.level = 0;
            let (records, _, _) = self
                .reader
                .read_records(
                    wanted,
                    (max_def > 0).then_some(&mut self.levels),
                    None,
                    &mut self.values,
                )
                .map_err(|err| err.to_string())?;
            if records == 0 || records > wanted {
                return Err(format!(
                    "the column chunk has {records} values where {wanted} more rows were expected"
                ));
            }
            *rows_left -= records;
        }
        if max_def > 0 {
            let level = self.levels[self.level];
            self.level += 1;
            if level < max_def {
                return Ok(None);
            }
        }
        let value = self
            .values
            .get_mut(self.value)
            .map(std::mem::take)
            .ok_or_else(|| "the column chunk has fewer values than its levels".to_owned())?;
        self.value += 1;
        Ok(Some(value))
    }
}

impl LeafCursor {
    /// A cursor over the `rows` rows of `reader`, the column `descr`.
    fn new(reader: ColumnReader, descr: &ColumnDescriptor, rows: usize) -> LeafCursor {
        let logical = descr.logical_type_ref();
        let converted = descr.converted_type();
        let time_factor = match (logical, converted) {
            (Some(LogicalType::Timestamp { unit, .. }), _) => Some(match unit {
                TimeUnit::MILLIS => 1_000,
                TimeUnit::MICROS => 1,
                TimeUnit::NANOS => -1_000,
            }),
            (_, ConvertedType::TIMESTAMP_MILLIS) => Some(1_000),
            (_, ConvertedType::TIMESTAMP_MICROS) => Some(1),
            _ => None,
        };
        let meaning = Meaning {
            max_def: descr.max_def_level(),
            scale: descr.type_scale().max(0) as u32,
            is_decimal: matches!(logical, Some(LogicalType::Decimal { .. }))
                || converted == ConvertedType::DECIMAL,
            is_date: matches!(logical, Some(LogicalType::Date)) || converted == ConvertedType::DATE,
            unsigned: is_unsigned(logical, converted),
            time_factor,
        };
        let values = match reader {
            ColumnReader::BoolColumnReader(reader) => LeafValues::Bool(Batch::new(reader)),
            ColumnReader::Int32ColumnReader(reader) => LeafValues::Int32(Batch::new(reader)),
            ColumnReader::Int64ColumnReader(reader) => LeafValues::Int64(Batch::new(reader)),
            ColumnReader::Int96ColumnReader(reader) => LeafValues::Int96(Batch::new(reader)),
            ColumnReader::FloatColumnReader(reader) => LeafValues::Float(Batch::new(reader)),
            ColumnReader::DoubleColumnReader(reader) => LeafValues::Double(Batch::new(reader)),
            ColumnReader::ByteArrayColumnReader(reader) => LeafValues::Bytes(Batch::new(reader)),
            ColumnReader::FixedLenByteArrayColumnReader(reader) => {
                LeafValues::Fixed(Batch::new(reader))
            }
        };
        LeafCursor {
            values,
            meaning,
            rows_left: rows,
            names: Names::default(),
        }
    }

    /// The next row's cell.
    pub(crate) fn next_cell(&mut self) -> Result<Cell, String> {
        let m = &self.meaning;
        let rows_left = &mut self.rows_left;
        let names = &mut self.names;
        let decimal = |mantissa: i128| decimal_cell(mantissa, m.scale);
        let cell = match &mut self.values {
            LeafValues::Bool(batch) => batch.next(m.max_def, rows_left)?.map(|v| Ok(Cell::Bool(v))),
            LeafValues::Int32(batch) => batch.next(m.max_def, rows_left)?.map(|v| {
                if m.is_date {
                    Ok(Cell::TimeMicros(i64::from(v) * 86_400_000_000))
                } else if m.is_decimal {
                    decimal(i128::from(v))
                } else if m.unsigned {
                    Ok(Cell::Int(i128::from(v as u32)))
                } else {
                    Ok(Cell::Int(i128::from(v)))
                }
            }),
            LeafValues::Int64(batch) => {
                batch
                    .next(m.max_def, rows_left)?
                    .map(|v| match m.time_factor {
                        // Nanoseconds are floored to microseconds (a negative factor divides).
                        Some(factor) if factor < 0 => Ok(Cell::TimeMicros(v.div_euclid(-factor))),
                        Some(factor) => v
                            .checked_mul(factor)
                            .map(Cell::TimeMicros)
                            .ok_or_else(|| format!("timestamp {v} is out of range")),
                        None if m.is_decimal => decimal(i128::from(v)),
                        None if m.unsigned => Ok(Cell::Int(i128::from(v as u64))),
                        None => Ok(Cell::Int(i128::from(v))),
                    })
            }
            LeafValues::Int96(batch) => batch
                .next(m.max_def, rows_left)?
                .map(|v| Ok(Cell::TimeMicros(v.to_micros()))),
            LeafValues::Float(batch) => batch
                .next(m.max_def, rows_left)?
                .map(|v| Ok(Cell::Float(f64::from(v)))),
            LeafValues::Double(batch) => batch
                .next(m.max_def, rows_left)?
                .map(|v| Ok(Cell::Float(v))),
            LeafValues::Bytes(batch) => batch.next(m.max_def, rows_left)?.map(|v| {
                if m.is_decimal {
                    decimal(big_endian(v.data())?)
                } else {
                    names
                        .get(v.data())
                        .map(Cell::Text)
                        .map_err(|_| "a BYTE_ARRAY value is not UTF-8 text".to_owned())
                }
            }),
            LeafValues::Fixed(batch) => batch.next(m.max_def, rows_left)?.map(|v| {
                if m.is_decimal {
                    decimal(big_endian(v.data())?)
                } else {
                    Err("a FIXED_LEN_BYTE_ARRAY column without a DECIMAL annotation is not a value featgen reads".to_owned())
                }
            }),
        };
        cell.unwrap_or(Ok(Cell::Null))
    }
}

fn is_unsigned(logical: Option<&LogicalType>, converted: ConvertedType) -> bool {
    matches!(
        logical,
        Some(LogicalType::Integer {
            is_signed: false,
            ..
        })
    ) || matches!(
        converted,
        ConvertedType::UINT_8
            | ConvertedType::UINT_16
            | ConvertedType::UINT_32
            | ConvertedType::UINT_64
    )
}

/// A two's complement big-endian integer of at most 16 bytes.
fn big_endian(data: &[u8]) -> Result<i128, String> {
    if data.len() > 16 {
        return Err(format!(
            "a DECIMAL of {} bytes is wider than featgen reads (16)",
            data.len()
        ));
    }
    let negative = data.first().is_some_and(|b| b & 0x80 != 0);
    let mut bytes = [if negative { 0xff } else { 0 }; 16];
    bytes[16 - data.len()..].copy_from_slice(data);
    Ok(i128::from_be_bytes(bytes))
}

/// `mantissa × 10^-scale` exactly, at the column's scale (a billing export's precision is
/// the apportioning unit). Only when that does not fit rust_decimal (96-bit mantissa, 28
/// places) are trailing zeros dropped, so that a `DECIMAL(38, 18)` of any amount below 10^20
/// still reads.
pub(crate) fn decimal_cell(mut mantissa: i128, mut scale: u32) -> Result<Cell, String> {
    loop {
        let fits = (scale <= 28)
            .then(|| Decimal::try_from_i128_with_scale(mantissa, scale).ok())
            .flatten();
        if let Some(value) = fits {
            return Ok(Cell::Decimal(value));
        }
        if scale == 0 || mantissa % 10 != 0 {
            return Err(format!(
                "{mantissa}e-{scale} does not fit a decimal (96 bits, at most 28 places)"
            ));
        }
        mantissa /= 10;
        scale -= 1;
    }
}
