//! Row files: NDJSON (one row per line, what `featgen cost` and `featgen shares` stream) or a
//! JSON array of rows, told apart by the first non-blank byte.
//!
//! Errors name the file, the line and column, and what was expected.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use featgen_attribution::{CostRow, ShareRow};
use serde::de::DeserializeOwned;

use crate::{Error, Rows};

/// A file that could not be read, or a row in it that is malformed.
#[derive(Debug)]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// 1-based column of the problem, when known.
    pub column: Option<usize>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ReadError {}

/// Cost and share rows in files, read on each pass.
#[derive(Clone, Debug, Default)]
pub struct RowFiles {
    /// Files of cost rows.
    pub costs: Vec<PathBuf>,
    /// Files of share rows.
    pub shares: Vec<PathBuf>,
}

impl Rows for RowFiles {
    fn costs(&self, sink: &mut dyn FnMut(CostRow)) -> Result<(), Error> {
        for path in &self.costs {
            read_rows(path, "cost", sink)?;
        }
        Ok(())
    }

    fn shares(&self, sink: &mut dyn FnMut(ShareRow)) -> Result<(), Error> {
        for path in &self.shares {
            read_rows(path, "share", sink)?;
        }
        Ok(())
    }
}

/// Calls `sink` with each row of the file at `path` (`kind` names the rows in errors).
pub fn read_rows<T: DeserializeOwned>(
    path: &Path,
    kind: &str,
    sink: &mut dyn FnMut(T),
) -> Result<(), ReadError> {
    let fail = |line, column, message: String| ReadError {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let io = |err: std::io::Error| fail(None, None, format!("cannot read: {err}"));
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let first = loop {
        let buffer = reader.fill_buf().map_err(io)?;
        match buffer.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(at) => break Some(buffer[at]),
            None if buffer.is_empty() => break None,
            None => {
                let len = buffer.len();
                reader.consume(len);
            }
        }
    };
    let hint = format!(
        "expected {kind} rows as written by `featgen {kind}`, as NDJSON or a JSON array (CSV and \
         Parquet are not read yet: write NDJSON)"
    );
    match first {
        None => Ok(()),
        Some(b'[') => {
            let mut text = String::new();
            reader.read_to_string(&mut text).map_err(io)?;
            let rows: Vec<T> = serde_json::from_str(&text).map_err(|err| {
                fail(
                    Some(err.line()),
                    Some(err.column()),
                    format!("{err}; {hint}"),
                )
            })?;
            rows.into_iter().for_each(sink);
            Ok(())
        }
        Some(b'{') => {
            let mut line = String::new();
            let mut number = 0;
            loop {
                line.clear();
                number += 1;
                if reader.read_line(&mut line).map_err(io)? == 0 {
                    return Ok(());
                }
                if line.trim().is_empty() {
                    continue;
                }
                let row = serde_json::from_str(&line).map_err(|err| {
                    fail(Some(number), Some(err.column()), format!("{err}; {hint}"))
                })?;
                sink(row);
            }
        }
        Some(_) => Err(fail(Some(1), Some(1), hint)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = r#"{"start_time":"2025-06-12 15:00:00 UTC","end_time":"2025-06-12 16:00:00 UTC","deployment":"api","feature":null,"endpoint":null,"percentage_of_cpu":1.0,"feature_id":-1,"feature_group":null,"team":null,"tier":null,"cpu_ns":0,"samples":0,"requests":null,"cost":"1.25","currency":"USD","bucket":"unprofiled","cost_per_request":null,"cost_if_equal_per_request":null}"#;

    fn read(text: &str) -> Result<Vec<CostRow>, ReadError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("costs.ndjson");
        std::fs::write(&path, text).unwrap();
        let mut rows = Vec::new();
        read_rows(&path, "cost", &mut |row| rows.push(row))?;
        Ok(rows)
    }

    #[test]
    fn reads_ndjson_and_json_arrays() {
        assert_eq!(read(&format!("{ROW}\n\n{ROW}\n")).unwrap().len(), 2);
        assert_eq!(read(&format!("  [{ROW},\n{ROW}]")).unwrap().len(), 2);
        assert!(read("").unwrap().is_empty());
    }

    #[test]
    fn a_bad_row_names_its_line_and_column() {
        let bad = ROW.replace(r#""1.25""#, r#""one""#);
        let err = read(&format!("{ROW}\n{bad}\n")).unwrap_err();
        assert_eq!(err.line, Some(2));
        let text = err.to_string();
        assert!(text.contains("costs.ndjson:2:"), "{text}");
        assert!(text.contains("featgen cost"), "{text}");
    }

    #[test]
    fn csv_is_refused_with_a_hint() {
        let err = read("start_time,end_time\n").unwrap_err();
        assert!(err.to_string().contains("NDJSON"), "{err}");
    }
}
