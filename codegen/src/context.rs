//! What templates see: the registry as minijinja values (features with the ids and
//! identifiers of what they reference, teams, groups, tiers), the options, and per file the SQL
//! dialect and the JSON dump. [`CONTEXT_VARIABLES`] lists the top-level names.

use std::sync::Arc;

use featgen_registry::ident;
use featgen_registry::model::Registry;
use foldhash::HashMap;
use minijinja::value::{Enumerator, Object, Value};
use serde::Serialize;

use crate::render::{HEADER, RenderOptions};

/// The top-level variables a template can use.
pub const CONTEXT_VARIABLES: &[&str] = &[
    "header",
    "python_package",
    "rust_crate",
    "dialect",
    "features",
    "teams",
    "groups",
    "tiers",
    "deprecated",
    "replaced",
    "registry_json",
];

/// The context every file shares: the registry's lists and the options.
pub(crate) fn shared_context(registry: &Registry, options: &RenderOptions) -> Value {
    let teams: Vec<Value> = registry
        .teams
        .iter()
        .map(|t| {
            Value::from_object(EntryObject {
                slack: optional(t.slack.as_deref()),
                oncall: optional(t.oncall.as_deref()),
                ..entry(&t.name, t.id, t.description.as_deref())
            })
        })
        .collect();
    let groups: Vec<Value> = registry
        .groups
        .iter()
        .map(|g| Value::from_object(entry(&g.name, g.id, g.description.as_deref())))
        .collect();
    let tiers: Vec<Value> = registry
        .tiers
        .iter()
        .map(|t| {
            Value::from_object(EntryObject {
                rank: Value::from(t.rank),
                ..entry(&t.name, t.id, t.description.as_deref())
            })
        })
        .collect();
    let features = feature_objects(registry);
    // Only the lists are shared between files; each file adds its dialect (and the JSON dump).
    let features_where = |keep: fn(&featgen_registry::model::Feature) -> bool| -> Vec<Value> {
        registry
            .features
            .iter()
            .zip(&features)
            .filter(|(f, _)| keep(f))
            .map(|(_, object)| object.clone())
            .collect()
    };
    let deprecated = features_where(|f| f.deprecated.is_some());
    let replaced = features_where(|f| {
        f.deprecated
            .as_ref()
            .is_some_and(|d| d.renamed_to.is_some())
    });
    minijinja::context! {
        header => HEADER,
        python_package => &options.python_package,
        rust_crate => &options.rust_crate,
        features => features,
        teams => teams,
        groups => groups,
        tiers => tiers,
        deprecated => deprecated,
        replaced => replaced,
    }
}

/// The context of one file: the shared one, with the SQL dialect of its target and the JSON
/// dump when the template reads it.
pub(crate) fn file_context(
    shared: &Value,
    dialect: Option<(&'static str, &'static str)>,
    registry_json: Option<&str>,
) -> Value {
    let dialect = dialect.map(|(name, title)| DialectView { name, title });
    minijinja::context! {
        dialect => Value::from(minijinja::value::Serde(&dialect)),
        registry_json => registry_json,
        ..shared.clone()
    }
}

/// Declares a struct whose fields are template values, and makes it a minijinja map object:
/// templates read `entry.field` through a `match` on the key, with nothing converted up front
/// (a 10,000-feature registry would otherwise be turned into 250,000 map entries per build).
macro_rules! template_object {
    ($(#[$doc:meta])* struct $name:ident { $($(#[$field_doc:meta])* $field:ident,)* }) => {
        $(#[$doc])*
        #[derive(Debug)]
        struct $name {
            $($(#[$field_doc])* $field: Value,)*
        }

        impl $name {
            /// The field names, in declaration order (what `|items` and `|tojson` list).
            const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
        }

        impl Object for $name {
            fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
                self.get_value_by_str(key.as_str()?)
            }

            fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
                match key {
                    $(stringify!($field) => Some(self.$field.clone()),)*
                    _ => None,
                }
            }

            fn enumerate(self: &Arc<Self>) -> Enumerator {
                Enumerator::Str(Self::FIELDS)
            }
        }
    };
}

template_object! {
    /// A team, feature group or tier as templates see it.
    struct EntryObject {
        /// Registry name.
        name,
        /// Stable id.
        id,
        /// Rust variant.
        rust,
        /// Python member.
        py,
        /// Description, or none.
        description,
        /// Team Slack channel, or none.
        slack,
        /// Team on-call, or none.
        oncall,
        /// Tier rank, or none.
        rank,
    }
}

template_object! {
    /// A feature as templates see it: registry fields plus target identifiers and ids of what it
    /// references, so templates never convert or look up anything themselves.
    struct FeatureObject {
        /// Registry name.
        name,
        /// Stable id.
        id,
        /// Rust variant.
        rust,
        /// Python member.
        py,
        /// Team name.
        team,
        /// Team id.
        team_id,
        /// Team Rust variant.
        team_rust,
        /// Team Python member.
        team_py,
        /// Tier name.
        tier,
        /// Tier id.
        tier_id,
        /// Tier Rust variant.
        tier_rust,
        /// Tier Python member.
        tier_py,
        /// Group name.
        group,
        /// Group id.
        group_id,
        /// Group Rust variant.
        group_rust,
        /// Group Python member.
        group_py,
        /// Description, or none.
        description,
        /// Whether the feature is deprecated.
        deprecated,
        /// Deprecation reason, or none.
        deprecation_reason,
        /// Deprecation reason with the replacement named, or none.
        deprecation_note,
        /// Name of the replacing feature, or none.
        replacement,
        /// Id of the replacing feature, or none.
        replacement_id,
        /// Rust variant of the replacing feature, or none.
        replacement_rust,
        /// Python member of the replacing feature, or none.
        replacement_py,
    }
}

/// The SQL dialect of a target: `postgres` and `PostgreSQL`.
#[derive(Serialize)]
struct DialectView {
    name: &'static str,
    title: &'static str,
}

/// A string field, or none.
fn optional(value: Option<&str>) -> Value {
    value.map_or(Value::from(()), Value::from)
}

fn entry(name: &str, id: u32, description: Option<&str>) -> EntryObject {
    EntryObject {
        name: Value::from(name),
        id: Value::from(id),
        rust: Value::from(ident::rust_variant(name)),
        py: Value::from(ident::python_member(name)),
        description: optional(description),
        slack: Value::from(()),
        oncall: Value::from(()),
        rank: Value::from(()),
    }
}

/// A referenced entry as features show it, computed once per entry rather than per feature.
#[derive(Clone)]
struct Reference {
    name: Value,
    id: Value,
    rust: Value,
    py: Value,
}

fn references<'a>(entries: impl Iterator<Item = (&'a str, u32)>) -> HashMap<&'a str, Reference> {
    entries
        .map(|(name, id)| {
            (
                name,
                Reference {
                    name: Value::from(name),
                    id: Value::from(id),
                    rust: Value::from(ident::rust_variant(name)),
                    py: Value::from(ident::python_member(name)),
                },
            )
        })
        .collect()
}

