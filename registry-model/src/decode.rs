//! Decoding YAML trees into the registry's entries: the shape of the format (which keys, which
//! types, which fields are required), checked entry by entry. Checks across entries (unique
//! names, references, renames) are [`validate`](crate::validate)'s.

use std::path::PathBuf;
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, Label, did_you_mean};
use crate::raw::{DeclKind, Pos, RawDecl, RawDeprecation, RawFeature, Str};
use crate::yaml::{Node, Value};

/// The keys of a registry file that is a mapping.
const TOP_LEVEL_KEYS: &[&str] = &["features", "teams", "feature_groups", "tiers"];
/// The keys of a feature.
const FEATURE_KEYS: &[&str] = &[
    "feature",
    "team",
    "tier",
    "feature_group",
    "description",
    "deprecated",
    "renamed_from",
];
/// The keys of a feature's `deprecated` mapping.
const DEPRECATED_KEYS: &[&str] = &["reason", "renamed_to"];

/// What decoding gave: the entries of one or more files, in file order, and the problems found
/// on the way.
pub(crate) struct Decoded {
    /// Every registry file; positions refer to them by index.
    pub(crate) files: Arc<[PathBuf]>,
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Complete features.
    pub(crate) features: Vec<RawFeature>,
    /// References made by features that were rejected as incomplete.
    pub(crate) partial_references: Vec<(DeclKind, Str)>,
    /// `None` until some file declares the kind.
    pub(crate) teams: Option<Vec<RawDecl>>,
    pub(crate) groups: Option<Vec<RawDecl>>,
    pub(crate) tiers: Option<Vec<RawDecl>>,
}

impl Decoded {
    /// Nothing decoded yet from `files`.
    pub(crate) fn new(files: Arc<[PathBuf]>) -> Decoded {
        Decoded {
            files,
            diagnostics: Vec::new(),
            features: Vec::new(),
            partial_references: Vec::new(),
            teams: None,
            groups: None,
            tiers: None,
        }
    }

    /// Appends what `other` decoded from later files.
    pub(crate) fn merge(&mut self, other: Decoded) {
        self.diagnostics.extend(other.diagnostics);
        self.features.extend(other.features);
        self.partial_references.extend(other.partial_references);
        for (mine, theirs) in [
            (&mut self.teams, other.teams),
            (&mut self.groups, other.groups),
            (&mut self.tiers, other.tiers),
        ] {
            if let Some(declarations) = theirs {
                mine.get_or_insert_with(Vec::new).extend(declarations);
            }
        }
    }

    /// The declarations of `kind`, when some file declares them.
    pub(crate) fn declared(&self, kind: DeclKind) -> Option<&Vec<RawDecl>> {
        match kind {
            DeclKind::Team => self.teams.as_ref(),
            DeclKind::Group => self.groups.as_ref(),
            DeclKind::Tier => self.tiers.as_ref(),
        }
    }

    fn label(&self, at: Pos) -> Label {
        at.label(&self.files)
    }

    fn pos(file: usize, node: &Node) -> Pos {
        Pos {
            file,
            line: node.line,
            column: node.column,
            len: node.len,
        }
    }

    fn error(&mut self, code: Code, message: String, at: Pos, help: Option<String>) {
        let mut diagnostic = Diagnostic::error(code, message).at(self.label(at));
        diagnostic.help = help;
        self.diagnostics.push(diagnostic);
    }

    /// Adds the parse result of file number `file`: its diagnostic, or its entries.
    pub(crate) fn add_file(&mut self, file: usize, parsed: Result<Node, Box<Diagnostic>>) {
        let root = match parsed {
            Ok(root) => root,
            Err(diagnostic) => {
                self.diagnostics.push(*diagnostic);
                return;
            }
        };
        let at = Decoded::pos(file, &root);
        match root.value {
            Value::Null => {}
            Value::Seq(items) => self.features_list(file, items),
            Value::Map(entries) => self.top_level(file, entries),
            other => {
                let message = format!(
                    "a registry file must be a list of features or a mapping, found {}",
                    other.kind()
                );
                self.error(
                    Code::WrongType,
                    message,
                    at,
                    Some("start with `- feature: name` or `features:`".into()),
                );
            }
        }
    }

