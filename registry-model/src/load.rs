//! Loading a registry: files → YAML trees → checked entries → a [`Registry`] with stable ids,
//! and the [`Lock`] those ids come from.
//!
//! Every problem is collected (never just the first) as a [`Diagnostic`] with the file, line and
//! column of the offending token and a hint on how to fix it.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt as _, HashSet, HashSetExt as _};

use crate::diagnostic::{
    Code, Diagnostic, Diagnostics, Label, Suggester, did_you_mean, line_column,
};
use crate::ident;
use crate::lock::{LOCK_FILE, Lock, Section, Wanted};
use crate::model::{
    DEFAULT_TIERS, Deprecation, Feature, FeatureGroup, Origin, Registry, Team, Tier,
};
use crate::yaml::{self, Node, Value};

/// Largest registry file accepted; a registry of 10,000 features is about 1 MiB.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

impl Registry {
    /// Loads and validates the registry at `path` (one YAML file, or a directory whose `*.yaml`
    /// and `*.yml` files are merged in file-name order), with ids from the `featgen.lock` beside
    /// it. For readers of the registry; [`Loaded::load`] also returns the ids to write back.
    pub fn load(path: &Path) -> Result<Registry, Diagnostics> {
        Loaded::load(path).map(|loaded| loaded.registry)
    }
}

/// A registry with the id assignments of its load: what `featgen build` writes back to
/// `featgen.lock` when a name is new or gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The validated registry.
    pub registry: Registry,
    /// The ids after this load: the lock that was read, with new names added and removed ones
    /// retired. The file is not written by loading.
    pub lock: Lock,
    /// Where the lock lives.
    pub lock_path: PathBuf,
}

impl Loaded {
    /// Loads the registry at `path` like [`Registry::load`], keeping the lock.
    pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
        Loaded::load_with_lock(path, &lock_path_for(path))
    }

    /// Like [`Loaded::load`], with the lock file at `lock_path`.
    pub fn load_with_lock(path: &Path, lock_path: &Path) -> Result<Loaded, Diagnostics> {
        let files: Arc<[PathBuf]> = discover(path).map_err(|d| Diagnostics(vec![*d]))?.into();
        // Files are parsed and checked one per job, and the lock is read beside them: none
        // needs another. Merging the per-file results in file order gives the same entries and
        // diagnostics, in the same order, as reading the files one after another.
        let (loaders, lock) = std::thread::scope(|scope| {
            let lock = scope.spawn(|| Lock::read(lock_path));
            let indices: Vec<usize> = (0..files.len()).collect();
            let loaders = crate::par::map(&indices, |&file| {
                let mut loader = Loader::new(Arc::clone(&files));
                loader.add_file(file, parse_file(&files[file]));
                loader
            });
            (loaders, lock.join())
        });
        let mut loader = Loader::new(files);
        for other in loaders {
            loader.merge(other);
        }
        let lock = match lock {
            Ok(lock) => lock.map_err(|d| Diagnostics(vec![*d]))?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let (registry, lock) = loader.finish(path, lock)?;
        Ok(Loaded {
            registry,
            lock,
            lock_path: lock_path.to_path_buf(),
        })
    }
}

/// Where the lock of the registry at `path` lives: inside a registry directory, or beside a
/// registry file.
pub fn lock_path_for(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(LOCK_FILE)
    } else {
        path.parent().unwrap_or(Path::new("")).join(LOCK_FILE)
    }
}

