//! Printing diagnostics in the chosen format and mapping them to an exit status.

use std::io::Write as _;

use featgen_registry::{Code, Diagnostic, Diagnostics, SourceCache};

use crate::Status;
use crate::config::Format;

/// Prints `diagnostics` (human: stderr; JSON: stdout). Returns `Error` when any of them is a
/// failure to read input, `Findings` otherwise.
pub fn diagnostics(diagnostics: &Diagnostics, format: Format) -> Status {
    match format {
        Format::Human => {
            // Streamed: at the registry's size limit the report is over a hundred MB. A closed
            // stderr leaves nothing to report to.
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stderr().lock());
            let _ = diagnostics
                .write_human(&mut SourceCache::new(), &mut out)
                .and_then(|()| out.flush());
        }
        Format::Json => {
            // Streamed rather than built as one value: a registry at the size limit can have
            // a hundred thousand diagnostics. A closed stdout leaves nothing to report to.
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            let _ = diagnostics
                .write_json(&mut out)
                .and_then(|()| out.write_all(b"\n"))
                .and_then(|()| out.flush());
        }
    }
    if diagnostics.0.iter().any(|d| d.code == Code::Io) {
        Status::Error
    } else {
        Status::Findings
    }
}

/// Reports an I/O failure; always `Status::Error`.
pub fn io_error(message: &str, format: Format) -> Status {
    diagnostics(
        &Diagnostics(vec![Diagnostic::error(Code::Io, message)]),
        format,
    );
    Status::Error
}
