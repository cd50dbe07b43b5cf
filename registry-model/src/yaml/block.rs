//! A fast path for the YAML that registries are written in: block mappings and sequences whose
//! scalars are single-line plain, single- or double-quoted, with comments and blank lines.
//!
//! The general parser spends about 250 instructions per byte; a 10,000-feature registry is
//! 2.6 MB, which made YAML the largest part of `featgen build`. This one reads that subset
//! line by line at a few instructions per byte. It only has to recognize the subset, never to
//! diagnose: on anything else (flow collections, anchors, aliases, tags, block or multi-line
//! scalars, tabs, carriage returns, directives, document markers, unusual escapes, syntax
//! errors) it returns `None` and [`super::parse`] runs the general parser, which also reports
//! the errors. A differential test holds the two trees equal, positions included.

use super::{MAX_DEPTH, Node, Value, merge, resolve_plain};

/// Parses `text` if it lies in the subset; `None` means "use the general parser".
pub(super) fn parse(text: &str) -> Option<Node> {
    if !is_plain_text(text) {
        return None;
    }
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        line_start: 0,
        line: 1,
    };
    let Some(indent) = reader.next_content_line()? else {
        return Some(Node {
            line: 1,
            column: 1,
            len: 0,
            value: Value::Null,
        });
    };
    let root = reader.collection(reader.line_start + indent, 0)?;
    // Anything after the root node (a less indented line) is for the general parser.
    match reader.next_content_line()? {
        None => Some(root),
        Some(_) => None,
    }
}

/// True when `text` has no character that would need the general parser's care: control
/// characters other than the newline (tabs and carriage returns included), a byte order mark,
/// and characters YAML does not allow or treats as line breaks.
fn is_plain_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes
        .iter()
        .all(|&b| b == b'\n' || (0x20..0x7f).contains(&b))
    {
        return true;
    }
    text.chars().all(|c| match c {
        '\n' | ' '..='~' => true,
        '\u{a0}'..='\u{d7ff}' => !matches!(c, '\u{2028}' | '\u{2029}'),
        '\u{e000}'..='\u{fffd}' => c != '\u{feff}',
        '\u{10000}'.. => true,
        _ => false,
    })
}

/// Reads the text line by line. `line_start` is the byte offset of the current line and
/// `line` its 1-based number.
struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    line_start: usize,
    line: u32,
}

/// How a scalar was written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Quoted,
}

