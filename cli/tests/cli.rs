//! The `featgen` binary end to end: exit codes, `init` → `build` → `check`, stale detection,
//! untouched output on invalid input, determinism, and this repository's own generated files.

mod common;

use common::{featgen, stderr};
use std::path::Path;
use std::process::{Command, Output};

fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

/// Every file under `dir`, with contents, sorted by path.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((relative, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

fn initialized() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let init = featgen(dir.path(), &["init"]);
    assert_eq!(code(&init), 0, "{}", stderr(&init));
    dir
}

#[test]
fn init_build_check_round_trip() {
    let dir = initialized();
    assert_eq!(
        code(&featgen(dir.path(), &["init"])),
        2,
        "init never overwrites"
    );
    let build = featgen(dir.path(), &["build"]);
    assert_eq!(code(&build), 0, "{}", stderr(&build));
    assert!(dir.path().join("registry/featgen.lock").is_file());
    assert!(
        dir.path()
            .join("generated/python/features/py.typed")
            .is_file()
    );
    let check = featgen(dir.path(), &["check"]);
    assert_eq!(code(&check), 0, "{}", stderr(&check));
    let again = featgen(dir.path(), &["build"]);
    assert!(
        stderr(&again).contains("0 file(s) written"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn the_starter_declares_teams_so_a_misspelt_team_is_an_error() {
    let dir = initialized();
    let registry = dir.path().join("registry/features.yaml");
    let text = std::fs::read_to_string(&registry).unwrap();
    assert!(text.contains("\nteams:\n") && text.contains("\nfeature_groups:\n"));
    let typo = text.replacen("    team: msgs-team\n", "    team: msg-team\n", 1);
    assert_ne!(typo, text);
    std::fs::write(&registry, typo).unwrap();
    let build = featgen(dir.path(), &["build"]);
    assert_eq!(code(&build), 1);
    let err = stderr(&build);
    assert!(
        err.contains("error[unknown-team]: unknown team `msg-team`"),
        "{err}"
    );
    assert!(err.contains("did you mean `msgs-team`?"), "{err}");
    assert!(!dir.path().join("generated").exists(), "nothing written");
}

#[test]
fn check_fails_with_a_diff_when_the_registry_changed() {
    let dir = initialized();
    assert_eq!(code(&featgen(dir.path(), &["build"])), 0);
    let registry = dir.path().join("registry/features.yaml");
    let text = std::fs::read_to_string(&registry)
        .unwrap()
        .replace("tier: E", "tier: D");
    std::fs::write(&registry, text).unwrap();
    let check = featgen(dir.path(), &["check"]);
    assert_eq!(code(&check), 1);
    let err = stderr(&check);
    assert!(err.contains("stale: generated/rust/features.rs"), "{err}");
    assert!(
        err.contains("tier: Tier::D, group: FeatureGroup::Chat"),
        "{err}"
    );
    let json = featgen(dir.path(), &["check", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["status"], "stale");
}

#[test]
fn rust_crate_files_are_written_and_checked() {
    let dir = initialized();
    let build = featgen(dir.path(), &["build", "--rust-crate", "acme-features"]);
    assert_eq!(code(&build), 0, "{}", stderr(&build));
    let manifest = dir.path().join("generated/rust/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("name = \"acme-features\""), "{text}");
    assert!(dir.path().join("generated/rust/lib.rs").is_file());
    std::fs::write(&manifest, text.replace("0.1.0", "9.9.9")).unwrap();
    let check = featgen(dir.path(), &["check", "--rust-crate", "acme-features"]);
    assert_eq!(code(&check), 1);
    assert!(
        stderr(&check).contains("stale: generated/rust/Cargo.toml"),
        "{}",
        stderr(&check)
    );
    let bad = featgen(dir.path(), &["build", "--rust-crate", "type"]);
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).contains("`type` is not a valid Rust crate name"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn invalid_registry_leaves_generated_files_untouched() {
    let dir = initialized();
    assert_eq!(code(&featgen(dir.path(), &["build"])), 0);
    let before = snapshot(dir.path());
    std::fs::write(
        dir.path().join("registry/broken.yaml"),
        "- feature: x\n  team: t\n  tier: Q\n",
    )
    .unwrap();
    let build = featgen(dir.path(), &["build"]);
    assert_eq!(code(&build), 1);
    let err = stderr(&build);
    assert!(
        err.contains("error[unknown-tier]: unknown tier `Q`"),
        "{err}"
    );
    assert!(err.contains("registry/broken.yaml:3:9"), "{err}");
    assert!(err.contains("= help:"), "{err}");
    std::fs::remove_file(dir.path().join("registry/broken.yaml")).unwrap();
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn validate_reports_json_with_positions() {
    let dir = initialized();
    std::fs::write(
        dir.path().join("registry/bad.yaml"),
        "- feature: y\n  team: t\n  tier: S\n  featuregroup: chat\n",
    )
    .unwrap();
    let out = featgen(dir.path(), &["validate", "--format", "json"]);
    assert_eq!(code(&out), 1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &report["diagnostics"][0];
    assert_eq!(first["code"], "unknown-field");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(4), Some(3))
    );
    assert_eq!(first["help"], "did you mean `feature_group`?");
}

#[test]
fn usage_and_io_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        code(&featgen(dir.path(), &["build"])),
        2,
        "no registry here"
    );
    assert_eq!(code(&featgen(dir.path(), &["build", "--bogus"])), 2);
    let dir = initialized();
    let unknown = featgen(dir.path(), &["build", "--target", "rusty"]);
    assert_eq!(code(&unknown), 2);
    assert!(
        stderr(&unknown).contains("did you mean `rust`?"),
        "{}",
        stderr(&unknown)
    );
    let package = featgen(dir.path(), &["build", "--python-package", "match"]);
    assert_eq!(code(&package), 2);
}

#[test]
fn output_is_byte_identical_across_runs_and_directories() {
    let (a, b) = (initialized(), initialized());
    assert_eq!(code(&featgen(a.path(), &["build"])), 0);
    assert_eq!(
        code(&featgen(
            b.path(),
            &["build", "--target", "json", "--target", "rust"]
        )),
        0
    );
    assert_eq!(code(&featgen(b.path(), &["build"])), 0);
    assert_eq!(snapshot(a.path()), snapshot(b.path()));
}

#[test]
fn flags_override_featgen_toml() {
    let dir = initialized();
    std::fs::write(
        dir.path().join("featgen.toml"),
        "out = \"gen\"\ntargets = [\"python\"]\npython_package = \"acme\"\n",
    )
    .unwrap();
    assert_eq!(code(&featgen(dir.path(), &["build"])), 0);
    assert!(dir.path().join("gen/python/acme/__init__.py").is_file());
    assert!(!dir.path().join("gen/rust").exists());
    assert_eq!(
        code(&featgen(
            dir.path(),
            &["build", "--out", "other", "--target", "rust"]
        )),
        0
    );
    assert!(dir.path().join("other/rust/features.rs").is_file());
    std::fs::write(dir.path().join("featgen.toml"), "colour = \"red\"\n").unwrap();
    assert_eq!(
        code(&featgen(dir.path(), &["build"])),
        2,
        "unknown config keys are errors"
    );
}

#[test]
fn user_templates_override_and_add_targets() {
    let dir = initialized();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(templates.join("markdown")).unwrap();
    std::fs::write(
        templates.join("markdown/FEATURES.md.j2"),
        "# {{ header }}\n{% for f in features %}- {{ f.name }} ({{ f.team }})\n{% endfor %}",
    )
    .unwrap();
    let build = featgen(
        dir.path(),
        &["build", "--templates", "templates", "--target", "markdown"],
    );
    assert_eq!(code(&build), 0, "{}", stderr(&build));
    let md = std::fs::read_to_string(dir.path().join("generated/markdown/FEATURES.md")).unwrap();
    assert!(
        md.starts_with("# generated by featgen; do not edit\n- messaging (msgs-team)\n"),
        "{md}"
    );

    std::fs::write(templates.join("python_py_typed.j2"), "partial\n").unwrap();
    let build = featgen(
        dir.path(),
        &["build", "--templates", "templates", "--target", "python"],
    );
    assert_eq!(code(&build), 0, "{}", stderr(&build));
    let marker =
        std::fs::read_to_string(dir.path().join("generated/python/features/py.typed")).unwrap();
    assert_eq!(
        marker, "partial\n",
        "the override replaced the embedded template"
    );
    std::fs::write(templates.join("nonesuch.j2"), "x").unwrap();
    let unknown = featgen(dir.path(), &["build", "--templates", "templates"]);
    assert_eq!(
        code(&unknown),
        2,
        "an override must name a built-in template"
    );
    std::fs::remove_file(templates.join("nonesuch.j2")).unwrap();

    std::fs::write(templates.join("markdown/FEATURES.md.j2"), "{{ featurs }}").unwrap();
    let typo = featgen(
        dir.path(),
        &["build", "--templates", "templates", "--target", "markdown"],
    );
    assert_eq!(code(&typo), 2);
    assert!(
        stderr(&typo).contains("did you mean `features`?"),
        "{}",
        stderr(&typo)
    );
}

#[test]
fn this_repository_generated_files_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let check = featgen(root, &["check"]);
    assert_eq!(
        code(&check),
        0,
        "run `featgen build` and commit:\n{}",
        stderr(&check)
    );
}

/// Issue 15: an I/O error in the middle of a build (a file where the Python output directory
/// goes) changed nothing: the lock, Rust and SQL stay as they were, and `featgen check` reports
/// the old state consistently.
#[test]
fn a_build_that_fails_to_write_changes_nothing() {
    let dir = initialized();
    assert_eq!(code(&featgen(dir.path(), &["build"])), 0);
    let registry = dir.path().join("registry/features.yaml");
    let mut text = std::fs::read_to_string(&registry).unwrap();
    // The starter lists its features under `features:`, indented by two.
    text.push_str(
        "  - feature: brand-new\n    team: msgs-team\n    tier: S\n    feature_group: chat\n",
    );
    std::fs::write(&registry, text).unwrap();
    let python = dir.path().join("generated/python");
    std::fs::remove_dir_all(&python).unwrap();
    std::fs::write(&python, "x\n").unwrap();
    let before = snapshot(dir.path());

    let build = featgen(dir.path(), &["build"]);
    assert_eq!(code(&build), 2, "{}", stderr(&build));
    assert!(
        stderr(&build).contains("generated/python"),
        "the error names the path: {}",
        stderr(&build)
    );
    assert_eq!(
        snapshot(dir.path()),
        before,
        "no file written, no temporary file left"
    );
    let lock = std::fs::read_to_string(dir.path().join("registry/featgen.lock")).unwrap();
    assert!(!lock.contains("brand-new"), "{lock}");

    let check = featgen(dir.path(), &["check"]);
    assert_eq!(code(&check), 1, "{}", stderr(&check));
    let err = stderr(&check);
    assert!(err.contains("stale: registry/featgen.lock"), "{err}");
    assert!(err.contains("stale: generated/rust/features.rs"), "{err}");
    assert!(
        err.contains("missing: generated/python/features/__init__.py"),
        "{err}"
    );

    // Once the obstacle is gone, the same build succeeds and everything agrees.
    std::fs::remove_file(&python).unwrap();
    assert_eq!(code(&featgen(dir.path(), &["build"])), 0);
    assert_eq!(code(&featgen(dir.path(), &["check"])), 0);
}

#[test]
fn a_lock_that_is_not_utf8_is_invalid_lock_with_exit_1() {
    let dir = initialized();
    assert_eq!(code(&featgen(dir.path(), &["build"])), 0);
    let lock = dir.path().join("registry/featgen.lock");
    let mut bytes = std::fs::read(&lock).unwrap();
    bytes.extend_from_slice(b"\xff\xfe\n");
    std::fs::write(&lock, bytes).unwrap();
    let build = featgen(dir.path(), &["build", "--format", "json"]);
    assert_eq!(code(&build), 1, "{}", stderr(&build));
    let report: serde_json::Value = serde_json::from_slice(&build.stdout).unwrap();
    assert_eq!(report["diagnostics"][0]["code"], "invalid-lock", "{report}");
}

/// Issue 15: `--templates` followed symbolic links (a loop wrote 41 nested outputs, a link to
/// `/` walked the filesystem, a `.j2` linked to `/etc/passwd` was rendered). Links are now
/// skipped with a warning.
#[test]
fn template_symlinks_are_not_followed() {
    let dir = initialized();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(templates.join("markdown")).unwrap();
    std::fs::write(
        templates.join("markdown/FEATURES.md.j2"),
        "{% for f in features %}{{ f.name }}\n{% endfor %}",
    )
    .unwrap();
    std::os::unix::fs::symlink("..", templates.join("markdown/up")).unwrap();
    std::os::unix::fs::symlink("/", templates.join("markdown/root")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", templates.join("markdown/passwd.j2")).unwrap();
    let build = featgen(
        dir.path(),
        &["build", "--templates", "templates", "--target", "markdown"],
    );
    assert_eq!(code(&build), 0, "{}", stderr(&build));
    let outputs = snapshot(&dir.path().join("generated/markdown"));
    let names: Vec<&str> = outputs.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["FEATURES.md"]);
    let err = stderr(&build);
    for link in ["passwd.j2", "root", "up"] {
        assert!(
            err.contains(&format!(
                "warning[template-symlink]: templates/markdown/{link}"
            )),
            "{err}"
        );
    }
    assert!(
        !err.contains("root:"),
        "nothing of /etc/passwd is shown: {err}"
    );
}

/// Issue 15: an unreadable directory aborted `featgen lint` with empty stdout in json and
/// sarif; now it is a `parse-error` finding like an unreadable file, and the run goes on.
/// Root reads any directory, so as root the lint runs as `nobody` (through `setpriv`).
#[test]
fn lint_reports_an_unreadable_directory_and_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    let dir = initialized();
    let root = dir.path();
    let src = root.join("svc/src");
    std::fs::create_dir_all(src.join("secret")).unwrap();
    std::fs::write(
        src.join("lib.rs"),
        "#[featgen::route(feature = Nonesuch)]\npub async fn h() {}\n",
    )
    .unwrap();
    std::fs::write(src.join("secret/mod.rs"), "pub fn x() {}\n").unwrap();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(src.join("secret"), std::fs::Permissions::from_mode(0o000)).unwrap();
    for format in ["json", "sarif"] {
        let args = ["lint", "svc", "--registry", "registry", "--format", format];
        let output = if is_root() {
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_featgen"))
                .args(args)
                .current_dir(root)
                .output()
                .expect("run featgen through setpriv")
        } else {
            featgen(root, &args)
        };
        assert_eq!(code(&output), 2, "a parse error: {}", stderr(&output));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{format}: complete JSON on stdout: {e}"));
        let text = report.to_string();
        assert!(text.contains("parse-error"), "{format}: {text}");
        assert!(
            text.contains("cannot read the directory"),
            "{format}: {text}"
        );
        assert!(text.contains("svc/src/secret"), "{format}: {text}");
        assert!(
            text.contains("unknown-feature"),
            "{format}: the rest is linted: {text}"
        );
    }
}

/// Whether this process runs as root (whose reads no permission bit stops).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}
