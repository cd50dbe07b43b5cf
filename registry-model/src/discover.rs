//! Finding a registry's files and its lock: one YAML file, or the `*.yaml` and `*.yml` files
//! of a directory in file-name order, with `featgen.lock` beside them.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic};
use crate::lock::LOCK_FILE;

/// Where the lock of the registry at `path` lives: inside a registry directory, or beside a
/// registry file.
pub fn lock_path_for(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(LOCK_FILE)
    } else {
        path.parent().unwrap_or(Path::new("")).join(LOCK_FILE)
    }
}

/// The registry files at `path`, in merge order.
pub(crate) fn discover(path: &Path) -> Result<Vec<PathBuf>, Box<Diagnostic>> {
    let io_error = |err: std::io::Error| {
        Box::new(Diagnostic::error(Code::Io, format!("cannot read registry {}: {err}", path.display()))
            .help("pass the registry file or directory with --registry, or set `registry` in featgen.toml"))
    };
    if !path.is_dir() {
        std::fs::metadata(path).map_err(io_error)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io_error)? {
        let entry_path = entry.map_err(io_error)?.path();
        let is_yaml = matches!(
            entry_path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        if is_yaml && entry_path.is_file() {
            files.push(entry_path);
        }
    }
    files.sort();
    Ok(files)
}