/// Features per parallel job when building feature objects: small enough that jobs spread
/// evenly over the cores, large enough that each is worth a thread handoff.
const FEATURES_PER_JOB: usize = 1000;

/// The `features` list: one object per feature, in registry order, built in parallel.
fn feature_objects(registry: &Registry) -> Vec<Value> {
    let teams = references(registry.teams.iter().map(|t| (t.name.as_str(), t.id)));
    let tiers = references(registry.tiers.iter().map(|t| (t.name.as_str(), t.id)));
    let groups = references(registry.groups.iter().map(|g| (g.name.as_str(), g.id)));
    let ids: HashMap<&str, u32> = registry
        .features
        .iter()
        .map(|f| (f.name.as_str(), f.id))
        .collect();
    // Validation guarantees every reference resolves; the fallback is never used.
    let missing = Reference {
        name: Value::from(()),
        id: Value::from(()),
        rust: Value::from(()),
        py: Value::from(()),
    };
    let lookup = |map: &HashMap<&str, Reference>, name: &str| -> Reference {
        map.get(name).unwrap_or(&missing).clone()
    };
    let feature = |f: &featgen_registry::model::Feature| {
        let replacement = f.deprecated.as_ref().and_then(|d| d.renamed_to.as_deref());
        let team = lookup(&teams, &f.team);
        let tier = lookup(&tiers, &f.tier);
        let group = lookup(&groups, &f.group);
        Value::from_object(FeatureObject {
            name: Value::from(f.name.as_str()),
            id: Value::from(f.id),
            rust: Value::from(ident::rust_variant(&f.name)),
            py: Value::from(ident::python_member(&f.name)),
            team: team.name,
            team_id: team.id,
            team_rust: team.rust,
            team_py: team.py,
            tier: tier.name,
            tier_id: tier.id,
            tier_rust: tier.rust,
            tier_py: tier.py,
            group: group.name,
            group_id: group.id,
            group_rust: group.rust,
            group_py: group.py,
            description: optional(f.description.as_deref()),
            deprecated: Value::from(f.deprecated.is_some()),
            deprecation_reason: optional(f.deprecated.as_ref().map(|d| d.reason.as_str())),
            deprecation_note: f.deprecated.as_ref().map_or(Value::from(()), |d| {
                match &d.renamed_to {
                    Some(to) => Value::from(format!("{} (use `{to}` instead)", d.reason)),
                    None => Value::from(d.reason.as_str()),
                }
            }),
            replacement: optional(replacement),
            replacement_id: replacement
                .and_then(|r| ids.get(r).copied())
                .map_or(Value::from(()), Value::from),
            replacement_rust: replacement
                .map_or(Value::from(()), |r| Value::from(ident::rust_variant(r))),
            replacement_py: replacement
                .map_or(Value::from(()), |r| Value::from(ident::python_member(r))),
        })
    };
    let chunks: Vec<&[featgen_registry::model::Feature]> =
        registry.features.chunks(FEATURES_PER_JOB).collect();
    featgen_registry::par::map(&chunks, |chunk| {
        chunk.iter().map(feature).collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// The resolved registry with ids, as `json/registry.json` holds it: keys sorted at every level.
#[derive(Serialize)]
struct RegistryJson<'a> {
    #[serde(rename = "$comment")]
    comment: &'static str,
    feature_groups: &'a [featgen_registry::model::FeatureGroup],
    features: &'a [featgen_registry::model::Feature],
    teams: &'a [featgen_registry::model::Team],
    tiers: &'a [featgen_registry::model::Tier],
}

/// The resolved registry as JSON, with ids: `json/registry.json`.
pub(crate) fn registry_json(registry: &Registry) -> String {
    let json = RegistryJson {
        comment: HEADER,
        feature_groups: &registry.groups,
        features: &registry.features,
        teams: &registry.teams,
        tiers: &registry.tiers,
    };
    // Serializing plain structs with string keys cannot fail.
    serde_json::to_string_pretty(&json).unwrap_or_default()
}
