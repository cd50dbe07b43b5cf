//! Parsing and validation of the attribute arguments of `#[route]` and `#[task]`.
//!
//! Every error is a `syn::Error` at the offending token; the caller still emits the function.

use proc_macro2::Span;
use syn::parse::ParseStream;
use syn::{Ident, LitStr, Path, Token};

/// The HTTP methods accepted as bare identifiers; any other method is written as a string.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Which attribute is being expanded.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// `#[route(METHOD, "/path", feature = .., endpoint = "..")]`
    Endpoint,
    /// `#[task(feature = .., endpoint = "..")]`
    Task,
}

/// The validated arguments of one attribute.
pub(crate) struct Args {
    /// Endpoint or task.
    pub(crate) kind: Kind,
    /// The HTTP method, upper case; `""` for tasks.
    pub(crate) method: String,
    /// The path pattern as written; `""` for tasks.
    pub(crate) path: String,
    /// The feature expression: `Feature::<name>` for a bare name, else the path as written.
    pub(crate) feature: Path,
    /// The `endpoint` argument, if given (the function name otherwise).
    pub(crate) endpoint: Option<LitStr>,
}

impl Args {
    /// Parses the arguments of `#[route]` (`kind` = `Endpoint`) or `#[task]` (`Task`).
    pub(crate) fn parse(kind: Kind, input: ParseStream) -> syn::Result<Self> {
        let (method, path) = match kind {
            Kind::Endpoint => {
                let method = parse_method(input)?;
                input.parse::<Token![,]>()?;
                let path: LitStr = input.parse()?;
                validate_path(&path)?;
                if !input.is_empty() {
                    input.parse::<Token![,]>()?;
                }
                (method, path.value())
            }
            Kind::Task => (String::new(), String::new()),
        };
        let mut feature = None;
        let mut endpoint = None;
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            if key == "feature" {
                reject_duplicate(&feature, &key)?;
                input.parse::<Token![=]>()?;
                if input.peek(LitStr) {
                    let name: LitStr = input.parse()?;
                    return Err(syn::Error::new(
                        name.span(),
                        "`feature` is a variant of the generated `Feature` enum, such as \
                         `feature = Messaging`, not a string",
                    ));
                }
                feature = Some(feature_path(input.parse()?));
            } else if key == "endpoint" {
                reject_duplicate(&endpoint, &key)?;
                input.parse::<Token![=]>()?;
                let name: LitStr = input.parse()?;
                if name.value().is_empty() {
                    return Err(syn::Error::new(name.span(), "`endpoint` must not be empty"));
                }
                endpoint = Some(name);
            } else {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown argument `{key}`: expected `feature` or `endpoint`"),
                ));
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        let feature = feature.ok_or_else(|| {
            syn::Error::new(
                Span::call_site(),
                "missing `feature = ..`: every endpoint and task must name its feature",
            )
        })?;
        Ok(Args {
            kind,
            method,
            path,
            feature,
            endpoint,
        })
    }
}

/// Errors at the second occurrence of an argument.
fn reject_duplicate<T>(previous: &Option<T>, key: &Ident) -> syn::Result<()> {
    match previous {
        Some(_) => Err(syn::Error::new(
            key.span(),
            format!("duplicate argument `{key}`"),
        )),
        None => Ok(()),
    }
}

/// A bare name `X` means `Feature::X` in the caller's scope; a longer path is used as written.
///
/// The generated path keeps the name's span, so an unknown variant is reported by the compiler at
/// the name, naming the variant and the enum.
fn feature_path(path: Path) -> Path {
    match path.get_ident() {
        Some(name) => {
            let feature = Ident::new("Feature", name.span());
            syn::parse_quote!(#feature::#name)
        }
        None => path,
    }
}

/// Parses the method: one of [`METHODS`] as an identifier, or any HTTP token as a string.
fn parse_method(input: ParseStream) -> syn::Result<String> {
    if input.peek(LitStr) {
        let method: LitStr = input.parse()?;
        let value = method.value();
        if value.starts_with('/') {
            return Err(syn::Error::new(
                method.span(),
                format!("missing method before the path: {}", method_expectation()),
            ));
        }
        // RFC 9110 `token` characters; upper case only, as HTTP methods are case-sensitive and
        // every registered one is upper case.
        let valid = !value.is_empty()
            && value.bytes().all(|b| {
                b.is_ascii_uppercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
            });
        if !valid {
            return Err(syn::Error::new(
                method.span(),
                "bad method: expected an upper-case HTTP method token such as \"PROPFIND\"",
            ));
        }
        return Ok(value);
    }
    let method: Ident = input
        .parse()
        .map_err(|error| syn::Error::new(error.span(), method_expectation()))?;
    let name = method.to_string();
    if METHODS.contains(&name.as_str()) {
        Ok(name)
    } else {
        Err(syn::Error::new(
            method.span(),
            format!("bad method `{name}`: {}", method_expectation()),
        ))
    }
}

/// The message listing what a method may be.
fn method_expectation() -> String {
    format!(
        "expected one of {} or a string literal such as \"PROPFIND\"",
        METHODS.join(", ")
    )
}

/// Checks a path pattern: starts with `/`, and `{param}` segments are balanced, non-empty, not
/// nested, with a `{*rest}` wildcard only at the end. axum's `{p}`/`{*rest}` and `:p` are accepted.
fn validate_path(path: &LitStr) -> syn::Result<()> {
    let value = path.value();
    let fail = |message: &str| Err(syn::Error::new(path.span(), format!("bad path: {message}")));
    if !value.starts_with('/') {
        return fail("must start with `/`");
    }
    let mut rest = value.as_str();
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return fail("`}` without a matching `{`");
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find(['{', '}']) else {
            return fail("`{` without a matching `}`");
        };
        if after.as_bytes()[close] == b'{' {
            return fail("nested `{` in a parameter");
        }
        let name = &after[..close];
        let name = name.strip_prefix('*').unwrap_or(name);
        if name.is_empty() || name.contains('/') {
            return fail("a `{param}` needs a name and cannot span segments");
        }
        rest = &after[close + 1..];
        if after.starts_with('*') && !rest.is_empty() {
            return fail("a `{*wildcard}` must be the last segment");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str) -> Result<(), String> {
        validate_path(&LitStr::new(path, Span::call_site())).map_err(|error| error.to_string())
    }

    #[test]
    fn accepts_axum_and_colon_paths() {
        for path in [
            "/",
            "/users/@me",
            "/channels/{channel_id}/messages",
            "/channels/{channel_id}/messages/{message_id}",
            "/files/{*rest}",
            "/legacy/:id/edit",
        ] {
            assert_eq!(check(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn rejects_bad_paths() {
        for (path, message) in [
            ("users", "must start with `/`"),
            ("/a/{id", "`{` without a matching `}`"),
            ("/a/id}", "`}` without a matching `{`"),
            ("/a/{x{y}}", "nested `{`"),
            ("/a/{}", "needs a name"),
            ("/a/{x/y}", "needs a name"),
            ("/a/{*rest}/b", "must be the last segment"),
        ] {
            let error = check(path).unwrap_err();
            assert!(error.contains(message), "{path}: {error}");
        }
    }

    #[test]
    fn bare_feature_names_resolve_in_the_feature_enum() {
        let bare = feature_path(syn::parse_quote!(Messaging));
        let full = feature_path(syn::parse_quote!(crate::features::Feature::Messaging));
        assert_eq!(quote::quote!(#bare).to_string(), "Feature :: Messaging");
        assert_eq!(
            quote::quote!(#full).to_string(),
            "crate :: features :: Feature :: Messaging"
        );
    }
}
