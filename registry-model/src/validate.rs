//! The checks across entries, once every file is decoded: names valid, unique and distinct as
//! identifiers in every target; references to declared teams, feature groups and tiers; renames
//! that name real features. Every problem is a diagnostic; none stops the others.

use std::path::{Path, PathBuf};

use foldhash::{HashMap, HashMapExt as _, HashSet};

use crate::decode::Decoded;
use crate::diagnostic::{Code, Diagnostic, Label, Suggester, did_you_mean};
use crate::ident;
use crate::lock::Section;
use crate::model::DEFAULT_TIERS;
use crate::raw::{DeclKind, Pos, RawFeature, Str};

/// Every problem across the entries of `decoded` (the registry at `path`), with `locked` the
/// feature ids of the lock for the renames. The order is fixed: an empty registry, feature
/// names, declarations and references, renames.
pub(crate) fn validate(path: &Path, decoded: &Decoded, locked: &Section) -> Vec<Diagnostic> {
    let mut checker = Checker {
        files: &decoded.files,
        diagnostics: Vec::new(),
    };
    if decoded.features.is_empty() && decoded.diagnostics.is_empty() {
        checker.diagnostics.push(empty_registry(path));
    }
    // The feature names (the bulk of the checks) are checked on another thread while the
    // declarations are checked here; their diagnostics still come first.
    let first_declaration_diagnostic = checker.diagnostics.len();
    let feature_diagnostics = std::thread::scope(|scope| {
        let names = scope.spawn(|| {
            let names: Vec<&Str> = decoded.features.iter().map(|f| &f.name).collect();
            name_diagnostics(&decoded.files, "feature", &names, ident::is_lower_name)
        });
        checker.check_declarations(decoded);
        names.join()
    });
    match feature_diagnostics {
        Ok(diagnostics) => {
            let at = first_declaration_diagnostic;
            checker.diagnostics.splice(at..at, diagnostics);
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
    checker.check_renames(&decoded.features, locked);
    checker.diagnostics
}

/// The registry at `path` has no features (and nothing else is wrong with it).
fn empty_registry(path: &Path) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        Code::EmptyRegistry,
        format!("the registry {} has no features", path.display()),
    )
    .help("add a feature: `- feature: my-feature` with `team`, `tier` and `feature_group`");
    if path.is_file() {
        diagnostic.at(Label::new(path, 1, 1, 0))
    } else {
        diagnostic
    }
}

