//! A library crate of handlers, with no web framework vocabulary at all.
pub mod handlers;
