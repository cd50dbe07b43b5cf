//! One Rust file to facts: function definitions with their markers, imports, modules, and the
//! calls that register handlers (axum, actix-web) and background tasks.
//!
//! Purely syntactic: what a path refers to is decided later by [`super::resolve`], once every
//! file of the crate has been scanned.

use proc_macro2::Span;
use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Attribute, Expr, ExprCall, ExprMethodCall, Lit, Token};

use super::depth;
use super::prune::{Pruning, Triggers};
use crate::facts::{FeatureArg, Kind, Marker};
use crate::features::Language;
use crate::finding::Location;

/// Functions of `axum::routing` that build a `MethodRouter` from one handler.
pub(crate) const AXUM_METHODS: [&str; 10] = [
    "get", "post", "put", "delete", "patch", "head", "options", "trace", "connect", "any",
];

/// Functions of `actix_web::web` that start a route builder finished by `.to(handler)`.
const ACTIX_BUILDERS: [&str; 10] = [
    "get", "post", "put", "delete", "patch", "head", "trace", "route", "method", "resource",
];

/// Attribute names of actix-web (and rocket) that make a function an endpoint.
pub(crate) const ENDPOINT_ATTRIBUTES: [&str; 9] = [
    "get", "post", "put", "delete", "patch", "head", "options", "trace", "connect",
];

/// Facts of one Rust source file.
#[derive(Debug, Default)]
pub(crate) struct RustFile {
    /// Display path of the file.
    pub path: String,
    /// Function definitions (free, associated, methods; nested ones too).
    pub fns: Vec<FnDef>,
    /// Every module this file declares or is (`mod x;`, `mod x { .. }`), as full paths.
    pub modules: Vec<Vec<String>>,
    /// `use` declarations.
    pub imports: Vec<Import>,
    /// Handler and task registrations.
    pub registrations: Vec<Registration>,
    /// `.nest("/prefix", router_fn())` calls.
    pub nests: Vec<Nest>,
}

/// `.nest(prefix, f(..))`: the routes that function `f` registers are under `prefix`.
#[derive(Debug)]
pub(crate) struct Nest {
    /// Module of the call.
    pub module: Vec<String>,
    /// The prefix (with any inline nesting around the call).
    pub prefix: String,
    /// The function called to build the nested router.
    pub callee: Vec<String>,
    /// The function the call is in (index into the file's `fns`).
    pub within: Option<usize>,
}

/// A function definition.
#[derive(Debug)]
pub(crate) struct FnDef {
    /// Module path within the crate.
    pub module: Vec<String>,
    /// Self type of the enclosing `impl`, for associated functions.
    pub owner: Option<String>,
    /// The function's name.
    pub name: String,
    /// The name's position.
    pub at: Location,
    /// `#[route]`/`#[task]` on the function.
    pub marker: Option<Marker>,
    /// An endpoint attribute of the web framework (`#[get("/x")]`).
    pub framework_route: Option<FrameworkRoute>,
}

impl FnDef {
    /// The crate-relative name used in messages and baselines (`handlers::Chat::send`).
    pub fn qualified(&self) -> String {
        qualify(&self.module, self.owner.as_deref(), &self.name)
    }
}

/// `#[get("/path")]` and friends (actix-web, rocket).
#[derive(Debug)]
pub(crate) struct FrameworkRoute {
    /// HTTP method.
    pub method: String,
    /// HTTP path, when the attribute's first argument is a string.
    pub path: Option<String>,
    /// The attribute.
    pub at: Location,
}

/// `use target as alias;` (`alias` is `None` for a glob import `use target::*;`).
#[derive(Debug)]
pub(crate) struct Import {
    /// Module the import is in.
    pub module: Vec<String>,
    /// Name it binds, `None` for a glob.
    pub alias: Option<String>,
    /// Path imported (the glob's module for globs).
    pub target: Vec<String>,
}

/// A call that registers a function as an endpoint or a task.
#[derive(Debug)]
pub(crate) struct Registration {
    /// Module of the call.
    pub module: Vec<String>,
    /// Where the handler expression is.
    pub at: Location,
    /// Endpoint or task, with what the call says about it.
    pub kind: RegistrationKind,
    /// The handler.
    pub handler: HandlerExpr,
    /// The function the registration is in (index into the file's `fns`), whose own `.nest`
    /// prefixes apply.
    pub within: Option<usize>,
}

/// What a registration registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegistrationKind {
    /// An HTTP handler; `path` when the router call names it with a literal.
    Endpoint {
        method: String,
        path: Option<String>,
    },
    /// A background task started through the configured call `call`.
    Task { call: String },
}

