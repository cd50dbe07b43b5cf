//! The `[lint]` table of `featgen.toml`.

use serde::Deserialize;

/// Configuration of `featgen lint` and `featgen routes` (the `[lint]` table of `featgen.toml`).
///
/// Every field has a default, so an absent table lints with the conventions of the README.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct LintConfig {
    /// Calls that register a background task, as paths matched against the end of the called
    /// path after `use` aliases are expanded (`tokio::spawn` matches `tokio::spawn(f())` and
    /// `spawn(f())` after `use tokio::spawn`). A leading `.` matches a method call of that name
    /// on any receiver (`.register` matches `scheduler.register(f)`), since the receiver's type is
    /// not known statically.
    pub task_calls: Vec<String>,
    /// Python decorator names that mark an endpoint (`@route(...)`, `@app.route(...)`).
    pub python_routes: Vec<String>,
    /// Python decorator names that mark a background task.
    pub python_tasks: Vec<String>,
    /// Globs of files to lint, relative to each linted root; empty means every `.rs` and `.py`.
    pub include: Vec<String>,
    /// Globs of files never to lint, on top of `.gitignore` (fixtures, vendored code).
    pub exclude: Vec<String>,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            task_calls: [
                "tokio::spawn",
                "tokio::task::spawn",
                "tokio::task::spawn_local",
            ]
            .map(String::from)
            .to_vec(),
            python_routes: vec!["route".to_owned()],
            python_tasks: vec!["task".to_owned()],
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }
}