    fn top_level(&mut self, file: usize, entries: Vec<(Node, Node)>) {
        for (key, value) in self.unique_keys(file, entries, TOP_LEVEL_KEYS, "top-level key") {
            let at = Decoded::pos(file, &value);
            match key {
                "features" => match value.value {
                    Value::Seq(items) => self.features_list(file, items),
                    Value::Null => {}
                    other => self.wrong_type(at, "`features`", "a list", &other),
                },
                "teams" => self.declarations(file, DeclKind::Team, value),
                "feature_groups" => self.declarations(file, DeclKind::Group, value),
                _ => self.declarations(file, DeclKind::Tier, value),
            }
        }
    }

    /// The entries of a mapping whose keys are strings from `allowed`, reporting unknown and
    /// duplicate keys; returns the valid (key, value) pairs in order.
    fn unique_keys(
        &mut self,
        file: usize,
        entries: Vec<(Node, Node)>,
        allowed: &[&'static str],
        what: &str,
    ) -> Vec<(&'static str, Node)> {
        // Mappings have a handful of keys: a linear scan beats hashing here.
        let mut seen: Vec<(String, Pos)> = Vec::with_capacity(entries.len());
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let at = Decoded::pos(file, &key);
            let Value::Str(name) = key.value else {
                self.wrong_type(at, "a key", "a string", &key.value);
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(seen, _)| *seen == name) {
                let diagnostic =
                    Diagnostic::error(Code::DuplicateKey, format!("duplicate key `{name}`"))
                        .at(self.label(at).with_message("duplicate"))
                        .also(self.label(*first).with_message("first defined here"))
                        .help("remove one of the two entries");
                self.diagnostics.push(diagnostic);
                continue;
            }
            let Some(&known) = allowed.iter().find(|k| **k == name) else {
                let help = match did_you_mean(&name, allowed.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("expected one of: {}", allowed.join(", ")),
                };
                self.error(
                    Code::UnknownField,
                    format!("unknown {what} `{name}`"),
                    at,
                    Some(help),
                );
                seen.push((name, at));
                continue;
            };
            seen.push((name, at));
            out.push((known, value));
        }
        out
    }