/// The handler argument of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HandlerExpr {
    /// A path to a function (`list`, `handlers::list`, `Self::list`, `Chat::list`).
    Path(Vec<String>),
    /// A closure: it cannot carry an attribute.
    Closure,
    /// Anything else, as written (shortened).
    Opaque(String),
}

/// A configured task call, split into segments; `method` for `.name` patterns.
#[derive(Debug, Clone)]
pub(crate) struct TaskPattern {
    text: String,
    segments: Vec<String>,
    method: bool,
}

impl TaskPattern {
    /// Parses a `task_calls` entry (`tokio::spawn`, `.register`).
    pub fn new(text: &str) -> Self {
        let method = text.starts_with('.');
        TaskPattern {
            text: text.to_owned(),
            segments: text
                .trim_start_matches('.')
                .split("::")
                .map(str::to_owned)
                .collect(),
            method,
        }
    }

    /// The called function or method name (`spawn` of `tokio::spawn`).
    pub fn last(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }
}

/// `module::Owner::name`, without empty parts.
pub(crate) fn qualify(module: &[String], owner: Option<&str>, name: &str) -> String {
    let mut parts: Vec<&str> = module.iter().map(String::as_str).collect();
    parts.extend(owner);
    parts.push(name);
    parts.join("::")
}

/// Parses `source` and extracts its facts. `module` is the file's module path within its crate.
/// What cannot matter is pruned first (see [`super::prune`]); the flag says whether an `impl`
/// block was, so that the caller can parse again with [`Pruning::Shallow`] if needed.
///
/// # Errors
/// The parse error's position and message when the file is not valid Rust.
pub(crate) fn scan(
    path: &str,
    module: Vec<String>,
    source: &str,
    tasks: &[TaskPattern],
    triggers: &Triggers,
    pruning: Pruning,
) -> Result<(RustFile, bool), (Location, String)> {
    // What `syn::parse_file` strips before tokenizing: a byte order mark and a shebang line
    // (its newline is kept so that line numbers stay right).
    let mut text = source.strip_prefix('\u{feff}').unwrap_or(source);
    if text.starts_with("#!") && !text.starts_with("#![") {
        text = text.find('\n').map_or("", |end| &text[end..]);
    }
    let (pruned, blanked_impl) = triggers.prune(text, pruning);
    let scan_text = |text: &str| {
        let module = module.clone();
        depth::guarded(path, text, triggers, || {
            let file = parse_tokens(path, text)?;
            let mut scanner = Scanner {
                out: RustFile {
                    path: path.to_owned(),
                    modules: vec![module.clone()],
                    ..RustFile::default()
                },
                module,
                owner: None,
                route_path: None,
                nest: Vec::new(),
                within: None,
                tasks,
            };
            scanner.visit_file(&file);
            // The tree is dropped (recursively) here, on the thread sized for it.
            drop(file);
            Ok(scanner.out)
        })
    };
    match scan_text(&pruned) {
        Ok(out) => Ok((out, blanked_impl)),
        // Never trust pruning with an error: the original text decides.
        Err(_) => Ok((scan_text(text)?, false)),
    }
}

/// Tokenizes and parses a whole file.
fn parse_tokens(path: &str, text: &str) -> Result<syn::File, (Location, String)> {
    let tokens: proc_macro2::TokenStream = text.parse().map_err(|err: proc_macro2::LexError| {
        // LexError's own text ("cannot parse string into token stream") says nothing useful.
        let what = "invalid tokens: an unclosed or mismatched delimiter, or a malformed literal";
        (location(path, err.span()), what.to_owned())
    })?;
    syn::parse2(tokens).map_err(|err| (location(path, err.span()), err.to_string()))
}

/// The position of `span` in `path` (1-based line and column).
fn location(path: &str, span: Span) -> Location {
    let start = span.start();
    Location {
        path: path.to_owned(),
        line: u32::try_from(start.line).unwrap_or(u32::MAX),
        column: u32::try_from(start.column + 1).unwrap_or(u32::MAX),
    }
}

/// The identifiers of a path, generic arguments dropped.
fn segments(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

/// The value of a string literal expression.
fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(s) => Some(s.value()),
            _ => None,
        },
        _ => None,
    }
}

/// Source text of a syntax node, shortened for messages.
fn shorten(node: &impl ToTokens) -> String {
    let text = node.to_token_stream().to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

struct Scanner<'a> {
    out: RustFile,
    /// Current module path (the file's, plus inline `mod`s).
    module: Vec<String>,
    /// Self type of the enclosing `impl`.
    owner: Option<String>,
    /// Inside the handler argument of `.route(path, ..)`: the path literal, if any.
    route_path: Option<Option<String>>,
    /// Prefixes of the `.nest(prefix, Router::new()...)` calls being visited.
    nest: Vec<String>,
    /// The innermost function being visited (index into `out.fns`).
    within: Option<usize>,
    tasks: &'a [TaskPattern],
}

