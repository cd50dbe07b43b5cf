//! `featgen init`: a starter registry and `featgen.toml`, so that `featgen build` works at once.

use std::path::{Path, PathBuf};

use featgen_codegen::output::write_atomic;

use crate::Status;
use crate::config::CONFIG_FILE;

/// Arguments of `featgen init`.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// Directory to initialize.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

const STARTER_REGISTRY: &str = "\
# The feature registry: every endpoint and background task names one of these features.
# One file per team is the usual layout; all *.yaml files in this directory are merged.
# Teams and feature groups are declared, so that a misspelt name in a feature is an error
# (with a \"did you mean\") rather than a new team or group with an id of its own.
teams:
  - name: msgs-team
    description: Messaging
feature_groups:
  - chat
features:
  - feature: messaging
    team: msgs-team
    tier: S
    feature_group: chat
  - feature: text-in-voice
    team: msgs-team
    tier: B
    feature_group: chat
  - feature: typing-indicator
    team: msgs-team
    tier: E
    feature_group: chat
";

const STARTER_CONFIG: &str = "\
# featgen settings; every key is also a command-line flag, and flags win.
registry = \"registry\"
out = \"generated\"
# targets = [\"rust\", \"python\", \"sql-postgres\", \"sql-sqlite\", \"sql-duckdb\", \"sql-bigquery\", \"dbt\", \"json\"]
python_package = \"features\"
# Also write Cargo.toml and lib.rs beside generated/rust/features.rs, to check the crate in:
# rust_crate = \"features\"
";

/// Runs `featgen init`; refuses to overwrite existing files.
pub fn run(args: &InitArgs) -> Status {
    let files = [
        (args.dir.join("registry/features.yaml"), STARTER_REGISTRY),
        (args.dir.join(CONFIG_FILE), STARTER_CONFIG),
    ];
    if let Some((existing, _)) = files.iter().find(|(path, _)| path.exists()) {
        eprintln!(
            "error: {} already exists; featgen init never overwrites files",
            existing.display()
        );
        return Status::Error;
    }
    for (path, contents) in &files {
        if let Err(err) = write_atomic(path, contents) {
            eprintln!("error: cannot write {}: {err}", path.display());
            return Status::Error;
        }
        eprintln!("  created {}", display(path));
    }
    eprintln!("next: `featgen build` writes featgen.lock and the generated code into generated/");
    Status::Ok
}

fn display(path: &Path) -> String {
    path.strip_prefix(".").unwrap_or(path).display().to_string()
}
