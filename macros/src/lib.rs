//! `#[route]` and `#[task]`: assign an endpoint or background task its feature.
//!
//! Use them through the `featgen` crate, which re-exports them and provides the runtime they
//! expand to (`featgen::Route`, `featgen::current()`, `featgen::routes()`). The arguments are
//! parsed in `attr.rs` and the code generated in `expand.rs`, as in tracing-attributes.

#![forbid(unsafe_code)]

mod attr;
mod expand;

use attr::Kind;
use proc_macro::TokenStream;

/// Marks an HTTP handler with its method, path and feature.
///
/// `#[route(POST, "/channels/{channel_id}/messages", feature = Messaging)]`, optionally with
/// `endpoint = "messages.create"` (the function name by default). The method is one of `GET`,
/// `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD`, `OPTIONS` or a string; the path starts with `/`.
/// A bare feature name means `Feature::<name>` in the caller's scope; a path is used as written.
///
/// The function keeps its signature and stays callable; while its body runs (per poll for an
/// async function) `featgen::current()` returns its route, and `featgen::routes()` lists it.
#[proc_macro_attribute]
pub fn route(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Endpoint, args.into(), item.into()).into()
}

/// Marks a background task with its feature: `#[task(feature = Messaging)]`, optionally with
/// `endpoint = "attachments.expire"` (the function name by default).
///
/// Same behaviour as [`macro@route`], with no method or path.
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(Kind::Task, args.into(), item.into()).into()
}