    fn wrong_type(&mut self, at: Pos, what: &str, expected: &str, found: &Value) {
        let help = match found {
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                "quote the value to make it a string".to_owned()
            }
            _ => format!("write {what} as {expected}"),
        };
        self.error(
            Code::WrongType,
            format!("{what} must be {expected}, found {}", found.kind()),
            at,
            Some(help),
        );
    }

    /// A string scalar (`None` and a diagnostic otherwise).
    fn string(&mut self, file: usize, node: Node, what: &str) -> Option<Str> {
        let at = Decoded::pos(file, &node);
        match node.value {
            Value::Str(text) => {
                if let Some(bad) = text
                    .chars()
                    .find(|c| c.is_control() && *c != '\n' && *c != '\t')
                {
                    let message = format!("{what} contains the control character {:?}", bad);
                    self.error(
                        Code::InvalidText,
                        message,
                        at,
                        Some("remove the control character".into()),
                    );
                    return None;
                }
                Some(Str { text, at })
            }
            other => {
                self.wrong_type(at, &format!("`{what}`"), "a string", &other);
                None
            }
        }
    }

    fn features_list(&mut self, file: usize, items: Vec<Node>) {
        for item in items {
            let at = Decoded::pos(file, &item);
            match item.value {
                Value::Map(entries) => {
                    if let Some(feature) = self.feature(file, at, entries) {
                        self.features.push(feature);
                    }
                }
                other => self.wrong_type(
                    at,
                    "a feature",
                    "a mapping with `feature`, `team`, `tier` and `feature_group`",
                    &other,
                ),
            }
        }
    }

    fn feature(&mut self, file: usize, at: Pos, entries: Vec<(Node, Node)>) -> Option<RawFeature> {
        let mut fields: Vec<(&str, Node)> =
            self.unique_keys(file, entries, FEATURE_KEYS, "feature field");
        // A field that is present but invalid was reported already; only absent ones are missing.
        let missing: Vec<&str> = ["feature", "team", "tier", "feature_group"]
            .into_iter()
            .filter(|field| !fields.iter().any(|(k, _)| k == field))
            .collect();
        let mut remove = |key: &str| {
            let index = fields.iter().position(|(k, _)| *k == key)?;
            Some(fields.swap_remove(index).1)
        };
        let mut take = |decoded: &mut Decoded, key: &str| {
            let node = remove(key)?;
            decoded.string(file, node, key)
        };
        let name = take(self, "feature");
        let team = take(self, "team");
        let tier = take(self, "tier");
        let group = take(self, "feature_group");
        let description = take(self, "description");
        let renamed_from = take(self, "renamed_from");
        let deprecated = remove("deprecated").and_then(|node| self.deprecation(file, node));
        if !missing.is_empty() {
            // One string, not one per field: a file at the size limit can be all such lines.
            let mut message = String::from("feature ");
            if let Some(name) = &name {
                message.push('`');
                message.push_str(&name.text);
                message.push_str("` ");
            }
            message.push_str("is missing ");
            for (index, field) in missing.iter().enumerate() {
                if index > 0 {
                    message.push_str(", ");
                }
                message.push('`');
                message.push_str(field);
                message.push('`');
            }
            let help =
                "every feature needs `feature`, `team`, `tier` and `feature_group`".to_owned();
            self.error(Code::MissingField, message, at, Some(help));
        }
        if !missing.is_empty() || name.is_none() {
            // Still check what the incomplete feature references, so one run reports it all.
            let present = [
                (DeclKind::Team, team),
                (DeclKind::Tier, tier),
                (DeclKind::Group, group),
            ];
            self.partial_references
                .extend(present.into_iter().filter_map(|(kind, r)| Some((kind, r?))));
            return None;
        }
        Some(RawFeature {
            name: name?,
            team: team?,
            tier: tier?,
            group: group?,
            description,
            deprecated,
            renamed_from,
        })
    }

    fn deprecation(&mut self, file: usize, node: Node) -> Option<RawDeprecation> {
        let at = Decoded::pos(file, &node);
        let Value::Map(entries) = node.value else {
            self.wrong_type(
                at,
                "`deprecated`",
                "a mapping with `reason` and optional `renamed_to`",
                &node.value,
            );
            return None;
        };
        let mut reason = None;
        let mut renamed_to = None;
        for (key, value) in self.unique_keys(file, entries, DEPRECATED_KEYS, "`deprecated` field") {
            let value = self.string(file, value, key);
            if key == "reason" {
                reason = value
            } else {
                renamed_to = value
            }
        }
        if reason.is_none() {
            let help = "say why, e.g. `reason: replaced by gift cards`".to_owned();
            self.error(
                Code::MissingField,
                "`deprecated` is missing `reason`".into(),
                at,
                Some(help),
            );
        }
        Some(RawDeprecation {
            reason: reason?,
            renamed_to,
        })
    }

    fn declarations(&mut self, file: usize, kind: DeclKind, node: Node) {
        let at = Decoded::pos(file, &node);
        let items = match node.value {
            Value::Seq(items) => items,
            other => {
                self.wrong_type(at, &format!("`{}`", kind.key()), "a list", &other);
                return;
            }
        };
        let mut decls = Vec::new();
        for item in items {
            let item_at = Decoded::pos(file, &item);
            match item.value {
                Value::Str(_) => {
                    decls.extend(self.string(file, item, "name").map(|name| RawDecl {
                        name,
                        description: None,
                        slack: None,
                        oncall: None,
                    }))
                }
                Value::Map(entries) => {
                    let what = format!("{} field", kind.noun());
                    let mut decl = (None, None, None, None);
                    for (key, value) in self.unique_keys(file, entries, kind.fields(), &what) {
                        let value = self.string(file, value, key);
                        match key {
                            "name" => decl.0 = value,
                            "description" => decl.1 = value,
                            "slack" => decl.2 = value,
                            _ => decl.3 = value,
                        }
                    }
                    match decl.0 {
                        Some(name) => decls.push(RawDecl {
                            name,
                            description: decl.1,
                            slack: decl.2,
                            oncall: decl.3,
                        }),
                        None => self.error(
                            Code::MissingField,
                            format!("{} is missing `name`", kind.noun()),
                            item_at,
                            Some(format!(
                                "write `- name: my-{}`",
                                kind.feature_field().replace('_', "-")
                            )),
                        ),
                    }
                }
                other => self.wrong_type(
                    item_at,
                    &format!("a {}", kind.noun()),
                    "a name or a mapping with `name`",
                    &other,
                ),
            }
        }
        let slot = match kind {
            DeclKind::Team => &mut self.teams,
            DeclKind::Group => &mut self.groups,
            DeclKind::Tier => &mut self.tiers,
        };
        slot.get_or_insert_with(Vec::new).extend(decls);
    }
}
