//! The filters templates escape and format values with: per-target string escaping (the
//! `escape` module) and `sql_rows`, which writes whole SQL insert rows.

use std::fmt::Write as _;

use minijinja::Environment;
use minijinja::value::{Value, ValueKind};

use crate::escape;

/// Adds every filter to `env`.
pub(crate) fn add_filters(env: &mut Environment<'_>) {
    env.add_filter("rust_str", |s: &str| escape::rust_str(s));
    env.add_filter("rust_doc", |s: Option<&str>, indent: &str| {
        escape::rust_doc(s, indent)
    });
    env.add_filter("py_str", |s: Option<&str>| escape::py_str(s));
    env.add_filter("sql_str", |s: Option<&str>, dialect: &str| {
        escape::sql_str(s, dialect)
    });
    env.add_filter("sql_rows", sql_rows);
}

/// The `sql_rows(dialect, columns, prefix)` filter: each item of a list as one SQL row,
/// `prefix` before each: `(1, 'name', NULL, TRUE)`. A string in `columns` names an attribute of
/// the item; any other value is written as it is (`false` for a constant `FALSE` column).
/// Strings are escaped with [`escape::push_sql_str`]; none and undefined are `NULL`. Formatting
/// 10,000 rows here rather than in a template loop keeps large inserts cheap to render.
fn sql_rows(
    items: &Value,
    dialect: &str,
    columns: Vec<Value>,
    prefix: &str,
) -> Result<String, minijinja::Error> {
    let mut rows = String::with_capacity(items.len().unwrap_or(0) * (64 + 8 * columns.len()));
    for item in items.try_iter()? {
        rows.push_str(prefix);
        rows.push('(');
        for (index, column) in columns.iter().enumerate() {
            if index > 0 {
                rows.push_str(", ");
            }
            let value = match column.as_str() {
                Some(attribute) => item.get_attr(attribute)?,
                None => column.clone(),
            };
            push_sql_value(&mut rows, &value, dialect)?;
        }
        rows.push(')');
    }
    Ok(rows)
}

/// Appends one value as an SQL literal (see [`sql_rows`]).
fn push_sql_value(out: &mut String, value: &Value, dialect: &str) -> Result<(), minijinja::Error> {
    match value.kind() {
        ValueKind::None | ValueKind::Undefined => out.push_str("NULL"),
        ValueKind::Bool => out.push_str(if value.is_true() { "TRUE" } else { "FALSE" }),
        // Ids and ranks: formatted without `fmt`, which costs more than the rest of a row.
        ValueKind::Number => match value.as_i64() {
            Some(n) => out.push_str(itoa::Buffer::new().format(n)),
            None => {
                let _ = write!(out, "{value}");
            }
        },
        ValueKind::String => escape::push_sql_str(out, value.as_str().unwrap_or_default(), dialect),
        other => {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("sql_rows cannot write a {other} as an SQL value"),
            ));
        }
    }
    Ok(())
}
