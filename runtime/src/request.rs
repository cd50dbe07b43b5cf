//! Which route an HTTP request runs under, for the framework adapters ([`crate::axum`],
//! [`crate::actix`]): the marked route of its method and matched path, an explicitly mapped one,
//! or else the [`unmatched`] route of that method and path.

use crate::{FeatureInfo, Route, RouteKind};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// The feature of unmatched routes: every field empty, so that profiles carry none of the
/// feature labels for them, only `endpoint` (see [`unmatched`]).
const NO_FEATURE: FeatureInfo = FeatureInfo {
    name: "",
    id: 0,
    group: "",
    team: "",
    tier: "",
};

/// The path of [`unmatched`] routes of requests for which the router matched no path (its
/// fallback or default service), and the text that stands for it in their endpoint label.
pub const FALLBACK_PATH: &str = "(fallback)";

/// The route of a request that matched no marked and no mapped route: `kind` Endpoint, the
/// request's `method` (`OTHER` for methods outside the nine standard ones), the matched `path`
/// ([`FALLBACK_PATH`] when the router matched none), `endpoint` `"METHOD path"`
/// (`"GET /health"`), and a feature whose fields are all empty.
///
/// Profiles label its samples with `endpoint` only, no `feature`, `feature_group`, `team` or
/// `tier`: CPU spent on a known path that no feature owns, a row of its own in shares, apart
/// from the unattributed bucket (CPU under no route at all).
///
/// Records are made once per (method, path) and kept for the life of the process; paths come
/// from the router's table and methods are folded into ten, so there are finitely many.
pub fn unmatched(method: &str, matched_path: Option<&str>) -> &'static Route {
    /// By method, then path.
    type Unmatched = HashMap<&'static str, HashMap<Box<str>, &'static Route>>;
    static UNMATCHED: LazyLock<Mutex<Unmatched>> = LazyLock::new(Mutex::default);
    let method = standard_method(method);
    let path = matched_path.unwrap_or(FALLBACK_PATH);
    let mut unmatched = UNMATCHED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let by_path = unmatched.entry(method).or_default();
    if let Some(route) = by_path.get(path) {
        return route;
    }
    let path: &'static str = Box::leak(Box::from(path));
    let route: &'static Route = Box::leak(Box::new(Route {
        kind: RouteKind::Endpoint,
        method,
        path,
        endpoint: Box::leak(format!("{method} {path}").into_boxed_str()),
        feature: NO_FEATURE,
        module: module_path!(),
        file: file!(),
        line: line!(),
        calls: crate::Calls::new(),
    }));
    by_path.insert(Box::from(path), route);
    route
}

/// The method's name as a `'static` string: one of the nine standard methods, else `OTHER` (so
/// that clients cannot make routes without bound by sending made-up methods).
fn standard_method(method: &str) -> &'static str {
    [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ]
    .into_iter()
    .find(|standard| *standard == method)
    .unwrap_or("OTHER")
}

/// Routes by matched path, then method.
#[derive(Clone, Debug, Default)]
pub(crate) struct RouteTable {
    /// Few methods per path: a scan beats a second map.
    by_path: HashMap<Box<str>, Vec<(&'static str, &'static Route)>, foldhash::fast::RandomState>,
}

impl RouteTable {
    /// Every `#[route]` endpoint of the binary, by its attribute's method and path (an
    /// attribute's `:param` read as `{param}`, the syntax axum 0.8 and actix-web match on).
    pub(crate) fn marked() -> RouteTable {
        let mut table = RouteTable::default();
        for route in crate::routes() {
            if route.kind == RouteKind::Endpoint {
                table.insert(route.method, &braced_params(route.path), route);
            }
        }
        table
    }

    /// Maps (`method`, `path`) to `route`, replacing what it mapped to before.
    pub(crate) fn insert(&mut self, method: &'static str, path: &str, route: &'static Route) {
        let methods = self.by_path.entry(Box::from(path)).or_default();
        methods.retain(|(known, _)| *known != method);
        methods.push((method, route));
    }

    /// The route of a request for `method` whose router matched `matched_path`: from the table
    /// (`HEAD` as `GET` when only `GET` is there, as both frameworks route it), else
    /// [`unmatched`].
    #[inline]
    pub(crate) fn route_for(&self, method: &str, matched_path: Option<&str>) -> &'static Route {
        if let Some(methods) = matched_path.and_then(|path| self.by_path.get(path)) {
            let find = |wanted: &str| {
                methods
                    .iter()
                    .find_map(|(method, route)| (*method == wanted).then_some(*route))
            };
            let found = find(method).or_else(|| if method == "HEAD" { find("GET") } else { None });
            if let Some(route) = found {
                return route;
            }
        }
        unmatched(method, matched_path)
    }
}

/// `path` with `:param` segments written `{param}`.
fn braced_params(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(param) => format!("{{{param}}}"),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmatched_routes_are_made_once_per_method_and_path() {
        let health = unmatched("GET", Some("/health"));
        assert!(std::ptr::eq(health, unmatched("GET", Some("/health"))));
        assert_eq!(
            (
                health.method,
                health.path,
                health.endpoint,
                health.feature.name
            ),
            ("GET", "/health", "GET /health", "")
        );
        assert_eq!(health.kind, RouteKind::Endpoint);
        assert_eq!(unmatched("POST", None).endpoint, "POST (fallback)");
        let made_up = unmatched("BREW", Some("/pot"));
        assert_eq!(made_up.endpoint, "OTHER /pot");
        assert!(std::ptr::eq(made_up, unmatched("WHEN", Some("/pot"))));
    }

    #[test]
    fn attribute_paths_are_read_in_the_routers_syntax() {
        assert_eq!(braced_params("/a/:id/b/{x}"), "/a/{id}/b/{x}");
        assert_eq!(braced_params("/"), "/");
    }

    #[test]
    fn head_falls_back_to_get_and_explicit_mappings_override() {
        const fn route(endpoint: &'static str) -> Route {
            Route {
                kind: RouteKind::Endpoint,
                method: "GET",
                path: "/x",
                endpoint,
                feature: NO_FEATURE,
                module: module_path!(),
                file: file!(),
                line: line!(),
                calls: crate::Calls::new(),
            }
        }
        static ROUTE: Route = route("x");
        static OTHER: Route = route("other");
        let mut table = RouteTable::default();
        table.insert("GET", "/x", &ROUTE);
        assert!(std::ptr::eq(table.route_for("GET", Some("/x")), &ROUTE));
        assert!(std::ptr::eq(table.route_for("HEAD", Some("/x")), &ROUTE));
        assert_eq!(table.route_for("POST", Some("/x")).endpoint, "POST /x");
        table.insert("GET", "/x", &OTHER);
        assert!(std::ptr::eq(table.route_for("GET", Some("/x")), &OTHER));
    }
}
