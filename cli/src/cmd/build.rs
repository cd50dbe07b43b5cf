//! `featgen build` and `featgen check`: render the registry and write, or verify, the
//! generated files and `featgen.lock`.

use std::path::{Path, PathBuf};

use featgen_codegen::output::{self, FileStatus};
use featgen_codegen::render::{self, GeneratedFile, RenderOptions};
use featgen_registry::{Diagnostics, Loaded, Registry, SourceCache};

use crate::Status;
use crate::cmd::report;
use crate::config::{Config, Format};

/// Arguments shared by `featgen build` and `featgen check`.
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Registry file or directory [config: registry; default: registry].
    #[arg(long, value_name = "PATH")]
    pub registry: Option<PathBuf>,
    /// Output directory [config: out; default: generated].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Target to build; repeat for several [config: targets; default: all].
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Name of the generated Python package [config: python_package; default: features].
    #[arg(long, value_name = "NAME")]
    pub python_package: Option<String>,
    /// Directory of templates overriding or adding to the embedded ones [config: templates].
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Also write Cargo.toml and lib.rs beside rust/features.rs: a complete crate of this name
    /// [config: rust_crate; default: none].
    #[arg(long, value_name = "NAME")]
    pub rust_crate: Option<String>,
    /// Output format [config: format; default: human].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Whether to write the files or only compare them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `featgen build`.
    Write,
    /// `featgen check`.
    Check,
}

/// Settings after flags, config file and defaults are combined.
pub struct Settings {
    /// Registry file or directory.
    pub registry: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Targets (empty: all).
    pub targets: Vec<String>,
    /// Rendering options.
    pub options: RenderOptions,
    /// Output format.
    pub format: Format,
}

impl Settings {
    /// Flags win over `featgen.toml`, which wins over the defaults.
    pub fn new(config: &Config, args: &BuildArgs) -> Settings {
        let path = |flag: &Option<PathBuf>, key: &Option<PathBuf>, default: &str| match (flag, key)
        {
            (Some(flag), _) => flag.clone(),
            (None, Some(key)) => config.resolve(key),
            (None, None) => config.resolve(Path::new(default)),
        };
        Settings {
            registry: path(&args.registry, &config.registry, "registry"),
            out: path(&args.out, &config.out, "generated"),
            targets: if args.targets.is_empty() {
                config.targets.clone()
            } else {
                args.targets.clone()
            },
            options: RenderOptions {
                python_package: args
                    .python_package
                    .clone()
                    .or_else(|| config.python_package.clone())
                    .unwrap_or_else(|| RenderOptions::default().python_package),
                template_dir: args
                    .templates
                    .clone()
                    .or_else(|| config.templates.as_ref().map(|t| config.resolve(t))),
                rust_crate: args
                    .rust_crate
                    .clone()
                    .or_else(|| config.rust_crate.clone()),
            },
            format: args.format.or(config.format).unwrap_or_default(),
        }
    }
}

/// Runs `featgen build` (`Mode::Write`) or `featgen check` (`Mode::Check`).
pub fn run(config: &Config, args: &BuildArgs, mode: Mode) -> Status {
    let settings = Settings::new(config, args);
    let Loaded {
        registry,
        lock,
        lock_path,
    } = match Loaded::load(&settings.registry) {
        Ok(loaded) => loaded,
        Err(diagnostics) => return report::diagnostics(&diagnostics, settings.format),
    };
    let files = match render::render(&registry, &settings.targets, &settings.options) {
        Ok(files) => files,
        Err(diagnostics) => {
            report::diagnostics(&diagnostics, settings.format);
            return Status::Error;
        }
    };
    if let Ok(warnings) = render::template_warnings(&settings.options)
        && !warnings.is_empty()
    {
        // On stderr in both formats: stdout stays one JSON document.
        eprint!(
            "{}",
            Diagnostics(warnings).render_human(&mut SourceCache::new())
        );
    }
    let lock = [GeneratedFile {
        path: lock_path,
        contents: lock.render(),
    }];
    let status = match mode {
        Mode::Write => write(&settings, &lock, &files),
        Mode::Check => check(&settings, &lock, &files),
    };
    // The process exits right after this: the registry and the rendered files (hundreds of
    // thousands of allocations for a large registry) are left to the OS rather than freed one
    // by one.
    std::mem::forget((registry, files));
    status
}

fn write(settings: &Settings, lock: &[GeneratedFile], files: &[GeneratedFile]) -> Status {
    // All or nothing, the lock replaced last: a failed build leaves the old state, which
    // `featgen check` then reports consistently.
    let written = output::write_all(&[(&settings.out, files), (Path::new(""), lock)]);
    let written = match written {
        Ok(written) => written,
        Err(err) => {
            return report::io_error(
                &format!("cannot write generated files: {err}"),
                settings.format,
            );
        }
    };
    let changed = written
        .iter()
        .filter(|(_, s)| *s != FileStatus::Unchanged)
        .count();
    match settings.format {
        Format::Human => {
            for (path, status) in &written {
                if *status != FileStatus::Unchanged {
                    eprintln!(
                        "{:>9} {}",
                        if *status == FileStatus::Created {
                            "created"
                        } else {
                            "updated"
                        },
                        path.display()
                    );
                }
            }
            eprintln!(
                "featgen build: {changed} file(s) written, {} unchanged",
                written.len() - changed
            );
        }
        Format::Json => {
            let files: Vec<_> = written
                .iter()
                .map(|(path, status)| serde_json::json!({"path": path, "status": status_name(*status)}))
                .collect();
            println!("{}", serde_json::json!({"status": "ok", "files": files}));
        }
    }
    Status::Ok
}

fn check(settings: &Settings, lock: &[GeneratedFile], files: &[GeneratedFile]) -> Status {
    let stale = output::check(Path::new(""), lock).and_then(|mut all| {
        all.extend(output::check(&settings.out, files)?);
        Ok(all)
    });
    let stale = match stale {
        Ok(stale) => stale,
        Err(err) => {
            return report::io_error(
                &format!("cannot read generated files: {err}"),
                settings.format,
            );
        }
    };
    match settings.format {
        Format::Human => {
            for file in &stale {
                let what = if file.status == FileStatus::Created {
                    "missing"
                } else {
                    "stale"
                };
                eprintln!("{what}: {}", file.path.display());
                eprint!("{}", file.diff);
            }
            if stale.is_empty() {
                eprintln!(
                    "featgen check: {} file(s) up to date",
                    files.len() + lock.len()
                );
            } else {
                eprintln!(
                    "featgen check: {} file(s) out of date; run `featgen build` and commit the result",
                    stale.len()
                );
            }
        }
        Format::Json => {
            let items: Vec<_> = stale
                .iter()
                .map(|s| serde_json::json!({"path": s.path, "status": if s.status == FileStatus::Created { "missing" } else { "stale" }, "diff": s.diff}))
                .collect();
            let status = if stale.is_empty() { "ok" } else { "stale" };
            println!("{}", serde_json::json!({"status": status, "stale": items}));
        }
    }
    if stale.is_empty() {
        Status::Ok
    } else {
        Status::Findings
    }
}

fn status_name(status: FileStatus) -> &'static str {
    match status {
        FileStatus::Unchanged => "unchanged",
        FileStatus::Created => "created",
        FileStatus::Updated => "updated",
    }
}

/// Loads the registry for commands that only read it; reports failures.
pub fn load(settings: &Settings) -> Result<Registry, Status> {
    Registry::load(&settings.registry)
        .map_err(|d: Diagnostics| report::diagnostics(&d, settings.format))
}
