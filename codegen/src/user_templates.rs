//! A user's template directory (`--templates`): overrides of the embedded templates and extra
//! targets, read without following symbolic links, and checked for variables the context does
//! not have before anything renders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use featgen_registry::diagnostic::{Code, Diagnostic, Diagnostics, Label, did_you_mean};
use minijinja::Environment;

use crate::context::CONTEXT_VARIABLES;
use crate::render::{RenderOptions, template_error};
use crate::targets::TEMPLATES;

/// A user-supplied template: where it comes from, its template name, and its output path.
pub(crate) struct UserFile {
    pub(crate) source: PathBuf,
    pub(crate) template: String,
    pub(crate) output: PathBuf,
}

/// What a user template directory holds.
#[derive(Default)]
pub(crate) struct UserTemplates {
    /// Replacements of embedded templates.
    pub(crate) overrides: Vec<UserFile>,
    /// Extra targets, by name.
    pub(crate) targets: BTreeMap<String, Vec<UserFile>>,
    /// Symbolic links found, not followed: a link could loop, walk the whole filesystem or
    /// render a file from outside the directory (`/etc/passwd`) into the output.
    pub(crate) links: Vec<PathBuf>,
}

/// Reads the user template directory: overrides of embedded templates (top-level `*.j2` named
/// like an embedded one) and extra targets (`<target>/**/*.j2`).
pub(crate) fn user_templates(dir: &Path) -> Result<UserTemplates, Diagnostics> {
    let io = |err: std::io::Error, path: &Path| {
        Diagnostics(vec![Diagnostic::error(
            Code::Io,
            format!("cannot read templates in {}: {err}", path.display()),
        )])
    };
    let mut overrides = Vec::new();
    let mut extra: BTreeMap<String, Vec<UserFile>> = BTreeMap::new();
    let mut links = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for item in std::fs::read_dir(&current).map_err(|e| io(e, &current))? {
            let item = item.map_err(|e| io(e, &current))?;
            let path = item.path();
            // The entry's own type: a link is not followed.
            let file_type = item.file_type().map_err(|e| io(e, &path))?;
            if file_type.is_symlink() {
                links.push(path);
                continue;
            }
            if file_type.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(dir) else {
                continue;
            };
            let Some(name) = relative.to_str().and_then(|r| r.strip_suffix(".j2")) else {
                continue;
            };
            let name = name.replace('\\', "/");
            match name.split_once('/') {
                None => {
                    let template = format!("{name}.j2");
                    if !TEMPLATES.iter().any(|(t, _)| *t == template) {
                        let known = TEMPLATES
                            .iter()
                            .map(|(t, _)| *t)
                            .collect::<Vec<_>>()
                            .join(", ");
                        let d = Diagnostic::error(Code::Template, format!("`{template}` does not override a built-in template"))
                            .at(Label::new(&path, 1, 1, 0))
                            .help(format!("built-in templates: {known}; put a new target's templates in a subdirectory named after it"));
                        return Err(Diagnostics(vec![d]));
                    }
                    overrides.push(UserFile {
                        source: path.clone(),
                        template,
                        output: PathBuf::new(),
                    });
                }
                Some((target, _)) => extra.entry(target.to_owned()).or_default().push(UserFile {
                    source: path.clone(),
                    template: format!("user/{name}"),
                    output: PathBuf::from(&name),
                }),
            }
        }
    }
    for files in extra.values_mut() {
        files.sort_by(|a, b| a.output.cmp(&b.output));
    }
    links.sort();
    Ok(UserTemplates {
        overrides,
        targets: extra,
        links,
    })
}

/// Warnings about the user template directory: the symbolic links in it, which are not
/// followed.
///
/// # Errors
/// The directory cannot be read.
pub fn template_warnings(options: &RenderOptions) -> Result<Vec<Diagnostic>, Diagnostics> {
    let Some(dir) = &options.template_dir else {
        return Ok(Vec::new());
    };
    let warnings = user_templates(dir)?
        .links
        .into_iter()
        .map(|link| {
            // No label: a snippet would show the first line of what the link points to.
            Diagnostic::warning(
                Code::TemplateSymlink,
                format!(
                    "{} is a symbolic link; templates do not follow links",
                    link.display()
                ),
            )
            .help("copy the template into the template directory instead of linking it")
        })
        .collect();
    Ok(warnings)
}

/// Rejects a user template that reads a variable the context does not have (a typo would
/// otherwise only fail when that branch renders).
pub(crate) fn check_variables(
    env: &Environment<'_>,
    template: &str,
    source: &Path,
) -> Result<(), Diagnostics> {
    let tmpl = env
        .get_template(template)
        .map_err(|err| template_error(source, &err))?;
    let mut unknown: Vec<String> = tmpl
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !CONTEXT_VARIABLES.contains(&v.as_str()))
        .collect();
    unknown.sort();
    match unknown.first() {
        None => Ok(()),
        Some(name) => {
            let help = match did_you_mean(name, CONTEXT_VARIABLES.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("templates can use: {}", CONTEXT_VARIABLES.join(", ")),
            };
            let d = Diagnostic::error(
                Code::Template,
                format!("template uses unknown variable `{name}`"),
            )
            .at(Label::new(source, 1, 1, 0))
            .help(help);
            Err(Diagnostics(vec![d]))
        }
    }
}
