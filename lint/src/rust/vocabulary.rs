//! The words the recognisers look for, in one place: each recogniser of [`super::scan`] matches
//! syntax spelt with the words of its [`Vocabulary`], and pruning ([`super::prune`]) skips the
//! files and blanks the function bodies that contain none of them. Pruning reads the same lists,
//! so a word a recogniser starts to look for can never be pruned away before it is seen.

use super::scan::{actix, axum, featgen};

/// The words of one recogniser.
pub(crate) struct Vocabulary {
    /// Identifiers whose presence makes a function body (and, as text, a file) matter
    /// (`route`, `Router`, `web`).
    pub idents: &'static [&'static str],
    /// Functions that matter only when called by their bare name (`get(h)`, not `map.get(k)`)
    /// in a file that uses a web framework.
    pub calls: &'static [&'static str],
    /// Attributes that make a function an endpoint (`#[get("/x")]`): a file containing
    /// `#[name` matters, and so do these names as bare calls in framework files.
    pub attributes: &'static [&'static str],
    /// Words whose presence says that a file uses a web framework (crate and module names).
    pub framework: &'static [&'static str],
}

/// Every recogniser's vocabulary; the configured task calls add their names at run time.
pub(crate) const RECOGNISERS: [&Vocabulary; 3] =
    [&featgen::VOCABULARY, &axum::VOCABULARY, &actix::VOCABULARY];

/// The words of `field` over every recogniser, each once, in recogniser order.
pub(crate) fn all(field: fn(&Vocabulary) -> &'static [&'static str]) -> Vec<&'static str> {
    let mut words: Vec<&'static str> = Vec::new();
    for word in RECOGNISERS.iter().flat_map(|v| field(v)) {
        if !words.contains(word) {
            words.push(word);
        }
    }
    words
}
