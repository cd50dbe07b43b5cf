//! The resolve step: from every file's facts to the definitions their handler paths name.
//!
//! [`resolve`] indexes the scanned files, parses on demand the files set aside unparsed (or
//! parsed without their `impl` blocks) that may define a function some registration names but
//! no parsed file does, and puts nested routers' routes under their `.nest` prefixes.
//!
//! [`Index`] resolves a handler path as written at a registration (`list`, `handlers::list`,
//! `super::users::get`, `Chat::send`) to the function's definition, following `mod` nesting,
//! `use` imports (renames, groups, globs, re-exports), `crate`/`self`/`super`. It is the subset
//! of rustc's resolution that handler code uses; macros and `#[path]` are not expanded, so a
//! path that does not resolve but names a function defined exactly once in the crate is taken
//! to mean that one.
//!
//! Modules are numbered once ([`ModId`]); a module knows its parent and its children by name,
//! so that a path is resolved in steps of constant cost however deeply modules nest.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;

use aho_corasick::AhoCorasick;

use super::prune::Pruning;
use super::scan::{HandlerExpr, RegistrationKind, RustFile};
use crate::finding::Finding;
use crate::sources::{Deferred, RustParser, parse_error, read_source};

/// A function definition: (file index, index into that file's `fns`).
pub(crate) type DefId = (usize, usize);

/// A module of a linted crate (index into [`Index`]'s modules).
type ModId = usize;

/// Bound on import chains followed, so that cyclic imports terminate.
const MAX_DEPTH: u8 = 32;

struct Module {
    krate: usize,
    parent: Option<ModId>,
    fns: HashMap<String, DefId>,
    assoc: HashMap<(String, String), DefId>,
    imports: HashMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
    /// Child modules declared (by a `mod` item, or by being a file in the crate's layout).
    children: HashSet<String>,
}

/// Every module of every scanned crate.
pub(crate) struct Index {
    modules: Vec<Module>,
    /// Each module by its parent and name (declared as a child or not).
    named: HashMap<(ModId, String), ModId>,
    /// The root module of each crate.
    roots: HashMap<usize, ModId>,
    /// Per file: its crate, and the module of each of its module declarations.
    files: Vec<(usize, Vec<ModId>)>,
    by_name: HashMap<(usize, String), Vec<DefId>>,
    /// Library crates by the name other crates use for them (`axum_chat`).
    crate_names: HashMap<String, usize>,
}

impl Index {
    /// Indexes `files`, each with its crate id; `crate_names` maps library names to crate ids.
    pub fn new(files: &[(usize, RustFile)], crate_names: HashMap<String, usize>) -> Self {
        let mut index = Index {
            modules: Vec::new(),
            named: HashMap::new(),
            roots: HashMap::new(),
            files: Vec::with_capacity(files.len()),
            by_name: HashMap::new(),
            crate_names,
        };
        for (file_index, (krate, file)) in files.iter().enumerate() {
            let mut ids: Vec<ModId> = Vec::with_capacity(file.modules.len());
            for decl in &file.modules {
                let id = match decl.parent {
                    Some(parent) => {
                        let parent = ids[parent];
                        index.modules[parent].children.insert(decl.name.clone());
                        index.child(*krate, parent, &decl.name)
                    }
                    None => {
                        let mut id = index.root(*krate);
                        for name in &file.module {
                            id = index.child(*krate, id, name);
                        }
                        if let (Some(parent), Some(last)) =
                            (index.modules[id].parent, file.module.last())
                        {
                            index.modules[parent].children.insert(last.clone());
                        }
                        id
                    }
                };
                ids.push(id);
            }
            for (fn_index, def) in file.fns.iter().enumerate() {
                let id = (file_index, fn_index);
                let module = &mut index.modules[ids[def.module]];
                match &def.owner {
                    Some(owner) => {
                        module
                            .assoc
                            .entry((owner.clone(), def.name.clone()))
                            .or_insert(id);
                    }
                    None => {
                        module.fns.entry(def.name.clone()).or_insert(id);
                    }
                }
                index
                    .by_name
                    .entry((*krate, def.name.clone()))
                    .or_default()
                    .push(id);
            }
            for import in &file.imports {
                let module = &mut index.modules[ids[import.module]];
                match &import.alias {
                    Some(alias) => {
                        module
                            .imports
                            .entry(alias.clone())
                            .or_insert_with(|| import.target.clone());
                    }
                    None => module.globs.push(import.target.clone()),
                }
            }
            index.files.push((*krate, ids));
        }
        index
    }

