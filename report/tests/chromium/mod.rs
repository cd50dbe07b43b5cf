//! Running `report/tests/browser/check.mjs` in Debian's headless Chromium, for the browser test
//! and the month benchmark.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where check.mjs and its `node_modules` live.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// A directory for screenshots and pages under the target's tmp dir, created.
pub fn artifacts(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs check.mjs with `args` (report, expected, artifacts) and `extra` flags; panics with its output unless every check passed.
pub fn run_check(args: &[&Path], extra: &[&str]) -> String {
    let modules = browser_dir().join("node_modules/playwright-core");
    assert!(
        modules.is_dir(),
        "{} is missing: run `npm ci` in report/tests/browser (scripts/test does)",
        modules.display()
    );
    let output = Command::new("node")
        .arg(browser_dir().join("check.mjs"))
        .args(args)
        .args(extra)
        .current_dir(browser_dir())
        .output()
        .expect("node must be installed (apt-get install nodejs) to test the report in Chromium");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser check failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}
