//! String escaping for every target, so that any registry text (quotes, `"""`, `*/`, `--`,
//! backslashes, bidi controls, emoji) lands in generated code as data, never as syntax.

use std::fmt::Write as _;

/// A Rust string literal. `str`'s `Debug` output is a valid literal: it escapes quotes,
/// backslashes, control and non-printable characters (including bidi overrides, which rustc
/// rejects unescaped).
pub fn rust_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_rust_str(&mut out, "", text);
    out
}

/// Appends `text` to `out`, escaping the characters that start with a byte for which
/// `special` holds through `escape`, and copying the runs between them whole. `special` holds
/// for every byte that starts a character needing care, and for all non-ASCII bytes or none.
fn push_escaped(
    out: &mut String,
    text: &str,
    special: impl Fn(u8) -> bool,
    escape: impl Fn(&mut String, char),
) {
    let bytes = text.as_bytes();
    let (mut run, mut at) = (0, 0);
    while at < bytes.len() {
        if !special(bytes[at]) {
            at += 1;
            continue;
        }
        out.push_str(&text[run..at]);
        // `at` starts a character: a run stops at an ASCII byte or, when non-ASCII bytes are
        // special, at a lead byte, and an escape moves over its whole character.
        let c = text[at..].chars().next().unwrap_or_default();
        escape(out, c);
        at += c.len_utf8();
        run = at;
    }
    out.push_str(&text[run..]);
}

/// Whether a byte needs care inside a double-quoted Rust or Python literal: `"`, `\`, and
/// everything outside printable ASCII (controls, and every byte of a non-ASCII character).
fn needs_escape_in_quotes(b: u8) -> bool {
    !(b' '..=b'~').contains(&b) || b == b'"' || b == b'\\'
}

/// Appends the Rust string literal of `prefix` followed by `text` (`prefix` is plain).
fn push_rust_str(out: &mut String, prefix: &str, text: &str) {
    out.push('"');
    out.push_str(prefix);
    push_escaped(out, text, needs_escape_in_quotes, |out, c| match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        // What `str`'s `Debug` writes for everything else: `\n`, `\u{202e}`, `é`, ...
        _ => out.extend(c.escape_debug()),
    });
    out.push('"');
}

