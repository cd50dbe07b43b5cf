//! Shared helpers for featgen's tests: where the workspace is, and the external engines that
//! `scripts/test` provides (a Python venv with the pinned tools, a throwaway PostgreSQL).
//!
//! Engines are never optional: a test that needs one panics with a message naming the missing
//! piece and the command that provides it, so a test run can never pass by silently skipping.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives inside the workspace")
}

/// The Python interpreter of the test venv: `$FEATGEN_TEST_PYTHON`, else `.venv/bin/python`.
///
/// # Panics
/// When neither exists: run `scripts/test`, which creates the venv.
pub fn python() -> PathBuf {
    let path = std::env::var_os("FEATGEN_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "the test Python venv is missing ({}); run `scripts/test`, which creates it from \
         scripts/requirements-test.txt",
        path.display()
    );
    path
}

/// A `Command` running the test venv's Python.
pub fn python_command() -> Command {
    Command::new(python())
}

/// libpq connection string of the throwaway PostgreSQL started by `scripts/test`.
///
/// # Panics
/// When `$FEATGEN_TEST_PG` is unset: run the suite through `scripts/test`.
pub fn postgres_conninfo() -> String {
    std::env::var("FEATGEN_TEST_PG").unwrap_or_else(|_| {
        panic!(
            "FEATGEN_TEST_PG is not set: PostgreSQL tests need the throwaway cluster that \
             `scripts/test` starts"
        )
    })
}

/// Runs `command`, panicking with its full output unless it exits 0; returns its stdout.
pub fn run_ok(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed with {}\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
