//! The billing readers on arbitrary bytes: detection, CSV/NDJSON/JSON parsing and every format's
//! row rules must give rows or a located error, never panic.
#![no_main]

use std::path::Path;

use featgen_attribution::billing::{BillReader, BillingOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = BillReader::new(BillingOptions::default());
    if reader.read(Path::new("fuzz.csv"), data).is_ok() {
        let _ = reader.finish();
    }
});
