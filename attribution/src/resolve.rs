//! Feature names and ids from profile labels to the registry's current names, ids, groups,
//! teams and tiers.
//!
//! The only module that uses the registry model (`featgen-codegen` without its templates), so
//! that moving the model to its own crate changes this file alone.
//!
//! A label set resolves, in this order:
//! 1. by its `feature_id` label, when a current feature has that id (ids survive renames);
//! 2. by its `feature` name, when a current feature has that name;
//! 3. by a current feature's `renamed_from`, when the name is an old one;
//! 4. by the lock, when the name is retired there: its id, no group, team or tier;
//! 5. else the name is unknown: it keeps its name with id [`UNATTRIBUTED_ID`].

use std::collections::HashMap;
use std::path::Path;

use featgen_registry::lock::Lock;
use featgen_registry::{Code, Loaded, SourceCache};

use crate::row::UNATTRIBUTED_ID;

/// A feature as rows name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The current name (or the label's name when unknown or retired).
    pub feature: String,
    /// Stable id, [`UNATTRIBUTED_ID`] when unknown.
    pub feature_id: i64,
    /// The feature's group, when current.
    pub feature_group: Option<String>,
    /// The owning team, when current.
    pub team: Option<String>,
    /// The tier, when current.
    pub tier: Option<String>,
    /// Whether the registry or its lock knows the feature.
    pub known: bool,
}

/// Why the registry could not be loaded.
#[derive(Clone, Debug)]
pub struct RegistryError {
    /// The diagnostics, rendered as `featgen validate` prints them.
    pub message: String,
    /// True when the registry is invalid; false when it could not be read (I/O).
    pub invalid: bool,
}

/// Resolves feature labels through a registry and its `featgen.lock`.
#[derive(Debug, Default)]
pub struct Resolver {
    by_id: HashMap<i64, Resolved>,
    by_name: HashMap<String, Resolved>,
    lock: Lock,
}

impl Resolver {
    /// A resolver that knows no feature: every name is unknown.
    pub fn empty() -> Resolver {
        Resolver::default()
    }

    /// Loads the registry file or directory at `path` with the `featgen.lock` beside it.
    pub fn load(path: &Path) -> Result<Resolver, RegistryError> {
        let loaded = Loaded::load(path).map_err(|diagnostics| RegistryError {
            message: diagnostics.render_human(&mut SourceCache::new()),
            invalid: !diagnostics.0.iter().any(|d| d.code == Code::Io),
        })?;
        Ok(Resolver::from_registry(&loaded))
    }

    fn from_registry(Loaded { registry, lock, .. }: &Loaded) -> Resolver {
        let mut resolver = Resolver {
            lock: lock.clone(),
            ..Resolver::default()
        };
        for feature in &registry.features {
            let resolved = Resolved {
                feature: feature.name.clone(),
                feature_id: i64::from(feature.id),
                feature_group: Some(feature.group.clone()),
                team: Some(feature.team.clone()),
                tier: Some(feature.tier.clone()),
                known: true,
            };
            resolver.by_id.insert(resolved.feature_id, resolved.clone());
            resolver
                .by_name
                .insert(feature.name.clone(), resolved.clone());
        }
        // Old names after current ones, so that a current name always wins.
        for feature in &registry.features {
            if let Some(old) = &feature.renamed_from {
                let current = resolver.by_name[&feature.name].clone();
                resolver.by_name.entry(old.clone()).or_insert(current);
            }
        }
        resolver
    }

    /// Resolves a feature label and its optional `feature_id` label.
    pub fn resolve(&self, name: &str, id: Option<i64>) -> Resolved {
        if let Some(found) = id.and_then(|id| self.by_id.get(&id)) {
            return found.clone();
        }
        if let Some(found) = self.by_name.get(name) {
            return found.clone();
        }
        let retired = self.lock.features.get(name);
        Resolved {
            feature: name.to_owned(),
            feature_id: retired.map_or(UNATTRIBUTED_ID, |entry| i64::from(entry.id)),
            feature_group: None,
            team: None,
            tier: None,
            known: retired.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(dir: &Path) -> Resolver {
        std::fs::write(
            dir.join("features.yaml"),
            "- feature: messaging\n  team: msgs-team\n  tier: S\n  feature_group: chat\n\
             - feature: voice-calls\n  renamed_from: calls\n  team: voice-team\n  tier: A\n  feature_group: voice\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("featgen.lock"),
            "version = 1\n\n[features]\nmessaging = 1\ncalls = 2\ngone = { id = 3, retired = true }\n",
        )
        .unwrap();
        Resolver::load(dir).unwrap_or_else(|err| panic!("{}", err.message))
    }

    #[test]
    fn resolves_by_id_name_old_name_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let resolver = registry(dir.path());
        let messaging = resolver.resolve("messaging", None);
        assert_eq!(
            (
                messaging.feature_id,
                messaging.team.as_deref(),
                messaging.known
            ),
            (1, Some("msgs-team"), true)
        );
        // The old name and the id both give the current feature, which kept the old id.
        let renamed = resolver.resolve("calls", None);
        assert_eq!(
            (renamed.feature.as_str(), renamed.feature_id),
            ("voice-calls", 2)
        );
        assert_eq!(resolver.resolve("whatever-it-was-called", Some(2)), renamed);
        // Retired in the lock: its id, nothing else.
        let gone = resolver.resolve("gone", None);
        assert_eq!(
            (
                gone.feature.as_str(),
                gone.feature_id,
                gone.known,
                gone.team
            ),
            ("gone", 3, true, None)
        );
        // Unknown: keeps its name, id -1.
        let unknown = resolver.resolve("mystery", Some(99));
        assert_eq!(
            (unknown.feature.as_str(), unknown.feature_id, unknown.known),
            ("mystery", -1, false)
        );
    }

    #[test]
    fn a_missing_registry_is_an_io_error() {
        let err = Resolver::load(Path::new("/nonexistent/registry")).unwrap_err();
        assert!(!err.invalid, "{}", err.message);
    }
}
