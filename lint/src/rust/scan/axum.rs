//! The axum recogniser: routing functions (`get(h)`, `routing::post(h)`, `on(filter, h)`),
//! method router chains (`get(h).post(h2)`), and `.nest("/p", ..)`; `.route("/p", ..)`, which
//! actix shares, is followed by the traversal.

use syn::{Expr, ExprCall, ExprMethodCall};

use syn::visit::Visit;

use super::{Nest, Scanner, method_name, segments};
use crate::rust::vocabulary::Vocabulary;

/// Functions of `axum::routing` that build a `MethodRouter`: one per method, taking the handler,
/// then `on`, which takes a method filter first.
const ROUTING_FUNCTIONS: [&str; 11] = [
    "get", "post", "put", "delete", "patch", "head", "options", "trace", "connect", "any", "on",
];

/// The axum recogniser's words.
pub(crate) const VOCABULARY: Vocabulary = Vocabulary {
    idents: &["routing", "Router", "MethodRouter"],
    calls: &ROUTING_FUNCTIONS,
    attributes: &[],
    framework: &["routing"],
};

/// Whether `name` is a routing function of one method (`get`; not `on`).
fn is_method(name: &str) -> bool {
    name != "on" && ROUTING_FUNCTIONS.contains(&name)
}

impl Scanner<'_> {
    /// The HTTP method when `callee` is an axum routing function (`get`, `routing::get`, ...).
    fn axum_method(&self, callee: &Expr, args: usize) -> Option<String> {
        let Expr::Path(callee) = callee else {
            return None;
        };
        let written = segments(&callee.path);
        let last = written.last()?;
        let is_on = last == "on" && args == 2;
        if !(is_on || is_method(last) && args == 1) {
            return None;
        }
        let full = self.expand(&written);
        let qualified = full.len() >= 2
            && matches!(full[full.len() - 2].as_str(), "routing" | "method_routing");
        // A bare `get(h)` is axum's when imported from `routing` or written inside `.route()`;
        // elsewhere it is too common a name to claim.
        let bare = written.len() == 1 && (self.route_path.is_some() || self.glob_from("routing"));
        (qualified || bare).then(|| last.to_uppercase())
    }

    /// Whether `expr` builds an axum `MethodRouter` (`get(h)`, `get(h).post(h2)`,
    /// `MethodRouter::new()`).
    fn is_method_router(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Call(call) => {
                self.axum_method(&call.func, call.args.len()).is_some()
                    || matches!(&*call.func, Expr::Path(p) if segments(&p.path).ends_with(&["MethodRouter".to_owned(), "new".to_owned()]))
            }
            Expr::MethodCall(m) => {
                ROUTING_FUNCTIONS.contains(&m.method.to_string().as_str())
                    && self.is_method_router(&m.receiver)
            }
            _ => false,
        }
    }

    /// A routing function call (`get(h)`, `on(MethodFilter::PATCH, h)`): registers its
    /// handler; whether it was one.
    pub(super) fn axum_call(&mut self, call: &ExprCall) -> bool {
        let Some(method) = self.axum_method(&call.func, call.args.len()) else {
            return false;
        };
        // `on(MethodFilter::PATCH, h)` names its method in the first argument.
        let method = match (method.as_str(), call.args.first()) {
            ("ON", Some(filter)) => method_name(filter),
            _ => method,
        };
        if let Some(handler) = call.args.last() {
            self.endpoint(method, handler);
        }
        true
    }

    /// A method of a method router chain (`get(h).post(h2)`, `.on(filter, h)`): registers its
    /// handler; whether it was one.
    pub(super) fn axum_method_call(&mut self, call: &ExprMethodCall, name: &str) -> bool {
        let args = &call.args;
        if args.len() == 1 && is_method(name) && self.is_method_router(&call.receiver) {
            self.endpoint(name.to_uppercase(), &args[0]);
        } else if name == "on" && args.len() == 2 && self.is_method_router(&call.receiver) {
            self.endpoint(method_name(&args[0]), &args[1]);
        } else {
            return false;
        }
        true
    }

    /// `.nest("/p", f())`: f's routes are under /p; `.nest("/p", Router::new()..)`: the routes
    /// inside are. Visits the call's parts.
    pub(super) fn nest_call(&mut self, call: &ExprMethodCall, prefix: String) {
        let args = &call.args;
        if let Expr::Call(inner) = &args[1]
            && let Expr::Path(callee) = &*inner.func
        {
            self.out.nests.push(Nest {
                module: self.module,
                prefix: self.nested(&prefix),
                callee: segments(&callee.path),
                within: self.within,
            });
        }
        self.visit_expr(&call.receiver);
        self.visit_expr(&args[0]);
        self.nest.push(prefix);
        self.visit_expr(&args[1]);
        self.nest.pop();
    }
}
