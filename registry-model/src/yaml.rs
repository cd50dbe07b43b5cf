//! YAML parsed into a small tree whose every node knows its position.
//!
//! Validation runs on this tree rather than on `#[derive(Deserialize)]` structs because serde
//! stops at the first error, while the registry must report every problem in one run, and
//! because semantic errors (an unknown team) need the position of the offending scalar. The
//! tree is built straight from the parser's events (three times faster than going through
//! serde), resolving plain scalars with the YAML 1.2 core schema, expanding aliases and merge
//! keys within a budget of nodes made by aliases, and keeping duplicate keys for the validator
//! to report.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, Span};

mod block;

/// A YAML node and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// Length of the node's source text in characters (0 when unknown).
    pub len: u32,
    /// The content.
    pub value: Value,
}

/// The content of a node. Mappings keep their entries in order, duplicates included: the
/// parser is told to pass duplicate keys through so that the validator can report each one
/// with both positions instead of stopping at the first.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// How the value is called in "expected a string, found ..." messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax or resource-limit error, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub line: u32,
    pub column: u32,
    pub message: String,
    /// True when a resource budget (alias expansion, node count, nesting) was exceeded.
    pub budget: bool,
}

/// Upper bound on the nodes that expanding the aliases of one file makes: ten times a
/// 10,000-feature registry, and far below what an alias bomb expands to. Only aliases are
/// counted: the nodes written out in the text are bounded by the file size limit, so that a
/// registry within that limit is never rejected for its size (an 8 MiB file of complete features
/// is 1.2 million nodes), and the fast path, which takes no aliases, has nothing to count.
pub(crate) const MAX_ALIAS_NODES: usize = 1_000_000;

/// Deepest nesting accepted; a registry needs four levels.
const MAX_DEPTH: usize = 64;

/// A collection being built.
enum Open {
    Seq {
        at: Node,
        items: Vec<Node>,
        anchor: usize,
    },
    Map {
        at: Node,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        anchor: usize,
    },
}

fn position(span: &Span) -> (u32, u32, u32) {
    let len = span.end.index().saturating_sub(span.start.index());
    (
        to_u32(span.start.line()),
        to_u32(span.start.col() + 1),
        to_u32(len),
    )
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Parses one YAML document. An empty document is `Null`.
pub(crate) fn parse(text: &str) -> Result<Node, ParseError> {
    block::parse(text).map_or_else(|| parse_general(text), Ok)
}

/// Parses one YAML document with the general parser (see [`block`] for the fast path).
fn parse_general(text: &str) -> Result<Node, ParseError> {
    let mut builder = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        root: None,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|err| ParseError {
            line: to_u32(err.marker().line()),
            column: to_u32(err.marker().col() + 1),
            message: err.info(),
            budget: false,
        })?;
        builder.event(event, &span)?;
    }
    Ok(builder.root.unwrap_or(Node {
        line: 1,
        column: 1,
        len: 0,
        value: Value::Null,
    }))
}

struct Builder {
    stack: Vec<Open>,
    /// Completed anchored nodes and their size in nodes, for alias expansion.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes made so far by expanding aliases.
    alias_nodes: usize,
    root: Option<Node>,
}

impl Builder {
    fn budget_error(&self, span: &Span, message: String) -> ParseError {
        let (line, column, _) = position(span);
        ParseError {
            line,
            column,
            message,
            budget: true,
        }
    }

