//! The built-in targets: which embedded template renders to which output file, and the SQL
//! dialect each SQL target writes.

/// A built-in target: its name and the (template, output path) pairs it renders. `{package}`
/// in a path is the Python package name.
pub(crate) struct Builtin {
    pub(crate) name: &'static str,
    pub(crate) files: &'static [(&'static str, &'static str)],
    pub(crate) dialect: Option<(&'static str, &'static str)>,
}

/// The files that make the Rust target's `features.rs` a complete crate, rendered when
/// [`RenderOptions::rust_crate`](crate::render::RenderOptions::rust_crate) names one.
pub(crate) const RUST_CRATE_FILES: &[(&str, &str)] = &[
    ("rust_cargo.toml.j2", "rust/Cargo.toml"),
    ("rust_lib.rs.j2", "rust/lib.rs"),
];

pub(crate) const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "rust",
        files: &[("rust.rs.j2", "rust/features.rs")],
        dialect: None,
    },
    Builtin {
        name: "python",
        files: &[
            ("python_init.py.j2", "python/{package}/__init__.py"),
            ("python_py_typed.j2", "python/{package}/py.typed"),
        ],
        dialect: None,
    },
    Builtin {
        name: "sql-postgres",
        files: &[
            ("sql_dimensions.sql.j2", "sql/postgres/dimensions.sql"),
            ("sql_facts.sql.j2", "sql/postgres/facts.sql"),
            ("sql_attribution.sql.j2", "sql/postgres/attribution.sql"),
        ],
        dialect: Some(("postgres", "PostgreSQL")),
    },
    Builtin {
        name: "sql-sqlite",
        files: &[
            ("sql_dimensions.sql.j2", "sql/sqlite/dimensions.sql"),
            ("sql_facts.sql.j2", "sql/sqlite/facts.sql"),
            ("sql_attribution.sql.j2", "sql/sqlite/attribution.sql"),
        ],
        dialect: Some(("sqlite", "SQLite")),
    },
    Builtin {
        name: "sql-duckdb",
        files: &[
            ("sql_dimensions.sql.j2", "sql/duckdb/dimensions.sql"),
            ("sql_facts.sql.j2", "sql/duckdb/facts.sql"),
            ("sql_attribution.sql.j2", "sql/duckdb/attribution.sql"),
        ],
        dialect: Some(("duckdb", "DuckDB")),
    },
    Builtin {
        name: "sql-bigquery",
        files: &[
            ("sql_bigquery.sql.j2", "sql/bigquery/dimensions.sql"),
            ("sql_facts.sql.j2", "sql/bigquery/facts.sql"),
            ("sql_attribution.sql.j2", "sql/bigquery/attribution.sql"),
        ],
        dialect: Some(("bigquery", "BigQuery")),
    },
    Builtin {
        name: "dbt",
        files: &[
            (
                "dbt_project.yml.j2",
                "dbt/featgen_attribution/dbt_project.yml",
            ),
            (
                "dbt_sources.yml.j2",
                "dbt/featgen_attribution/models/sources.yml",
            ),
            (
                "dbt_fact_feature_cost.sql.j2",
                "dbt/featgen_attribution/models/fact_feature_cost.sql",
            ),
            (
                "dbt_schema.yml.j2",
                "dbt/featgen_attribution/models/schema.yml",
            ),
            (
                "dbt_unique_row_key.sql.j2",
                "dbt/featgen_attribution/tests/generic/unique_row_key.sql",
            ),
            (
                "dbt_reconciliation.sql.j2",
                "dbt/featgen_attribution/tests/reconciliation.sql",
            ),
        ],
        dialect: None,
    },
    Builtin {
        name: "json",
        files: &[
            ("json_registry.json.j2", "json/registry.json"),
            ("json_schema.json.j2", "json/registry.schema.json"),
        ],
        dialect: None,
    },
];

/// The embedded templates, by file name.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    ("rust.rs.j2", include_str!("../templates/rust.rs.j2")),
    (
        "rust_cargo.toml.j2",
        include_str!("../templates/rust_cargo.toml.j2"),
    ),
    (
        "rust_lib.rs.j2",
        include_str!("../templates/rust_lib.rs.j2"),
    ),
    (
        "python_init.py.j2",
        include_str!("../templates/python_init.py.j2"),
    ),
    (
        "python_py_typed.j2",
        include_str!("../templates/python_py_typed.j2"),
    ),
    (
        "sql_dimensions.sql.j2",
        include_str!("../templates/sql_dimensions.sql.j2"),
    ),
    (
        "sql_bigquery.sql.j2",
        include_str!("../templates/sql_bigquery.sql.j2"),
    ),
    (
        "sql_facts.sql.j2",
        include_str!("../templates/sql_facts.sql.j2"),
    ),
    (
        "sql_attribution.sql.j2",
        include_str!("../templates/sql_attribution.sql.j2"),
    ),
    (
        "sql_attribution_query.sql.j2",
        include_str!("../templates/sql_attribution_query.sql.j2"),
    ),
    (
        "dbt_project.yml.j2",
        include_str!("../templates/dbt_project.yml.j2"),
    ),
    (
        "dbt_sources.yml.j2",
        include_str!("../templates/dbt_sources.yml.j2"),
    ),
    (
        "dbt_fact_feature_cost.sql.j2",
        include_str!("../templates/dbt_fact_feature_cost.sql.j2"),
    ),
    (
        "dbt_schema.yml.j2",
        include_str!("../templates/dbt_schema.yml.j2"),
    ),
    (
        "dbt_unique_row_key.sql.j2",
        include_str!("../templates/dbt_unique_row_key.sql.j2"),
    ),
    (
        "dbt_reconciliation.sql.j2",
        include_str!("../templates/dbt_reconciliation.sql.j2"),
    ),
    (
        "json_registry.json.j2",
        include_str!("../templates/json_registry.json.j2"),
    ),
    (
        "json_schema.json.j2",
        include_str!("../templates/json_schema.json.j2"),
    ),
];

/// The names of the built-in targets, in build order.
pub fn builtin_targets() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|b| b.name)
}
