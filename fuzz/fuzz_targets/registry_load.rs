//! The registry loader on arbitrary bytes: a registry file and, after a `\0`, its lock. Loading
//! must return a registry or diagnostics (rendered both ways), never panic; a registry that
//! loads must render every target.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use featgen_codegen::render::{self, RenderOptions};
use featgen_registry::{Loaded, SourceCache};
use libfuzzer_sys::fuzz_target;

/// One directory per process, reused by every input.
fn paths() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static PATHS: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    PATHS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let registry = dir.path().join("features.yaml");
        let lock = dir.path().join("featgen.lock");
        (dir, registry, lock)
    })
}

fuzz_target!(|data: &[u8]| {
    let (_, registry, lock) = paths();
    let (yaml, lock_text) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    std::fs::write(registry, yaml).expect("write the registry");
    match lock_text {
        Some(text) => std::fs::write(lock, text).expect("write the lock"),
        None => {
            let _ = std::fs::remove_file(lock);
        }
    }
    match Loaded::load_with_lock(registry, lock) {
        Ok(loaded) => {
            render::render(&loaded.registry, &[], &RenderOptions::default()).expect("a valid registry renders");
        }
        Err(diagnostics) => {
            let _ = diagnostics.render_human(&mut SourceCache::new());
            let _ = diagnostics.to_json();
        }
    }
});