    /// Counts the `nodes` an alias expands to against [`MAX_ALIAS_NODES`].
    fn count_alias(&mut self, nodes: usize, span: &Span) -> Result<(), ParseError> {
        self.alias_nodes += nodes;
        if self.alias_nodes > MAX_ALIAS_NODES {
            let message = format!("aliases expand to more than {MAX_ALIAS_NODES} nodes");
            return Err(self.budget_error(span, message));
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), ParseError> {
        let (line, column, len) = position(span);
        let at = |value| Node {
            line,
            column,
            len,
            value,
        };
        match event {
            Event::DocumentStart(..) if self.root.is_some() => {
                let message = "a registry file holds one YAML document; remove the `---` separator"
                    .to_owned();
                Err(ParseError {
                    line,
                    column,
                    message,
                    budget: false,
                })
            }
            Event::Scalar(text, style, anchor, tag) => {
                let core_str = tag.as_ref().is_some_and(|t| t.suffix() == "str");
                let value = if style == ScalarStyle::Plain && !core_str {
                    resolve_plain(&text)
                } else {
                    Value::Str(text.into_owned())
                };
                self.complete(at(value), anchor, 1);
                Ok(())
            }
            Event::SequenceStart(_, anchor, _) | Event::MappingStart(_, anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(
                        self.budget_error(span, format!("nesting deeper than {MAX_DEPTH} levels"))
                    );
                }
                let open = if matches!(event, Event::SequenceStart(..)) {
                    Open::Seq {
                        at: at(Value::Null),
                        items: Vec::new(),
                        anchor,
                    }
                } else {
                    Open::Map {
                        at: at(Value::Null),
                        entries: Vec::new(),
                        key: None,
                        anchor,
                    }
                };
                self.stack.push(open);
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq { at, items, anchor }) => (
                        Node {
                            value: Value::Seq(items),
                            ..at
                        },
                        anchor,
                    ),
                    Some(Open::Map {
                        at,
                        entries,
                        anchor,
                        ..
                    }) => (
                        Node {
                            value: Value::Map(merge(entries)),
                            ..at
                        },
                        anchor,
                    ),
                    None => return Ok(()),
                };
                let size = if anchor == 0 { 0 } else { node_count(&node) };
                self.complete(node, anchor, size);
                Ok(())
            }
            Event::Alias(id) => {
                // The parser rejects aliases to unknown anchors; an anchor still open (a
                // recursive alias) is not in the table yet.
                let Some((node, size)) = self.anchors.get(&id).cloned() else {
                    return Err(self.budget_error(
                        span,
                        "an alias refers to the node that contains it".to_owned(),
                    ));
                };
                self.count_alias(size, span)?;
                self.complete(
                    Node {
                        line,
                        column,
                        ..node
                    },
                    0,
                    0,
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Places a finished node in its parent (or as the root), recording it when anchored.
    fn complete(&mut self, node: Node, anchor: usize, size: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size.max(1)));
        }
        match self.stack.last_mut() {
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
            None => self.root = Some(node),
        }
    }
}

