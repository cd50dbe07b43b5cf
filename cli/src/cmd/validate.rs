//! `featgen validate`: load the registry and report every problem; writes nothing.

use crate::Status;
use crate::cmd::build::{BuildArgs, Settings, load};
use crate::config::{Config, Format};

/// Arguments of `featgen validate`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Registry file or directory [config: registry; default: registry].
    #[arg(long, value_name = "PATH")]
    pub registry: Option<std::path::PathBuf>,
    /// Output format [config: format; default: human].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Runs `featgen validate`.
pub fn run(config: &Config, args: &ValidateArgs) -> Status {
    let build_args = BuildArgs {
        registry: args.registry.clone(),
        out: None,
        targets: Vec::new(),
        python_package: None,
        templates: None,
        rust_crate: None,
        format: args.format,
    };
    let settings = Settings::new(config, &build_args);
    let registry = match load(&settings) {
        Ok(registry) => registry,
        Err(status) => return status,
    };
    let counts = (
        registry.features.len(),
        registry.teams.len(),
        registry.groups.len(),
        registry.tiers.len(),
    );
    match settings.format {
        Format::Human => eprintln!(
            "{}: valid ({} features, {} teams, {} feature groups, {} tiers)",
            settings.registry.display(),
            counts.0,
            counts.1,
            counts.2,
            counts.3
        ),
        Format::Json => println!(
            "{}",
            serde_json::json!({"diagnostics": [], "errors": 0, "warnings": 0,
                "features": counts.0, "teams": counts.1, "feature_groups": counts.2, "tiers": counts.3})
        ),
    }
    Status::Ok
}
