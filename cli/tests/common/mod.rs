//! What the tests that run `featgen shares` and `featgen cost` on profiles share: running the
//! binary, and the one-feature registry their profiles resolve against.

use std::path::Path;
use std::process::{Command, Output};

/// 2025-06-12 15:00:00 UTC, the hour of the article's bill.
pub const T0: i64 = 1_749_740_400;

/// Runs the built `featgen` in `dir`.
pub fn featgen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_featgen"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// The run's stderr, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `registry/` under `root`: the feature `messaging` (id 1 in its lock).
pub fn write_messaging_registry(root: &Path) {
    std::fs::create_dir_all(root.join("registry")).unwrap();
    std::fs::write(
        root.join("registry/features.yaml"),
        "- feature: messaging\n  team: msgs-team\n  tier: S\n  feature_group: chat\n",
    )
    .unwrap();
    std::fs::write(
        root.join("registry/featgen.lock"),
        "version = 1\n\n[features]\nmessaging = 1\n",
    )
    .unwrap();
}