/// The registry files at `path`, in merge order.
fn discover(path: &Path) -> Result<Vec<PathBuf>, Box<Diagnostic>> {
    let io_error = |err: std::io::Error| {
        Box::new(Diagnostic::error(Code::Io, format!("cannot read registry {}: {err}", path.display()))
            .help("pass the registry file or directory with --registry, or set `registry` in featgen.toml"))
    };
    if !path.is_dir() {
        std::fs::metadata(path).map_err(io_error)?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io_error)? {
        let entry_path = entry.map_err(io_error)?.path();
        let is_yaml = matches!(
            entry_path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        if is_yaml && entry_path.is_file() {
            files.push(entry_path);
        }
    }
    files.sort();
    Ok(files)
}

/// A position inside one of the loaded files (an index into `Loader::files`).
#[derive(Clone, Copy, Debug)]
struct Pos {
    file: usize,
    line: u32,
    column: u32,
    len: u32,
}

/// A string scalar and where it is.
#[derive(Clone, Debug)]
struct Str {
    text: String,
    at: Pos,
}

#[derive(Debug)]
struct RawDeprecation {
    reason: Str,
    renamed_to: Option<Str>,
}

#[derive(Debug)]
struct RawFeature {
    name: Str,
    team: Str,
    tier: Str,
    group: Str,
    description: Option<Str>,
    deprecated: Option<RawDeprecation>,
    renamed_from: Option<Str>,
}

/// A declared team, feature group or tier.
#[derive(Debug)]
struct RawDecl {
    name: Str,
    description: Option<Str>,
    slack: Option<Str>,
    oncall: Option<Str>,
}

/// The three kinds of declaration, with the YAML key and the fields each accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DeclKind {
    Team,
    Group,
    Tier,
}

impl DeclKind {
    fn key(self) -> &'static str {
        match self {
            DeclKind::Team => "teams",
            DeclKind::Group => "feature_groups",
            DeclKind::Tier => "tiers",
        }
    }
    fn noun(self) -> &'static str {
        match self {
            DeclKind::Team => "team",
            DeclKind::Group => "feature group",
            DeclKind::Tier => "tier",
        }
    }
    /// The feature field that references this kind.
    fn feature_field(self) -> &'static str {
        match self {
            DeclKind::Team => "team",
            DeclKind::Group => "feature_group",
            DeclKind::Tier => "tier",
        }
    }
    fn fields(self) -> &'static [&'static str] {
        match self {
            DeclKind::Team => &["name", "description", "slack", "oncall"],
            DeclKind::Group | DeclKind::Tier => &["name", "description"],
        }
    }
}

const TOP_LEVEL_KEYS: &[&str] = &["features", "teams", "feature_groups", "tiers"];
const FEATURE_KEYS: &[&str] = &[
    "feature",
    "team",
    "tier",
    "feature_group",
    "description",
    "deprecated",
    "renamed_from",
];
const DEPRECATED_KEYS: &[&str] = &["reason", "renamed_to"];

struct Loader {
    /// Every registry file; positions refer to them by index.
    files: Arc<[PathBuf]>,
    diagnostics: Vec<Diagnostic>,
    features: Vec<RawFeature>,
    /// References made by features that were rejected as incomplete.
    partial_references: Vec<(DeclKind, Str)>,
    /// `None` until some file declares the kind.
    teams: Option<Vec<RawDecl>>,
    groups: Option<Vec<RawDecl>>,
    tiers: Option<Vec<RawDecl>>,
}

impl Loader {
    fn new(files: Arc<[PathBuf]>) -> Loader {
        Loader {
            files,
            diagnostics: Vec::new(),
            features: Vec::new(),
            partial_references: Vec::new(),
            teams: None,
            groups: None,
            tiers: None,
        }
    }

