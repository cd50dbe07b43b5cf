//! Python sources, parsed with tree-sitter-python: functions decorated with a configured route or
//! task decorator (`@route(...)`, `@app.route(...)`, `@task`) and the `feature=` they name.

use std::cell::RefCell;

use tree_sitter::{Node, Parser};

use crate::config::LintConfig;
use crate::facts::{FeatureArg, Kind, Marker};
use crate::features::Language;
use crate::finding::Location;

thread_local! {
    /// Parsers are reusable and not `Sync`: one per walker thread.
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// HTTP methods recognised among a decorator's positional strings.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Parses `source` and returns the markers of its decorated functions.
///
/// # Errors
/// The position and description of the first syntax error.
pub(crate) fn scan(
    path: &str,
    source: &str,
    config: &LintConfig,
) -> Result<Vec<Marker>, (Location, String)> {
    let tree = PARSER.with(|cell| {
        let mut cell = cell.borrow_mut();
        let parser = match &mut *cell {
            Some(parser) => parser,
            empty => {
                let mut parser = Parser::new();
                parser
                    .set_language(&tree_sitter_python::LANGUAGE.into())
                    .map_err(|err| {
                        (
                            whole_file(path),
                            format!("cannot load the Python grammar: {err}"),
                        )
                    })?;
                empty.insert(parser)
            }
        };
        parser
            .parse(source, None)
            .ok_or_else(|| (whole_file(path), "the Python parser gave up".to_owned()))
    })?;
    let root = tree.root_node();
    let file = PythonFile {
        path,
        source,
        config,
    };
    if root.has_error() {
        let bad = first_error(root).unwrap_or(root);
        let what = if bad.is_missing() {
            format!("invalid Python syntax: missing `{}`", bad.kind())
        } else {
            "invalid Python syntax".to_owned()
        };
        return Err((file.at(bad), what));
    }
    let mut markers = Vec::new();
    file.collect(root, &mut markers);
    Ok(markers)
}

fn whole_file(path: &str) -> Location {
    Location {
        path: path.to_owned(),
        line: 1,
        column: 1,
    }
}

/// The first (in source order) error or missing node under `root`. A loop, not a recursion:
/// trees are as deep as the source is nested (thousands of levels for a long sum).
fn first_error(root: Node<'_>) -> Option<Node<'_>> {
    let mut node = root;
    'descend: loop {
        if node.is_error() || node.is_missing() {
            return Some(node);
        }
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            if child.has_error() || child.is_missing() {
                node = child;
                continue 'descend;
            }
        }
        return None;
    }
}

struct PythonFile<'a> {
    path: &'a str,
    source: &'a str,
    config: &'a LintConfig,
}

