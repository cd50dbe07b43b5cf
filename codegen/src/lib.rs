//! featgen-codegen: the code generated from a feature registry.
//!
//! The registry itself (loading, validation, ids) is `featgen-registry`; this crate is what
//! only the generator needs. [`render`](render::render) turns a registry into generated files
//! through minijinja templates, [`output`] writes or checks them, and [`Builder`] does both from
//! a build script.

#![forbid(unsafe_code)]

mod builder;
mod context;
mod escape;
mod filters;
pub mod output;
pub mod render;
mod targets;
mod user_templates;

pub use builder::Builder;
