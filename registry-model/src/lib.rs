//! featgen-registry: the feature registry as a validated model.
//!
//! [`Registry::load`] reads YAML (one file or a directory), validates it with precise
//! [`Diagnostic`]s and assigns stable ids from `featgen.lock`; [`Loaded::load`] also returns
//! the lock to write back when names were added or removed. [`ident`] holds the identifier
//! rules every generated target shares. The code generator (`featgen-codegen`), the linter and
//! the attribution crates build on this crate; it has no template machinery.

#![forbid(unsafe_code)]

mod assemble;
mod decode;
pub mod diagnostic;
mod discover;
pub mod ident;
pub mod load;
pub mod lock;
pub mod model;
pub mod par;
mod raw;
mod read;
mod validate;
mod yaml;

pub use diagnostic::{Code, Diagnostic, Diagnostics, Label, Severity, SourceCache};
pub use load::Loaded;
pub use model::{Deprecation, Feature, FeatureGroup, Origin, Registry, Team, Tier};
