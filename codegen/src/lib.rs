//! featgen-codegen: the feature registry and the code generated from it.
//!
//! [`Registry::load`] reads YAML (one file or a directory), validates it with precise
//! [`Diagnostic`]s and assigns stable ids from `featgen.lock`. With the default `render`
//! feature, [`render`](render::render) turns a registry into generated files through
//! minijinja templates, [`output`] writes or checks them, and [`Builder`] does both from a
//! build script. Without it (`default-features = false`), only the model is compiled: what
//! the linter needs.

pub mod diagnostic;
pub mod ident;
pub mod load;
pub mod lock;
pub mod model;
mod par;
mod yaml;

#[cfg(feature = "render")]
mod builder;
#[cfg(feature = "render")]
mod escape;
#[cfg(feature = "render")]
pub mod output;
#[cfg(feature = "render")]
pub mod render;

#[cfg(feature = "render")]
pub use builder::Builder;
pub use diagnostic::{Diagnostic, Diagnostics, Label, Severity, SourceCache};
pub use model::{Deprecation, Feature, FeatureGroup, Origin, Registry, Team, Tier};
