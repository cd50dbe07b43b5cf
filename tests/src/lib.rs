//! Shared helpers for featgen's tests: where the workspace is, and the external engines that
//! `scripts/test` provides (a Python venv with the pinned tools, a throwaway PostgreSQL).
//!
//! Engines are never optional: a test that needs one panics with a message naming the missing
//! piece and the command that provides it, so a test run can never pass by silently skipping.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use featgen_codegen::render::{self, RenderOptions};
use featgen_registry::{Loaded, Registry};

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives inside the workspace")
}

/// The Python interpreter of the test venv: `$FEATGEN_TEST_PYTHON`, else `.venv/bin/python`.
///
/// # Panics
/// When neither exists: run `scripts/test`, which creates the venv.
pub fn python() -> PathBuf {
    let path = std::env::var_os("FEATGEN_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "the test Python venv is missing ({}); run `scripts/test`, which creates it from \
         scripts/requirements-test.txt",
        path.display()
    );
    path
}

/// A `Command` running the test venv's Python.
pub fn python_command() -> Command {
    Command::new(python())
}

/// The Python interpreter of the dbt venv (dbt-core and dbt-duckdb, pinned in
/// `scripts/requirements-dbt.txt`): `$FEATGEN_TEST_DBT_PYTHON`, else `.venv-dbt/bin/python`.
///
/// # Panics
/// When neither exists: run `scripts/test`, which creates the venv.
pub fn dbt_python() -> PathBuf {
    let path = std::env::var_os("FEATGEN_TEST_DBT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-dbt/bin/python"));
    assert!(
        path.exists(),
        "the dbt venv is missing ({}); run `scripts/test`, which creates it from \
         scripts/requirements-dbt.txt",
        path.display()
    );
    path
}

/// libpq connection string of the throwaway PostgreSQL started by `scripts/test`.
///
/// # Panics
/// When `$FEATGEN_TEST_PG` is unset: run the suite through `scripts/test`.
pub fn postgres_conninfo() -> String {
    std::env::var("FEATGEN_TEST_PG").unwrap_or_else(|_| {
        panic!(
            "FEATGEN_TEST_PG is not set: PostgreSQL tests need the throwaway cluster that \
             `scripts/test` starts"
        )
    })
}

/// Runs `command`, panicking with its full output unless it exits 0; returns its stdout.
pub fn run_ok(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed with {}\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Loads the registry at `registry` (with the lock beside it), renders every built-in target
/// into `out`, writes the updated lock, and returns the registry.
pub fn build(registry: &Path, out: &Path, python_package: &str) -> Registry {
    let loaded = Loaded::load(registry).unwrap_or_else(|d| panic!("invalid registry:\n{d}"));
    let options = RenderOptions {
        python_package: python_package.to_owned(),
        template_dir: None,
        rust_crate: None,
    };
    let files = render::render(&loaded.registry, &[], &options)
        .unwrap_or_else(|d| panic!("render failed:\n{d}"));
    featgen_codegen::output::write(out, &files).expect("write generated files");
    std::fs::write(&loaded.lock_path, loaded.lock.render()).expect("write lock");
    loaded.registry
}

/// Executes `files` in order in a fresh database of `engine` (`sqlite`, `duckdb` or
/// `postgres`) and returns the four dimension tables as JSON (rows ordered by id).
pub fn run_sql(engine: &str, files: &[PathBuf]) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = if engine == "postgres" {
        run_postgres(files)
    } else {
        let db = dir.path().join(format!("test.{engine}"));
        let mut command = python_command();
        command
            .arg(workspace_root().join("tests/engines/sql_engine.py"))
            .arg(engine)
            .arg(&db)
            .args(files);
        run_ok(&mut command)
    };
    serde_json::from_str(&output)
        .unwrap_or_else(|err| panic!("bad dump from {engine}: {err}\n{output}"))
}

/// A fresh database in the throwaway PostgreSQL of `scripts/test`, dropped (with `FORCE`, so
/// that a test's open connections cannot keep it) when this value is.
pub struct PostgresDatabase {
    base: String,
    name: String,
}

impl PostgresDatabase {
    /// An empty database with a name no other test of any process uses.
    ///
    /// # Panics
    /// When `$FEATGEN_TEST_PG` is unset or `psql` cannot create it.
    pub fn empty() -> PostgresDatabase {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let base = postgres_conninfo();
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("featgen_{}_{n}", std::process::id());
        run_ok(psql(&base).args(["-c", &format!("CREATE DATABASE {name}")]));
        PostgresDatabase { base, name }
    }

