//! YAML parsed into a small tree whose every node knows its position.
//!
//! Validation runs on this tree rather than on `#[derive(Deserialize)]` structs because serde
//! stops at the first error, while the registry must report every problem in one run, and
//! because semantic errors (an unknown team) need the position of the offending scalar.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::options::DuplicateKeyPolicy;
use serde_saphyr::{Budget, Options, Spanned};

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

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        let at = spanned.referenced;
        Ok(Node {
            line: to_u32(at.line()),
            column: to_u32(at.column()),
            len: to_u32(at.span().len()),
            value: spanned.value,
        })
    }
}

fn to_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            entries.push((key, map.next_value::<Node>()?));
        }
        Ok(Value::Map(entries))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Value, E> {
        Err(E::custom("binary values are not supported in a registry"))
    }
}

/// A YAML syntax or resource-limit error, with its position when the parser knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub line: u32,
    pub column: u32,
    pub message: String,
    /// True when a resource budget (alias expansion, node count) was exceeded.
    pub budget: bool,
}

/// Upper bound on the nodes of one file, aliases expanded: ten times a 10,000-feature
/// registry, and far below what an alias bomb expands to.
const MAX_NODES: usize = 1_000_000;

/// Parses one YAML document. An empty document is `Null`.
pub(crate) fn parse(text: &str) -> Result<Node, ParseError> {
    let mut options = Options::default();
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    options.with_snippet = false;
    let mut budget = Budget::default();
    budget.max_nodes = MAX_NODES;
    budget.max_events = 4 * MAX_NODES;
    options.budget = Some(budget);
    let parsed: Result<Option<Node>, _> = serde_saphyr::from_str_with_options(text, options);
    match parsed {
        Ok(Some(node)) => Ok(node),
        Ok(None) => Ok(Node {
            line: 1,
            column: 1,
            len: 0,
            value: Value::Null,
        }),
        Err(err) => {
            let at = err.location();
            Err(ParseError {
                line: at.map_or(0, |l| to_u32(l.line())),
                column: at.map_or(0, |l| to_u32(l.column())),
                message: error_message(&err),
                budget: matches!(
                    original_error(&err),
                    serde_saphyr::Error::Budget { .. }
                        | serde_saphyr::Error::AliasReplayCounterOverflow { .. }
                        | serde_saphyr::Error::AliasReplayLimitExceeded { .. }
                        | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
                        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. }
                ),
            })
        }
    }
}

/// The error inside snippet and alias-location wrappers.
fn original_error(mut err: &serde_saphyr::Error) -> &serde_saphyr::Error {
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = err
    {
        err = error;
    }
    err
}

/// The parser's message without its own position suffix or snippet (we render our own).
fn error_message(err: &serde_saphyr::Error) -> String {
    let text = original_error(err).to_string();
    let first = text.lines().next().unwrap_or_default();
    match first.find(" at line ") {
        Some(cut) => first[..cut].to_owned(),
        None => first.to_owned(),
    }
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
        assert!(
            err.message.contains("budget") || err.budget || err.message.contains("alias"),
            "{err:?}"
        );
    }
}
