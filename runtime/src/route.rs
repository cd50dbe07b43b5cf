//! The route record: which endpoint or task is running and which feature it belongs to.
//!
//! `#[route]` and `#[task]` build one [`Route`] per marked function as a `static`, at compile time,
//! and register it in the binary-wide list returned by [`routes()`].

use crate::Calls;
use std::sync::OnceLock;

/// Whether a [`Route`] is an HTTP endpoint (`#[route]`) or a background task (`#[task]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteKind {
    /// An HTTP handler marked with `#[route(METHOD, "/path", feature = ..)]`.
    Endpoint,
    /// A background task marked with `#[task(feature = ..)]`.
    Task,
}

/// The feature a route is attributed to, copied from the generated `Feature` enum's const API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeatureInfo {
    /// The feature's name in the registry YAML (`Feature::name`).
    pub name: &'static str,
    /// The feature's stable id from `featgen.lock` (`Feature::id`).
    pub id: u32,
    /// The name of the feature's group (`Feature::group().name()`).
    pub group: &'static str,
    /// The name of the owning team (`Feature::team().name()`).
    pub team: &'static str,
    /// The name of the feature's tier (`Feature::tier().name()`).
    pub tier: &'static str,
}

/// One endpoint or background task, as declared by `#[route]` or `#[task]`.
///
/// Every marked function owns one `static Route`, and [`crate::current()`] returns a reference to
/// it. Compare routes with `==`, not by address: a macro that copies the function it decorates
/// (axum's `#[debug_handler]` does, for its never-called checks) copies the record too.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    /// Endpoint or task.
    pub kind: RouteKind,
    /// The HTTP method (`"GET"`, `"POST"`, ...); `""` for tasks.
    pub method: &'static str,
    /// The HTTP path pattern as written in the attribute; `""` for tasks.
    pub path: &'static str,
    /// The endpoint name used in profile labels: the `endpoint` argument, else the function name.
    pub endpoint: &'static str,
    /// The feature the route is attributed to.
    pub feature: FeatureInfo,
    /// The module of the marked function (`module_path!()`).
    pub module: &'static str,
    /// The source file of the marked function (`file!()`).
    pub file: &'static str,
    /// The line of the attribute (`line!()`).
    pub line: u32,
    /// Its completed calls, counted for the profiler's `requests` (always [`Calls::new()`]).
    pub calls: Calls,
}

/// Builds a [`FeatureInfo`] in a const context from a value of a generated `Feature` enum.
///
/// Usable in `static` initializers, which is how `#[route]` builds its records; hand-written
/// routes (for [`crate::scope`] and [`crate::enter`]) use it the same way:
///
/// ```
/// # mod features { pub use featgen_features::Feature; }
/// use features::Feature;
/// static SWEEP: featgen::Route = featgen::Route {
///     kind: featgen::RouteKind::Task,
///     method: "",
///     path: "",
///     endpoint: "sweep",
///     feature: featgen::feature_info!(Feature::Messaging),
///     module: module_path!(),
///     file: file!(),
///     line: line!(),
///     calls: featgen::Calls::new(),
/// };
/// assert_eq!(SWEEP.feature.name, "messaging");
/// ```
#[macro_export]
macro_rules! feature_info {
    ($feature:expr) => {{
        // One binding, so that an unknown variant is reported once, not once per field.
        let feature = $feature;
        $crate::FeatureInfo {
            name: feature.name(),
            id: feature.id(),
            group: feature.group().name(),
            team: feature.team().name(),
            tier: feature.tier().name(),
        }
    }};
}

/// The distributed slice that `#[route]` and `#[task]` add their records to, from any crate.
///
/// Public only for the macros' generated code (through `featgen::__private`); read it with
/// [`routes()`].
#[doc(hidden)]
#[linkme::distributed_slice]
pub static ROUTES: [Route];

/// Every `#[route]` and `#[task]` linked into this binary, from every crate, sorted by file and
/// line.
///
/// The list is assembled by the linker (see the README, "Marking endpoints and tasks", for the
/// platforms where this works). Identical records are listed once: they come from copies of one
/// function made by another attribute macro (`#[debug_handler]` in debug builds).
pub fn routes() -> &'static [&'static Route] {
    static UNIQUE: OnceLock<Box<[&'static Route]>> = OnceLock::new();
    UNIQUE.get_or_init(|| {
        let mut routes: Vec<&'static Route> = ROUTES.iter().collect();
        routes.sort_unstable_by(|a, b| (a.file, a.line, a).cmp(&(b.file, b.line, b)));
        routes.dedup();
        routes.into_boxed_slice()
    })
}
