//! The actix-web recogniser: route builders finished by `.to(h)` (`web::get().to(h)`,
//! `web::resource("/p").route(..)`, `Route::new().method(..)`), `web::to(h)`, and endpoint
//! attributes (`#[get("/x")]`, `#[route("/x", method = "GET")]`), which rocket spells the same.

use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprCall, ExprMethodCall, Token};

use super::{
    FrameworkRoute, RegistrationKind, Scanner, assigned_name, method_name, segments, string_literal,
};
use crate::rust::vocabulary::Vocabulary;

/// Functions of `actix_web::web` that start a route builder finished by `.to(handler)`.
const BUILDERS: [&str; 10] = [
    "get", "post", "put", "delete", "patch", "head", "trace", "route", "method", "resource",
];

/// Attribute names of actix-web (and rocket) that make a function an endpoint.
const ENDPOINT_ATTRIBUTES: [&str; 9] = [
    "get", "post", "put", "delete", "patch", "head", "options", "trace", "connect",
];

/// The actix-web (and rocket) recogniser's words. The builders are not calls of their own:
/// they count under `web::` or inside `.route(..)`, whose words are listed.
pub(crate) const VOCABULARY: Vocabulary = Vocabulary {
    idents: &["web", "Route", "Resource"],
    calls: &[],
    attributes: &ENDPOINT_ATTRIBUTES,
    framework: &["actix", "rocket", "web"],
};

impl Scanner<'_> {
    /// When `expr` is an actix-web route builder (`web::get()`, `web::resource("/p")`,
    /// `web::route().method(Method::PUT)`), its method and path.
    pub(super) fn actix_builder(&self, expr: &Expr) -> Option<(String, Option<String>)> {
        match expr {
            Expr::Call(call) => {
                let Expr::Path(callee) = &*call.func else {
                    return None;
                };
                let written = segments(&callee.path);
                let full = self.expand(&written);
                let last = full.last()?.as_str();
                let in_web = full.len() >= 2 && full[full.len() - 2] == "web";
                let constructor = full.len() >= 2
                    && last == "new"
                    && matches!(full[full.len() - 2].as_str(), "Route" | "Resource");
                let bare = written.len() == 1 && self.route_path.is_some() && call.args.is_empty();
                if !((in_web || bare) && BUILDERS.contains(&last)) && !constructor {
                    return None;
                }
                let path = call.args.first().and_then(string_literal);
                let method = match last {
                    "route" | "resource" | "new" => "*".to_owned(),
                    "method" => call
                        .args
                        .first()
                        .map_or_else(|| "*".to_owned(), method_name),
                    other => other.to_uppercase(),
                };
                Some((method, path))
            }
            Expr::MethodCall(m) if m.method != "to" => {
                let (method, path) = self.actix_builder(&m.receiver)?;
                match (m.method.to_string().as_str(), m.args.first()) {
                    ("method", Some(arg)) => Some((method_name(arg), path)),
                    _ => Some((method, path)),
                }
            }
            _ => None,
        }
    }

    /// `web::to(handler)` (`full` is the callee's path, imports expanded): a route for every
    /// method.
    pub(super) fn actix_call(&mut self, call: &ExprCall, full: &[String]) {
        if full.len() >= 2
            && full[full.len() - 2] == "web"
            && full[full.len() - 1] == "to"
            && let Some(handler) = call.args.first()
        {
            self.endpoint("*".to_owned(), handler);
        }
    }

    /// `.to(handler)`: registers the handler when the receiver is a route builder; whether the
    /// call has the `.to(h)` form (then it is nothing else).
    pub(super) fn actix_method_call(&mut self, call: &ExprMethodCall, name: &str) -> bool {
        if name != "to" || call.args.len() != 1 {
            return false;
        }
        if let Some((method, path)) = self.actix_builder(&call.receiver) {
            let path = path.or_else(|| self.route_path.clone().flatten().map(|p| self.nested(&p)));
            self.register(
                call.args[0].span(),
                RegistrationKind::Endpoint { method, path },
                &call.args[0],
            );
        }
        true
    }

    /// `#[route("/x", method = "GET", ..)]`: actix's route attribute, not featgen's.
    pub(super) fn is_actix_route(last: &str, args: &Punctuated<Expr, Token![,]>) -> bool {
        last == "route"
            && args
                .iter()
                .any(|a| assigned_name(a).as_deref() == Some("method"))
    }

    /// The endpoint `attr` (last path segment `last`, arguments `args`) declares, when it is
    /// an endpoint attribute with a literal path.
    pub(super) fn endpoint_attribute(
        &self,
        attr: &Attribute,
        last: &str,
        args: &Punctuated<Expr, Token![,]>,
    ) -> Option<FrameworkRoute> {
        let actix_route = Self::is_actix_route(last, args);
        if !ENDPOINT_ATTRIBUTES.contains(&last) && !actix_route {
            return None;
        }
        let method = if actix_route {
            args.iter()
                .filter(|a| assigned_name(a).as_deref() == Some("method"))
                .filter_map(|a| match a {
                    Expr::Assign(a) => string_literal(&a.right),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("|")
        } else {
            last.to_uppercase()
        };
        let path = args.first().and_then(string_literal)?;
        Some(FrameworkRoute {
            method,
            path: Some(path),
            at: self.at(attr.span()),
        })
    }
}