    /// Appends what `other` read from later files.
    fn merge(&mut self, other: Loader) {
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

    fn label(&self, at: Pos) -> Label {
        label(&self.files, at)
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
    fn add_file(&mut self, file: usize, parsed: Result<Node, Box<Diagnostic>>) {
        let root = match parsed {
            Ok(root) => root,
            Err(diagnostic) => {
                self.diagnostics.push(*diagnostic);
                return;
            }
        };
        let at = Loader::pos(file, &root);
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
            let at = Loader::pos(file, &value);
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
            let at = Loader::pos(file, &key);
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
        let at = Loader::pos(file, &node);
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
            let at = Loader::pos(file, &item);
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
        let mut take = |loader: &mut Loader, key: &str| {
            let node = remove(key)?;
            loader.string(file, node, key)
        };
        let name = take(self, "feature");
        let team = take(self, "team");
        let tier = take(self, "tier");
        let group = take(self, "feature_group");
        let description = take(self, "description");
        let renamed_from = take(self, "renamed_from");
        let deprecated = remove("deprecated").and_then(|node| self.deprecation(file, node));
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let message = match &name {
                Some(name) => format!("feature `{}` is missing {list}", name.text),
                None => format!("feature is missing {list}"),
            };
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
        let at = Loader::pos(file, &node);
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
        let at = Loader::pos(file, &node);
        let items = match node.value {
            Value::Seq(items) => items,
            other => {
                self.wrong_type(at, &format!("`{}`", kind.key()), "a list", &other);
                return;
            }
        };
        let mut decls = Vec::new();
        for item in items {
            let item_at = Loader::pos(file, &item);
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

    /// Cross-entry checks, then ids; consumes the loader.
    fn finish(mut self, path: &Path, lock: Lock) -> Result<(Registry, Lock), Diagnostics> {
        if self.features.is_empty() && self.diagnostics.is_empty() {
            let mut diagnostic = Diagnostic::error(
                Code::EmptyRegistry,
                format!("the registry {} has no features", path.display()),
            )
            .help("add a feature: `- feature: my-feature` with `team`, `tier` and `feature_group`");
            if path.is_file() {
                diagnostic = diagnostic.at(Label::new(path, 1, 1, 0));
            }
            self.diagnostics.push(diagnostic);
        }
        let features = std::mem::take(&mut self.features);
        // The feature names (the bulk of the checks) are checked on another thread while the
        // declarations are checked here; their diagnostics still come first.
        let files = Arc::clone(&self.files);
        let first_declaration_diagnostic = self.diagnostics.len();
        let feature_diagnostics = std::thread::scope(|scope| {
            let names = scope.spawn(|| {
                let names: Vec<&Str> = features.iter().map(|f| &f.name).collect();
                name_diagnostics(&files, "feature", &names, is_lower_name)
            });
            self.check_declarations(&features);
            names.join()
        });
        match feature_diagnostics {
            Ok(diagnostics) => {
                let at = first_declaration_diagnostic;
                self.diagnostics.splice(at..at, diagnostics);
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
        self.check_renames(&features, &lock.features);
        if !self.diagnostics.is_empty() {
            return Err(Diagnostics(self.diagnostics));
        }
        self.build(features, lock)
    }

    /// Checks teams, feature groups and tiers: declared ones, or those the features name.
    fn check_declarations(&mut self, features: &[RawFeature]) {
        let partial = std::mem::take(&mut self.partial_references);
        for kind in [DeclKind::Team, DeclKind::Group, DeclKind::Tier] {
            let declared = self
                .declared(kind)
                .map(|d| d.iter().map(|d| d.name.clone()).collect::<Vec<_>>());
            let valid = if kind == DeclKind::Tier {
                is_tier_name
            } else {
                is_lower_name
            };
            let referenced: Vec<&Str> = features
                .iter()
                .map(|f| reference(f, kind))
                .chain(partial.iter().filter(|(k, _)| *k == kind).map(|(_, r)| r))
                .collect();
            match declared {
                Some(names) => {
                    self.check_names(kind.noun(), &names.iter().collect::<Vec<_>>(), valid);
                    self.check_references(kind, &names, &referenced);
                }
                None if kind == DeclKind::Tier => {
                    let names: Vec<String> = DEFAULT_TIERS.iter().map(|t| t.to_string()).collect();
                    self.check_default_tiers(&names, &referenced);
                }
                None => {
                    let mut seen = HashSet::new();
                    let unique: Vec<&Str> = referenced
                        .into_iter()
                        .filter(|r| seen.insert(r.text.as_str()))
                        .collect();
                    self.check_names(kind.noun(), &unique, valid);
                }
            }
        }
    }

    fn declared(&self, kind: DeclKind) -> Option<&Vec<RawDecl>> {
        match kind {
            DeclKind::Team => self.teams.as_ref(),
            DeclKind::Group => self.groups.as_ref(),
            DeclKind::Tier => self.tiers.as_ref(),
        }
    }

    /// Valid, unique names whose identifiers do not collide in any target.
    fn check_names(&mut self, noun: &str, names: &[&Str], valid: fn(&str) -> bool) {
        let diagnostics = name_diagnostics(&self.files, noun, names, valid);
        self.diagnostics.extend(diagnostics);
    }

    fn check_references(&mut self, kind: DeclKind, declared: &[Str], referenced: &[&Str]) {
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

    /// Assembles the registry: ids from the lock (assigned in YAML order for new names),
    /// entries sorted by name and tiers by rank.
    fn build(self, raw: Vec<RawFeature>, mut lock: Lock) -> Result<(Registry, Lock), Diagnostics> {
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
        let teams = entries(self.teams.as_deref(), DeclKind::Team, &raw);
        let groups = entries(self.groups.as_deref(), DeclKind::Group, &raw);
        let tiers = entries(self.tiers.as_deref(), DeclKind::Tier, &raw);
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
                    file: self.files[f.name.at.file].clone(),
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
            let mut seen = HashSet::new();
            let mut names: Vec<(String, Option<&RawDecl>)> = Vec::new();
            for feature in features {
                let name = &reference(feature, kind).text;
                if seen.insert(name) {
                    names.push((name.clone(), None));
                }
            }
            names
        }
    }
}

fn reference(feature: &RawFeature, kind: DeclKind) -> &Str {
    match kind {
        DeclKind::Team => &feature.team,
        DeclKind::Group => &feature.group,
        DeclKind::Tier => &feature.tier,
    }
}

fn unknown_code(kind: DeclKind) -> Code {
    match kind {
        DeclKind::Team => Code::UnknownTeam,
        DeclKind::Group => Code::UnknownGroup,
        DeclKind::Tier => Code::UnknownTier,
    }
}

/// Reads, decodes and parses one registry file. Independent of every other file, so files
/// are parsed in parallel.
fn parse_file(path: &Path) -> Result<Node, Box<Diagnostic>> {
    let file_error = |code, message: String, line, column, help: &str| {
        Box::new(
            Diagnostic::error(code, message)
                .at(Label::new(path, line, column, 1))
                .help(help),
        )
    };
    let bytes = match read_limited(path) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            let message = format!("registry file is larger than {} MiB", MAX_FILE_BYTES >> 20);
            let help = "split the registry into one file per team in a directory";
            return Err(file_error(Code::FileTooLarge, message, 1, 1, help));
        }
        Err(err) => {
            let message = format!("cannot read {}: {err}", path.display());
            return Err(Box::new(Diagnostic::error(Code::Io, message)));
        }
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let text = std::str::from_utf8(bytes).map_err(|err| {
        let (line, column) = line_column(bytes, err.valid_up_to());
        let diagnostic = Diagnostic::error(Code::InvalidUtf8, "registry file is not valid UTF-8")
            .at(Label::new(path, line, column, 1).with_message("invalid byte here"))
            .help("save the file as UTF-8");
        Box::new(diagnostic)
    })?;
    yaml::parse(text).map_err(|err| {
        let (code, help) = if err.budget {
            (
                Code::YamlTooLarge,
                "the document expands to too many nodes (an alias bomb?); remove the aliases",
            )
        } else {
            (Code::YamlSyntax, "fix the YAML syntax at this position")
        };
        file_error(code, err.message, err.line.max(1), err.column.max(1), help)
    })
}

/// Reads at most `MAX_FILE_BYTES`; `None` when the file is larger.
fn read_limited(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE_BYTES).then_some(bytes))
}

/// The diagnostic label of position `at` among `files`.
fn label(files: &[PathBuf], at: Pos) -> Label {
    Label::new(&files[at.file], at.line, at.column, at.len)
}

/// Diagnostics for names that are invalid, duplicated or collide in a target's identifiers.
/// A free function over the file list, so the loader can check features on another thread.
fn name_diagnostics(
    files: &[PathBuf],
    noun: &str,
    names: &[&Str],
    valid: fn(&str) -> bool,
) -> Vec<Diagnostic> {
    let label = |at: Pos| label(files, at);
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
                    suggest_name(&name.text)
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

/// Lowercase kebab- or snake-case: `text-in-voice`, `text_in_voice`.
fn is_lower_name(name: &str) -> bool {
    is_word_list(name, |c| c.is_ascii_lowercase())
}

/// Tier names may also use uppercase (`S`, `Gold`).
fn is_tier_name(name: &str) -> bool {
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
fn suggest_name(name: &str) -> String {
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
