//! The registry as the linter sees it: which names code may use for a feature.
//!
//! Built from the registry model of `featgen-registry` so that identifiers are derived exactly as
//! the generated code derives them (Rust `Feature::TextInVoice`, Python `Feature.TEXT_IN_VOICE`).

use std::collections::HashMap;

use featgen_registry::Registry;
use featgen_registry::diagnostic::{Suggester, did_you_mean};
use featgen_registry::ident::{python_member, rust_variant};

use crate::finding::Location;

/// A feature of the registry with the identifiers generated code gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownFeature {
    /// The YAML name (`text-in-voice`).
    pub name: String,
    /// The generated Rust enum variant (`TextInVoice`).
    pub rust_variant: String,
    /// The generated Python enum member (`TEXT_IN_VOICE`).
    pub python_member: String,
    /// Owning team.
    pub team: String,
    /// Tier.
    pub tier: String,
    /// Feature group.
    pub group: String,
    /// Set when the feature is deprecated.
    pub deprecated: Option<Deprecated>,
    /// Where the registry defines it (`unused-feature` points there).
    pub defined_at: Option<Location>,
}

/// Why a feature is deprecated and what replaces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deprecated {
    /// The registry's reason.
    pub reason: String,
    /// The YAML name of the replacement feature, if any.
    pub renamed_to: Option<String>,
}

/// The language whose identifiers a lookup uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    /// Rust: `Feature::UpperCamel` variants.
    Rust,
    /// Python: `Feature.UPPER_SNAKE` members.
    Python,
}

/// The set of registry features, indexed by the identifiers code uses for them.
#[derive(Clone, Debug, Default)]
pub struct KnownFeatures {
    features: Vec<KnownFeature>,
    by_variant: HashMap<String, usize>,
    by_member: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
    /// The identifiers folded for comparison ([`fold`]), Rust then Python, in registry order.
    folded: [Vec<String>; 2],
    /// The first feature of each folded identifier, Rust then Python.
    by_folded: [HashMap<String, usize>; 2],
}

