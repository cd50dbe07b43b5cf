//! `featgen.toml`: project defaults for every command. Every key is also a command-line flag,
//! and flags win. Relative paths are relative to the directory holding the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Default config file name, looked up in the current directory.
pub const CONFIG_FILE: &str = "featgen.toml";

/// Output format of diagnostics and reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// rustc-style text on stderr.
    #[default]
    Human,
    /// One JSON document on stdout.
    Json,
}

/// The contents of `featgen.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Registry file or directory (default `registry`).
    pub registry: Option<PathBuf>,
    /// Output directory of `featgen build` (default `generated`).
    pub out: Option<PathBuf>,
    /// Targets to build (default: all built-in and user-defined ones).
    pub targets: Vec<String>,
    /// Name of the generated Python package (default `features`).
    pub python_package: Option<String>,
    /// Directory of templates overriding or adding to the embedded ones.
    pub templates: Option<PathBuf>,
    /// Name of the crate the Rust target is written as (default: `features.rs` only).
    pub rust_crate: Option<String>,
    /// Default output format.
    pub format: Option<Format>,
    /// The `[lint]` table, interpreted by `featgen lint`.
    pub lint: toml::Table,
    /// Directory holding the config file; relative paths above are relative to it.
    #[serde(skip)]
    pub root: PathBuf,
}

impl Config {
    /// Reads `explicit`, else `./featgen.toml` when it exists, else the defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config, String> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None if Path::new(CONFIG_FILE).is_file() => PathBuf::from(CONFIG_FILE),
            None => return Ok(Config::default()),
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        let mut config: Config =
            toml::from_str(&text).map_err(|err| format!("invalid {}: {err}", path.display()))?;
        config.root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(config)
    }

    /// A path from the config, relative to the config file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.root.join(path)
        }
    }
}
