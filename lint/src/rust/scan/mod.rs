//! One Rust file to facts: function definitions with their markers, imports, modules, and the
//! calls that register handlers and background tasks.
//!
//! This module walks the syntax tree and keeps the context (module, `impl` type, enclosing
//! function, router call); one recogniser per framework reads the syntax it knows: [`featgen`]
//! (`#[route]`/`#[task]`), [`axum`] (routing functions, `.route`, `.nest`), [`actix`] (route
//! builders, `.to`, `#[get("/x")]`-style attributes, which rocket shares) and [`tasks`] (the
//! configured task calls). Their words are listed in [`super::vocabulary`].
//!
//! Purely syntactic: what a path refers to is decided later by [`super::resolve`], once every
//! file of the crate has been scanned.

pub(crate) mod actix;
pub(crate) mod axum;
pub(crate) mod featgen;
pub(crate) mod tasks;

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Attribute, Expr, ExprCall, ExprMethodCall, Lit, Token};

use super::depth;
use super::prune::{Pruning, Triggers};
use crate::facts::Marker;
use crate::finding::Location;
pub(crate) use tasks::TaskPattern;

/// Facts of one Rust source file.
#[derive(Debug, Default)]
pub(crate) struct RustFile {
    /// Display path of the file.
    pub path: String,
    /// The modules this file is or declares (`mod x;`, `mod x { .. }`); the first is the file's
    /// own. Facts name their module by index into this list, so that a module nested a
    /// thousand levels deep costs one entry, not a path of a thousand names per fact.
    pub modules: Vec<ModuleDecl>,
    /// The file's own module path within its crate.
    pub module: Vec<String>,
    /// Function definitions (free, associated, methods; nested ones too).
    pub fns: Vec<FnDef>,
    /// `use` declarations.
    pub imports: Vec<Import>,
    /// Handler and task registrations.
    pub registrations: Vec<Registration>,
    /// `.nest("/prefix", router_fn())` calls.
    pub nests: Vec<Nest>,
}

/// A module of a file: the file's own (without a parent), or a `mod` declared in it.
#[derive(Debug)]
pub(crate) struct ModuleDecl {
    /// The enclosing module (index into the file's `modules`); `None` for the file's own.
    pub parent: Option<usize>,
    /// Its name (empty for the file's own, whose path is [`RustFile::module`]).
    pub name: String,
}

impl RustFile {
    /// The module path of the file's module `index`, within its crate.
    pub fn module_path(&self, index: usize) -> Vec<String> {
        let mut names = Vec::new();
        let mut at = Some(index);
        while let Some(module) = at.and_then(|i| self.modules.get(i)) {
            if module.parent.is_some() {
                names.push(module.name.clone());
            }
            at = module.parent;
        }
        names.reverse();
        self.module.iter().cloned().chain(names).collect()
    }

    /// The crate-relative name of `def` used in messages and baselines (`handlers::Chat::send`).
    pub fn qualified(&self, def: &FnDef) -> String {
        qualify(
            &self.module_path(def.module),
            def.owner.as_deref(),
            &def.name,
        )
    }
}

/// `.nest(prefix, f(..))`: the routes that function `f` registers are under `prefix`.
#[derive(Debug)]
pub(crate) struct Nest {
    /// Module of the call (index into the file's `modules`).
    pub module: usize,
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
    /// Module (index into the file's `modules`).
    pub module: usize,
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
    /// Module the import is in (index into the file's `modules`).
    pub module: usize,
    /// Name it binds, `None` for a glob.
    pub alias: Option<String>,
    /// Path imported (the glob's module for globs).
    pub target: Vec<String>,
}