fn node_count(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| node_count(k) + node_count(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// Applies YAML merge keys (`<<: *defaults`, or a list of them): merged entries come after the
/// mapping's own, and never replace a key the mapping sets itself.
fn merge(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let is_merge = |k: &Node| matches!(&k.value, Value::Str(s) if s == "<<");
    if !entries
        .iter()
        .any(|(k, v)| is_merge(k) && matches!(v.value, Value::Map(_) | Value::Seq(_)))
    {
        return entries;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = entries.into_iter().partition(|(k, _)| is_merge(k));
    for (_, source) in merges {
        let sources = match source.value {
            Value::Seq(items) => items,
            other => vec![Node {
                value: other,
                ..source
            }],
        };
        for source in sources {
            let Value::Map(source_entries) = source.value else {
                continue;
            };
            for (k, v) in source_entries {
                if !own.iter().any(|(existing, _)| existing.value == k.value) {
                    own.push((k, v));
                }
            }
        }
    }
    own
}

/// A plain scalar resolved with the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = text.parse::<i128>()
    {
        return Value::Int(n);
    }
    for (prefix, radix) in [("0o", 8), ("0x", 16)] {
        if let Some(n) = text
            .strip_prefix(prefix)
            .and_then(|d| i128::from_str_radix(d, radix).ok())
        {
            return Value::Int(n);
        }
    }
    let looks_numeric = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_numeric && let Ok(f) = text.parse::<f64>() {
        return Value::Float(f);
    }
    Value::Str(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn str_at(node: &Node) -> (&str, u32, u32) {
        match &node.value {
            Value::Str(s) => (s.as_str(), node.line, node.column),
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn nested_nodes_carry_positions() {
        let node = parse("- feature: messaging\n  team: msgs-team\n").unwrap();
        let Value::Seq(items) = &node.value else {
            panic!()
        };
        let Value::Map(entries) = &items[0].value else {
            panic!()
        };
        assert_eq!(str_at(&entries[0].0), ("feature", 1, 3));
        assert_eq!(str_at(&entries[0].1), ("messaging", 1, 12));
        assert_eq!(str_at(&entries[1].1), ("msgs-team", 2, 9));
        assert_eq!(entries[1].1.len, 9);
    }

    #[test]
    fn duplicate_keys_are_kept_for_the_validator() {
        let node = parse("a: 1\na: 2\n").unwrap();
        let Value::Map(entries) = &node.value else {
            panic!()
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].0.line, 2);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("- feature: [a\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
        assert!(!err.budget);
    }

    #[test]
    fn alias_bombs_hit_the_budget() {
        let mut yaml = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = (b'a' + i - 1) as char;
            let name = (b'a' + i) as char;
            yaml.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let err = parse(&yaml).unwrap_err();
        assert!(err.budget, "{err:?}");
        assert_eq!(
            err.message,
            format!("aliases expand to more than {MAX_ALIAS_NODES} nodes")
        );
    }

    #[test]
    fn nodes_written_out_do_not_count_against_the_alias_budget() {
        // More nodes than the budget, none made by an alias: the fast path takes them (it once
        // gave up at a node budget, and the general parser then parsed the text again only to
        // reject it). `alias_bombs_hit_the_budget` holds the other side.
        let items = MAX_ALIAS_NODES + 1;
        let parsed = parse(&"- x\n".repeat(items)).unwrap();
        let Value::Seq(seq) = &parsed.value else {
            panic!("not a list")
        };
        assert_eq!(seq.len(), items);
    }

    #[test]
    fn merge_keys_fill_in_without_overriding() {
        let node = parse("base: &b {team: t, tier: S}\nf:\n  <<: *b\n  tier: A\n").unwrap();
        let Value::Map(top) = &node.value else {
            panic!()
        };
        let Value::Map(f) = &top[1].1.value else {
            panic!()
        };
        let pairs: Vec<_> = f
            .iter()
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect();
        let s = |x: &str| Value::Str(x.to_owned());
        assert_eq!(pairs, [(s("tier"), s("A")), (s("team"), s("t"))]);
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        for (text, value) in [
            ("yes", Value::Str("yes".into())),
            ("on", Value::Str("on".into())),
            ("true", Value::Bool(true)),
            ("~", Value::Null),
            ("42", Value::Int(42)),
            ("0x1F", Value::Int(31)),
            ("1.5", Value::Float(1.5)),
            ("1.2.3", Value::Str("1.2.3".into())),
            ("text-in-voice", Value::Str("text-in-voice".into())),
        ] {
            assert_eq!(resolve_plain(text), value, "{text}");
        }
        let quoted = parse("a: \"true\"\nb: !!str 42\n").unwrap();
        let Value::Map(entries) = &quoted.value else {
            panic!()
        };
        assert_eq!(entries[0].1.value, Value::Str("true".into()));
        assert_eq!(entries[1].1.value, Value::Str("42".into()));
    }

    #[test]
    fn deep_nesting_and_extra_documents_are_rejected() {
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&deep).unwrap_err().budget);
        let two = parse("- a\n---\n- b\n").unwrap_err();
        assert_eq!((two.line, two.budget), (2, false), "{two:?}");
    }
}