/// An identifier as "did you mean" compares it: lowercase, `_` and `-` ignored (so
/// `TEXT_IN_VOICE` written in Rust suggests `TextInVoice`).
fn fold(ident: &str) -> String {
    ident
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Position of `language` in the per-language arrays.
fn slot(language: Language) -> usize {
    match language {
        Language::Rust => 0,
        Language::Python => 1,
    }
}

impl KnownFeatures {
    /// The features of a loaded registry, with the identifiers the generators give them.
    pub fn from_registry(registry: &Registry) -> Self {
        KnownFeatures::new(
            registry
                .features
                .iter()
                .map(|f| KnownFeature {
                    name: f.name.clone(),
                    rust_variant: rust_variant(&f.name),
                    python_member: python_member(&f.name),
                    team: f.team.clone(),
                    tier: f.tier.clone(),
                    group: f.group.clone(),
                    deprecated: f.deprecated.as_ref().map(|d| Deprecated {
                        reason: d.reason.clone(),
                        renamed_to: d.renamed_to.clone(),
                    }),
                    defined_at: Some(Location {
                        path: crate::finding::display(&f.origin.file),
                        line: f.origin.line,
                        column: f.origin.column,
                    }),
                })
                .collect(),
        )
    }

    /// Indexes `features` (in registry order, which is the order of `unused-feature` findings).
    pub fn new(features: Vec<KnownFeature>) -> Self {
        let index = |key: fn(&KnownFeature) -> &str| {
            features
                .iter()
                .enumerate()
                .map(|(i, f)| (key(f).to_owned(), i))
                .collect::<HashMap<_, _>>()
        };
        let folded = [Language::Rust, Language::Python].map(|language| {
            features
                .iter()
                .map(|f| fold(Self::ident(f, language)))
                .collect::<Vec<_>>()
        });
        let by_folded = folded.clone().map(|names| {
            let mut first = HashMap::new();
            for (i, name) in names.into_iter().enumerate() {
                first.entry(name).or_insert(i);
            }
            first
        });
        KnownFeatures {
            by_variant: index(|f| &f.rust_variant),
            by_member: index(|f| &f.python_member),
            by_name: index(|f| &f.name),
            features,
            folded,
            by_folded,
        }
    }

    /// Every feature, in registry order.
    pub fn all(&self) -> &[KnownFeature] {
        &self.features
    }

    /// The index (into [`KnownFeatures::all`]) of the feature code names `ident` in `language`.
    pub fn lookup(&self, language: Language, ident: &str) -> Option<usize> {
        match language {
            Language::Rust => self.by_variant.get(ident).copied(),
            Language::Python => self.by_member.get(ident).copied(),
        }
    }

    /// The feature with YAML name `name`.
    pub fn by_name(&self, name: &str) -> Option<&KnownFeature> {
        self.by_name.get(name).map(|&i| &self.features[i])
    }

    /// The identifier of `feature` in `language`.
    pub fn ident(feature: &KnownFeature, language: Language) -> &str {
        match language {
            Language::Rust => &feature.rust_variant,
            Language::Python => &feature.python_member,
        }
    }

    /// The closest identifier to a misspelt `ident` in `language`, for "did you mean".
    ///
    /// Compares case-insensitively with `_`/`-` ignored (so `TEXT_IN_VOICE` written in Rust
    /// suggests `TextInVoice`), with the registry loader's own similarity measure. For many
    /// misspellings, [`Suggestions`] bounds the total work.
    pub fn suggest(&self, language: Language, ident: &str) -> Option<&str> {
        let folded = &self.folded[slot(language)];
        let best = did_you_mean(&fold(ident), folded.iter().map(String::as_str))?;
        self.unfold(language, best)
    }

    /// The identifier whose folded form is `folded`.
    fn unfold(&self, language: Language, folded: &str) -> Option<&str> {
        let index = *self.by_folded[slot(language)].get(folded)?;
        Some(Self::ident(&self.features[index], language))
    }
}

/// "Did you mean" for every unknown identifier of a lint run, in bounded time: the registry
/// loader's [`Suggester`] over each language's folded identifiers (each distinct misspelling
/// compared once, and no more suggestions past its budget of comparisons), so that thousands of
/// unknown names among thousands of features cost milliseconds, not minutes.
pub(crate) struct Suggestions<'a> {
    known: &'a KnownFeatures,
    /// Rust, then Python.
    suggesters: [Suggester<'a>; 2],
}

impl<'a> Suggestions<'a> {
    /// Suggestions among the features of `known`.
    pub fn new(known: &'a KnownFeatures) -> Self {
        let suggesters = [0, 1].map(|i| Suggester::new(known.folded[i].iter().map(String::as_str)));
        Suggestions { known, suggesters }
    }

    /// As [`KnownFeatures::suggest`] while the budget lasts; `None` after.
    pub fn suggest(&mut self, language: Language, ident: &str) -> Option<&'a str> {
        let best = self.suggesters[slot(language)].suggest(&fold(ident))?;
        self.known.unfold(language, best)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small registry for unit tests: `messaging`, `text-in-voice`, deprecated `gift-links`
    /// renamed to `gift-cards`.
    pub(crate) fn sample() -> KnownFeatures {
        let feature = |name: &str, variant: &str, member: &str| KnownFeature {
            name: name.to_owned(),
            rust_variant: variant.to_owned(),
            python_member: member.to_owned(),
            team: "msgs-team".to_owned(),
            tier: "S".to_owned(),
            group: "chat".to_owned(),
            deprecated: None,
            defined_at: None,
        };
        let mut gift_links = feature("gift-links", "GiftLinks", "GIFT_LINKS");
        gift_links.deprecated = Some(Deprecated {
            reason: "Gift links are replaced by gift cards.".to_owned(),
            renamed_to: Some("gift-cards".to_owned()),
        });
        KnownFeatures::new(vec![
            feature("messaging", "Messaging", "MESSAGING"),
            feature("text-in-voice", "TextInVoice", "TEXT_IN_VOICE"),
            feature("gift-cards", "GiftCards", "GIFT_CARDS"),
            gift_links,
        ])
    }

    #[test]
    fn suggests_close_identifiers_in_the_right_language() {
        let known = sample();
        assert_eq!(known.suggest(Language::Rust, "Mesaging"), Some("Messaging"));
        assert_eq!(
            known.suggest(Language::Rust, "TEXT_IN_VOICE"),
            Some("TextInVoice")
        );
        assert_eq!(
            known.suggest(Language::Python, "TextInVoice"),
            Some("TEXT_IN_VOICE")
        );
        assert_eq!(known.suggest(Language::Rust, "Billing"), None);
    }

    #[test]
    fn suggestions_answer_like_suggest_then_stop_within_a_budget() {
        let known = sample();
        let mut suggestions = Suggestions::new(&known);
        for (language, ident) in [
            (Language::Rust, "Mesaging"),
            (Language::Rust, "TEXT_IN_VOICE"),
            (Language::Python, "TextInVoice"),
            (Language::Rust, "Billing"),
        ] {
            assert_eq!(
                suggestions.suggest(language, ident),
                known.suggest(language, ident)
            );
        }

        // The case at a larger size: every unknown name against every declared one
        // would be 400 million comparisons (minutes); the budget stops after a few hundred
        // thousand, and the run ends in well under a second (measured: see the report).
        let many = KnownFeatures::new(
            (0..20_000)
                .map(|i| {
                    let mut feature = sample().all()[0].clone();
                    feature.name = format!("feature-{i}");
                    feature.rust_variant = format!("Feature{i}");
                    feature.python_member = format!("FEATURE_{i}");
                    feature
                })
                .collect(),
        );
        let mut suggestions = Suggestions::new(&many);
        let answered = (0..20_000)
            .filter(|i| {
                suggestions
                    .suggest(Language::Rust, &format!("Featur{i}"))
                    .is_some()
            })
            .count();
        assert_eq!(
            answered, 15,
            "300,000 comparisons answer 15 misspellings of 20,000"
        );
        assert_eq!(
            Suggestions::new(&many).suggest(Language::Rust, "Featur7"),
            Some("Feature7")
        );
    }

    #[test]
    fn looks_up_by_language() {
        let known = sample();
        assert_eq!(known.lookup(Language::Rust, "TextInVoice"), Some(1));
        assert_eq!(known.lookup(Language::Python, "TextInVoice"), None);
        assert_eq!(known.lookup(Language::Python, "GIFT_LINKS"), Some(3));
    }
}