/// The diagnostics found so far, and the files their positions point into.
struct Checker<'a> {
    files: &'a [PathBuf],
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn label(&self, at: Pos) -> Label {
        at.label(self.files)
    }

    fn error(&mut self, code: Code, message: String, at: Pos, help: Option<String>) {
        let mut diagnostic = Diagnostic::error(code, message).at(self.label(at));
        diagnostic.help = help;
        self.diagnostics.push(diagnostic);
    }

    /// Checks teams, feature groups and tiers: declared ones, or those the features name.
    fn check_declarations(&mut self, decoded: &Decoded) {
        for kind in [DeclKind::Team, DeclKind::Group, DeclKind::Tier] {
            let valid = if kind == DeclKind::Tier {
                ident::is_tier_name
            } else {
                ident::is_lower_name
            };
            let referenced: Vec<&Str> = decoded
                .features
                .iter()
                .map(|f| f.reference(kind))
                .chain(
                    decoded
                        .partial_references
                        .iter()
                        .filter(|(k, _)| *k == kind)
                        .map(|(_, r)| r),
                )
                .collect();
            match decoded.declared(kind) {
                Some(declarations) => {
                    let names: Vec<&Str> = declarations.iter().map(|d| &d.name).collect();
                    self.check_names(kind.noun(), &names, valid);
                    self.check_references(kind, &names, &referenced);
                }
                None if kind == DeclKind::Tier => {
                    let names: Vec<String> = DEFAULT_TIERS.iter().map(|t| t.to_string()).collect();
                    self.check_default_tiers(&names, &referenced);
                }
                None => {
                    let mut seen = HashSet::default();
                    let unique: Vec<&Str> = referenced
                        .into_iter()
                        .filter(|r| seen.insert(r.text.as_str()))
                        .collect();
                    self.check_names(kind.noun(), &unique, valid);
                }
            }
        }
    }

    /// Valid, unique names whose identifiers do not collide in any target.
    fn check_names(&mut self, noun: &str, names: &[&Str], valid: fn(&str) -> bool) {
        let diagnostics = name_diagnostics(self.files, noun, names, valid);
        self.diagnostics.extend(diagnostics);
    }

    /// References to undeclared entries, with "did you mean".
    fn check_references(&mut self, kind: DeclKind, declared: &[&Str], referenced: &[&Str]) {
        let known: HashSet<&str> = declared.iter().map(|d| d.text.as_str()).collect();
        let mut suggester = Suggester::new(declared.iter().map(|d| d.text.as_str()));
        for r in referenced {
            if known.contains(r.text.as_str()) {
                continue;
            }
            let help = match suggester.suggest(&r.text) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!(
                    "declare it under `{}:` or use one of the declared names",
                    kind.key()
                ),
            };
            let message = format!("unknown {} `{}`", kind.noun(), r.text);
            let diagnostic = Diagnostic::error(unknown_code(kind), message)
                .at(self
                    .label(r.at)
                    .with_message(format!("not declared in `{}`", kind.key())))
                .help(help);
            self.diagnostics.push(diagnostic);
        }
    }

    /// References to tiers other than the default ones, when no tiers are declared.
    fn check_default_tiers(&mut self, names: &[String], referenced: &[&Str]) {
        for r in referenced {
            if names.contains(&r.text) {
                continue;
            }
            let help = match did_you_mean(&r.text, names.iter().map(String::as_str)) {
                Some(close) => format!(
                    "did you mean `{close}`? Without a `tiers:` declaration the tiers are S, A, B, C, D, E"
                ),
                None => {
                    "use one of S, A, B, C, D, E, or declare your own under `tiers:`".to_owned()
                }
            };
            let diagnostic =
                Diagnostic::error(Code::UnknownTier, format!("unknown tier `{}`", r.text))
                    .at(self.label(r.at))
                    .help(help);
            self.diagnostics.push(diagnostic);
        }
    }

    /// `renamed_to` names another feature; `renamed_from` names a feature the lock knows, that
    /// no longer exists and that no other feature takes over.
    fn check_renames(&mut self, features: &[RawFeature], locked: &Section) {
        let names: HashSet<&str> = features.iter().map(|f| f.name.text.as_str()).collect();
        let mut claimed: HashMap<&str, &Str> = HashMap::new();
        let mut suggester = Suggester::new(names.iter().copied());
        for feature in features {
            let renamed_to = feature
                .deprecated
                .as_ref()
                .and_then(|d| d.renamed_to.as_ref());
            if let Some(to) = renamed_to
                && (to.text == feature.name.text || !names.contains(&to.text.as_str()))
            {
                {
                    let help = match suggester.suggest(&to.text) {
                        Some(close) if close != feature.name.text => {
                            format!("did you mean `{close}`?")
                        }
                        _ => "name the feature that replaces this one".to_owned(),
                    };
                    let message = format!(
                        "`renamed_to` names `{}`, which is not another feature of the registry",
                        to.text
                    );
                    self.error(Code::UnknownRenameTarget, message, to.at, Some(help));
                }
            }
            let Some(from) = &feature.renamed_from else {
                continue;
            };
            if names.contains(&from.text.as_str()) {
                let message = format!(
                    "`renamed_from: {}` names a feature that still exists",
                    from.text
                );
                let help =
                    "remove the old feature, or drop `renamed_from` if both are meant to exist"
                        .to_owned();
                self.error(Code::UnknownRenameSource, message, from.at, Some(help));
            } else if locked.get(&feature.name.text).is_none() && locked.get(&from.text).is_none() {
                let message = format!(
                    "`renamed_from: {}` names no feature known to featgen.lock",
                    from.text
                );
                let help = "`renamed_from` keeps the id of a feature that was built before; check the old name".to_owned();
                self.error(Code::UnknownRenameSource, message, from.at, Some(help));
            } else if let Some(other) = claimed.insert(&from.text, &feature.name) {
                let message = format!(
                    "`{}` is claimed by two renames (`{}` and `{}`)",
                    from.text, other.text, feature.name.text
                );
                self.error(
                    Code::UnknownRenameSource,
                    message,
                    from.at,
                    Some("only one feature can take over an id".into()),
                );
            }
        }
    }
}

