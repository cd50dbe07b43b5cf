//! Code generation for `#[route]` and `#[task]`: the route's static record and the function
//! re-emitted with its body run under that route.
//!
//! Only the body changes: attributes, visibility, signature tokens and spans are re-emitted as
//! written, so lints, docs and direct calls keep working.

use crate::attr::{Args, Kind};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::Parser;
use syn::visit::Visit;
use syn::{Block, Expr, ItemFn, ReturnType, Stmt, TypeImplTrait, TypeNever};

/// Expands one attribute; on any error, emits the item unchanged with the errors, so the function
/// still exists for the compiler's later passes and for the IDE.
pub(crate) fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let args = (|input: syn::parse::ParseStream| Args::parse(kind, input)).parse2(args);
    let function = syn::parse2::<ItemFn>(item.clone()).and_then(reject_const);
    match (args, function) {
        (Ok(args), Ok(function)) => expand(&args, function),
        (args, function) => {
            let errors = [args.err(), function.err()]
                .into_iter()
                .flatten()
                .reduce(|mut all, error| {
                    all.combine(error);
                    all
                })
                .map(|error| error.to_compile_error());
            quote!(#item #errors)
        }
    }
}

/// A `const fn` cannot set a thread-local, so it cannot be marked.
fn reject_const(function: ItemFn) -> syn::Result<ItemFn> {
    match &function.sig.constness {
        Some(constness) => Err(syn::Error::new(
            constness.span,
            "a `const fn` cannot be marked: the current route is set at run time; remove `const`",
        )),
        None => Ok(function),
    }
}

/// Re-emits `function` with the route's static record and the route set around its body.
fn expand(args: &Args, mut function: ItemFn) -> TokenStream {
    let record = record(args, &function);
    let route = quote!(&__FEATGEN_ROUTE);
    let block = &mut function.block;
    let body = if function.sig.asyncness.is_some() {
        let output = pin_output_type(&function.sig.output);
        quote!(::featgen::scope(#route, async move { #output #block }).await)
    } else if let Some(future) = async_trait_future(block) {
        // `#[async_trait]` has already turned `async fn` into `Box::pin(async move { .. })`:
        // wrap that future, not the synchronous call that merely builds it.
        *future = syn::parse_quote!(::featgen::scope(#route, #future));
        block.to_token_stream()
    } else {
        // Hygienic, so the guard can neither shadow nor be named by the body's own variables.
        let guard =
            quote_spanned!(Span::mixed_site()=> let __featgen_guard = ::featgen::enter(#route););
        quote!(#guard #block)
    };
    function.block = Box::new(Block {
        brace_token: function.block.brace_token,
        stmts: vec![Stmt::Expr(Expr::Verbatim(quote!(#record #body)), None)],
    });
    function.into_token_stream()
}

/// The `static` route record, registered in the binary-wide route list.
fn record(args: &Args, function: &ItemFn) -> TokenStream {
    let kind = match args.kind {
        Kind::Endpoint => quote!(Endpoint),
        Kind::Task => quote!(Task),
    };
    let method = &args.method;
    let path = &args.path;
    let endpoint = match &args.endpoint {
        Some(endpoint) => endpoint.value(),
        None => function.sig.ident.unraw().to_string(),
    };
    let feature = &args.feature;
    quote! {
        #[::featgen::__private::linkme::distributed_slice(::featgen::__private::ROUTES)]
        #[linkme(crate = ::featgen::__private::linkme)]
        static __FEATGEN_ROUTE: ::featgen::Route = ::featgen::Route {
            kind: ::featgen::RouteKind::#kind,
            method: #method,
            path: #path,
            endpoint: #endpoint,
            feature: ::featgen::feature_info!(#feature),
            module: ::core::module_path!(),
            file: ::core::file!(),
            line: ::core::line!(),
            calls: ::featgen::Calls::new(),
        };
    }
}

/// The `async move { .. }` in a body whose tail is `Box::pin(async move { .. })`, the shape that
/// `#[async_trait]` gives its methods.
fn async_trait_future(block: &mut Block) -> Option<&mut Expr> {
    let Some(Stmt::Expr(Expr::Call(call), None)) = block.stmts.last_mut() else {
        return None;
    };
    let Expr::Path(callee) = &*call.func else {
        return None;
    };
    let segments: Vec<String> = callee
        .path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) || call.args.len() != 1 {
        return None;
    }
    call.args
        .first_mut()
        .filter(|future| matches!(future, Expr::Async(_)))
}

/// Fixes the output type of the async block that holds an async function's body before the
/// body's `return`s are type-checked, so that they coerce to the declared return type as they do
/// in the unmarked function (`return Box::new(x)` into `Box<dyn Trait>`). The same device as
/// `#[async_trait]`; `impl Trait` and `!` cannot be named there, so such return types are left to
/// inference.
fn pin_output_type(output: &ReturnType) -> Option<TokenStream> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let mut unnameable = Unnameable(false);
    unnameable.visit_type(ty);
    if unnameable.0 {
        return None;
    }
    Some(quote_spanned! {Span::mixed_site()=>
        if let ::core::option::Option::Some(__featgen_return) =
            ::core::option::Option::None::<#ty>
        {
            return __featgen_return;
        }
    })
}

/// Records whether a type mentions `impl Trait` or `!`, which cannot be written in an expression.
struct Unnameable(bool);

impl Visit<'_> for Unnameable {
    fn visit_type_impl_trait(&mut self, _: &TypeImplTrait) {
        self.0 = true;
    }

    fn visit_type_never(&mut self, _: &TypeNever) {
        self.0 = true;
    }
}
