//! The rules: from scanned facts to findings and the route inventory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use crate::facts::{FeatureArg, Kind, Marker};
use crate::features::{KnownFeatures, Language};
use crate::finding::{Finding, Location, Rule};
use crate::routes::RouteEntry;
use crate::rust::prune::Pruning;
use crate::rust::resolve::{DefId, Index};
use crate::rust::scan::{HandlerExpr, Nest, Registration, RegistrationKind, RustFile};
use crate::sources::{Deferred, Sources, parse_error};

/// Findings (unsorted) and the route inventory of `sources`.
pub(crate) fn check(
    sources: Sources,
    known: &KnownFeatures,
    registry: &Location,
) -> (Vec<Finding>, Vec<RouteEntry>) {
    let Sources {
        parser,
        rust,
        mut deferred,
        mut shallow,
        python,
        mut parse_errors,
        ..
    } = sources;
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
        let mentions = |d: &Deferred| wanted.iter().any(|name| d.source.contains(name.as_str()));
        let (load, keep): (Vec<Deferred>, Vec<Deferred>) = std::mem::take(&mut deferred)
            .into_iter()
            .partition(mentions);
        deferred = keep;
        let (again, keep): (Vec<Deferred>, Vec<Deferred>) =
            std::mem::take(&mut shallow).into_iter().partition(mentions);
        shallow = keep;
        if load.is_empty() && again.is_empty() {
            break index;
        }
        files.retain(|(_, f)| !again.iter().any(|d| d.path == f.path));
        for file in load.into_iter().chain(again) {
            match parser.parse(&file.path, file.module, &file.source, Pruning::Shallow) {
                Ok((parsed, _)) => files.push((intern(&mut crates, file.krate), parsed)),
                Err((at, message)) => parse_errors.push(parse_error(at, message)),
            }
        }
    };
    apply_nest_prefixes(&index, &mut files);
    let mut checker = Checker {
        known,
        findings: parse_errors,
        routes: Vec::new(),
        uses: vec![0; known.all().len()],
    };
    let markers = files
        .iter()
        .flat_map(|(_, f)| f.fns.iter().filter_map(|d| d.marker.as_ref()))
        .chain(&python);
    for marker in markers {
        checker.marker(marker);
    }
    checker.registrations(&index, &files);
    for (feature, _) in known
        .all()
        .iter()
        .zip(&checker.uses)
        .filter(|(_, n)| **n == 0)
    {
        checker.findings.push(Finding {
            rule: Rule::UnusedFeature,
            location: feature
                .defined_at
                .clone()
                .unwrap_or_else(|| registry.clone()),
            message: format!(
                "feature `{}` is not used by any endpoint or task",
                feature.name
            ),
            handler: Some(feature.name.clone()),
            registered_at: None,
            suggestion: Some(format!(
                "assign it with `feature = {}`, or deprecate it in the registry",
                feature.rust_variant
            )),
        });
    }
    (checker.findings, checker.routes)
}

/// The id of the crate with `key`, numbered in order of first appearance.
fn intern(crates: &mut HashMap<PathBuf, usize>, key: PathBuf) -> usize {
    let next = crates.len();
    *crates.entry(key).or_insert(next)
}