    fn add(&mut self, krate: usize, parent: Option<ModId>) -> ModId {
        self.modules.push(Module {
            krate,
            parent,
            fns: HashMap::new(),
            assoc: HashMap::new(),
            imports: HashMap::new(),
            globs: Vec::new(),
            children: HashSet::new(),
        });
        self.modules.len() - 1
    }

    /// The root module of crate `krate`.
    fn root(&mut self, krate: usize) -> ModId {
        if let Some(&id) = self.roots.get(&krate) {
            return id;
        }
        let id = self.add(krate, None);
        self.roots.insert(krate, id);
        id
    }

    /// Module `name` in `parent`.
    fn child(&mut self, krate: usize, parent: ModId, name: &str) -> ModId {
        if let Some(&id) = self.named.get(&(parent, name.to_owned())) {
            return id;
        }
        let id = self.add(krate, Some(parent));
        self.named.insert((parent, name.to_owned()), id);
        id
    }

    /// The crate of file `file`.
    pub fn crate_of(&self, file: usize) -> usize {
        self.files[file].0
    }

    /// The definition `path`, written in module `module` of file `file`, refers to.
    pub fn resolve(&self, file: usize, module: usize, path: &[String]) -> Option<DefId> {
        self.resolve_exact(file, module, path)
            .or_else(|| self.unique_by_name(self.crate_of(file), path))
    }

    /// Like [`Index::resolve`], without the unique-name fallback.
    pub fn resolve_exact(&self, file: usize, module: usize, path: &[String]) -> Option<DefId> {
        let module = *self.files.get(file)?.1.get(module)?;
        self.resolve_in(module, path, 0)
    }

    fn resolve_in(&self, module: ModId, path: &[String], depth: u8) -> Option<DefId> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (first, rest) = path.split_first()?;
        match first.as_str() {
            "crate" => self.walk(self.roots[&self.modules[module].krate], rest, depth),
            "self" => self.walk(module, rest, depth),
            "super" => self.resolve_in(self.modules[module].parent?, rest, depth + 1),
            // `::name`: an external crate, perhaps one of those linted.
            "::" => self.in_crate(rest, depth),
            _ => self
                .walk(module, path, depth)
                .or_else(|| self.in_crate(path, depth)),
        }
    }

    /// Resolves `name::rest` in the root of the linted library crate called `name`.
    fn in_crate(&self, path: &[String], depth: u8) -> Option<DefId> {
        let (name, rest) = path.split_first()?;
        let krate = self.crate_names.get(name)?;
        self.walk(*self.roots.get(krate)?, rest, depth + 1)
    }

    /// Resolves `path` relative to `module`: its items, child modules, imports, glob imports.
    fn walk(&self, module: ModId, path: &[String], depth: u8) -> Option<DefId> {
        let entry = &self.modules[module];
        let (first, rest) = path.split_first()?;
        let direct = match rest {
            [] => entry.fns.get(first).copied(),
            [name] => entry.assoc.get(&(first.clone(), name.clone())).copied(),
            _ => None,
        };
        if direct.is_some() {
            return direct;
        }
        if entry.children.contains(first) && !rest.is_empty() {
            let child = self.named[&(module, first.clone())];
            if let Some(id) = self.walk(child, rest, depth + 1) {
                return Some(id);
            }
        }
        let imported = entry
            .imports
            .get(first)
            .map(|target| target.iter().chain(rest).cloned().collect::<Vec<_>>());
        let globbed = entry
            .globs
            .iter()
            .map(|glob| glob.iter().chain(path).cloned().collect::<Vec<_>>());
        imported
            .into_iter()
            .chain(globbed)
            .find_map(|full| self.resolve_in(module, &full, depth + 1))
    }

    /// The only function of the crate with the path's last name (and owner, for `Type::name`),
    /// for paths that stay inside the crate but escape the modelled resolution.
    fn unique_by_name(&self, krate: usize, path: &[String]) -> Option<DefId> {
        let local = path.len() == 1 || matches!(path[0].as_str(), "crate" | "self" | "super");
        if !local {
            return None;
        }
        match self.by_name.get(&(krate, path.last()?.clone()))?.as_slice() {
            [only] => Some(*only),
            _ => None,
        }
    }
}

/// The files set aside by the walk, parsed here when resolution needs them.
pub(crate) struct SetAside {
    /// Files not parsed at all (none of the vocabulary).
    pub deferred: Vec<Deferred>,
    /// Files parsed without some `impl` blocks ([`Pruning::Deep`]).
    pub shallow: Vec<Deferred>,
}

