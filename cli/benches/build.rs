//! The `featgen` binary end to end on the benchmark registry of 10,000 features, 200 teams and
//! 50 groups (see `codegen/benches/common`): process start, load, validate, render every
//! target, write or compare, exit. This is what CI pays; the target is under 150 ms
//! on a 2-core machine. `featgen validate` (load and check only) is run beside it to show the
//! split.
//!
//! Run with `cargo bench -p featgen-cli --bench build`.

use std::path::Path;
use std::process::Command;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

#[path = "../../codegen/benches/common/mod.rs"]
mod common;

/// Runs `featgen <args>` and insists that it succeeds.
fn featgen(args: &[&str], cwd: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_featgen"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "featgen {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("registry")).unwrap();
    common::write_registry(&dir.path().join("registry"));
    // The first build writes `featgen.lock`; every measured build reads it, as CI does.
    featgen(
        &["build", "--registry", "registry", "--out", "out"],
        dir.path(),
    );

    let mut group = c.benchmark_group("featgen binary (10k features)");
    group.sample_size(30);
    group.bench_function("featgen validate", |b| {
        b.iter(|| featgen(&["validate", "--registry", "registry"], dir.path()))
    });
    let mut n = 0;
    group.bench_function("featgen build, fresh output", |b| {
        b.iter_batched(
            || {
                n += 1;
                format!("fresh-{n}")
            },
            |out| {
                featgen(
                    &["build", "--registry", "registry", "--out", &out],
                    dir.path(),
                )
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("featgen build, output up to date", |b| {
        b.iter(|| {
            featgen(
                &["build", "--registry", "registry", "--out", "out"],
                dir.path(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
