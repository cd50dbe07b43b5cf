//! The generated code in real tools: Rust compiled by rustc (no warnings, no doctests), Python
//! type-checked by mypy --strict and ruff and imported, SQL executed twice in SQLite, DuckDB
//! and PostgreSQL (and evolved across a registry change), BigQuery SQL parsed by sqlglot.

use std::path::{Path, PathBuf};

use featgen_codegen::render::{self, RenderOptions};
use featgen_registry::Registry;
use featgen_tests::{
    build, build_rust_crate, compile_rust, python_command, run_ok, run_sql, type_check_python,
    workspace_root,
};
use serde_json::Value;

/// Rows of `table` in a dump.
fn rows<'a>(dump: &'a Value, table: &str) -> &'a Vec<Value> {
    dump[table]
        .as_array()
        .unwrap_or_else(|| panic!("{table} missing from {dump}"))
}

fn row<'a>(dump: &'a Value, table: &str, name: &str) -> &'a Value {
    rows(dump, table)
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {table}"))
}

/// Builds v1 then v2 of the evolving fixture in one directory (sharing featgen.lock), returning
/// the SQL file of `dialect` for each version.
fn evolve(dir: &Path, dialect: &str) -> [PathBuf; 2] {
    let registry = dir.join("registry.yaml");
    let mut out = Vec::new();
    for version in ["v1", "v2"] {
        std::fs::copy(
            workspace_root().join(format!("tests/fixtures/evolve/{version}.yaml")),
            &registry,
        )
        .unwrap();
        let generated = dir.join(version);
        build(&registry, &generated, "features");
        out.push(generated.join(format!("sql/{dialect}/dimensions.sql")));
    }
    [out[0].clone(), out[1].clone()]
}

#[test]
fn sql_is_idempotent_and_keeps_removed_rows_in_every_engine() {
    let mut dumps = Vec::new();
    for engine in ["sqlite", "duckdb", "postgres"] {
        let dir = tempfile::tempdir().unwrap();
        let [v1, v2] = evolve(dir.path(), engine);
        let once = run_sql(engine, std::slice::from_ref(&v1));
        let twice = run_sql(engine, &[v1.clone(), v1.clone()]);
        assert_eq!(once, twice, "{engine}: running v1 twice changed the tables");
        assert_eq!(
            rows(&once, "dim_feature").len(),
            4,
            "{engine}: unknown + 3 features"
        );
        assert_eq!(row(&once, "dim_feature", "unknown")["feature_id"], -1);

        let evolved = run_sql(engine, &[v1.clone(), v2.clone(), v2.clone()]);
        let features = rows(&evolved, "dim_feature");
        assert_eq!(
            features.len(),
            5,
            "{engine}: the removed feature stays: {features:#?}"
        );
        let soundboard = row(&evolved, "dim_feature", "soundboard");
        assert_eq!(soundboard["is_removed"], true, "{engine}");
        let messaging = row(&evolved, "dim_feature", "messaging");
        assert_eq!(messaging["is_removed"], false);
        assert_eq!(
            messaging["tier_id"],
            row(&evolved, "dim_tier", "A")["tier_id"],
            "{engine}: tier updated"
        );
        assert_eq!(
            messaging["description"],
            "Sending messages: it's the core -- don't /* break */ it."
        );
        assert_eq!(row(&evolved, "dim_team", "msgs-team")["slack"], "#messages");
        let gift = row(&evolved, "dim_feature", "gift-links");
        assert_eq!(
            (
                gift["is_deprecated"].clone(),
                gift["replacement_feature_id"].clone()
            ),
            (Value::Bool(true), messaging["feature_id"].clone())
        );
        assert_ne!(
            row(&evolved, "dim_feature", "text-in-voice")["feature_id"],
            soundboard["feature_id"],
            "ids are never reused"
        );
        dumps.push((engine, evolved));
    }
    for (engine, dump) in &dumps[1..] {
        assert_eq!(dump, &dumps[0].1, "{engine} and {} disagree", dumps[0].0);
    }
}

#[test]
fn bigquery_sql_parses_as_bigquery() {
    let dir = tempfile::tempdir().unwrap();
    let [v1, _] = evolve(dir.path(), "bigquery");
    let mut command = python_command();
    command
        .arg(workspace_root().join("tests/engines/sql_engine.py"))
        .arg("bigquery")
        .arg(&v1);
    let parsed: Value = serde_json::from_str(&run_ok(&mut command)).unwrap();
    assert_eq!(
        parsed["statements"],
        serde_json::json!([
            "Create", "Create", "Create", "Create", "Merge", "Merge", "Merge", "Merge"
        ])
    );
}

#[test]
fn python_package_of_this_registry_type_checks_and_imports() {
    let python = workspace_root().join("generated/python");
    type_check_python(&python, &["features"]);
    let script = r#"
import features as f
assert f.Feature("text-in-voice") is f.Feature.TEXT_IN_VOICE
m = f.Feature.MESSAGING
assert (m.team, m.tier, m.feature_group) == (f.Team.MSGS_TEAM, f.Tier.S, f.FeatureGroup.CHAT)
assert m.id == 1 and isinstance(m.id, int)
assert f.Feature.GIFT_LINKS.is_deprecated and f.Feature.GIFT_LINKS.replacement is f.Feature.GIFT_CARDS
assert [t.value for t in f.Tier] == ["S", "A", "B", "C", "D", "E"] and f.Tier.E.rank == 5
assert len(f.Feature) == 37
print("ok")
"#;
    let mut command = python_command();
    command.current_dir(&python).args(["-c", script]);
    assert_eq!(run_ok(&mut command).trim(), "ok");
}

