//! Cheap passes that keep syn, the expensive part, away from code that cannot matter.
//!
//! Only three things in Rust source can produce a finding or a route: `#[route]`/`#[task]`
//! markers and framework endpoint attributes, router and task registrations, and (for
//! resolution) the definitions and imports they lead to. All of them are spelt with a small
//! vocabulary (`route`, `routing`, `Router`, `task`, `web`, the configured task calls, ...).
//!
//! - A file that contains none of those words is not parsed at all: it is kept aside and parsed
//!   only if a registration elsewhere names a function it might define (see `check`).
//! - In a file that is parsed, the body of every function whose tokens contain none of those
//!   words is replaced by `{}` before syn sees it: signatures, attributes, `mod`, `use` and
//!   `impl` structure stay intact, which is all that resolution needs.
//!
//! Syntax errors inside a pruned body are therefore not reported (unbalanced delimiters still
//! are, by the tokenizer); the compiler reports those anyway.

use std::collections::HashSet;

use aho_corasick::AhoCorasick;
use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};

use super::scan::{AXUM_METHODS, ENDPOINT_ATTRIBUTES, TaskPattern};

/// Words that may make a file matter (substrings of the source text).
const FILE_WORDS: [&str; 8] = ["rout", "Rout", "task", "web", "Resource", "actix", "rocket", "#["];

/// Identifiers that make a function body matter in any parsed file.
const BODY_IDENTS: [&str; 8] = [
    "route",
    "routing",
    "Router",
    "MethodRouter",
    "task",
    "web",
    "Route",
    "Resource",
];

/// The vocabulary of a lint run (it depends on the configured task calls).
pub(crate) struct Triggers {
    file_words: AhoCorasick,
    idents: HashSet<String>,
    /// Method names (`get`, `post`): they matter only in files that use a web framework, since
    /// `map.get(k)` is everywhere else.
    methods: HashSet<String>,
}

impl Triggers {
    /// The vocabulary for `tasks` (their last segments, such as `spawn`, become triggers).
    pub fn new(tasks: &[TaskPattern]) -> Self {
        let task_words: Vec<String> = tasks.iter().filter_map(TaskPattern::last).map(str::to_owned).collect();
        // `#[` alone would match every file: endpoint attributes are matched as `#[get` etc.
        let mut words: Vec<String> = FILE_WORDS
            .iter()
            .filter(|w| **w != "#[")
            .map(|w| (*w).to_owned())
            .collect();
        words.extend(ENDPOINT_ATTRIBUTES.iter().map(|a| format!("#[{a}")));
        words.extend(task_words.iter().cloned());
        let file_words = AhoCorasick::new(&words).unwrap_or_else(|_| {
            // The patterns are plain words: construction cannot fail. Match everything if it did.
            AhoCorasick::new([""]).expect("the empty pattern is valid")
        });
        Triggers {
            file_words,
            idents: BODY_IDENTS.iter().map(|w| (*w).to_owned()).chain(task_words).collect(),
            methods: AXUM_METHODS
                .iter()
                .chain(&ENDPOINT_ATTRIBUTES)
                .chain(&["on"])
                .map(|w| (*w).to_owned())
                .collect(),
        }
    }

    /// Whether `source` may declare or register an endpoint or task.
    pub fn file_matters(&self, source: &str) -> bool {
        self.file_words.is_match(source)
    }

    /// `stream` with the bodies of functions that mention no trigger replaced by `{}`.
    pub fn prune(&self, stream: TokenStream, source: &str) -> TokenStream {
        let framework = ["routing", "actix", "rocket", "web"].iter().any(|w| source.contains(w));
        let pruner = Pruner {
            triggers: self,
            framework,
        };
        pruner.prune(stream)
    }
}

struct Pruner<'a> {
    triggers: &'a Triggers,
    framework: bool,
}

