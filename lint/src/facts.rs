//! Language-independent facts the scanners extract and the rules check.

use crate::features::Language;
use crate::finding::Location;

/// Whether a marker declares an endpoint or a background task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// An HTTP endpoint (`#[route]`, `@route`, a router registration).
    Route,
    /// A background task (`#[task]`, `@task`, a configured task call).
    Task,
}

impl Kind {
    /// `route` or `task`, as in the route record of the runtime.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Route => "route",
            Kind::Task => "task",
        }
    }
}

/// A function carrying a feature marker: `#[route]`/`#[task]` in Rust, a configured decorator in
/// Python.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Marker {
    /// Endpoint or task.
    pub kind: Kind,
    /// Language of the source (selects Rust variants or Python members).
    pub language: Language,
    /// What `feature = ...` says.
    pub feature: FeatureArg,
    /// The attribute or decorator.
    pub at: Location,
    /// The function, qualified within its crate or module (`handlers::list_messages`).
    pub handler: String,
    /// HTTP method written in the marker, if any.
    pub method: Option<String>,
    /// HTTP path written in the marker, if any.
    pub path: Option<String>,
    /// What `endpoint = ".."` says, if anything (the label then defaults to the function name).
    pub endpoint: Option<String>,
}

/// The `feature` argument of a marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FeatureArg {
    /// No `feature` argument at all.
    Missing,
    /// A variant/member name or a path ending in one (`Messaging`, `Feature::Messaging`,
    /// `Feature.MESSAGING`): `ident` is the last segment, `written` the whole expression.
    Ident {
        ident: String,
        written: String,
        at: Location,
    },
    /// Something else (a string, a call): cannot name a registry feature.
    Other { written: String, at: Location },
}
