//! The featgen recogniser: `#[route(..)]` and `#[task(..)]` markers on functions, and
//! `featgen::in_current_route`/`featgen::scope`, which give a spawned future a route.

use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Token};

use super::{Scanner, assigned_name, qualify, segments, shorten, string_literal};
use crate::facts::{FeatureArg, Kind, Marker};
use crate::features::Language;
use crate::rust::vocabulary::Vocabulary;

/// The marker attributes (bare, or as `featgen::`/`featgen_macros::` paths).
const MARKERS: [&str; 2] = ["route", "task"];

/// The featgen recogniser's words.
pub(crate) const VOCABULARY: Vocabulary = Vocabulary {
    idents: &MARKERS,
    calls: &[],
    attributes: &[],
    framework: &[],
};

impl Scanner<'_> {
    /// The marker `attr` (path `path`, arguments `args`) puts on function `name`, if it is
    /// one of featgen's.
    pub(super) fn featgen_marker(
        &self,
        attr: &Attribute,
        path: &[String],
        args: &Punctuated<Expr, Token![,]>,
        name: &str,
    ) -> Option<Marker> {
        let last = path.last()?.as_str();
        let ours = path.len() == 1 || matches!(path[0].as_str(), "featgen" | "featgen_macros");
        if !ours || !MARKERS.contains(&last) || Self::is_actix_route(last, args) {
            return None;
        }
        let kind = if last == "route" {
            Kind::Route
        } else {
            Kind::Task
        };
        // Named as the messages show it; built only for marked functions.
        let handler = qualify(&self.module_path, self.owner.as_deref(), name);
        Some(self.read_marker(kind, attr, args, handler))
    }

    fn read_marker(
        &self,
        kind: Kind,
        attr: &Attribute,
        args: &Punctuated<Expr, Token![,]>,
        handler: String,
    ) -> Marker {
        let mut method = None;
        let mut path = None;
        let mut feature = FeatureArg::Missing;
        let mut endpoint = None;
        for arg in args {
            match arg {
                Expr::Assign(assign) if assigned_name(arg).as_deref() == Some("endpoint") => {
                    endpoint = string_literal(&assign.right);
                }
                Expr::Assign(assign) if assigned_name(arg).as_deref() == Some("feature") => {
                    let at = self.at(assign.right.span());
                    feature = match &*assign.right {
                        Expr::Path(p) => FeatureArg::Ident {
                            ident: p
                                .path
                                .segments
                                .last()
                                .map(|s| s.ident.to_string())
                                .unwrap_or_default(),
                            written: shorten(&p.path).replace(' ', ""),
                            at,
                        },
                        other => FeatureArg::Other {
                            written: shorten(other),
                            at,
                        },
                    };
                }
                Expr::Path(p) if method.is_none() => method = Some(segments(&p.path).join("::")),
                Expr::Lit(_) => match string_literal(arg) {
                    Some(s) if s.starts_with('/') => path = Some(s),
                    Some(s) if method.is_none() => method = Some(s),
                    _ => {}
                },
                _ => {}
            }
        }
        Marker {
            kind,
            language: Language::Rust,
            feature,
            at: self.at(attr.span()),
            handler,
            method,
            path,
            endpoint,
        }
    }

    /// Whether `callee` is one of featgen's functions that run a future under a route.
    pub(super) fn carries_route(&self, callee: &syn::Path) -> bool {
        let full = self.expand(&segments(callee));
        full.last().is_some_and(|name| name == "in_current_route")
            || full.ends_with(&["featgen".to_owned(), "scope".to_owned()])
    }
}
