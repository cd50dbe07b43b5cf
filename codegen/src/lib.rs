//! featgen-codegen: the code generated from a feature registry.
//!
//! The registry itself (loading, validation, ids) is `featgen-registry`. With the default
//! `render` feature, [`render`](render::render) turns a registry into generated files through
//! minijinja templates, [`output`] writes or checks them, and [`Builder`] does both from a
//! build script.

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
