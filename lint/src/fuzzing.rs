//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): one file's text through the
//! Rust or the Python front end, as a lint run would parse it.

use crate::config::LintConfig;
use crate::rust::prune::Pruning;
use crate::sources::RustParser;

/// Parses `source` as the Rust file `src/lib.rs` (deeply pruned, then with every `impl`
/// block), as a lint run with the default configuration does.
pub fn rust(source: &str) {
    let parser = RustParser::new(&LintConfig::default());
    for pruning in [Pruning::Deep, Pruning::Shallow] {
        let _ = parser.parse("src/lib.rs", Vec::new(), source, pruning);
    }
}

/// Scans `source` as the Python file `app.py` with the default configuration.
pub fn python(source: &str) {
    let _ = crate::python::scan("app.py", source, &LintConfig::default());
}