/// Puts the paths that router-building functions register under the prefixes they are nested
/// at (`.nest("/admin", admin::router())`; the first one when nested at several).
fn apply_nest_prefixes(index: &Index, files: &mut [(usize, RustFile)]) {
    let resolved: Vec<(DefId, usize, &Nest)> = files
        .iter()
        .enumerate()
        .flat_map(|(file_index, (krate, file))| {
            file.nests.iter().filter_map(move |nest| {
                Some((
                    index.resolve(*krate, &nest.module, &nest.callee)?,
                    file_index,
                    nest,
                ))
            })
        })
        .collect();
    let nested: HashSet<DefId> = resolved.iter().map(|(target, ..)| *target).collect();
    let mut prefixes: HashMap<DefId, String> = HashMap::new();
    // Each round settles one more level: a nest counts once the function it is in has its own
    // prefix, or is not nested anywhere. Routers nested in each other never settle.
    loop {
        let mut changed = false;
        for (target, file_index, nest) in &resolved {
            let within = nest.within.map(|w| (*file_index, w));
            let outer = match within {
                Some(w) if nested.contains(&w) => match prefixes.get(&w) {
                    Some(outer) => outer.clone(),
                    None => continue,
                },
                _ => String::new(),
            };
            if !prefixes.contains_key(target) {
                prefixes.insert(*target, format!("{outer}{}", nest.prefix));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for (file_index, (_, file)) in files.iter_mut().enumerate() {
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

/// Last names of registered handler paths that do not resolve exactly among `files`.
fn unresolved_names(index: &Index, files: &[(usize, RustFile)]) -> HashSet<String> {
    files
        .iter()
        .flat_map(|(krate, file)| {
            file.registrations
                .iter()
                .filter_map(move |r| match &r.handler {
                    HandlerExpr::Path(path) => Some((*krate, &r.module, path)),
                    _ => None,
                })
        })
        .filter(|(krate, module, path)| index.resolve_exact(*krate, module, path).is_none())
        .filter_map(|(_, _, path)| path.last().cloned())
        .collect()
}

struct Checker<'a> {
    known: &'a KnownFeatures,
    findings: Vec<Finding>,
    routes: Vec<RouteEntry>,
    /// Markers naming each feature (by registry index).
    uses: Vec<usize>,
}

/// What the marker's syntax is called in messages.
fn marker_name(marker: &Marker) -> String {
    match marker.language {
        Language::Rust => format!("#[{}]", marker.kind.as_str()),
        Language::Python => format!("@{}", marker.kind.as_str()),
    }
}

impl Checker<'_> {
    fn finding(
        &mut self,
        rule: Rule,
        location: Location,
        message: String,
        handler: &str,
        suggestion: String,
    ) {
        self.findings.push(Finding {
            rule,
            location,
            message,
            handler: Some(handler.to_owned()),
            registered_at: None,
            suggestion: Some(suggestion),
        });
    }

    /// Checks a marker's feature and adds it to the inventory.
    fn marker(&mut self, marker: &Marker) {
        let syntax = marker_name(marker);
        let (keyword, example) = match marker.language {
            Language::Rust => ("feature", "feature = Messaging"),
            Language::Python => ("feature=", "feature=Feature.MESSAGING"),
        };
        let mut entry = RouteEntry::new(marker.kind, &marker.handler, &marker.at, marker.language);
        entry.method.clone_from(&marker.method);
        entry.path.clone_from(&marker.path);
        // As the runtime names it: `endpoint = ".."`, else the function's own name.
        let function = marker
            .handler
            .rsplit([':', '.'])
            .next()
            .unwrap_or(&marker.handler);
        entry.endpoint = Some(
            marker
                .endpoint
                .clone()
                .unwrap_or_else(|| function.to_owned()),
        );
        match &marker.feature {
            FeatureArg::Missing => self.finding(
                Rule::MissingFeature,
                marker.at.clone(),
                format!("`{syntax}` on `{}` has no `{keyword}`", marker.handler),
                &marker.handler,
                format!("name the feature this code serves, e.g. `{example}`"),
            ),
            FeatureArg::Ident { ident, written, at } => {
                match self.known.lookup(marker.language, ident) {
                    Some(index) => {
                        self.uses[index] += 1;
                        let feature = &self.known.all()[index];
                        entry.assign(feature);
                        if let Some(deprecated) = &feature.deprecated {
                            let replacement = deprecated
                                .renamed_to
                                .as_deref()
                                .and_then(|name| self.known.by_name(name))
                                .map(|f| KnownFeatures::ident(f, marker.language).to_owned());
                            let suggestion = match &replacement {
                                Some(ident) => format!("use `{ident}` instead"),
                                None => "move this code to a current feature".to_owned(),
                            };
                            self.finding(
                                Rule::DeprecatedFeature,
                                at.clone(),
                                format!(
                                    "`{}` uses deprecated feature `{ident}` ({}): {}",
                                    marker.handler, feature.name, deprecated.reason
                                ),
                                &marker.handler,
                                suggestion,
                            );
                        }
                    }
                    None => {
                        let suggestion = match self.known.suggest(marker.language, ident) {
                            Some(close) => format!("did you mean `{close}`?"),
                            None => "add the feature to the registry, or use one it has".to_owned(),
                        };
                        self.finding(
                            Rule::UnknownFeature,
                            at.clone(),
                            format!(
                                "`{}` names feature `{written}`, which is not in the registry",
                                marker.handler
                            ),
                            &marker.handler,
                            suggestion,
                        );
                    }
                }
            }
            FeatureArg::Other { written, at } => self.finding(
                Rule::UnknownFeature,
                at.clone(),
                format!(
                    "`{}`: `{keyword}` must name a registry feature, not `{written}`",
                    marker.handler
                ),
                &marker.handler,
                format!("write it as `{example}`"),
            ),
        }
        self.routes.push(entry);
    }

    /// Endpoints and tasks registered through router and task calls, plus framework endpoint
    /// attributes, that lack a marker.
    fn registrations(&mut self, index: &Index, files: &[(usize, RustFile)]) {
        // One finding per handler definition: the first registration (in path order) is shown.
        let mut unassigned: BTreeMap<DefId, (&Registration, usize)> = BTreeMap::new();
        for (krate, file) in files {
            for registration in &file.registrations {
                let HandlerExpr::Path(path) = &registration.handler else {
                    if matches!(registration.kind, RegistrationKind::Endpoint { .. }) {
                        self.unresolvable(registration);
                    }
                    continue;
                };
                match index.resolve(*krate, &registration.module, path) {
                    Some(id) if files[id.0].1.fns[id.1].marker.is_none() => {
                        unassigned.entry(id).or_insert((registration, 0)).1 += 1;
                    }
                    Some(_) => {}
                    // A task argument that resolves to nothing is a local value or a function
                    // of another crate: only endpoints are reported when unresolved.
                    None if matches!(registration.kind, RegistrationKind::Task { .. }) => {}
                    None => self.unresolvable(registration),
                }
            }
        }
        // Framework attributes (`#[get("/x")]`) of functions not already reported through a
        // registration.
        for (file_index, (_, file)) in files.iter().enumerate() {
            for (fn_index, def) in file.fns.iter().enumerate() {
                if def.marker.is_some() || unassigned.contains_key(&(file_index, fn_index)) {
                    continue;
                }
                if let Some(route) = &def.framework_route {
                    let handler = def.qualified();
                    let mut entry = RouteEntry::new(Kind::Route, &handler, &def.at, Language::Rust);
                    entry.method = Some(route.method.clone());
                    entry.path.clone_from(&route.path);
                    self.routes.push(entry);
                    let attribute = route_attribute(&route.method, route.path.as_deref());
                    self.findings.push(Finding {
                        rule: Rule::UnassignedEndpoint,
                        location: def.at.clone(),
                        message: format!("handler `{handler}` has no feature"),
                        handler: Some(handler),
                        registered_at: Some(route.at.clone()),
                        suggestion: Some(format!("add `{attribute}` to `{}`", def.name)),
                    });
                }
            }
        }
        for ((file, index), (registration, count)) in unassigned {
            let def = &files[file].1.fns[index];
            let handler = def.qualified();
            let (rule, kind, what, attribute) = match &registration.kind {
                RegistrationKind::Endpoint { method, path } => (
                    Rule::UnassignedEndpoint,
                    Kind::Route,
                    "handler".to_owned(),
                    route_attribute(method, path.as_deref()),
                ),
                RegistrationKind::Task { call } => (
                    Rule::UnassignedTask,
                    Kind::Task,
                    format!("task started by `{call}`"),
                    "#[task(feature = ...)]".to_owned(),
                ),
            };
            let elsewhere = match count {
                1 => String::new(),
                n => format!(" (registered {n} times)"),
            };
            let mut entry = RouteEntry::new(kind, &handler, &def.at, Language::Rust);
            if let RegistrationKind::Endpoint { method, path } = &registration.kind {
                entry.method = Some(method.clone());
                entry.path.clone_from(path);
            }
            self.routes.push(entry);
            self.findings.push(Finding {
                rule,
                location: def.at.clone(),
                message: format!("{what} `{handler}` has no feature{elsewhere}"),
                handler: Some(handler),
                registered_at: Some(registration.at.clone()),
                suggestion: Some(format!("add `{attribute}` to `{}`", def.name)),
            });
        }
    }

    /// An endpoint whose handler is a closure, an expression, or a path defined nowhere in the
    /// linted sources.
    fn unresolvable(&mut self, registration: &Registration) {
        let RegistrationKind::Endpoint { method, path } = &registration.kind else {
            return;
        };
        let route = format!("{method} {}", path.as_deref().unwrap_or("?"));
        let attribute = route_attribute(method, path.as_deref());
        let (handler, message, suggestion) = match &registration.handler {
            HandlerExpr::Closure => (
                format!("<closure> {route}"),
                format!("the closure handling {route} cannot carry a feature"),
                format!("move it into a named function with `{attribute}`"),
            ),
            HandlerExpr::Path(path) => {
                let name = path.join("::");
                (
                    name.clone(),
                    format!(
                        "handler `{name}` of {route} is not defined in the linted sources, so its feature cannot be checked"
                    ),
                    "lint the sources that define it too".to_owned(),
                )
            }
            HandlerExpr::Opaque(text) => (
                text.clone(),
                format!(
                    "the handler of {route} (`{text}`) is not a function path, so its feature cannot be checked"
                ),
                format!("register a named function with `{attribute}`"),
            ),
        };
        let mut entry = RouteEntry::new(Kind::Route, &handler, &registration.at, Language::Rust);
        entry.method = Some(method.clone());
        entry.path.clone_from(path);
        self.routes.push(entry);
        self.findings.push(Finding {
            rule: Rule::UnassignedEndpoint,
            location: registration.at.clone(),
            message,
            handler: Some(handler),
            registered_at: None,
            suggestion: Some(suggestion),
        });
    }
}

/// The `#[route]` to suggest for a registration.
fn route_attribute(method: &str, path: Option<&str>) -> String {
    let method = match method {
        "*" | "ANY" => "GET",
        m if m.contains('|') => m.split('|').next().unwrap_or("GET"),
        m => m,
    };
    format!(
        "#[route({method}, \"{}\", feature = ...)]",
        path.unwrap_or("/...")
    )
}
