//! The rules: from resolved facts to findings and the route inventory.

use std::collections::BTreeMap;

use crate::facts::{FeatureArg, Kind, Marker};
use crate::features::{KnownFeatures, Language, Suggestions};
use crate::finding::{Finding, Location, Rule};
use crate::routes::RouteEntry;
use crate::rust::resolve::{self, DefId, Index, SetAside};
use crate::rust::scan::{HandlerExpr, Registration, RegistrationKind, RustFile};
use crate::sources::Sources;

/// Findings (unsorted) and the route inventory of `sources`.
pub(crate) fn check(
    sources: Sources,
    known: &KnownFeatures,
    registry: &Location,
) -> (Vec<Finding>, Vec<RouteEntry>) {
    let Sources {
        parser,
        rust,
        deferred,
        shallow,
        python,
        mut parse_errors,
        ..
    } = sources;
    let (files, index) = resolve::resolve(
        rust,
        SetAside { deferred, shallow },
        &parser,
        &mut parse_errors,
    );
    let mut checker = Checker {
        known,
        findings: parse_errors,
        routes: Vec::new(),
        uses: vec![0; known.all().len()],
        suggestions: Suggestions::new(known),
    };
    let markers = files
        .iter()
        .flat_map(|f| f.fns.iter().filter_map(|d| d.marker.as_ref()))
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

struct Checker<'a> {
    known: &'a KnownFeatures,
    findings: Vec<Finding>,
    routes: Vec<RouteEntry>,
    /// Markers naming each feature (by registry index).
    uses: Vec<usize>,
    /// "Did you mean" for unknown features.
    suggestions: Suggestions<'a>,
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
                        let suggestion = match self.suggestions.suggest(marker.language, ident) {
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
    fn registrations(&mut self, index: &Index, files: &[RustFile]) {
        // One finding per handler definition: the first registration (in path order) is shown.
        let mut unassigned: BTreeMap<DefId, (&Registration, usize)> = BTreeMap::new();
        for (file_index, file) in files.iter().enumerate() {
            for registration in &file.registrations {
                let HandlerExpr::Path(path) = &registration.handler else {
                    if matches!(registration.kind, RegistrationKind::Endpoint { .. }) {
                        self.unresolvable(registration);
                    }
                    continue;
                };
                match index.resolve(file_index, registration.module, path) {
                    Some(id) if files[id.0].fns[id.1].marker.is_none() => {
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
        for (file_index, file) in files.iter().enumerate() {
            for (fn_index, def) in file.fns.iter().enumerate() {
                if def.marker.is_some() || unassigned.contains_key(&(file_index, fn_index)) {
                    continue;
                }
                if let Some(route) = &def.framework_route {
                    let handler = file.qualified(def);
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
            let def = &files[file].fns[index];
            let handler = files[file].qualified(def);
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
