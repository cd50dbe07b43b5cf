//! Identifier rules: how a registry name becomes an identifier in each target language.
//!
//! Every target converts names here, and only here, so that the collision check in the loader
//! and the templates can never disagree. Names are already validated as lowercase kebab- or
//! snake-case ASCII (tiers may use uppercase), so the conversions only have to deal with case
//! folding and keywords.

use heck::{ToShoutySnakeCase, ToUpperCamelCase};

/// The Rust enum variant for a registry name: `text-in-voice` → `TextInVoice`.
///
/// `Self` is the only UpperCamelCase word that is a Rust keyword and cannot be a raw
/// identifier, so it gets a trailing underscore (the prost-build convention).
pub fn rust_variant(name: &str) -> String {
    let ident = name.to_upper_camel_case();
    match ident.as_str() {
        "Self" => "Self_".to_owned(),
        _ if ident.starts_with(|c: char| c.is_ascii_digit()) => format!("_{ident}"),
        _ => ident,
    }
}

/// The Python enum member for a registry name: `text-in-voice` → `TEXT_IN_VOICE`.
///
/// Upper-case names never clash with Python keywords (`True`, `False` and `None` are the only
/// capitalised ones, and they are not all-caps); a leading digit gets an underscore.
pub fn python_member(name: &str) -> String {
    let ident = name.to_shouty_snake_case();
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{ident}")
    } else {
        ident
    }
}

/// Python keywords and soft keywords, which cannot (or should not) name a module.
const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "case", "class",
    "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if",
    "import", "in", "is", "lambda", "match", "nonlocal", "not", "or", "pass", "raise", "return",
    "try", "type", "while", "with", "yield", "_",
];

/// Whether `name` can be used as a Python package name (`import name`).
pub fn is_python_package_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !PYTHON_KEYWORDS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_variants() {
        assert_eq!(rust_variant("text-in-voice"), "TextInVoice");
        assert_eq!(rust_variant("text_in_voice"), "TextInVoice");
        assert_eq!(rust_variant("type"), "Type");
        assert_eq!(rust_variant("self"), "Self_");
        assert_eq!(rust_variant("S"), "S");
        assert_eq!(rust_variant("v2-api"), "V2Api");
        assert_eq!(rust_variant("3d"), "_3d");
    }

    #[test]
    fn python_members() {
        assert_eq!(python_member("text-in-voice"), "TEXT_IN_VOICE");
        assert_eq!(python_member("match"), "MATCH");
        assert_eq!(python_member("none"), "NONE");
        assert_eq!(python_member("S"), "S");
    }

    #[test]
    fn python_package_names() {
        assert!(is_python_package_name("features"));
        assert!(is_python_package_name("acme_features2"));
        assert!(!is_python_package_name("match"));
        assert!(!is_python_package_name("my-features"));
        assert!(!is_python_package_name("2features"));
    }
}