impl Pruner<'_> {
    fn prune(&self, stream: TokenStream) -> TokenStream {
        // `fn name` starts a signature, which ends at the body's braces or at `;`. (`fn(u8)`,
        // a pointer type, has no name and starts nothing.)
        let mut saw_fn = false;
        let mut in_signature = false;
        stream
            .into_iter()
            .map(|tree| {
                let fn_keyword = matches!(&tree, TokenTree::Ident(i) if i == "fn");
                if saw_fn && matches!(&tree, TokenTree::Ident(_)) {
                    in_signature = true;
                }
                saw_fn = fn_keyword;
                match tree {
                    TokenTree::Punct(punct) if punct.as_char() == ';' => {
                        in_signature = false;
                        TokenTree::Punct(punct)
                    }
                    TokenTree::Group(group) if in_signature && group.delimiter() == Delimiter::Brace => {
                        in_signature = false;
                        let body = if self.mentions_trigger(&group.stream()) {
                            self.prune(group.stream())
                        } else {
                            TokenStream::new()
                        };
                        regroup(&group, body)
                    }
                    // Argument lists stay as they are; other groups (impl, mod and trait blocks)
                    // are pruned inside.
                    TokenTree::Group(group) if in_signature => TokenTree::Group(group),
                    TokenTree::Group(group) => regroup(&group, self.prune(group.stream())),
                    other => other,
                }
            })
            .collect()
    }

    fn mentions_trigger(&self, stream: &TokenStream) -> bool {
        // Method names count only as called functions (`get(h)`), never as methods
        // (`map.get(k)`), which are everywhere.
        let mut after_dot = false;
        stream.clone().into_iter().any(|tree| {
            let found = match &tree {
                TokenTree::Ident(ident) => {
                    let text = ident.to_string();
                    self.triggers.idents.contains(&text)
                        || (self.framework && !after_dot && self.triggers.methods.contains(&text))
                }
                TokenTree::Group(group) => self.mentions_trigger(&group.stream()),
                _ => false,
            };
            after_dot = matches!(&tree, TokenTree::Punct(p) if p.as_char() == '.');
            found
        })
    }
}

/// A group like `group` (delimiter, span) with new contents.
fn regroup(group: &Group, stream: TokenStream) -> TokenTree {
    let mut new = Group::new(group.delimiter(), stream);
    new.set_span(group.span());
    TokenTree::Group(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pruned(source: &str) -> String {
        let triggers = Triggers::new(&[TaskPattern::new("tokio::spawn")]);
        let stream: TokenStream = source.parse().expect("tokens");
        triggers.prune(stream, source).to_string()
    }

    #[test]
    fn keeps_signatures_and_bodies_that_matter() {
        assert_eq!(pruned("fn a(x: u8) -> u8 { x + 1 }"), "fn a (x : u8) -> u8 { }");
        assert_eq!(
            pruned("impl S { fn b(&self) { tokio::spawn(run()); } fn c() { 1 } }"),
            "impl S { fn b (& self) { tokio :: spawn (run ()) ; } fn c () { } }"
        );
        // A pointer type is not a function with a body.
        assert_eq!(pruned("type F = fn(u8); struct S { f: u8 }"), "type F = fn (u8) ; struct S { f : u8 }");
        assert_eq!(
            pruned("impl From<fn()> for S { fn from(f: fn()) -> S { S } }"),
            "impl From < fn () > for S { fn from (f : fn ()) -> S { } }"
        );
        // `get` matters only where a web framework is in use.
        assert_eq!(pruned("fn d() { m.get(k) }"), "fn d () { }");
        assert_eq!(
            pruned("use axum::routing::get; fn e() { m.get(k) }"),
            "use axum :: routing :: get ; fn e () { }"
        );
        assert_eq!(
            pruned("use axum::routing::get; fn e() { get(h) }"),
            "use axum :: routing :: get ; fn e () { get (h) }"
        );
    }

    #[test]
    fn skips_files_without_the_vocabulary() {
        let triggers = Triggers::new(&[TaskPattern::new(".register")]);
        assert!(!triggers.file_matters("fn a() { let m = HashMap::new(); m.get(&1); }"));
        assert!(triggers.file_matters("fn a() { s.register(job) }"));
        assert!(triggers.file_matters("#[get(\"/x\")] async fn x() {}"));
        assert!(triggers.file_matters("use axum::Router;"));
    }
}
