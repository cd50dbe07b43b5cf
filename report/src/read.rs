//! Row files, through the attribution crate's one reader: NDJSON, JSON, CSV or Parquet,
//! gzipped or not, detected from the content. Errors name the file, the line or row and the
//! column.

use std::path::PathBuf;

use featgen_attribution::format::{FormatError, Row, read_rows};
use featgen_attribution::{CostRow, ShareRow};

use crate::{Error, Rows};

/// Cost and share rows in files, read on each pass.
#[derive(Clone, Debug, Default)]
pub struct RowFiles {
    /// Files of cost rows.
    pub costs: Vec<PathBuf>,
    /// Files of share rows.
    pub shares: Vec<PathBuf>,
}

/// Calls `sink` with each row of each file, stopping at the first bad one.
fn each<R: Row + 'static>(paths: &[PathBuf], sink: &mut dyn FnMut(R)) -> Result<(), Error> {
    for path in paths {
        for row in read_rows::<R>(path, None)? {
            sink(row?);
        }
    }
    Ok(())
}

impl Rows for RowFiles {
    fn costs(&self, sink: &mut dyn FnMut(CostRow)) -> Result<(), Error> {
        each(&self.costs, sink)
    }

    fn shares(&self, sink: &mut dyn FnMut(ShareRow)) -> Result<(), Error> {
        each(&self.shares, sink)
    }
}

impl From<FormatError> for Error {
    fn from(err: FormatError) -> Error {
        Error::Input(err)
    }
}
