//! `featgen lint`: fail a change that adds an endpoint or background task without a feature.
//! Everything but argument handling lives in `featgen-lint`.

use std::path::PathBuf;

use featgen_lint::{Baseline, Format, KnownFeatures, LintConfig, Report, Summary};

use crate::Status;
use crate::cmd::report;
use crate::config::{self, Config};

/// Arguments of `featgen lint`.
#[derive(clap::Args, Debug)]
pub struct LintArgs {
    /// Files or directories to lint [default: .].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Registry file or directory [config: registry; default: registry].
    #[arg(long, value_name = "PATH")]
    pub registry: Option<PathBuf>,
    /// Output format [config: format; default: human].
    #[arg(long, value_enum)]
    pub format: Option<LintFormat>,
    /// Only violations not recorded in this baseline fail.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record today's violations in FILE (then they no longer fail; `--baseline` is then
    /// only the file being replaced).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// `--deny warnings`: warnings fail too.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub deny: Option<Deny>,
}

/// Output formats of `featgen lint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LintFormat {
    /// rustc-style diagnostics on stderr.
    Human,
    /// One JSON object per finding, on stdout.
    Json,
    /// SARIF 2.1.0 on stdout, for GitHub code scanning.
    Sarif,
    /// GitHub Actions annotations on stdout.
    Github,
}

/// What `--deny` can make fatal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Deny {
    /// Warnings (`unused-feature`, `deprecated-feature`).
    Warnings,
}

/// Runs `featgen lint`.
pub fn run(config: &Config, args: &LintArgs) -> Status {
    let report = match scan(config, args.registry.as_ref(), &args.paths) {
        Ok(found) => found,
        Err(status) => return status,
    };
    // Parse errors are never baselined: decide on the whole report.
    let parse_errors = report.has_parse_errors();
    let mut findings = report.findings;
    let mut baselined = 0;
    // Recorded from every current violation, before `--baseline` hides the known ones, so that
    // `--baseline old --write-baseline new` refreshes the file instead of emptying it.
    if let Some(path) = &args.write_baseline {
        let baseline = Baseline::from_findings(&findings);
        if let Err(err) = std::fs::write(path, baseline.to_json()) {
            eprintln!("error: cannot write baseline {}: {err}", path.display());
            return Status::Error;
        }
        eprintln!(
            "featgen lint: recorded {} violations in {}",
            baseline.len(),
            path.display()
        );
        (findings, baselined) = baseline.filter(findings);
    } else if let Some(path) = &args.baseline {
        let baseline = match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| Baseline::from_json(&text))
        {
            Ok(baseline) => baseline,
            Err(err) => {
                eprintln!("error: cannot read baseline {}: {err}", path.display());
                return Status::Error;
            }
        };
        (findings, baselined) = baseline.filter(findings);
    }
    let format = match (args.format, config.format) {
        (Some(LintFormat::Human), _) | (None, None | Some(config::Format::Human)) => Format::Human,
        (Some(LintFormat::Json), _) | (None, Some(config::Format::Json)) => Format::Json,
        (Some(LintFormat::Sarif), _) => Format::Sarif,
        (Some(LintFormat::Github), _) => Format::Github,
    };
    let summary = Summary {
        files: report.files,
        baselined,
    };
    let rendered = featgen_lint::render(&findings, format, summary);
    if format == Format::Human {
        eprint!("{rendered}");
    } else {
        print!("{rendered}");
    }
    if parse_errors {
        Status::Error
    } else if featgen_lint::fails(&findings, args.deny == Some(Deny::Warnings)) {
        Status::Findings
    } else {
        Status::Ok
    }
}

/// Loads the registry and the `[lint]` configuration and lints `paths` (default `.`); shared
/// with `featgen routes`. On failure the problem has been printed.
pub fn scan(
    config: &Config,
    registry: Option<&PathBuf>,
    paths: &[PathBuf],
) -> Result<Report, Status> {
    let registry = match (registry, &config.registry) {
        (Some(flag), _) => flag.clone(),
        (None, Some(key)) => config.resolve(key),
        (None, None) => config.resolve("registry".as_ref()),
    };
    let lint_config: LintConfig =
        toml::Value::Table(config.lint.clone())
            .try_into()
            .map_err(|err| {
                eprintln!(
                    "error: invalid [lint] table in {}: {err}",
                    config::CONFIG_FILE
                );
                Status::Error
            })?;
    let loaded = featgen_registry::Registry::load(&registry).map_err(|d| {
        report::diagnostics(&d, config::Format::Human);
        Status::Error
    })?;
    let features = KnownFeatures::from_registry(&loaded);
    let roots = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    };
    featgen_lint::lint(&roots, &features, &registry, &lint_config).map_err(|err| {
        eprintln!("error: {err}");
        Status::Error
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = "../lint/tests/fixtures";

    fn config() -> Config {
        Config {
            registry: Some(PathBuf::from(FIXTURES).join("registry.yaml")),
            ..Config::default()
        }
    }

    fn args(fixture: &str) -> LintArgs {
        LintArgs {
            paths: vec![PathBuf::from(FIXTURES).join(fixture)],
            registry: None,
            format: Some(LintFormat::Json),
            baseline: None,
            write_baseline: None,
            deny: None,
        }
    }

    #[test]
    fn exit_status_says_clean_violations_or_error() {
        let mut clean = args("axum");
        clean.paths = vec![PathBuf::from("../examples")];
        clean.registry = Some(PathBuf::from("../registry"));
        assert_eq!(run(&config(), &clean), Status::Ok);
        clean.deny = Some(Deny::Warnings);
        assert_eq!(run(&config(), &clean), Status::Findings);
        assert_eq!(run(&config(), &args("axum")), Status::Findings);
        assert_eq!(run(&config(), &args("broken")), Status::Error);
        assert_eq!(run(&config(), &args("no-such-dir")), Status::Error);
        let mut bad_registry = args("axum");
        bad_registry.registry = Some(PathBuf::from("no-such-registry.yaml"));
        assert_eq!(run(&config(), &bad_registry), Status::Error);
    }

    #[test]
    fn baseline_adoption() {
        let file =
            std::env::temp_dir().join(format!("featgen-lint-baseline-{}.json", std::process::id()));
        let mut write = args("axum");
        write.write_baseline = Some(file.clone());
        assert_eq!(run(&config(), &write), Status::Ok);
        let mut read = args("axum");
        read.baseline = Some(file.clone());
        assert_eq!(run(&config(), &read), Status::Ok);
        read.paths = vec![PathBuf::from(FIXTURES).join("actix")];
        assert_eq!(run(&config(), &read), Status::Findings);
        // Refreshing with the old baseline in place records everything, not only what is new.
        let mut refresh = args("actix");
        refresh.baseline = Some(file.clone());
        refresh.write_baseline = Some(file.clone());
        assert_eq!(run(&config(), &refresh), Status::Ok);
        let recorded = std::fs::read_to_string(&file).expect("baseline");
        assert!(recorded.contains("api::history"), "{recorded}");
        std::fs::write(&file, "not json").expect("write");
        assert_eq!(run(&config(), &read), Status::Error);
        let _ = std::fs::remove_file(&file);
    }

    #[test]
    fn invalid_lint_table_is_a_configuration_error() {
        let mut config = config();
        config
            .lint
            .insert("no_such_key".to_owned(), toml::Value::Boolean(true));
        assert_eq!(run(&config, &args("axum")), Status::Error);
    }
}
