//! Property test: registries with hostile names (keywords of every target) and descriptions
//! (quotes, `"""`, `*/`, `--`, backslashes, template syntax, bidi controls, emoji) always
//! produce code that compiles, type-checks, imports and executes, with every string intact.

use std::path::PathBuf;

use featgen_registry::ident;
use featgen_tests::{
    build, compile_rust, python_command, run_ok, run_sql, type_check_python, workspace_root,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

/// Words that are keywords or special somewhere: Rust, Python, SQL, YAML, Jinja.
const KEYWORDS: &[&str] = &[
    "type", "match", "self", "super", "crate", "select", "class", "none", "null", "true", "fn",
    "gen", "async", "await", "from", "import", "def", "lambda", "order", "group", "table", "case",
    "end", "yes", "no", "on", "all", "id", "name", "value", "mro", "endfor", "raw",
];

const NASTY: &[&str] = &[
    "\"",
    "\"\"\"",
    "'",
    "''",
    "*/",
    "/*",
    "--",
    "\\",
    "\\n",
    "{{ x }}",
    "{% if %}",
    "#}",
    "${x}",
    "```",
    "````rust",
    "\u{202e}",
    "\u{2066}",
    "🎉",
    "é",
    "\n",
    "\t",
    "</script>",
    "#[doc]",
    "]]",
    "%s",
    "?",
    ";",
    "DROP TABLE dim_feature;",
    "r#\"",
    "\u{0}x",
    "    indented",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(KEYWORDS).prop_map(str::to_owned),
        "[a-z][a-z0-9]{0,5}([-_][a-z0-9]{1,3}){0,2}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            proptest::sample::select(NASTY).prop_map(str::to_owned),
            "[ -~]{0,6}"
        ],
        1..8,
    )
    .prop_map(|parts| parts.concat().replace('\u{0}', ""))
}

/// A registry: (features: name, team, group, description), deduplicated so that no two names
/// of a kind become the same identifier in any target.
fn registry() -> impl Strategy<Value = Vec<(String, String, String, String)>> {
    proptest::collection::vec((name(), name(), name(), text()), 1..12).prop_map(|features| {
        let mut seen = std::collections::HashSet::new();
        features
            .into_iter()
            .filter(|f| {
                seen.insert(ident::rust_variant(&f.0)) && seen.insert(ident::python_member(&f.0))
            })
            .collect()
    })
}

/// YAML with every scalar as a JSON string (YAML 1.2 is a superset of JSON).
fn to_yaml(features: &[(String, String, String, String)]) -> String {
    let mut yaml = String::new();
    for (name, team, group, description) in features {
        yaml.push_str(&format!(
            "- feature: {}\n  team: {}\n  tier: S\n  feature_group: {}\n  description: {}\n",
            json!(name),
            json!(team),
            json!(group),
            json!(description)
        ));
    }
    yaml
}

#[test]
fn hostile_registries_produce_working_code_in_every_target() {
    let mut runner = TestRunner::deterministic();
    let root = tempfile::tempdir().unwrap();
    let mut built = Vec::new();
    while built.len() < 6 {
        let features = registry().new_tree(&mut runner).unwrap().current();
        let dir = root.path().join(format!("r{}", built.len()));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("registry.yaml"), to_yaml(&features)).unwrap();
        let package = format!("features_{}", built.len());
        // Random team and group names can collide after case conversion (`a-b`, `a_b`); such a
        // registry is rightly rejected. Any other rejection would be a bug.
        if let Err(diagnostics) = featgen_registry::Registry::load(&dir.join("registry.yaml")) {
            assert!(
                diagnostics
                    .0
                    .iter()
                    .all(|d| d.code == featgen_registry::Code::NameCollision),
                "{diagnostics}"
            );
            continue;
        }
        build(&dir.join("registry.yaml"), &dir.join("out"), &package);
        built.push((dir, package, features));
    }

    for (dir, _, _) in &built {
        compile_rust(&dir.join("out/rust/features.rs"));
    }

    let python_root = root.path().join("python");
    std::fs::create_dir(&python_root).unwrap();
    for (dir, package, _) in &built {
        copy_dir(
            &dir.join("out/python").join(package),
            &python_root.join(package),
        );
    }
    let packages: Vec<&str> = built.iter().map(|(_, p, _)| p.as_str()).collect();
    type_check_python(&python_root, &packages);

    for (dir, package, features) in &built {
        let expected: Vec<Value> = features.iter().map(|(n, _, _, d)| json!([n, d])).collect();
        let script = format!(
            "import json, sys, {package} as f\nfor name, description in json.loads(sys.argv[1]):\n    assert f.Feature(name).description == description, (name, description)\nprint('ok')"
        );
        let mut command = python_command();
        command
            .current_dir(&python_root)
            .args(["-c", &script, &Value::from(expected).to_string()]);
        assert_eq!(run_ok(&mut command).trim(), "ok");

        for engine in ["sqlite", "duckdb", "postgres"] {
            let sql: PathBuf = dir.join(format!("out/sql/{engine}/dimensions.sql"));
            let dump = run_sql(engine, &[sql.clone(), sql]);
            for (name, _, _, description) in features {
                let row = dump["dim_feature"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["name"] == name.as_str());
                let row = row.unwrap_or_else(|| panic!("{engine}: no row for {name:?}"));
                assert_eq!(
                    row["description"],
                    description.as_str(),
                    "{engine}: description of {name:?} changed"
                );
            }
        }
        let mut command = python_command();
        command
            .arg(workspace_root().join("tests/engines/sql_engine.py"))
            .arg("bigquery")
            .arg(dir.join("out/sql/bigquery/dimensions.sql"));
        run_ok(&mut command);
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}