/// Resolves the scanned `rust` files (with their crate keys): parses what `set_aside` must
/// give (failures go to `parse_errors`), applies `.nest` prefixes, and returns the files in path
/// order with their index.
pub(crate) fn resolve(
    rust: Vec<(PathBuf, RustFile)>,
    set_aside: SetAside,
    parser: &RustParser,
    parse_errors: &mut Vec<Finding>,
) -> (Vec<RustFile>, Index) {
    let SetAside {
        mut deferred,
        mut shallow,
    } = set_aside;
    let mut crates: HashMap<PathBuf, usize> = HashMap::new();
    let mut files: Vec<(usize, RustFile)> = rust
        .into_iter()
        .map(|(key, file)| (intern(&mut crates, key), file))
        .collect();
    // Parse the set-aside files (and again, with their impl blocks, the deeply pruned ones) that
    // may define a function some registration names but no parsed file does, until every such
    // name is found or no candidate is left.
    let index = loop {
        // The walk is parallel: sort so that resolution ties and output are deterministic.
        files.sort_by(|a, b| a.1.path.cmp(&b.1.path));
        let index = Index::new(&files, crate_names(&crates));
        let wanted = unresolved_names(&index, &files);
        if wanted.is_empty() {
            break index;
        }
        let Ok(search) = AhoCorasick::new(&wanted) else {
            break index;
        };
        let mut loader = Loader {
            wanted: wanted.iter().map(String::as_str).collect(),
            search,
            parser,
            parsed: Vec::new(),
            taken: Vec::new(),
            parse_errors: &mut *parse_errors,
        };
        deferred = loader.load(std::mem::take(&mut deferred));
        let loaded = loader.taken.len();
        shallow = loader.load(std::mem::take(&mut shallow));
        if loader.taken.is_empty() {
            break index;
        }
        // The shallow files taken (parsed again, or failed) replace their first parse.
        let again: HashSet<&String> = loader.taken[loaded..].iter().collect();
        files.retain(|(_, f)| !again.contains(&f.path));
        drop(again);
        for (krate, file) in loader.parsed {
            files.push((intern(&mut crates, krate), file));
        }
    };
    let mut files: Vec<RustFile> = files.into_iter().map(|(_, file)| file).collect();
    apply_nest_prefixes(&index, &mut files);
    (files, index)
}

/// Parses the set-aside files that may define a wanted name. Their texts were not kept: a
/// file parsed without some `impl` blocks is read again only when one of them defines a wanted
/// name; a file not parsed at all, when its text mentions one (it may define or re-export it).
struct Loader<'a> {
    /// The wanted names.
    wanted: HashSet<&'a str>,
    /// The same, searched for all at once.
    search: AhoCorasick,
    parser: &'a RustParser,
    /// The files parsed, with their crate keys.
    parsed: Vec<(PathBuf, RustFile)>,
    /// Display paths of the files taken out of their list (parsed, or failed).
    taken: Vec<String>,
    parse_errors: &'a mut Vec<Finding>,
}

impl Loader<'_> {
    /// Parses the `candidates` that may define a wanted name; returns the others.
    fn load(&mut self, candidates: Vec<Deferred>) -> Vec<Deferred> {
        let mut keep = Vec::new();
        for file in candidates {
            if let Some(defines) = &file.defines
                && !defines
                    .iter()
                    .any(|name| self.wanted.contains(name.as_str()))
            {
                keep.push(file);
                continue;
            }
            let source = match read_source(&file.file, &file.path) {
                Ok(source) => source,
                Err((at, message)) => {
                    self.parse_errors.push(parse_error(at, message));
                    self.taken.push(file.path);
                    continue;
                }
            };
            if file.defines.is_none() && !self.search.is_match(&source) {
                keep.push(file);
                continue;
            }
            match self
                .parser
                .parse(&file.path, file.module, &source, Pruning::Shallow)
            {
                Ok((scanned, _)) => self.parsed.push((file.krate, scanned)),
                Err((at, message)) => self.parse_errors.push(parse_error(at, message)),
            }
            self.taken.push(file.path);
        }
        keep
    }
}

/// The id of the crate with `key`, numbered in order of first appearance.
fn intern(crates: &mut HashMap<PathBuf, usize>, key: PathBuf) -> usize {
    let next = crates.len();
    *crates.entry(key).or_insert(next)
}

