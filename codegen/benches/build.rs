//! `featgen build` on a generated registry of 10,000 features, 200 teams and 50 groups (and its
//! `featgen.lock`): load + validate + ids, render every target (all, then each alone), write
//! (first build) or compare (rebuild).
//!
//! Run with `cargo bench -p featgen-codegen --bench build`. The target is under 150 ms
//! on a 2-core machine.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use featgen_codegen::render::{self, RenderOptions};
use featgen_registry::{Loaded, Registry};

mod common;

use common::write_registry;

/// The allocator of the `featgen` binary, so that the phases here add up to its time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn build(registry: &Path, out: &Path) {
    let loaded = Registry::load(registry).unwrap();
    let files = render::render(&loaded, &[], &RenderOptions::default()).unwrap();
    featgen_codegen::output::write(out, &files).unwrap();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    std::fs::create_dir(&registry).unwrap();
    write_registry(&registry);
    // Builds after the first read the ids from `featgen.lock`, as every build in CI does.
    let first = Loaded::load(&registry).unwrap();
    std::fs::write(&first.lock_path, first.lock.render()).unwrap();
    let mut group = c.benchmark_group("featgen build (10k features)");
    group.sample_size(20);
    group.bench_function("load + validate", |b| {
        b.iter(|| Registry::load(&registry).unwrap())
    });
    let loaded = Registry::load(&registry).unwrap();
    group.bench_function("render all targets", |b| {
        b.iter(|| render::render(&loaded, &[], &RenderOptions::default()).unwrap())
    });
    for target in render::builtin_targets() {
        let targets = [target.to_owned()];
        group.bench_function(format!("render {target}"), |b| {
            b.iter(|| render::render(&loaded, &targets, &RenderOptions::default()).unwrap())
        });
    }
    let mut n = 0;
    group.bench_function("full build, fresh output", |b| {
        b.iter(|| {
            n += 1;
            build(&registry, &dir.path().join(format!("out-{n}")));
        })
    });
    let out = dir.path().join("out");
    build(&registry, &out);
    group.bench_function("full build, output up to date", |b| {
        b.iter(|| build(&registry, &out))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
