//! [`Builder`]: generate code from the registry in a build script, into `OUT_DIR`, instead of
//! checking generated files in (the prost-build convention).

use std::path::PathBuf;

use featgen_registry::diagnostic::{Code, Diagnostic, Diagnostics};
use featgen_registry::load::Loaded;

use crate::render::{self, RenderOptions};

/// Generates registry code from `build.rs`.
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     featgen_codegen::Builder::new().registry("registry").generate()?;
///     Ok(())
/// }
/// // src/lib.rs: include!(concat!(env!("OUT_DIR"), "/rust/features.rs"));
/// ```
///
/// The build reads `featgen.lock` beside the registry but never writes it: when the lock is
/// stale (a feature has no pinned id yet), ids are still assigned deterministically and a
/// cargo warning asks for `featgen build` to pin them.
#[derive(Clone, Debug)]
pub struct Builder {
    registry: PathBuf,
    out_dir: Option<PathBuf>,
    targets: Vec<String>,
    options: RenderOptions,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// A builder for `registry/` rendering the `rust` target into `$OUT_DIR`.
    pub fn new() -> Builder {
        Builder {
            registry: PathBuf::from("registry"),
            out_dir: None,
            targets: Vec::new(),
            options: RenderOptions::default(),
        }
    }

    /// The registry file or directory (relative to the package root in a build script).
    pub fn registry(mut self, path: impl Into<PathBuf>) -> Builder {
        self.registry = path.into();
        self
    }

    /// Where to write; default `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.out_dir = Some(dir.into());
        self
    }

    /// Adds a target to render (default: only `rust`).
    pub fn target(mut self, name: impl Into<String>) -> Builder {
        self.targets.push(name.into());
        self
    }

    /// The generated Python package's name (default `features`).
    pub fn python_package(mut self, name: impl Into<String>) -> Builder {
        self.options.python_package = name.into();
        self
    }

    /// A directory of templates overriding or adding to the embedded ones.
    pub fn template_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.options.template_dir = Some(dir.into());
        self
    }

    /// Loads, validates and renders; writes the files that changed. Returns their paths.
    pub fn generate(&self) -> Result<Vec<PathBuf>, Diagnostics> {
        let in_cargo = std::env::var_os("OUT_DIR");
        let out_dir = match (&self.out_dir, &in_cargo) {
            (Some(dir), _) => dir.clone(),
            (None, Some(dir)) => PathBuf::from(dir),
            (None, None) => {
                return Err(Diagnostics(vec![
                    Diagnostic::error(Code::Config, "no output directory: OUT_DIR is not set")
                        .help("call `.out_dir(..)` when not running from a build script"),
                ]));
            }
        };
        let Loaded {
            registry,
            lock,
            lock_path,
        } = Loaded::load(&self.registry)?;
        if in_cargo.is_some() {
            println!("cargo:rerun-if-changed={}", self.registry.display());
            println!("cargo:rerun-if-changed={}", lock_path.display());
            let pinned =
                std::fs::read_to_string(&lock_path).is_ok_and(|text| text == lock.render());
            if !pinned {
                println!(
                    "cargo:warning={} is stale: run `featgen build` to pin the ids of new registry entries",
                    lock_path.display()
                );
            }
        }
        let targets = if self.targets.is_empty() {
            vec!["rust".to_owned()]
        } else {
            self.targets.clone()
        };
        let files = render::render(&registry, &targets, &self.options)?;
        let written = crate::output::write(&out_dir, &files).map_err(|err| {
            Diagnostics(vec![Diagnostic::error(
                Code::Io,
                format!("cannot write to {}: {err}", out_dir.display()),
            )])
        })?;
        Ok(written.into_iter().map(|(path, _)| path).collect())
    }
}
