//! The registry both `featgen build` benchmarks build: 10,000 features, 200 teams and 50
//! groups, one file per team as large registries are laid out, declarations in `_org.yaml`.
//! Shared by `codegen/benches/build.rs` (the library) and `cli/benches/build.rs` (the binary).

use std::fmt::Write as _;
use std::path::Path;

/// Features in the registry.
const FEATURES: usize = 10_000;
/// Teams, one file each.
const TEAMS: usize = 200;
/// Feature groups.
const GROUPS: usize = 50;

/// Writes the registry's YAML files into `dir`.
pub fn write_registry(dir: &Path) {
    let mut org = String::from("teams:\n");
    for t in 0..TEAMS {
        let _ = writeln!(
            org,
            "  - name: team-{t}\n    description: Team number {t}.\n    slack: \"#team-{t}\""
        );
    }
    org.push_str("feature_groups:\n");
    for g in 0..GROUPS {
        let _ = writeln!(org, "  - name: group-{g}");
    }
    std::fs::write(dir.join("_org.yaml"), org).unwrap();
    let tiers = ["S", "A", "B", "C", "D", "E"];
    for t in 0..TEAMS {
        let mut file = String::from("features:\n");
        for f in (t..FEATURES).step_by(TEAMS) {
            let _ = writeln!(
                file,
                "  - feature: feature-{f}\n    team: team-{t}\n    tier: {}\n    feature_group: group-{}\n    description: \"Feature {f}: it's \\\"quoted\\\" -- and long enough to be realistic.\"",
                tiers[f % tiers.len()],
                f % GROUPS
            );
        }
        std::fs::write(dir.join(format!("team-{t}.yaml")), file).unwrap();
    }
}