/// Library crate names (`[lib] name`, else the package name with `-` as `_`) of the crates whose
/// keys are `src` directories next to a readable `Cargo.toml`.
fn crate_names(crates: &HashMap<PathBuf, usize>) -> HashMap<String, usize> {
    crates
        .iter()
        .filter(|(key, _)| key.file_name().is_some_and(|n| n == "src"))
        .filter_map(|(key, id)| {
            let manifest = std::fs::read_to_string(key.parent()?.join("Cargo.toml")).ok()?;
            let manifest: toml::Table = toml::from_str(&manifest).ok()?;
            let name = |table: &str| {
                manifest
                    .get(table)?
                    .get("name")?
                    .as_str()
                    .map(str::to_owned)
            };
            let name = name("lib").or_else(|| name("package"))?;
            Some((name.replace('-', "_"), *id))
        })
        .collect()
}

/// Last names of registered handler paths that do not resolve exactly among `files`, sorted.
fn unresolved_names(index: &Index, files: &[(usize, RustFile)]) -> Vec<String> {
    let names: HashSet<&String> = files
        .iter()
        .enumerate()
        .flat_map(|(file_index, (_, file))| {
            file.registrations
                .iter()
                .filter_map(move |r| match &r.handler {
                    HandlerExpr::Path(path) => Some((file_index, r.module, path)),
                    _ => None,
                })
        })
        .filter(|(file, module, path)| index.resolve_exact(*file, *module, path).is_none())
        .filter_map(|(_, _, path)| path.last())
        .collect();
    let mut names: Vec<String> = names.into_iter().cloned().collect();
    names.sort();
    names
}

/// Puts the paths that router-building functions register under the prefixes they are nested
/// at (`.nest("/admin", admin::router())`). A function nested at several places takes the
/// shallowest nesting, the first in file and source order among equally shallow ones; routers
/// nested only in each other get no prefix.
///
/// Prefixes are settled breadth-first from the functions nested nowhere, each nest once, and
/// kept as a tree of (outer function, segment) rather than as strings: a chain of routers
/// nested `d` deep costs `d`, not `d²`. Only the functions that register paths get their
/// prefix spelled out.
fn apply_nest_prefixes(index: &Index, files: &mut [RustFile]) {
    let resolved: Vec<(DefId, Option<DefId>, &str)> = files
        .iter()
        .enumerate()
        .flat_map(|(file_index, file)| {
            file.nests.iter().filter_map(move |nest| {
                Some((
                    index.resolve(file_index, nest.module, &nest.callee)?,
                    nest.within.map(|w| (file_index, w)),
                    nest.prefix.as_str(),
                ))
            })
        })
        .collect();
    let nested: HashSet<DefId> = resolved.iter().map(|(target, ..)| *target).collect();
    // The nests inside each nested function, in order: they settle when it does.
    let mut inside: HashMap<DefId, Vec<(DefId, &str)>> = HashMap::new();
    // Each settled function's outer function (`None` at the top) and its own segment.
    let mut settled: HashMap<DefId, (Option<DefId>, &str)> = HashMap::new();
    let mut queue = VecDeque::new();
    for &(target, within, prefix) in &resolved {
        match within.filter(|w| nested.contains(w)) {
            Some(outer) => inside.entry(outer).or_default().push((target, prefix)),
            None => {
                if let Entry::Vacant(slot) = settled.entry(target) {
                    slot.insert((None, prefix));
                    queue.push_back(target);
                }
            }
        }
    }
    while let Some(outer) = queue.pop_front() {
        for &(target, prefix) in inside.get(&outer).into_iter().flatten() {
            if let Entry::Vacant(slot) = settled.entry(target) {
                slot.insert((Some(outer), prefix));
                queue.push_back(target);
            }
        }
    }
    // The whole prefix of a settled function: its segments from the outermost in.
    let spell = |mut function: DefId| {
        let mut segments = Vec::new();
        while let Some(&(outer, segment)) = settled.get(&function) {
            segments.push(segment);
            match outer {
                Some(outer) => function = outer,
                None => break,
            }
        }
        segments.iter().rev().copied().collect::<String>()
    };
    let mut prefixes: HashMap<DefId, String> = HashMap::new();
    for (file_index, file) in files.iter().enumerate() {
        for registration in &file.registrations {
            if let Some(within) = registration.within.map(|w| (file_index, w))
                && settled.contains_key(&within)
                && !prefixes.contains_key(&within)
            {
                prefixes.insert(within, spell(within));
            }
        }
    }
    for (file_index, file) in files.iter_mut().enumerate() {
        for registration in &mut file.registrations {
            let prefix = registration
                .within
                .and_then(|w| prefixes.get(&(file_index, w)));
            if let (
                Some(prefix),
                RegistrationKind::Endpoint {
                    path: Some(path), ..
                },
            ) = (prefix, &mut registration.kind)
            {
                *path = format!("{prefix}{path}");
            }
        }
    }
}
