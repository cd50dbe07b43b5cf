//! The validated registry: features, teams, feature groups and tiers, each with its stable id.
//!
//! A `Registry` only exists once every check has passed, so the targets and the linter can rely
//! on its invariants: names are unique and valid, every reference resolves, ids are assigned.

use std::path::PathBuf;

use serde::Serialize;

// Serialized fields are in alphabetical order: `json/registry.json` serializes these structs as
// they are, and its keys are sorted so the file reads (and diffs) like a normalized document.

/// Where an entry was defined, for diagnostics that point back at the YAML.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The registry file.
    pub file: PathBuf,
    /// 1-based line of the entry's name.
    pub line: u32,
    /// 1-based column of the entry's name.
    pub column: u32,
}

/// A product feature: the unit that CPU time and cost are attributed to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Feature {
    /// Set when the feature should no longer be used.
    pub deprecated: Option<Deprecation>,
    /// Free text; escaped for every target.
    pub description: Option<String>,
    /// Feature group's name.
    pub group: String,
    /// Stable id from `featgen.lock`.
    pub id: u32,
    /// The YAML name (`text-in-voice`).
    pub name: String,
    /// The name this feature had before; it keeps that name's id.
    pub renamed_from: Option<String>,
    /// Owning team's name.
    pub team: String,
    /// Tier's name.
    pub tier: String,
    /// Where it is defined.
    #[serde(skip)]
    pub origin: Origin,
}

/// Why a feature is deprecated and what replaces it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deprecation {
    /// Human explanation.
    pub reason: String,
    /// The feature to use instead (validated to exist).
    pub renamed_to: Option<String>,
}

/// A team that owns features.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Team {
    /// Free text.
    pub description: Option<String>,
    /// Stable id from `featgen.lock`.
    pub id: u32,
    /// The YAML name (`msgs-team`).
    pub name: String,
    /// On-call rotation.
    pub oncall: Option<String>,
    /// Chat channel (`#team-messages`).
    pub slack: Option<String>,
}

/// A group of related features (`chat`, `voice`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeatureGroup {
    /// Free text.
    pub description: Option<String>,
    /// Stable id from `featgen.lock`.
    pub id: u32,
    /// The YAML name.
    pub name: String,
}

/// A criticality tier; `rank` 0 is the most critical.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tier {
    /// Free text.
    pub description: Option<String>,
    /// Stable id from `featgen.lock`.
    pub id: u32,
    /// The YAML name (`S`).
    pub name: String,
    /// Position in the declared order, most critical first.
    pub rank: u32,
}

/// The tiers used when a registry declares none, most critical first.
pub const DEFAULT_TIERS: [&str; 6] = ["S", "A", "B", "C", "D", "E"];

/// A loaded, validated registry with stable ids. Entries are sorted by name (tiers by rank),
/// so output does not depend on how the YAML is split into files or ordered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Registry {
    /// Every feature, sorted by name.
    pub features: Vec<Feature>,
    /// Every team, sorted by name.
    pub teams: Vec<Team>,
    /// Every feature group, sorted by name.
    pub groups: Vec<FeatureGroup>,
    /// Every tier, most critical first.
    pub tiers: Vec<Tier>,
}

impl Registry {
    /// The feature named `name`.
    pub fn feature(&self, name: &str) -> Option<&Feature> {
        self.features.iter().find(|f| f.name == name)
    }

    /// The team named `name`.
    pub fn team(&self, name: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.name == name)
    }

    /// The feature group named `name`.
    pub fn group(&self, name: &str) -> Option<&FeatureGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The tier named `name`.
    pub fn tier(&self, name: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.name == name)
    }
}