impl Scanner<'_> {
    fn at(&self, span: Span) -> Location {
        location(&self.out.path, span)
    }

    /// Expands the first segment of `path` through the imports of the current module.
    fn expand(&self, path: &[String]) -> Vec<String> {
        let Some(first) = path.first() else {
            return Vec::new();
        };
        self.out
            .imports
            .iter()
            .find(|i| i.module == self.module && i.alias.as_deref() == Some(first.as_str()))
            .map(|i| i.target.iter().chain(&path[1..]).cloned().collect())
            .unwrap_or_else(|| path.to_vec())
    }

    /// Whether a bare name may come from a glob import of a module named `module_name`.
    fn glob_from(&self, module_name: &str) -> bool {
        self.out.imports.iter().any(|i| {
            i.module == self.module
                && i.alias.is_none()
                && i.target.last().is_some_and(|m| m == module_name)
        })
    }

    /// The HTTP method when `callee` is an axum routing function (`get`, `routing::get`, ...).
    fn axum_method(&self, callee: &Expr, args: usize) -> Option<String> {
        let Expr::Path(callee) = callee else {
            return None;
        };
        let written = segments(&callee.path);
        let last = written.last()?;
        let is_on = last == "on" && args == 2;
        if !(is_on || AXUM_METHODS.contains(&last.as_str()) && args == 1) {
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

    /// Whether `expr` builds an axum `MethodRouter` (`get(h)`, `get(h).post(h2)`, `MethodRouter::new()`).
    fn is_method_router(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Call(call) => {
                self.axum_method(&call.func, call.args.len()).is_some()
                    || matches!(&*call.func, Expr::Path(p) if segments(&p.path).ends_with(&["MethodRouter".to_owned(), "new".to_owned()]))
            }
            Expr::MethodCall(m) => {
                (AXUM_METHODS.contains(&m.method.to_string().as_str()) || m.method == "on")
                    && self.is_method_router(&m.receiver)
            }
            _ => false,
        }
    }

    /// When `expr` is an actix-web route builder (`web::get()`, `web::resource("/p")`,
    /// `web::route().method(Method::PUT)`), its method and path.
    fn actix_builder(&self, expr: &Expr) -> Option<(String, Option<String>)> {
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
                if !((in_web || bare) && ACTIX_BUILDERS.contains(&last)) && !constructor {
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

    fn register(&mut self, span: Span, kind: RegistrationKind, handler: &Expr) {
        let handler = self.handler_expr(handler);
        self.out.registrations.push(Registration {
            module: self.module.clone(),
            at: self.at(span),
            kind,
            handler,
            within: self.within,
        });
    }

    fn handler_expr(&self, expr: &Expr) -> HandlerExpr {
        match expr {
            Expr::Path(p) => {
                let mut path = segments(&p.path);
                if path.first().is_some_and(|s| s == "Self") {
                    match &self.owner {
                        Some(owner) => path[0].clone_from(owner),
                        None => return HandlerExpr::Opaque(shorten(&p.path)),
                    }
                }
                HandlerExpr::Path(path)
            }
            Expr::Closure(_) => HandlerExpr::Closure,
            Expr::Paren(e) => self.handler_expr(&e.expr),
            Expr::Group(e) => self.handler_expr(&e.expr),
            Expr::Reference(e) => self.handler_expr(&e.expr),
            other => HandlerExpr::Opaque(shorten(other)),
        }
    }

    fn endpoint(&mut self, method: String, handler: &Expr) {
        let path = self.route_path.clone().flatten().map(|p| self.nested(&p));
        self.register(
            handler.span(),
            RegistrationKind::Endpoint { method, path },
            handler,
        );
    }

    /// `path` under the inline `.nest` prefixes being visited.
    fn nested(&self, path: &str) -> String {
        let mut full = self.nest.concat();
        full.push_str(path);
        full
    }

    /// Whether `callee` is one of featgen's functions that run a future under a route.
    fn carries_route(&self, callee: &syn::Path) -> bool {
        let full = self.expand(&segments(callee));
        full.last().is_some_and(|name| name == "in_current_route")
            || full.ends_with(&["featgen".to_owned(), "scope".to_owned()])
    }

    /// Records the function arguments of a configured task call.
    fn task_call(&mut self, pattern: &str, args: &Punctuated<Expr, Token![,]>) {
        for arg in args {
            // A named function passed as is, or called to produce the future
            // (`tokio::spawn(expire())`); async blocks and closures are not named tasks.
            let target = match arg {
                Expr::Path(_) => arg,
                Expr::Call(call) => match &*call.func {
                    // `featgen::in_current_route(fut)` and `featgen::scope(&ROUTE, fut)` give
                    // the spawned future a route: it is attributed, whatever `fut` is.
                    Expr::Path(callee) if self.carries_route(&callee.path) => continue,
                    Expr::Path(_) => &*call.func,
                    _ => continue,
                },
                _ => continue,
            };
            self.register(
                arg.span(),
                RegistrationKind::Task {
                    call: pattern.to_owned(),
                },
                target,
            );
        }
    }

    fn marker_of(
        &self,
        attrs: &[Attribute],
        handler: &str,
    ) -> (Option<Marker>, Option<FrameworkRoute>) {
        let mut marker = None;
        let mut framework = None;
        for attr in attrs {
            let path = segments(attr.path());
            let Some(last) = path.last().map(String::as_str) else {
                continue;
            };
            let ours = path.len() == 1 || matches!(path[0].as_str(), "featgen" | "featgen_macros");
            let args = match &attr.meta {
                syn::Meta::Path(_) => Ok(Punctuated::new()),
                _ => attr.parse_args_with(Punctuated::<Expr, Token![,]>::parse_terminated),
            };
            let args = args.unwrap_or_default();
            let actix_route = last == "route"
                && args
                    .iter()
                    .any(|a| assigned_name(a).as_deref() == Some("method"));
            if ours && !actix_route && (last == "route" || last == "task") {
                let kind = if last == "route" {
                    Kind::Route
                } else {
                    Kind::Task
                };
                marker = Some(self.read_marker(kind, attr, &args, handler));
            } else if ENDPOINT_ATTRIBUTES.contains(&last) || actix_route {
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
                if let Some(path) = args.first().and_then(string_literal) {
                    framework = Some(FrameworkRoute {
                        method,
                        path: Some(path),
                        at: self.at(attr.span()),
                    });
                }
            }
        }
        (marker, framework)
    }

    fn read_marker(
        &self,
        kind: Kind,
        attr: &Attribute,
        args: &Punctuated<Expr, Token![,]>,
        handler: &str,
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
            handler: handler.to_owned(),
            method,
            path,
            endpoint,
        }
    }

    /// Records a function definition; returns its index in `out.fns`.
    fn define(&mut self, attrs: &[Attribute], ident: &syn::Ident) -> usize {
        let name = ident.to_string();
        let qualified = qualify(&self.module, self.owner.as_deref(), &name);
        let (marker, framework_route) = self.marker_of(attrs, &qualified);
        self.out.fns.push(FnDef {
            module: self.module.clone(),
            owner: self.owner.clone(),
            name,
            at: self.at(ident.span()),
            marker,
            framework_route,
        });
        self.out.fns.len() - 1
    }

    fn import(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.import(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.bind(prefix, &n.ident, &n.ident),
            syn::UseTree::Rename(r) => self.bind(prefix, &r.ident, &r.rename),
            syn::UseTree::Glob(_) => self.out.imports.push(Import {
                module: self.module.clone(),
                alias: None,
                target: prefix.clone(),
            }),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.import(prefix, tree);
                }
            }
        }
    }

    fn bind(&mut self, prefix: &[String], name: &syn::Ident, alias: &syn::Ident) {
        // `use a::b::{self}` binds `b` to `a::b`.
        let target = if name == "self" {
            prefix.to_vec()
        } else {
            prefix.iter().cloned().chain([name.to_string()]).collect()
        };
        let alias = if name == "self" {
            prefix.last().cloned()
        } else {
            Some(alias.to_string())
        };
        if let Some(alias) = alias.filter(|a| a != "_") {
            self.out.imports.push(Import {
                module: self.module.clone(),
                alias: Some(alias),
                target,
            });
        }
    }
}