impl Reader<'_> {
    /// The byte at `at`, or a newline past the end (the text is read as if it ended in one).
    fn byte(&self, at: usize) -> u8 {
        self.bytes.get(at).copied().unwrap_or(b'\n')
    }

    /// True when a sequence entry's dash is at `at`: `-` followed by a space or the line end.
    fn is_dash(&self, at: usize) -> bool {
        self.byte(at) == b'-' && self.is_break(at + 1)
    }

    /// True when `at` ends a token: a space or the end of the line.
    fn is_break(&self, at: usize) -> bool {
        matches!(self.byte(at), b' ' | b'\n')
    }

    /// Offset of the end of the line containing `at` (its newline, or the end of the text).
    fn line_end(&self, at: usize) -> usize {
        self.bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.bytes.len(), |n| at + n)
    }

    /// Moves to the line after the one containing `at`.
    fn next_line(&mut self, at: usize) {
        self.line_start = (self.line_end(at) + 1).min(self.bytes.len());
        self.line += 1;
    }

    /// 1-based column of byte `at` on the current line, in characters.
    fn column(&self, at: usize) -> u32 {
        chars(&self.bytes[self.line_start..at]) + 1
    }

    /// A node at byte `start` of the current line.
    fn node(&self, start: usize, len: u32, value: Value) -> Node {
        Node {
            line: self.line,
            column: self.column(start),
            len,
            value,
        }
    }

    /// Skips blank and comment lines. `Some(None)` at the end of the text, `Some(Some(indent))`
    /// at a line with content, `None` at a document marker.
    fn next_content_line(&mut self) -> Option<Option<usize>> {
        loop {
            if self.line_start >= self.bytes.len() {
                return Some(None);
            }
            let line = &self.bytes[self.line_start..];
            let indent = line.iter().take_while(|&&b| b == b' ').count();
            match line.get(indent) {
                None => return Some(None),
                Some(b'\n') | Some(b'#') => self.next_line(self.line_start + indent),
                Some(_)
                    if indent == 0 && (line.starts_with(b"---") || line.starts_with(b"...")) =>
                {
                    return None;
                }
                Some(_) => return Some(Some(indent)),
            }
        }
    }

    /// A block sequence or mapping whose first token is at `at` on the current line.
    fn collection(&mut self, at: usize, depth: usize) -> Option<Node> {
        if depth >= MAX_DEPTH {
            return None;
        }
        if self.is_dash(at) {
            let start = self.node(at, 0, Value::Null);
            self.sequence(at - self.line_start, start, depth)
        } else {
            self.mapping(at, depth)
        }
    }

    /// A block sequence whose dashes are at column `indent`, the current line holding the
    /// first. `start` is the node's position.
    fn sequence(&mut self, indent: usize, start: Node, depth: usize) -> Option<Node> {
        let mut items = Vec::new();
        loop {
            let dash = self.line_start + indent;
            let content = self.skip_spaces(dash + 1);
            if matches!(self.byte(content), b'\n' | b'#') {
                // An item on the following lines, or an empty one: rare enough to leave.
                return None;
            }
            let compact = self.is_dash(content) || self.key_end(content).is_some();
            let item = if compact {
                self.collection(content, depth + 1)?
            } else {
                self.scalar_line(content)?
            };
            items.push(item);
            match self.next_content_line()? {
                Some(next) if next == indent => {
                    let dash = self.line_start + indent;
                    if !self.is_dash(dash) {
                        break;
                    }
                }
                Some(next) if next > indent => return None,
                _ => break,
            }
        }
        Some(Node {
            value: Value::Seq(items),
            ..start
        })
    }

    /// A block mapping whose first key is at `at` on the current line.
    fn mapping(&mut self, at: usize, depth: usize) -> Option<Node> {
        let indent = at - self.line_start;
        let start = self.node(at, 0, Value::Null);
        let mut entries = Vec::new();
        loop {
            let key_start = self.line_start + indent;
            let (key, colon) = self.key(key_start)?;
            let value_start = self.skip_spaces(colon + 1);
            // `a: - b` and `a: b: c` are errors, which `scalar_line` leaves.
            let value = if matches!(self.byte(value_start), b'\n' | b'#') {
                self.value_below(indent, colon, depth)?
            } else {
                self.scalar_line(value_start)?
            };
            entries.push((key, value));
            match self.next_content_line()? {
                Some(next) if next == indent => {}
                Some(next) if next > indent => return None,
                _ => break,
            }
        }
        Some(Node {
            value: Value::Map(merge(entries)),
            ..start
        })
    }

    /// The value of a key with nothing after its colon (at `colon`): a collection on the
    /// following lines, a sequence at the key's own indentation, or null.
    fn value_below(&mut self, indent: usize, colon: usize, depth: usize) -> Option<Node> {
        let null = Node {
            line: self.line,
            column: self.column(colon),
            len: 0,
            value: Value::Null,
        };
        self.next_line(colon);
        match self.next_content_line()? {
            Some(next) if next > indent => self.collection(self.line_start + next, depth + 1),
            Some(next) if next == indent => {
                let dash = self.line_start + indent;
                if self.is_dash(dash) {
                    // A sequence at its key's indentation starts, in the general parser's
                    // positions, at its first item.
                    let first = self.skip_spaces(dash + 1);
                    let start = self.node(first, 0, Value::Null);
                    if depth + 1 >= MAX_DEPTH {
                        return None;
                    }
                    self.sequence(indent, start, depth + 1)
                } else {
                    Some(null)
                }
            }
            _ => Some(null),
        }
    }

    fn skip_spaces(&self, mut at: usize) -> usize {
        while self.byte(at) == b' ' {
            at += 1;
        }
        at
    }

    /// If a mapping key starts at `at`: where it ends, how it is written, and the offset of
    /// its colon.
    fn key_end(&self, at: usize) -> Option<(usize, Style, usize)> {
        let (end, style) = self.scalar_end(at)?;
        let colon = self.skip_spaces(end);
        // Implicit keys are limited to 1024 characters; longer ones are errors.
        (self.byte(colon) == b':' && self.is_break(colon + 1) && end - at <= 1000)
            .then_some((end, style, colon))
    }

    /// The key starting at `at` and the offset of the colon after it.
    fn key(&mut self, at: usize) -> Option<(Node, usize)> {
        let (end, style, colon) = self.key_end(at)?;
        Some((self.scalar(at, end, style)?, colon))
    }

    /// A scalar at `at` that is the last thing on its line but for a comment; moves to the
    /// next line.
    fn scalar_line(&mut self, at: usize) -> Option<Node> {
        let (end, style) = self.scalar_end(at)?;
        let after = self.skip_spaces(end);
        let ends_line = match self.byte(after) {
            b'\n' => true,
            b'#' => after > end,
            _ => false,
        };
        if !ends_line {
            return None;
        }
        let node = self.scalar(at, end, style)?;
        self.next_line(at);
        Some(node)
    }

    /// Where the scalar starting at `at` ends (after its closing quote, or after its last
    /// non-space character), and how it is written. `None` when no scalar of the subset starts
    /// there.
    fn scalar_end(&self, at: usize) -> Option<(usize, Style)> {
        // The text from `at` on; each scan stops at the end of the line.
        let line = &self.bytes[at..];
        match *line.first()? {
            b'"' => {
                let mut i = 1;
                loop {
                    match *line.get(i)? {
                        b'"' => return Some((at + i + 1, Style::Quoted)),
                        b'\\' if line.get(i + 1) != Some(&b'\n') => i += 2,
                        b'\n' => return None,
                        _ => i += 1,
                    }
                }
            }
            b'\'' => {
                let mut i = 1;
                loop {
                    match *line.get(i)? {
                        b'\'' if line.get(i + 1) == Some(&b'\'') => i += 2,
                        b'\'' => return Some((at + i + 1, Style::Quoted)),
                        b'\n' => return None,
                        _ => i += 1,
                    }
                }
            }
            b'[' | b']' | b'{' | b'}' | b',' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'%'
            | b'@' | b'`' => None,
            b'-' | b'?' | b':' if self.is_break(at + 1) => None,
            _ => {
                // A plain scalar runs to `: `, ` #` or the end of the line.
                let mut last = 0;
                let mut i = 0;
                while i < line.len() {
                    match line[i] {
                        b'\n' => break,
                        b':' if matches!(line.get(i + 1), None | Some(b' ' | b'\n')) => break,
                        b'#' if i > 0 && line[i - 1] == b' ' => break,
                        b' ' => {}
                        _ => last = i + 1,
                    }
                    i += 1;
                }
                Some((at + last, Style::Plain))
            }
        }
    }

    /// The scalar node for the source text `at..end`.
    fn scalar(&mut self, at: usize, end: usize, style: Style) -> Option<Node> {
        let source = &self.text[at..end];
        let value = match style {
            Style::Plain => resolve_plain(source),
            Style::Quoted if source.starts_with('"') => {
                Value::Str(unescape_double(&source[1..source.len() - 1])?)
            }
            Style::Quoted => Value::Str(source[1..source.len() - 1].replace("''", "'")),
        };
        Some(self.node(at, chars(source.as_bytes()), value))
    }
}

