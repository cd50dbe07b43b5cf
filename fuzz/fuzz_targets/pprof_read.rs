//! The attribution crate's pprof reader on arbitrary bytes (gzip or plain): it must return the
//! profile's CPU or a `Damage`, never panic, and never inflate past its bound.
#![no_main]

use featgen_attribution::pprof::{LabelNames, Reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Reader::new(LabelNames::default()).read_bytes(data);
});
