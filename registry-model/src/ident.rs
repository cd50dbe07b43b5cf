//! Identifier rules: which registry names are valid, and how a name becomes an identifier in
//! each target language.
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
    let ident = match lowercase_words(name) {
        Some(words) => words.fold(String::with_capacity(name.len()), |mut ident, word| {
            ident.push(char::from(word.as_bytes()[0].to_ascii_uppercase()));
            ident.push_str(&word[1..]);
            ident
        }),
        None => name.to_upper_camel_case(),
    };
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
    let ident = match lowercase_words(name) {
        Some(words) => {
            let mut ident = String::with_capacity(name.len());
            for word in words {
                if !ident.is_empty() {
                    ident.push('_');
                }
                ident.push_str(word);
            }
            ident.make_ascii_uppercase();
            ident
        }
        None => name.to_shouty_snake_case(),
    };
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{ident}")
    } else {
        ident
    }
}

/// The words of a name made of lowercase ASCII letters, digits, `-` and `_` (every feature, team
/// and group name), split at `-` and `_`; `None` for any other name.
///
/// For such names this is exactly how heck splits words, and doing it here is many times faster
/// than heck's general Unicode case mapping, which matters with 10,000 features. Other names
/// (tiers may be `Gold` or `HTTP`) go through heck.
fn lowercase_words(name: &str) -> Option<impl Iterator<Item = &str>> {
    name.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        .then(|| name.split(['-', '_']).filter(|word| !word.is_empty()))
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

/// Rust keywords (strict and reserved, 2024 edition): Cargo rejects them as crate names.
const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Whether `name` can name a generated Rust crate (`[package] name` in `Cargo.toml`): ASCII
/// letters, digits, `-` and `_`, starting with a letter, and not a keyword once `-` becomes `_`.
pub fn is_crate_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !RUST_KEYWORDS.contains(&name.replace('-', "_").as_str())
}

/// Lowercase kebab- or snake-case: `text-in-voice`, `text_in_voice`.
pub(crate) fn is_lower_name(name: &str) -> bool {
    is_word_list(name, |c| c.is_ascii_lowercase())
}

/// Tier names may also use uppercase (`S`, `Gold`).
pub(crate) fn is_tier_name(name: &str) -> bool {
    is_word_list(name, |c| c.is_ascii_alphabetic())
}

/// Words of letters and digits, the first starting with a letter, separated by single `-` or
/// `_`.
fn is_word_list(name: &str, letter: fn(char) -> bool) -> bool {
    name.starts_with(letter)
        && name
            .split(['-', '_'])
            .all(|word| !word.is_empty() && word.chars().all(|c| letter(c) || c.is_ascii_digit()))
}

/// A valid name close to `name`, for the fix hint.
pub(crate) fn suggest_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out
        .trim_end_matches('-')
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .to_owned();
    if out.is_empty() {
        "my-feature".to_owned()
    } else {
        out
    }
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
    fn the_lowercase_fast_path_agrees_with_heck() {
        // Every name of up to four characters over an alphabet with all the character classes
        // the fast path handles: letters, digits and both separators, in any position.
        let alphabet = ['a', 'z', '0', '9', '-', '_'];
        let mut names = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = names
                .iter()
                .flat_map(|name| alphabet.iter().map(move |c| format!("{name}{c}")))
                .collect();
            names.extend(longer);
        }
        names
            .extend(["text-in-voice", "v2-api", "a1b2-c3", "3d", "self", "x__y"].map(String::from));
        for name in &names {
            let camel = name.to_upper_camel_case();
            let expected_rust = if camel == "Self" {
                "Self_".to_owned()
            } else if camel.starts_with(|c: char| c.is_ascii_digit()) {
                format!("_{camel}")
            } else {
                camel
            };
            assert_eq!(rust_variant(name), expected_rust, "{name:?}");
            let shouty = name.to_shouty_snake_case();
            let expected_py = if shouty.starts_with(|c: char| c.is_ascii_digit()) {
                format!("_{shouty}")
            } else {
                shouty
            };
            assert_eq!(python_member(name), expected_py, "{name:?}");
        }
    }

    #[test]
    fn python_package_names() {
        assert!(is_python_package_name("features"));
        assert!(is_python_package_name("acme_features2"));
        assert!(!is_python_package_name("match"));
        assert!(!is_python_package_name("my-features"));
        assert!(!is_python_package_name("2features"));
    }

    #[test]
    fn crate_names() {
        assert!(is_crate_name("featgen-features"));
        assert!(is_crate_name("acme_features2"));
        assert!(!is_crate_name("type"));
        assert!(!is_crate_name("2features"));
        assert!(!is_crate_name("my features"));
        assert!(!is_crate_name(""));
    }

    #[test]
    fn name_rules() {
        for ok in [
            "messaging",
            "text-in-voice",
            "text_in_voice",
            "v2-api",
            "type",
        ] {
            assert!(is_lower_name(ok), "{ok}");
        }
        for bad in [
            "Messaging",
            "text--voice",
            "-a",
            "a-",
            "2fa",
            "text in voice",
            "",
            "émoji",
        ] {
            assert!(!is_lower_name(bad), "{bad}");
        }
        assert!(is_tier_name("S") && is_tier_name("gold-plus") && !is_tier_name("1"));
        assert_eq!(suggest_name("Text In Voice"), "text-in-voice");
    }
}