impl PythonFile<'_> {
    fn text(&self, node: Node<'_>) -> &str {
        self.source.get(node.byte_range()).unwrap_or_default()
    }

    /// 1-based line and character column of `node`.
    fn at(&self, node: Node<'_>) -> Location {
        let point = node.start_position();
        let line_start = node.start_byte() - point.column;
        let column = self
            .source
            .get(line_start..node.start_byte())
            .map_or(point.column, |prefix| prefix.chars().count());
        Location {
            path: self.path.to_owned(),
            line: u32::try_from(point.row + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }

    /// The markers of every decorated definition under `root`, in source order. A cursor walk,
    /// not a recursion (see [`first_error`]).
    fn collect(&self, root: Node<'_>, out: &mut Vec<Marker>) {
        let mut cursor = root.walk();
        loop {
            let node = cursor.node();
            if node.kind() == "decorated_definition" {
                self.decorated(node, out);
            }
            if cursor.goto_first_child() {
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    return;
                }
            }
        }
    }

    fn decorated(&self, node: Node<'_>, out: &mut Vec<Marker>) {
        let Some(name) = node
            .child_by_field_name("definition")
            .and_then(|def| def.child_by_field_name("name"))
        else {
            return;
        };
        let handler = self.text(name);
        let mut cursor = node.walk();
        for decorator in node
            .named_children(&mut cursor)
            .filter(|n| n.kind() == "decorator")
        {
            let Some(expression) = decorator.named_child(0) else {
                continue;
            };
            let (callee, arguments) = match expression.kind() {
                "call" => (
                    expression.child_by_field_name("function"),
                    expression.child_by_field_name("arguments"),
                ),
                _ => (Some(expression), None),
            };
            let Some(callee) = callee else { continue };
            let Some(kind) = self.kind_of(last_name(self, callee)) else {
                continue;
            };
            let mut marker = Marker {
                kind,
                language: Language::Python,
                feature: FeatureArg::Missing,
                at: self.at(decorator),
                handler: handler.to_owned(),
                method: None,
                path: None,
                endpoint: None,
            };
            if let Some(arguments) = arguments {
                self.read_arguments(arguments, &mut marker);
            }
            out.push(marker);
        }
    }

    fn kind_of(&self, name: &str) -> Option<Kind> {
        if self.config.python_routes.iter().any(|n| n == name) {
            Some(Kind::Route)
        } else if self.config.python_tasks.iter().any(|n| n == name) {
            Some(Kind::Task)
        } else {
            None
        }
    }

    fn read_arguments(&self, arguments: Node<'_>, marker: &mut Marker) {
        let mut cursor = arguments.walk();
        for argument in arguments.named_children(&mut cursor) {
            match argument.kind() {
                "keyword_argument" => {
                    let (Some(name), Some(value)) = (
                        argument.child_by_field_name("name"),
                        argument.child_by_field_name("value"),
                    ) else {
                        continue;
                    };
                    match self.text(name) {
                        "feature" => marker.feature = self.feature(value),
                        "endpoint" => marker.endpoint = self.string(value),
                        "methods" => {
                            let mut inner = value.walk();
                            let methods: Vec<String> = value
                                .named_children(&mut inner)
                                .filter_map(|m| self.string(m))
                                .collect();
                            if !methods.is_empty() {
                                marker.method = Some(methods.join("|"));
                            }
                        }
                        _ => {}
                    }
                }
                "string" => match self.string(argument) {
                    Some(s) if s.starts_with('/') => marker.path = Some(s),
                    Some(s) if METHODS.contains(&s.to_uppercase().as_str()) => {
                        marker.method = Some(s.to_uppercase());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }

    fn feature(&self, value: Node<'_>) -> FeatureArg {
        let written = self.text(value).to_owned();
        let at = self.at(value);
        match value.kind() {
            "attribute" | "identifier" => FeatureArg::Ident {
                ident: last_name(self, value).to_owned(),
                written,
                at,
            },
            _ => FeatureArg::Other { written, at },
        }
    }

    /// The value of a plain string literal (no interpolation).
    fn string(&self, node: Node<'_>) -> Option<String> {
        if node.kind() != "string" {
            return None;
        }
        let mut cursor = node.walk();
        let mut value = String::new();
        for part in node.named_children(&mut cursor) {
            match part.kind() {
                "string_start" | "string_end" => {}
                "string_content" => value.push_str(self.text(part)),
                _ => return None,
            }
        }
        Some(value)
    }
}

/// `route` of `route`, `app.route` or `a.b.route`.
fn last_name<'s>(file: &'s PythonFile<'_>, node: Node<'_>) -> &'s str {
    match node.kind() {
        "attribute" => node
            .child_by_field_name("attribute")
            .map_or("", |n| file.text(n)),
        _ => file.text(node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markers(source: &str) -> Vec<Marker> {
        scan("app.py", source, &LintConfig::default()).expect("parses")
    }

    #[test]
    fn reads_decorators_and_their_feature() {
        let found = markers(
            "@app.route(\"/messages\", methods=[\"POST\"], feature=Feature.MESSAGING)\n\
             def send(): ...\n\n\
             @task\n\
             def expire(): ...\n\n\
             @other(feature=Feature.X)\n\
             def ignored(): ...\n",
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].kind, Kind::Route);
        assert_eq!(found[0].path.as_deref(), Some("/messages"));
        assert_eq!(found[0].method.as_deref(), Some("POST"));
        assert!(
            matches!(&found[0].feature, FeatureArg::Ident { ident, .. } if ident == "MESSAGING")
        );
        assert_eq!(
            (found[1].kind, &found[1].feature),
            (Kind::Task, &FeatureArg::Missing)
        );
        assert_eq!(found[1].handler, "expire");
    }

    #[test]
    fn reports_the_first_syntax_error_with_its_position() {
        let (at, message) = scan(
            "bad.py",
            "def ok():\n    pass\n\ndef broken(:\n    pass\n",
            &LintConfig::default(),
        )
        .expect_err("does not parse");
        assert_eq!(at.line, 4);
        assert!(message.contains("invalid Python syntax"), "{message}");
    }
}