/// Characters in UTF-8 `bytes`: every byte but continuation bytes starts one.
fn chars(bytes: &[u8]) -> u32 {
    let n = bytes.iter().filter(|&&b| (b as i8) >= -0x40).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The contents of a double-quoted scalar (between the quotes) with its escapes resolved;
/// `None` for escapes outside the common ones.
fn unescape_double(inner: &str) -> Option<String> {
    if !inner.contains('\\') {
        return Some(inner.to_owned());
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = match chars.next()? {
            '\\' => '\\',
            '"' => '"',
            '/' => '/',
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '0' => '\0',
            ' ' => ' ',
            code @ ('x' | 'u' | 'U') => {
                let digits = match code {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = chars.by_ref().take(digits).collect();
                if hex.len() != digits || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
            }
            _ => return None,
        };
        out.push(escaped);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::parse_general;

    /// Asserts that the fast path either declines `text` or builds exactly the general
    /// parser's tree; returns whether it took it.
    fn agrees(text: &str) -> bool {
        let Some(fast) = super::parse(text) else {
            return false;
        };
        let general = parse_general(text);
        // Debug output compares NaN floats as equal, which `==` would not.
        assert_eq!(
            format!("{:?}", Ok::<_, ()>(&fast)),
            format!("{:?}", general.as_ref().map_err(|_| ())),
            "the fast path disagrees with the general parser on {text:?}"
        );
        true
    }

    #[test]
    fn takes_registry_layouts_and_matches_the_general_parser() {
        for text in [
            "- feature: messaging\n  team: msgs-team\n  tier: S\n  feature_group: chat\n",
            "features:\n- feature: a\n  deprecated:\n    reason: \"gone\"\n    renamed_to: b\n",
            "features:\n  - feature: a # the first\n    description: 'it''s \"here\"'\n\n# end\n",
            "teams:\n  - name: t\n    slack: \"#t\"\ntiers:\n  - S\n",
            "a:\nb: \n  # nothing\nc:\n",
            "a:\n  - x\n  - - y\n    - z\n  -   w: 1\n      v: 2\n",
            "\"quoted key\": \"\\u00e9\\x41\\\\ \\\" \\/ \\n\"\n'single': x\n",
            "n: 1\nm: 0x1F\no: -5\np: 1.5e3\nq: .nan\nr: ~\ns: True\nt: 2001-01-01\n",
            "é-ü: ça va # commentaire\nk: a#b\nl: a:b\nm: <<\n<<:\n  x: 1\nx: 2\n",
            "  indented: root\n  more: keys\n",
            "",
            "# only a comment\n\n",
            "a: b",
            "- a\n-  b\n",
        ] {
            assert!(agrees(text), "{text:?} should take the fast path");
        }
        let registry = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../registry");
        for entry in std::fs::read_dir(registry).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    agrees(&text),
                    "{} should take the fast path",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn leaves_everything_else_to_the_general_parser() {
        for text in [
            "a: [1, 2]\n",
            "a: {b: 1}\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: |\n  text\n",
            "a: >\n  text\n",
            "a: b\n  continued\n",
            "---\na: 1\n",
            "a: 1\n...\n",
            "%YAML 1.2\n---\na: 1\n",
            "a:\tb\n",
            "a: b\r\n",
            "\u{feff}a: b\n",
            "a: \"two\n  lines\"\n",
            "a: \"\\q\"\n",
            "a: b: c\n",
            "a: - b\n",
            "-\n  a: 1\n",
            "? a\n: b\n",
            "a: 1\n b: 2\n",
            "a:\n  b\n",
            "just a scalar\n",
            "- a\nb: 1\n",
        ] {
            assert!(
                super::parse(text).is_none(),
                "{text:?} should be left alone"
            );
        }
    }

    /// A small deterministic generator, so that the differential test needs no seed handling.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const SCALARS: &[&str] = &[
        "plain",
        "two words",
        "msgs-team",
        "\"dq\"",
        "\"esc \\\" \\\\ \\u00e9 \\x41 \\U0001F600 \\/ \\n\"",
        "''",
        "'sq ''x'' \"y\"'",
        "123",
        "-5",
        "0o17",
        "0x1F",
        "1.5e3",
        ".inf",
        "true",
        "FALSE",
        "~",
        "null",
        "é-ü ✓",
        "a:b",
        "a#b",
        "http://x/y?z=1",
        "-x",
        ":x",
        "?x",
        "not [flow] {here}, x",
        "it's",
        "S",
        "\"#channel\"",
    ];

    const KEYS: &[&str] = &[
        "feature",
        "team",
        "tier",
        "feature_group",
        "description",
        "features",
        "teams",
        "\"quoted key\"",
        "'single'",
        "é",
        "<<",
        "1",
        "true",
        "a b",
        "k ",
    ];

    /// A comment or blank line, sometimes.
    fn filler(rng: &mut Rng, out: &mut String, indent: usize) {
        match rng.below(8) {
            0 => out.push('\n'),
            1 => out.push_str(&format!("{}# a comment: - [x]\n", " ".repeat(indent))),
            2 => out.push_str("# at column one\n"),
            _ => {}
        }
    }

    /// A scalar to end a line, sometimes with a comment after it.
    fn scalar_line(rng: &mut Rng, out: &mut String) {
        out.push_str(rng.pick(SCALARS));
        if rng.below(5) == 0 {
            out.push_str(" # why");
        }
        out.push('\n');
    }

    /// A block mapping at `indent`; when `inline`, its first key goes on the current line.
    fn mapping(rng: &mut Rng, out: &mut String, indent: usize, inline: bool, depth: usize) {
        for index in 0..1 + rng.below(4) {
            if index > 0 || !inline {
                filler(rng, out, indent);
                out.push_str(&" ".repeat(indent));
            }
            out.push_str(rng.pick(KEYS));
            out.push(':');
            match rng.below(if depth > 3 { 2 } else { 6 }) {
                0 => out.push_str(if rng.below(2) == 0 {
                    "\n"
                } else {
                    "   # empty\n"
                }),
                1 => {
                    out.push_str(&" ".repeat(1 + rng.below(2)));
                    scalar_line(rng, out);
                }
                2 | 3 => {
                    out.push('\n');
                    let inner = indent + 1 + rng.below(4);
                    mapping(rng, out, inner, false, depth + 1);
                }
                4 => {
                    out.push('\n');
                    sequence(rng, out, indent + 2, false, depth + 1);
                }
                _ => {
                    // A sequence at its key's indentation.
                    out.push('\n');
                    sequence(rng, out, indent, false, depth + 1);
                }
            }
        }
    }

    /// A block sequence at `indent`; when `inline`, its first dash goes on the current line.
    fn sequence(rng: &mut Rng, out: &mut String, indent: usize, inline: bool, depth: usize) {
        for index in 0..1 + rng.below(4) {
            if index > 0 || !inline {
                filler(rng, out, indent);
                out.push_str(&" ".repeat(indent));
            }
            let gap = 1 + rng.below(2);
            out.push('-');
            out.push_str(&" ".repeat(gap));
            match rng.below(if depth > 3 { 1 } else { 4 }) {
                0 => scalar_line(rng, out),
                1 | 2 => mapping(rng, out, indent + 1 + gap, true, depth + 1),
                _ => sequence(rng, out, indent + 1 + gap, true, depth + 1),
            }
        }
    }

    /// Inserts or deletes a character at a random place.
    fn mutate(rng: &mut Rng, text: &str) -> String {
        let boundaries: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        let at = boundaries[rng.below(boundaries.len())];
        let insert = rng.pick(&[
            "", " ", "  ", "\n", ":", ": ", "-", "- ", "#", " #", "\"", "'", "\\", "\t", "[", "{",
            "&a ", "*a", "!", "|", ">", "?", "x", "---\n", "\r", "\u{feff}", "\u{85}",
        ]);
        let mut out = text[..at].to_owned();
        out.push_str(insert);
        let rest = &text[at..];
        if insert.is_empty() {
            // Delete the next character instead.
            out.push_str(rest.char_indices().nth(1).map_or("", |(i, _)| &rest[i..]));
        } else {
            out.push_str(rest);
        }
        out
    }

    #[test]
    fn agrees_with_the_general_parser_on_generated_documents() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut mutants_taken = 0;
        for _ in 0..3000 {
            let mut text = String::new();
            if rng.below(2) == 0 {
                let indent = rng.below(2);
                mapping(&mut rng, &mut text, indent, false, 0);
            } else {
                sequence(&mut rng, &mut text, 0, false, 0);
            }
            assert!(agrees(&text), "{text:?} should take the fast path");
            for _ in 0..4 {
                let mut mutant = mutate(&mut rng, &text);
                if rng.below(2) == 0 {
                    mutant = mutate(&mut rng, &mutant);
                }
                mutants_taken += usize::from(agrees(&mutant));
            }
        }
        // The mutants exercise both paths: many still lie in the subset, many do not.
        assert!((2000..10000).contains(&mutants_taken), "{mutants_taken}");
    }
}