/// The code of a reference to an undeclared entry of `kind`.
fn unknown_code(kind: DeclKind) -> Code {
    match kind {
        DeclKind::Team => Code::UnknownTeam,
        DeclKind::Group => Code::UnknownGroup,
        DeclKind::Tier => Code::UnknownTier,
    }
}

/// Diagnostics for names that are invalid, duplicated or collide in a target's identifiers.
/// A free function over the file list, so the loader can check features on another thread.
fn name_diagnostics(
    files: &[PathBuf],
    noun: &str,
    names: &[&Str],
    valid: fn(&str) -> bool,
) -> Vec<Diagnostic> {
    let label = |at: Pos| at.label(files);
    let mut diagnostics = Vec::new();
    let mut first: HashMap<&str, Pos> = HashMap::with_capacity(names.len());
    let mut idents: [HashMap<String, &Str>; 2] = [
        HashMap::with_capacity(names.len()),
        HashMap::with_capacity(names.len()),
    ];
    for name in names {
        if !valid(&name.text) {
            let help = if noun == "tier" {
                "a tier name is letters and digits, with `-` or `_` between words (`S`, `gold`)"
                    .to_owned()
            } else {
                format!(
                    "use lowercase kebab- or snake-case, e.g. `{}`",
                    ident::suggest_name(&name.text)
                )
            };
            diagnostics.push(
                Diagnostic::error(
                    Code::InvalidName,
                    format!("invalid {noun} name `{}`", name.text),
                )
                .at(label(name.at))
                .help(help),
            );
            continue;
        }
        if let Some(at) = first.get(name.text.as_str()) {
            let diagnostic = Diagnostic::error(
                Code::DuplicateName,
                format!("duplicate {noun} `{}`", name.text),
            )
            .at(label(name.at).with_message("defined again here"))
            .also(label(*at).with_message("first defined here"))
            .help(format!(
                "{noun} names must be unique across all registry files; rename or remove one"
            ));
            diagnostics.push(diagnostic);
            continue;
        }
        first.insert(&name.text, name.at);
        let converted = [
            ident::rust_variant(&name.text),
            ident::python_member(&name.text),
        ];
        let mut clash: Option<(&Str, Vec<String>)> = None;
        for ((target, ident), seen) in ["Rust", "Python"].iter().zip(converted).zip(&mut idents) {
            if let Some(other) = seen.get(&ident) {
                clash
                    .get_or_insert((other, Vec::new()))
                    .1
                    .push(format!("{target} `{ident}`"));
            } else {
                seen.insert(ident, name);
            }
        }
        if let Some((other, targets)) = clash {
            let message = format!(
                "{noun} `{}` collides with `{}` in generated code ({})",
                name.text,
                other.text,
                targets.join(", ")
            );
            let diagnostic = Diagnostic::error(Code::NameCollision, message)
                .at(label(name.at).with_message("this name"))
                .also(label(other.at).with_message("becomes the same identifier as this one"))
                .help("names that differ only in `-` versus `_` cannot both exist; rename one");
            diagnostics.push(diagnostic);
        }
    }
    diagnostics
}