/// `name` of `name = value`.
fn assigned_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Assign(assign) => match &*assign.left {
            Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
            _ => None,
        },
        _ => None,
    }
}

/// `Method::PUT`, `http::Method::PUT` or `"PUT"` to `PUT`.
fn method_name(expr: &Expr) -> String {
    match expr {
        Expr::Path(p) => p
            .path
            .segments
            .last()
            .map_or_else(|| "*".to_owned(), |s| s.ident.to_string().to_uppercase()),
        other => string_literal(other).unwrap_or_else(|| "*".to_owned()),
    }
}

impl<'ast> Visit<'ast> for Scanner<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.module.push(item.ident.to_string());
        self.out.modules.push(self.module.clone());
        visit::visit_item_mod(self, item);
        self.module.pop();
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        let owner = match &*item.self_ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        let outer = std::mem::replace(&mut self.owner, owner);
        visit::visit_item_impl(self, item);
        self.owner = outer;
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        // A free function inside a method body is not associated with the impl's type.
        let outer = self.owner.take();
        let index = self.define(&item.attrs, &item.sig.ident);
        let outer_fn = self.within.replace(index);
        visit::visit_item_fn(self, item);
        self.within = outer_fn;
        self.owner = outer;
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        let index = self.define(&item.attrs, &item.sig.ident);
        let outer_fn = self.within.replace(index);
        visit::visit_impl_item_fn(self, item);
        self.within = outer_fn;
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut prefix = Vec::new();
        if item.leading_colon.is_some() {
            // `use ::tokio::spawn` names an external crate: mark it so it never resolves locally.
            prefix.push("::".to_owned());
        }
        self.import(&mut prefix, &item.tree);
    }

    fn visit_expr_call(&mut self, call: &'ast ExprCall) {
        if let Some(method) = self.axum_method(&call.func, call.args.len()) {
            // `on(MethodFilter::PATCH, h)` names its method in the first argument.
            let method = match (method.as_str(), call.args.first()) {
                ("ON", Some(filter)) => method_name(filter),
                _ => method,
            };
            if let Some(handler) = call.args.last() {
                self.endpoint(method, handler);
            }
        } else if let Expr::Path(callee) = &*call.func {
            let full = self.expand(&segments(&callee.path));
            if full.len() >= 2 && full[full.len() - 2] == "web" && full[full.len() - 1] == "to" {
                // actix `web::to(handler)` (a route for every method).
                if let Some(handler) = call.args.first() {
                    self.endpoint("*".to_owned(), handler);
                }
            }
            let pattern = self
                .tasks
                .iter()
                .find(|p| !p.method && full.ends_with(&p.segments))
                .map(|p| p.text.clone());
            if let Some(pattern) = pattern {
                self.task_call(&pattern, &call.args);
            }
        }
        // The handler argument is not itself a router call: plain traversal is fine below.
        let outer = self.route_path.take();
        visit::visit_expr_call(self, call);
        self.route_path = outer;
    }

    fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
        let name = call.method.to_string();
        let args = &call.args;
        if let (true, Some(prefix)) = (
            name == "nest" && args.len() == 2,
            args.first().and_then(string_literal),
        ) {
            // `.nest("/p", f())`: f's routes are under /p; `.nest("/p", Router::new()..)`: the
            // routes inside are.
            if let Expr::Call(inner) = &args[1]
                && let Expr::Path(callee) = &*inner.func
            {
                self.out.nests.push(Nest {
                    module: self.module.clone(),
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
            return;
        }
        if name == "route" && (args.len() == 2 || args.len() == 1) {
            // `.route("/p", get(h))` (axum, actix App/Scope) or `resource("/p").route(web::get().to(h))`.
            let path = if args.len() == 2 {
                string_literal(&args[0])
            } else {
                self.actix_builder(&call.receiver)
                    .and_then(|(_, path)| path)
            };
            self.visit_expr(&call.receiver);
            for (i, arg) in args.iter().enumerate() {
                if i + 1 == args.len() {
                    let outer = self.route_path.replace(path.clone());
                    self.visit_expr(arg);
                    self.route_path = outer;
                } else {
                    self.visit_expr(arg);
                }
            }
            return;
        }
        if args.len() == 1
            && AXUM_METHODS.contains(&name.as_str())
            && self.is_method_router(&call.receiver)
        {
            self.endpoint(name.to_uppercase(), &args[0]);
        } else if name == "on" && args.len() == 2 && self.is_method_router(&call.receiver) {
            self.endpoint(method_name(&args[0]), &args[1]);
        } else if name == "to" && args.len() == 1 {
            if let Some((method, path)) = self.actix_builder(&call.receiver) {
                let path =
                    path.or_else(|| self.route_path.clone().flatten().map(|p| self.nested(&p)));
                self.register(
                    args[0].span(),
                    RegistrationKind::Endpoint { method, path },
                    &args[0],
                );
            }
        } else if let Some(pattern) = self
            .tasks
            .iter()
            .find(|p| p.method && p.segments.last() == Some(&name))
            .map(|p| p.text.clone())
        {
            self.task_call(&pattern, args);
        }
        visit::visit_expr_method_call(self, call);
    }
}