    /// A database holding the generated dimension and fact tables
    /// (`generated/sql/postgres/dimensions.sql`, then `facts.sql`).
    pub fn with_generated_tables() -> PostgresDatabase {
        let db = PostgresDatabase::empty();
        let sql = workspace_root().join("generated/sql/postgres");
        for file in ["dimensions.sql", "facts.sql"] {
            db.run_file(&sql.join(file));
        }
        db
    }

    /// The libpq connection string of this database.
    pub fn conninfo(&self) -> String {
        format!("{} dbname={}", self.base, self.name)
    }

    /// Runs the SQL file `file` with `psql`, stopping at its first error; returns its
    /// unaligned, tuples-only output.
    pub fn run_file(&self, file: &Path) -> String {
        run_ok(psql(&self.conninfo()).arg("-f").arg(file))
    }

    /// `psql -c query`; returns its unaligned, tuples-only output.
    pub fn query(&self, query: &str) -> String {
        run_ok(psql(&self.conninfo()).args(["-c", query]))
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        // Best effort: a failed drop must not turn a passing test into a panic while unwinding.
        let _ = psql(&self.base)
            .args([
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// `psql` on `conninfo`: no `.psqlrc`, quiet, stopping at the first error, unaligned output.
fn psql(conninfo: &str) -> Command {
    let mut command = Command::new("psql");
    command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", conninfo]);
    command
}

/// A fresh PostgreSQL database in the throwaway cluster, the files run with `psql`, and the
/// tables dumped as JSON in the same shape as `sql_engine.py`.
fn run_postgres(files: &[PathBuf]) -> String {
    let db = PostgresDatabase::empty();
    for file in files {
        db.run_file(file);
    }
    let tables = [
        ("dim_tier", "tier_id"),
        ("dim_team", "team_id"),
        ("dim_feature_group", "feature_group_id"),
        ("dim_feature", "feature_id"),
    ];
    let select: Vec<String> = tables
        .iter()
        .map(|(t, key)| {
            format!("'{t}', (SELECT coalesce(json_agg(x ORDER BY {key}), '[]') FROM {t} x)")
        })
        .collect();
    db.query(&format!("SELECT json_build_object({})", select.join(", ")))
}

/// `mypy --strict` and `ruff check` over a generated package directory.
pub fn type_check_python(package_parent: &Path, packages: &[&str]) {
    let cache = tempfile::tempdir().unwrap();
    let mut mypy = python_command();
    mypy.current_dir(package_parent)
        .args(["-m", "mypy", "--strict", "--cache-dir"])
        .arg(cache.path().join("mypy"))
        .args(packages);
    run_ok(&mut mypy);
    let mut ruff = python_command();
    ruff.current_dir(package_parent)
        .args(["-m", "ruff", "check", "--no-cache"])
        .args(packages);
    run_ok(&mut ruff);
}

/// Compiles a generated `features.rs` with rustc, warnings denied, and runs rustdoc's doctest
/// collector over it, which must find nothing (descriptions are never doctests).
pub fn compile_rust(features_rs: &Path) {
    let out = tempfile::tempdir().unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    run_ok(
        Command::new(rustc)
            .args([
                "--edition",
                "2024",
                "--crate-type",
                "lib",
                "--crate-name",
                "features",
                // What Cargo passes for a crate with no cargo features: a `cfg(feature = ..)`
                // the file leaves unguarded would warn (`unexpected_cfgs`), and fail here.
                "--check-cfg",
                "cfg(feature, values())",
                "-D",
                "warnings",
                "--out-dir",
            ])
            .arg(out.path())
            .arg(features_rs),
    );
    let doctests = run_ok(
        Command::new("rustdoc")
            .args(["--edition", "2024", "--crate-name", "features", "--test"])
            .arg(features_rs),
    );
    assert!(
        doctests.contains("running 0 tests"),
        "descriptions became doctests:\n{doctests}"
    );
}

/// Builds the generated crate in `crate_dir` with Cargo, without and with its `serde` feature,
/// denying warnings. Offline, against the workspace's `Cargo.lock`, so `serde` resolves to the
/// version the workspace already fetched.
pub fn build_rust_crate(crate_dir: &Path) {
    std::fs::copy(
        workspace_root().join("Cargo.lock"),
        crate_dir.join("Cargo.lock"),
    )
    .expect("copy Cargo.lock");
    let target = tempfile::tempdir().expect("temp dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for features in [&[][..], &["--features", "serde"][..]] {
        run_ok(
            Command::new(&cargo)
                .args(["build", "--offline", "--quiet"])
                .args(features)
                .arg("--manifest-path")
                .arg(crate_dir.join("Cargo.toml"))
                .env("CARGO_TARGET_DIR", target.path())
                .env("RUSTFLAGS", "-D warnings")
                .env_remove("CARGO_ENCODED_RUSTFLAGS"),
        );
    }
}
