//! Name resolution across the files of a crate: from a handler path as written at a
//! registration (`list`, `handlers::list`, `super::users::get`, `Chat::send`) to the function's
//! definition, following `mod` nesting, `use` imports (renames, groups, globs, re-exports),
//! `crate`/`self`/`super`.
//!
//! It is the subset of rustc's resolution that handler code uses; macros and `#[path]` are not
//! expanded, so a path that does not resolve but names a function defined exactly once in the crate
//! is taken to mean that one.

use std::collections::{HashMap, HashSet};

use super::scan::RustFile;

/// A function definition: (file index, index into that file's `fns`).
pub(crate) type DefId = (usize, usize);

/// Bound on import chains followed, so that cyclic imports terminate.
const MAX_DEPTH: u8 = 32;

#[derive(Default)]
struct Module {
    fns: HashMap<String, DefId>,
    assoc: HashMap<(String, String), DefId>,
    imports: HashMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
    children: HashSet<String>,
}

/// Every module of every scanned crate.
pub(crate) struct Index {
    modules: HashMap<(usize, Vec<String>), Module>,
    by_name: HashMap<(usize, String), Vec<DefId>>,
    /// Library crates by the name other crates use for them (`axum_chat`).
    crate_names: HashMap<String, usize>,
}

impl Index {
    /// Indexes `files`, each with its crate id; `crate_names` maps library names to crate ids.
    pub fn new(files: &[(usize, RustFile)], crate_names: HashMap<String, usize>) -> Self {
        let mut modules: HashMap<(usize, Vec<String>), Module> = HashMap::new();
        let mut by_name: HashMap<(usize, String), Vec<DefId>> = HashMap::new();
        for (file_index, (krate, file)) in files.iter().enumerate() {
            for path in &file.modules {
                modules.entry((*krate, path.clone())).or_default();
                if let Some((last, parent)) = path.split_last() {
                    modules
                        .entry((*krate, parent.to_vec()))
                        .or_default()
                        .children
                        .insert(last.clone());
                }
            }
            for (fn_index, def) in file.fns.iter().enumerate() {
                let id = (file_index, fn_index);
                let module = modules.entry((*krate, def.module.clone())).or_default();
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
                by_name
                    .entry((*krate, def.name.clone()))
                    .or_default()
                    .push(id);
            }
            for import in &file.imports {
                let module = modules.entry((*krate, import.module.clone())).or_default();
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
        }
        Index {
            modules,
            by_name,
            crate_names,
        }
    }

    /// The definition `path`, written in `module` of crate `krate`, refers to.
    pub fn resolve(&self, krate: usize, module: &[String], path: &[String]) -> Option<DefId> {
        self.resolve_exact(krate, module, path)
            .or_else(|| self.unique_by_name(krate, path))
    }

    /// Like [`Index::resolve`], without the unique-name fallback.
    pub fn resolve_exact(&self, krate: usize, module: &[String], path: &[String]) -> Option<DefId> {
        self.resolve_in(krate, module, path, 0)
    }

    fn resolve_in(
        &self,
        krate: usize,
        module: &[String],
        path: &[String],
        depth: u8,
    ) -> Option<DefId> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (first, rest) = path.split_first()?;
        match first.as_str() {
            "crate" => self.walk(krate, &[], rest, depth),
            "self" => self.walk(krate, module, rest, depth),
            "super" => self.resolve_in(krate, module.split_last()?.1, rest, depth + 1),
            // `::name`: an external crate, perhaps one of those linted.
            "::" => self.in_crate(rest, depth),
            _ => self
                .walk(krate, module, path, depth)
                .or_else(|| self.in_crate(path, depth)),
        }
    }

    /// Resolves `name::rest` in the root of the linted library crate called `name`.
    fn in_crate(&self, path: &[String], depth: u8) -> Option<DefId> {
        let (name, rest) = path.split_first()?;
        let krate = *self.crate_names.get(name)?;
        self.walk(krate, &[], rest, depth + 1)
    }

    /// Resolves `path` relative to `module`: its items, child modules, imports, glob imports.
    fn walk(&self, krate: usize, module: &[String], path: &[String], depth: u8) -> Option<DefId> {
        let entry = self.modules.get(&(krate, module.to_vec()))?;
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
            let child: Vec<String> = module.iter().chain([first]).cloned().collect();
            if let Some(id) = self.walk(krate, &child, rest, depth + 1) {
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
            .find_map(|full| self.resolve_in(krate, module, &full, depth + 1))
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
