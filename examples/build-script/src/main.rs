//! Prints the registry compiled in by `build.rs`: the generated enums work exactly like the
//! checked-in `featgen-features` crate, without generated files in version control.

#![forbid(unsafe_code)]

/// The enums generated into `OUT_DIR` by `build.rs`.
// A binary uses only part of the generated API; the rest is not dead, just unused here.
#[allow(dead_code)]
mod features {
    include!(concat!(env!("OUT_DIR"), "/rust/features.rs"));
}

use features::Feature;

fn main() {
    for feature in Feature::ALL {
        println!(
            "{:>3} {:<22} team={:<19} tier={} group={}",
            feature.id(),
            feature.name(),
            feature.team(),
            feature.tier(),
            feature.group()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::features::{Feature, Team, Tier};

    #[test]
    fn generated_enums_match_the_registry() {
        let messaging: Feature = "messaging".parse().unwrap();
        assert_eq!(messaging, Feature::Messaging);
        assert_eq!(messaging.team(), Team::MsgsTeam);
        assert_eq!(messaging.tier(), Tier::S);
        assert_eq!(Feature::from_id(messaging.id()), Some(messaging));
        assert!("no-such-feature".parse::<Feature>().is_err());
    }
}