/// A call that registers a function as an endpoint or a task.
#[derive(Debug)]
pub(crate) struct Registration {
    /// Module of the call (index into the file's `modules`).
    pub module: usize,
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

/// `module::Owner::name`, without empty parts.
pub(crate) fn qualify(module: &[String], owner: Option<&str>, name: &str) -> String {
    let mut parts: Vec<&str> = module.iter().map(String::as_str).collect();
    parts.extend(owner);
    parts.push(name);
    parts.join("::")
}

/// Parses `source` and extracts its facts. `module` is the file's module path within its crate.
/// What cannot matter is pruned first (see [`super::prune`]); with the facts come the names of
/// the functions in the `impl` blocks pruned, so that the caller can parse again with
/// [`Pruning::Shallow`] if a registration names one.
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
) -> Result<(RustFile, Vec<String>), (Location, String)> {
    // What `syn::parse_file` strips before tokenizing: a byte order mark and a shebang line
    // (its newline is kept so that line numbers stay right).
    let mut text = source.strip_prefix('\u{feff}').unwrap_or(source);
    if text.starts_with("#!") && !text.starts_with("#![") {
        text = text.find('\n').map_or("", |end| &text[end..]);
    }
    let (pruned, blanked_fns) = triggers.prune(text, pruning);
    let scan_text = |text: &str| {
        let module = module.clone();
        depth::guarded(path, text, triggers, || {
            let scanned = parse_tokens(path, text).map(|file| {
                let mut scanner = Scanner {
                    out: RustFile {
                        path: path.to_owned(),
                        modules: vec![ModuleDecl {
                            parent: None,
                            name: String::new(),
                        }],
                        module: module.clone(),
                        ..RustFile::default()
                    },
                    module: 0,
                    module_path: module,
                    aliases: HashMap::new(),
                    globs: HashSet::new(),
                    owner: None,
                    route_path: None,
                    nest: Vec::new(),
                    within: None,
                    tasks,
                };
                scanner.visit_file(&file);
                // The tree is dropped (recursively) here, on the thread sized for it.
                drop(file);
                scanner.out
            });
            // Every position is a `Location` by now. proc-macro2 keeps a copy of each text it
            // tokenizes, for spans, until told otherwise: without this each thread would keep
            // every file it parsed (and positions would wrap past 4 GiB of source).
            proc_macro2::extra::invalidate_current_thread_spans();
            scanned
        })
    };
    match scan_text(&pruned) {
        Ok(out) => Ok((out, blanked_fns)),
        // Never trust pruning with an error: the original text decides.
        Err(_) => Ok((scan_text(text)?, Vec::new())),
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

/// The traversal: the context of the node being visited, and the facts so far.
struct Scanner<'a> {
    out: RustFile,
    /// Current module (index into `out.modules`: the file's, or an inline `mod`).
    module: usize,
    /// Its path, kept as the traversal enters and leaves modules (for marker names).
    module_path: Vec<String>,
    /// Named imports by (module, name bound): index into `out.imports` (the first wins).
    aliases: HashMap<(usize, String), usize>,
    /// Glob imports by (module, last name of the globbed module).
    globs: HashSet<(usize, String)>,
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
        self.aliases
            .get(&(self.module, first.clone()))
            .map(|&i| {
                self.out.imports[i]
                    .target
                    .iter()
                    .chain(&path[1..])
                    .cloned()
                    .collect()
            })
            .unwrap_or_else(|| path.to_vec())
    }

    /// Whether a bare name may come from a glob import of a module named `module_name`.
    fn glob_from(&self, module_name: &str) -> bool {
        self.globs.contains(&(self.module, module_name.to_owned()))
    }

    fn register(&mut self, span: Span, kind: RegistrationKind, handler: &Expr) {
        let handler = self.handler_expr(handler);
        self.out.registrations.push(Registration {
            module: self.module,
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

    /// Registers `handler` as an endpoint for `method`, at the path of the `.route()` call it
    /// is an argument of, if any.
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

    /// Records a function definition, with what its attributes say; returns its index in
    /// `out.fns`.
    fn define(&mut self, attrs: &[Attribute], ident: &syn::Ident) -> usize {
        let name = ident.to_string();
        let (marker, framework_route) = self.attributes(attrs, &name);
        self.out.fns.push(FnDef {
            module: self.module,
            owner: self.owner.clone(),
            name,
            at: self.at(ident.span()),
            marker,
            framework_route,
        });
        self.out.fns.len() - 1
    }

    /// What the attributes of function `name` say: a featgen marker, an endpoint attribute
    /// of the web framework.
    fn attributes(
        &self,
        attrs: &[Attribute],
        name: &str,
    ) -> (Option<Marker>, Option<FrameworkRoute>) {
        let mut marker = None;
        let mut framework = None;
        for attr in attrs {
            let path = segments(attr.path());
            let Some(last) = path.last().map(String::as_str) else {
                continue;
            };
            let args = match &attr.meta {
                syn::Meta::Path(_) => Ok(Punctuated::new()),
                _ => attr.parse_args_with(Punctuated::<Expr, Token![,]>::parse_terminated),
            };
            let args = args.unwrap_or_default();
            if let Some(found) = self.featgen_marker(attr, &path, &args, name) {
                marker = Some(found);
            } else if let Some(route) = self.endpoint_attribute(attr, last, &args) {
                framework = Some(route);
            }
        }
        (marker, framework)
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
            syn::UseTree::Glob(_) => {
                if let Some(last) = prefix.last() {
                    self.globs.insert((self.module, last.clone()));
                }
                self.out.imports.push(Import {
                    module: self.module,
                    alias: None,
                    target: prefix.clone(),
                });
            }
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
            self.aliases
                .entry((self.module, alias.clone()))
                .or_insert(self.out.imports.len());
            self.out.imports.push(Import {
                module: self.module,
                alias: Some(alias),
                target,
            });
        }
    }
}

impl<'ast> Visit<'ast> for Scanner<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let name = item.ident.to_string();
        self.out.modules.push(ModuleDecl {
            parent: Some(self.module),
            name: name.clone(),
        });
        let outer = std::mem::replace(&mut self.module, self.out.modules.len() - 1);
        self.module_path.push(name);
        visit::visit_item_mod(self, item);
        self.module_path.pop();
        self.module = outer;
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
        if !self.axum_call(call)
            && let Expr::Path(callee) = &*call.func
        {
            let full = self.expand(&segments(&callee.path));
            self.actix_call(call, &full);
            self.task_function_call(call, &full);
        }
        // The handler argument is not itself a router call: plain traversal is fine below.
        let outer = self.route_path.take();
        visit::visit_expr_call(self, call);
        self.route_path = outer;
    }

    fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
        let name = call.method.to_string();
        let args = &call.args;
        if name == "nest" && args.len() == 2 {
            if let Some(prefix) = args.first().and_then(string_literal) {
                self.nest_call(call, prefix);
                return;
            }
        } else if name == "route" && (args.len() == 2 || args.len() == 1) {
            // `.route("/p", get(h))` (axum, actix App/Scope) or
            // `resource("/p").route(web::get().to(h))` (actix).
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
        if !self.axum_method_call(call, &name) && !self.actix_method_call(call, &name) {
            self.task_method_call(&name, args);
        }
        visit::visit_expr_method_call(self, call);
    }
}
