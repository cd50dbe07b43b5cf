//! Loading a registry: files → YAML trees → checked entries → a [`Registry`] with stable ids,
//! and the [`Lock`] those ids come from.
//!
//! Every problem is collected (never just the first) as a [`Diagnostic`](crate::Diagnostic)
//! with the file, line and column of the offending token and a hint on how to fix it. This
//! module runs the steps, each in a module of its own: finding the files (`discover`), reading
//! one into a YAML tree (`read`), decoding the tree into entries (`decode`), the checks across
//! entries (`validate`), and the registry with its ids (`assemble`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::assemble::assemble;
use crate::decode::Decoded;
use crate::diagnostic::Diagnostics;
use crate::discover::discover;
use crate::lock::Lock;
use crate::model::Registry;
use crate::read::parse_file;
use crate::validate::validate;

pub use crate::discover::lock_path_for;
pub use crate::read::MAX_FILE_BYTES;

impl Registry {
    /// Loads and validates the registry at `path` (one YAML file, or a directory whose `*.yaml`
    /// and `*.yml` files are merged in file-name order), with ids from the `featgen.lock` beside
    /// it. For readers of the registry; [`Loaded::load`] also returns the ids to write back.
    pub fn load(path: &Path) -> Result<Registry, Diagnostics> {
        Loaded::load(path).map(|loaded| loaded.registry)
    }
}

/// A registry with the id assignments of its load: what `featgen build` writes back to
/// `featgen.lock` when a name is new or gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The validated registry.
    pub registry: Registry,
    /// The ids after this load: the lock that was read, with new names added and removed ones
    /// retired. The file is not written by loading.
    pub lock: Lock,
    /// Where the lock lives.
    pub lock_path: PathBuf,
}

impl Loaded {
    /// Loads the registry at `path` like [`Registry::load`], keeping the lock.
    pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
        Loaded::load_with_lock(path, &lock_path_for(path))
    }

    /// Like [`Loaded::load`], with the lock file at `lock_path`.
    pub fn load_with_lock(path: &Path, lock_path: &Path) -> Result<Loaded, Diagnostics> {
        let files: Arc<[PathBuf]> = discover(path).map_err(|d| Diagnostics(vec![*d]))?.into();
        // Files are read and decoded one per job, and the lock is read beside them: none
        // needs another. Merging the per-file results in file order gives the same entries and
        // diagnostics, in the same order, as reading the files one after another.
        let (decoded_files, lock) = std::thread::scope(|scope| {
            let lock = scope.spawn(|| Lock::read(lock_path));
            let indices: Vec<usize> = (0..files.len()).collect();
            let decoded_files = crate::par::map(&indices, |&file| {
                let mut decoded = Decoded::new(Arc::clone(&files));
                decoded.add_file(file, parse_file(&files[file]));
                decoded
            });
            (decoded_files, lock.join())
        });
        let mut decoded = Decoded::new(files);
        for other in decoded_files {
            decoded.merge(other);
        }
        let lock = match lock {
            Ok(lock) => lock.map_err(|d| Diagnostics(vec![*d]))?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let problems = validate(path, &decoded, &lock.features);
        decoded.diagnostics.extend(problems);
        if !decoded.diagnostics.is_empty() {
            return Err(Diagnostics(decoded.diagnostics));
        }
        let (registry, lock) = assemble(decoded, lock)?;
        Ok(Loaded {
            registry,
            lock,
            lock_path: lock_path.to_path_buf(),
        })
    }
}
