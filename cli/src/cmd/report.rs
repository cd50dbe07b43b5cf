//! Printing diagnostics in the chosen format and mapping them to an exit status.

use featgen_registry::{Code, Diagnostic, Diagnostics, SourceCache};

use crate::Status;
use crate::config::Format;

/// Prints `diagnostics` (human: stderr; JSON: stdout). Returns `Error` when any of them is a
/// failure to read input, `Findings` otherwise.
pub fn diagnostics(diagnostics: &Diagnostics, format: Format) -> Status {
    match format {
        Format::Human => eprint!("{}", diagnostics.render_human(&mut SourceCache::new())),
        Format::Json => println!("{}", diagnostics.to_json()),
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
