//! Snapshot of every built-in target for a small fixture registry: a change to any template
//! shows up as a reviewable diff (`cargo insta review`).

use featgen_codegen::render::{self, RenderOptions};
use featgen_registry::Loaded;

#[test]
fn every_target_renders_as_snapshotted() {
    let dir = tempfile::tempdir().unwrap();
    let registry_path = dir.path().join("registry.yaml");
    std::fs::copy("tests/fixtures/snapshot.yaml", &registry_path).unwrap();
    let loaded = Loaded::load(&registry_path).unwrap();
    let files = render::render(&loaded.registry, &[], &RenderOptions::default()).unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.path.to_string_lossy().into_owned())
        .collect();
    insta::assert_debug_snapshot!("files", names);
    for file in &files {
        let name = file.path.to_string_lossy().replace(['/', '.'], "_");
        insta::assert_snapshot!(name, file.contents);
    }
    insta::assert_snapshot!("featgen_lock", loaded.lock.render());
}