/// The length of the longest run of backticks in `text`.
fn longest_backtick_run(text: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for byte in text.bytes() {
        run = if byte == b'`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// Rustdoc attributes for free text: the text inside a ```` ```text ```` fence (so rustdoc never
/// runs it as a doctest or reads it as Markdown), each line a `#[doc = ...]` attribute with a
/// string literal, the lines joined by a newline and `indent`. The fence is longer than any
/// backtick run in the text, so the text cannot close it. Absent text has no attributes.
pub fn rust_doc(text: Option<&str>, indent: &str) -> String {
    let Some(text) = text else {
        return String::new();
    };
    let fence = "`".repeat(longest_backtick_run(text).max(2) + 1);
    let mut out = String::with_capacity(2 * text.len() + 6 * indent.len() + 80);
    let mut attribute = |prefix: &str, line: &str| {
        if !out.is_empty() {
            out.push('\n');
            out.push_str(indent);
        }
        out.push_str("#[doc = ");
        push_rust_str(&mut out, prefix, line);
        out.push(']');
    };
    attribute("", "");
    attribute(" ", &format!("{fence}text"));
    for line in text.lines() {
        attribute(" ", line);
    }
    attribute(" ", &fence);
    out
}

/// A Python string literal (`None` for absent text). Everything outside printable ASCII is
/// escaped, so the source stays ASCII and no bidi control reaches a Python file.
pub fn py_str(text: Option<&str>) -> String {
    let Some(text) = text else {
        return "None".to_owned();
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    push_escaped(&mut out, text, needs_escape_in_quotes, |out, c| {
        let _ = match c {
            '"' => out.write_str("\\\""),
            '\\' => out.write_str("\\\\"),
            '\n' => out.write_str("\\n"),
            '\t' => out.write_str("\\t"),
            c if (c as u32) <= 0xFF => write!(out, "\\x{:02x}", c as u32),
            c if (c as u32) <= 0xFFFF => write!(out, "\\u{:04x}", c as u32),
            c => write!(out, "\\U{:08x}", c as u32),
        };
    });
    out.push('"');
    out
}

/// A SQL string literal for `dialect` (`NULL` for absent text). Standard SQL doubles quotes;
/// BigQuery uses backslash escapes instead.
pub fn sql_str(text: Option<&str>, dialect: &str) -> String {
    let Some(text) = text else {
        return "NULL".to_owned();
    };
    let mut out = String::with_capacity(text.len() + 8);
    push_sql_str(&mut out, text, dialect);
    out
}

/// Appends the SQL string literal of `text` for `dialect` (see [`sql_str`]), for callers that
/// build whole rows.
pub fn push_sql_str(out: &mut String, text: &str, dialect: &str) {
    out.push('\'');
    if dialect == "bigquery" {
        push_escaped(
            out,
            text,
            |b| matches!(b, b'\'' | b'\\' | b'\n' | b'\t'),
            |out, c| {
                out.push('\\');
                out.push(match c {
                    '\n' => 'n',
                    '\t' => 't',
                    c => c,
                });
            },
        );
    } else {
        push_escaped(out, text, |b| b == b'\'', |out, _| out.push_str("''"));
    }
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_literals_are_what_str_debug_writes() {
        // Every character below U+3000 (ASCII, controls, Latin, combining marks, bidi
        // controls), plus emoji and the ends of the range, in and out of context.
        let chars = (0..0x3000u32)
            .chain([0xFEFF, 0x1F389, 0x10FFFF])
            .filter_map(char::from_u32);
        for c in chars {
            for text in [c.to_string(), format!("a{c}b'\"")] {
                assert_eq!(
                    rust_str(&text),
                    format!("{text:?}"),
                    "U+{:04X}",
                    u32::from(c)
                );
            }
        }
    }

    #[test]
    fn rust_literals_escape_quotes_and_bidi() {
        assert_eq!(rust_str("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(rust_str("\u{202e}"), r#""\u{202e}""#);
    }

    #[test]
    fn doc_fence_outlasts_backticks_in_text() {
        let doc = rust_doc(Some("run ```rust\nfn main() {}\n``` now"), "  ");
        let lines: Vec<&str> = doc.lines().collect();
        assert_eq!(lines[0], r#"#[doc = ""]"#);
        assert_eq!(lines[1], r#"  #[doc = " ````text"]"#);
        assert_eq!(lines[2], r#"  #[doc = " run ```rust"]"#);
        assert_eq!(lines.last().unwrap(), &r#"  #[doc = " ````"]"#);
        assert_eq!(rust_doc(None, "  "), "");
    }

    #[test]
    fn python_literals() {
        assert_eq!(py_str(None), "None");
        assert_eq!(
            py_str(Some(r#"say """hi""" \ é 🎉"#)),
            r#""say \"\"\"hi\"\"\" \\ \xe9 \U0001f389""#
        );
        assert_eq!(
            py_str(Some("a\nb\tc\u{1}\u{7f}\u{202e}end")),
            r#""a\nb\tc\x01\x7f\u202eend""#
        );
    }

    #[test]
    fn sql_literals() {
        assert_eq!(
            sql_str(Some("it's -- /* x */"), "postgres"),
            "'it''s -- /* x */'"
        );
        assert_eq!(sql_str(Some("it's \\"), "bigquery"), r"'it\'s \\'");
        assert_eq!(
            sql_str(Some("é\nline\t'x'"), "bigquery"),
            r"'é\nline\t\'x\''"
        );
        assert_eq!(sql_str(None, "sqlite"), "NULL");
    }
}