#[test]
fn rust_output_compiles_without_warnings_or_doctests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        workspace_root().join("tests/fixtures/evolve/v1.yaml"),
        dir.path().join("registry.yaml"),
    )
    .unwrap();
    let yaml = std::fs::read_to_string(dir.path().join("registry.yaml")).unwrap().replace(
        "    feature_group: voice\n",
        "    feature_group: voice\n    description: |\n      ```rust\n      panic!(\"doctest\");\n      ```\n          indented code\n",
    );
    std::fs::write(dir.path().join("registry.yaml"), yaml).unwrap();
    build(
        &dir.path().join("registry.yaml"),
        &dir.path().join("out"),
        "features",
    );
    compile_rust(&dir.path().join("out/rust/features.rs"));
}

#[test]
fn rust_target_as_a_crate_builds_with_cargo_with_and_without_serde() {
    let registry = Registry::load(&workspace_root().join("tests/fixtures/evolve/v1.yaml"))
        .unwrap_or_else(|d| panic!("{d}"));
    let options = RenderOptions {
        rust_crate: Some("acme-features".to_owned()),
        ..RenderOptions::default()
    };
    let files =
        render::render(&registry, &["rust".to_owned()], &options).unwrap_or_else(|d| panic!("{d}"));
    let paths: Vec<_> = files.iter().map(|f| f.path.to_str().unwrap()).collect();
    assert_eq!(
        paths,
        ["rust/features.rs", "rust/Cargo.toml", "rust/lib.rs"]
    );
    let dir = tempfile::tempdir().unwrap();
    featgen_codegen::output::write(dir.path(), &files).unwrap();
    let manifest = std::fs::read_to_string(dir.path().join("rust/Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"acme-features\""), "{manifest}");
    build_rust_crate(&dir.path().join("rust"));
}

#[test]
fn json_schema_is_valid_and_describes_the_registry_format() {
    let schema = workspace_root().join("generated/json/registry.schema.json");
    let script = r##"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
seed = [{"feature": "messaging", "team": "msgs-team", "tier": "S", "feature_group": "chat"}]
mapping = {"tiers": ["S", {"name": "A", "description": "x"}], "teams": [{"name": "t", "slack": "#t"}],
           "feature_groups": ["chat"], "features": seed + [{"feature": "old", "team": "t", "tier": "A",
           "feature_group": "chat", "deprecated": {"reason": "r", "renamed_to": "messaging"}}]}
for ok in (seed, mapping):
    errors = list(v.iter_errors(ok))
    assert not errors, errors
typo = [{"feature": "messaging", "team": "t", "tier": "S", "featuregroup": "chat"}]
bad_name = [{"feature": "Text In Voice", "team": "t", "tier": "S", "feature_group": "chat"}]
for bad in (typo, bad_name, {"colour": "red"}):
    assert list(v.iter_errors(bad)), bad
print("ok")
"##;
    let mut command = python_command();
    command.args(["-c", script]).arg(schema);
    assert_eq!(run_ok(&mut command).trim(), "ok");
    let registry: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("generated/json/registry.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(registry["$comment"], "generated by featgen; do not edit");
    assert_eq!(registry["features"].as_array().unwrap().len(), 37);
    assert_eq!(registry["features"][0]["name"], "attachments");
}

/// The generated Rust API of this repository's registry behaves as documented: every entry's
/// name parses back to it (`FromStr` searches `ALL`, which must be sorted by name), its id maps
/// back to it, `Display` writes the name, and unknown names are errors naming the kind.
#[test]
fn generated_rust_api_round_trips_every_entry() {
    use featgen_features::{Feature, FeatureGroup, Team, Tier};

    macro_rules! round_trip {
        ($type:ty, $kind:literal) => {
            assert!(!<$type>::ALL.is_empty());
            for &entry in <$type>::ALL {
                assert_eq!(entry.name().parse::<$type>(), Ok(entry), "{}", entry.name());
                assert_eq!(<$type>::from_id(entry.id()), Some(entry));
                assert_eq!(entry.to_string(), entry.name());
            }
            let unknown = "no-such-entry".parse::<$type>().unwrap_err();
            assert_eq!(
                unknown.to_string(),
                concat!("unknown ", $kind, " `no-such-entry`")
            );
            assert_eq!(<$type>::from_id(u32::MAX), None);
        };
    }
    round_trip!(Feature, "feature");
    round_trip!(Team, "team");
    round_trip!(FeatureGroup, "feature group");
    round_trip!(Tier, "tier");
    let messaging: Feature = "messaging".parse().unwrap();
    assert_eq!(serde_json::to_string(&messaging).unwrap(), r#""messaging""#);
    let parsed: Vec<Tier> = serde_json::from_str(r#"["S", "E"]"#).unwrap();
    assert_eq!(parsed, [Tier::S, Tier::E]);
    let unknown = serde_json::from_str::<Team>(r#""nobody""#).unwrap_err();
    assert!(
        unknown.to_string().contains("unknown team `nobody`"),
        "{unknown}"
    );
    assert_eq!(messaging.team().name(), "msgs-team");
    assert_eq!(messaging.tier(), Tier::S);
    assert_eq!(messaging.group().name(), "chat");
}
