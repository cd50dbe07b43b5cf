//! Rust sources: cheap passes that keep syn away from code that cannot matter ([`prune`],
//! [`depth`]), per-file scanning with syn and one recogniser per framework ([`scan`], whose
//! words [`vocabulary`] lists for both), and cross-file resolution of handler paths to their
//! definitions ([`resolve`]).

pub(crate) mod depth;
pub(crate) mod prune;
pub(crate) mod resolve;
pub(crate) mod scan;
pub(crate) mod vocabulary;

use std::path::{Component, Path, PathBuf};

/// The crate a file belongs to (a key: the crate's `src` directory, or the file itself for a
/// crate root outside `src` such as `tests/x.rs`) and the file's module path within it.
///
/// Follows Cargo's layout: `src/lib.rs`, `src/main.rs` are the root, `src/a/mod.rs` and `src/a.rs`
/// are `a`, `src/bin/x.rs` is the root of its own crate. `#[path]` attributes are not followed;
/// resolution falls back to a unique name in the crate for those.
pub(crate) fn module_of(path: &Path) -> (PathBuf, Vec<String>) {
    let names: Vec<&str> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => name.to_str(),
            _ => None,
        })
        .collect();
    let Some(src) = names[..names.len().saturating_sub(1)]
        .iter()
        .rposition(|n| *n == "src")
    else {
        return (path.to_path_buf(), Vec::new());
    };
    let mut crate_key: PathBuf = path.components().take(position_of(path, src) + 1).collect();
    let mut module: Vec<String> = names[src + 1..]
        .iter()
        .map(|n| n.strip_suffix(".rs").unwrap_or(n).to_owned())
        .collect();
    if module.first().is_some_and(|m| m == "bin") && module.len() >= 2 {
        module.drain(..2);
        crate_key.extend(&names[src + 1..src + 3]);
        module.retain(|m| m != "main");
    }
    if module.last().is_some_and(|m| m == "mod") || module == ["lib"] || module == ["main"] {
        module.pop();
    }
    (crate_key, module)
}

/// Index among all components of `path` of the `n`-th normal component.
fn position_of(path: &Path, n: usize) -> usize {
    path.components()
        .enumerate()
        .filter(|(_, c)| matches!(c, Component::Normal(_)))
        .nth(n)
        .map_or(0, |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(path: &str) -> (String, String) {
        let (krate, module) = module_of(Path::new(path));
        (krate.display().to_string(), module.join("::"))
    }

    #[test]
    fn follows_cargo_layout() {
        assert_eq!(module("svc/src/lib.rs"), ("svc/src".into(), "".into()));
        assert_eq!(module("./svc/src/main.rs"), ("./svc/src".into(), "".into()));
        assert_eq!(
            module("svc/src/api/mod.rs"),
            ("svc/src".into(), "api".into())
        );
        assert_eq!(
            module("svc/src/api/users.rs"),
            ("svc/src".into(), "api::users".into())
        );
        assert_eq!(
            module("svc/src/bin/tool.rs"),
            ("svc/src/bin/tool.rs".into(), "".into())
        );
        assert_eq!(
            module("svc/src/bin/tool/main.rs"),
            ("svc/src/bin/tool".into(), "".into())
        );
        assert_eq!(
            module("svc/tests/http.rs"),
            ("svc/tests/http.rs".into(), "".into())
        );
    }
}
