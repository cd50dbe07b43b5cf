//! The task recogniser: calls configured in `[lint] task_calls` (`tokio::spawn(job())`,
//! `.register(job)`) whose arguments name the functions run as background tasks.

use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprCall, Token};

use super::{RegistrationKind, Scanner};

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

    /// The called function or method name (`spawn` of `tokio::spawn`): the word pruning looks
    /// for.
    pub fn last(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }
}

impl Scanner<'_> {
    /// A call of a configured task function (`full` is the callee's path, imports expanded).
    pub(super) fn task_function_call(&mut self, call: &ExprCall, full: &[String]) {
        let pattern = self
            .tasks
            .iter()
            .find(|p| !p.method && full.ends_with(&p.segments))
            .map(|p| p.text.clone());
        if let Some(pattern) = pattern {
            self.task_call(&pattern, &call.args);
        }
    }

    /// A call of a configured task method (`.register(job)`) named `name`.
    pub(super) fn task_method_call(&mut self, name: &str, args: &Punctuated<Expr, Token![,]>) {
        let pattern = self
            .tasks
            .iter()
            .find(|p| p.method && p.segments.last().is_some_and(|s| s == name))
            .map(|p| p.text.clone());
        if let Some(pattern) = pattern {
            self.task_call(&pattern, args);
        }
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
}
