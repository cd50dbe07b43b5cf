//! The validated entries as a [`Registry`]: ids from the lock (new names get new ids, removed
//! ones are retired), entries in name order, the model's types filled in.

use foldhash::HashSet;

use crate::decode::Decoded;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::lock::{LOCK_FILE, Lock, Section, Wanted};
use crate::model::{
    DEFAULT_TIERS, Deprecation, Feature, FeatureGroup, Origin, Registry, Team, Tier,
};
use crate::raw::{DeclKind, RawDecl, RawFeature, Str};

/// Assembles the registry from `decoded`, which passed validation: ids from `lock` (assigned
/// in YAML order for new names), entries sorted by name and tiers by rank. Returns the lock
/// with the ids of this registry.
pub(crate) fn assemble(decoded: Decoded, mut lock: Lock) -> Result<(Registry, Lock), Diagnostics> {
    let raw = decoded.features;
    let wanted: Vec<Wanted<'_>> = raw
        .iter()
        .map(|f| Wanted {
            name: &f.name.text,
            renamed_from: f.renamed_from.as_ref().map(|s| s.text.as_str()),
        })
        .collect();
    lock.features
        .assign(&wanted)
        .map_err(|highest| id_space_exhausted("features", highest))?;
    let teams = entries(decoded.teams.as_deref(), DeclKind::Team, &raw);
    let groups = entries(decoded.groups.as_deref(), DeclKind::Group, &raw);
    let tiers = entries(decoded.tiers.as_deref(), DeclKind::Tier, &raw);
    for (name, section, entries) in [
        ("teams", &mut lock.teams, &teams),
        ("feature_groups", &mut lock.feature_groups, &groups),
        ("tiers", &mut lock.tiers, &tiers),
    ] {
        let wanted: Vec<Wanted<'_>> = entries
            .iter()
            .map(|(n, _)| Wanted {
                name: n,
                renamed_from: None,
            })
            .collect();
        section
            .assign(&wanted)
            .map_err(|highest| id_space_exhausted(name, highest))?;
    }
    let text = |s: Option<&Str>| s.map(|s| s.text.clone());
    let id = |section: &Section, name: &str| section.get(name).map_or(0, |e| e.id);
    // Sorted by moving each feature's strings once, in name order, rather than sorting
    // the large structs; names are unique, so the unstable sort is deterministic.
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_unstable_by(|&a, &b| raw[a].name.text.cmp(&raw[b].name.text));
    let mut raw: Vec<Option<RawFeature>> = raw.into_iter().map(Some).collect();
    let features: Vec<Feature> = order
        .into_iter()
        .filter_map(|index| raw[index].take())
        .map(|f| Feature {
            id: id(&lock.features, &f.name.text),
            origin: Origin {
                file: decoded.files[f.name.at.file].clone(),
                line: f.name.at.line,
                column: f.name.at.column,
            },
            name: f.name.text,
            team: f.team.text,
            tier: f.tier.text,
            group: f.group.text,
            description: f.description.map(|d| d.text),
            deprecated: f.deprecated.map(|d| Deprecation {
                reason: d.reason.text,
                renamed_to: d.renamed_to.map(|r| r.text),
            }),
            renamed_from: f.renamed_from.map(|r| r.text),
        })
        .collect();
    let mut teams: Vec<Team> = teams
        .iter()
        .map(|(name, d)| Team {
            name: name.clone(),
            id: id(&lock.teams, name),
            description: d.and_then(|d| text(d.description.as_ref())),
            slack: d.and_then(|d| text(d.slack.as_ref())),
            oncall: d.and_then(|d| text(d.oncall.as_ref())),
        })
        .collect();
    teams.sort_by(|a, b| a.name.cmp(&b.name));
    let mut groups: Vec<FeatureGroup> = groups
        .iter()
        .map(|(name, d)| FeatureGroup {
            name: name.clone(),
            id: id(&lock.feature_groups, name),
            description: d.and_then(|d| text(d.description.as_ref())),
        })
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    let tiers: Vec<Tier> = tiers
        .iter()
        .enumerate()
        .map(|(rank, (name, d))| Tier {
            name: name.clone(),
            id: id(&lock.tiers, name),
            rank: u32::try_from(rank).unwrap_or(u32::MAX),
            description: d.and_then(|d| text(d.description.as_ref())),
        })
        .collect();
    let registry = Registry {
        features,
        teams,
        groups,
        tiers,
    };
    Ok((registry, lock))
}

/// New names of `section` need ids above `u32::MAX`: ids are never reused or wrapped.
fn id_space_exhausted(section: &str, highest: u32) -> Diagnostics {
    let message = format!(
        "{LOCK_FILE} has no `{section}` id left for the new names: {highest} is taken and ids \
         are 32-bit"
    );
    let help = "featgen build never assigns ids this high: restore featgen.lock from version \
                control";
    Diagnostics(vec![
        Diagnostic::error(Code::InvalidLock, message).help(help),
    ])
}

/// The declared entries of a kind, or (undeclared) the default tiers or the names the features
/// use, in order of first use.
fn entries<'a>(
    declared: Option<&'a [RawDecl]>,
    kind: DeclKind,
    features: &[RawFeature],
) -> Vec<(String, Option<&'a RawDecl>)> {
    match declared {
        Some(decls) => decls
            .iter()
            .map(|d| (d.name.text.clone(), Some(d)))
            .collect(),
        None if kind == DeclKind::Tier => DEFAULT_TIERS
            .iter()
            .map(|t| (t.to_string(), None))
            .collect(),
        None => {
            let mut seen = HashSet::default();
            let mut names: Vec<(String, Option<&RawDecl>)> = Vec::new();
            for feature in features {
                let name = &feature.reference(kind).text;
                if seen.insert(name) {
                    names.push((name.clone(), None));
                }
            }
            names
        }
    }
}
