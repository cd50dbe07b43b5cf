//! Diagnostics shared by every featgen command: what went wrong, where (file, line, column),
//! and how to fix it, rendered rustc-style for terminals or as JSON for tools.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the command (exit 1).
    Error,
    /// Reported; fails only when warnings are denied.
    Warning,
}

impl Severity {
    /// The lowercase word rustc prints (`error`, `warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// What kind of problem a diagnostic reports. The kebab-case [`id`](Code::id) is part of the
/// output contract (human and JSON output, docs); the command-line exit status is decided on
/// the variant (an [`Io`](Code::Io) failure is a usage error, anything else is a finding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// The input could not be read or the output written (missing path, permissions).
    Io,
    /// `featgen.lock` is malformed.
    InvalidLock,
    /// A registry file is not valid YAML.
    YamlSyntax,
    /// A registry file expands to too many nodes (an alias bomb).
    YamlTooLarge,
    /// A registry file is over the size limit.
    FileTooLarge,
    /// A registry file is not UTF-8.
    InvalidUtf8,
    /// A value of the wrong YAML type.
    WrongType,
    /// A key the registry format does not have.
    UnknownField,
    /// A key given twice in one mapping.
    DuplicateKey,
    /// A required key is absent.
    MissingField,
    /// Text with control characters.
    InvalidText,
    /// A name that is not valid for its kind.
    InvalidName,
    /// A name declared twice.
    DuplicateName,
    /// Two names that become the same identifier in generated code.
    NameCollision,
    /// A feature names an undeclared team.
    UnknownTeam,
    /// A feature names an undeclared feature group.
    UnknownGroup,
    /// A feature names an undeclared tier.
    UnknownTier,
    /// `renamed_to` names no other feature.
    UnknownRenameTarget,
    /// `renamed_from` names a feature that still exists, is unknown, or is claimed twice.
    UnknownRenameSource,
    /// The registry has no features.
    EmptyRegistry,
    /// Invalid options of the code generator (an unknown target, a bad package name).
    Config,
    /// A user template that does not parse or render.
    Template,
    /// A symbolic link in the template directory, which is not followed.
    TemplateSymlink,
}

impl Code {
    /// The stable kebab-case id (`unknown-team`).
    pub fn id(self) -> &'static str {
        match self {
            Code::Io => "io",
            Code::InvalidLock => "invalid-lock",
            Code::YamlSyntax => "yaml-syntax",
            Code::YamlTooLarge => "yaml-too-large",
            Code::FileTooLarge => "file-too-large",
            Code::InvalidUtf8 => "invalid-utf8",
            Code::WrongType => "wrong-type",
            Code::UnknownField => "unknown-field",
            Code::DuplicateKey => "duplicate-key",
            Code::MissingField => "missing-field",
            Code::InvalidText => "invalid-text",
            Code::InvalidName => "invalid-name",
            Code::DuplicateName => "duplicate-name",
            Code::NameCollision => "name-collision",
            Code::UnknownTeam => "unknown-team",
            Code::UnknownGroup => "unknown-group",
            Code::UnknownTier => "unknown-tier",
            Code::UnknownRenameTarget => "unknown-rename-target",
            Code::UnknownRenameSource => "unknown-rename-source",
            Code::EmptyRegistry => "empty-registry",
            Code::Config => "config",
            Code::Template => "template",
            Code::TemplateSymlink => "template-symlink",
        }
    }
}

/// The code of a diagnostic: featgen's [`Code`], or another tool's (the linter's rules), so that
/// every command renders its problems the same way.
pub trait DiagnosticCode: Copy {
    /// The stable kebab-case id shown in brackets (`error[unknown-team]`).
    fn id(self) -> &'static str;
}

impl DiagnosticCode for Code {
    fn id(self) -> &'static str {
        Code::id(self)
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

/// A position in a source file: 1-based line and column (in characters), and the length of the
/// underlined region in characters (at least 1 when rendered).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Label {
    /// File the label points into, as given to the loader (relative paths stay relative).
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
    /// Length of the region in characters.
    pub len: u32,
    /// What this place is (may be empty).
    pub message: String,
}

impl Label {
    /// A label at `file:line:column` spanning `len` characters.
    pub fn new(file: impl Into<PathBuf>, line: u32, column: u32, len: u32) -> Label {
        Label {
            file: file.into(),
            line,
            column,
            len,
            message: String::new(),
        }
    }

    /// The same label with a message.
    pub fn with_message(mut self, message: impl Into<String>) -> Label {
        self.message = message.into();
        self
    }
}

/// One problem found in the input, with the kind of problem as a `C` ([`Code`] for the
/// registry and the code generator).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic<C = Code> {
    /// Error or warning.
    pub severity: Severity,
    /// The kind of problem; its kebab-case id is shown (`unknown-team`), for tools and docs.
    pub code: C,
    /// One-line summary.
    pub message: String,
    /// The place the problem is (absent for problems with no position, such as an empty
    /// registry directory).
    pub primary: Option<Label>,
    /// Related places (the first definition of a duplicate, say).
    pub secondary: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
}

impl<C: DiagnosticCode> Diagnostic<C> {
    /// An error with a code and message, no position yet.
    pub fn error(code: C, message: impl Into<String>) -> Diagnostic<C> {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    /// A warning with a code and message, no position yet.
    pub fn warning(code: C, message: impl Into<String>) -> Diagnostic<C> {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Sets the primary position.
    pub fn at(mut self, label: Label) -> Diagnostic<C> {
        self.primary = Some(label);
        self
    }

    /// Adds a related position.
    pub fn also(mut self, label: Label) -> Diagnostic<C> {
        self.secondary.push(label);
        self
    }

    /// Sets the fix hint.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic<C> {
        self.help = Some(help.into());
        self
    }

    /// Renders rustc-style, with source snippets read through `sources`.
    pub fn render(&self, sources: &mut SourceCache) -> String {
        let mut out = String::new();
        self.render_into(sources, &mut out);
        out
    }

    /// [`render`](Diagnostic::render), appended to `out`: a report of many diagnostics is
    /// written into one buffer, with no string per diagnostic, per label or per padding.
    fn render_into(&self, sources: &mut SourceCache, out: &mut String) {
        let spaces = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
        out.push_str(self.severity.as_str());
        out.push('[');
        out.push_str(self.code.id());
        out.push_str("]: ");
        out.push_str(&self.message);
        out.push('\n');
        let labels = || self.primary.iter().chain(&self.secondary);
        let gutter = labels().map(|l| digits(l.line)).max().unwrap_or(1);
        for (index, label) in labels().enumerate() {
            spaces(out, gutter);
            out.push_str(if index == 0 { "--> " } else { "::: " });
            match label.file.to_str() {
                Some(path) => out.push_str(path),
                None => {
                    let _ = write!(out, "{}", label.file.display());
                }
            }
            let _ = writeln!(out, ":{}:{}", label.line, label.column);
            let Some(text) = sources.line(&label.file, label.line) else {
                continue;
            };
            let marker = if index == 0 { '^' } else { '-' };
            let shown = text.trim_end_matches(['\r', '\n']);
            let start = (label.column.max(1) - 1) as usize;
            let width = shown.chars().count().saturating_sub(start).max(1);
            let len = (label.len.max(1) as usize).min(width);
            spaces(out, gutter);
            out.push_str(" |\n");
            let _ = write!(out, "{:>gutter$} | ", label.line);
            out.push_str(shown);
            out.push('\n');
            spaces(out, gutter);
            out.push_str(" | ");
            spaces(out, start);
            out.extend(std::iter::repeat_n(marker, len));
            if !label.message.is_empty() {
                out.push(' ');
                out.push_str(&label.message);
            }
            out.push('\n');
        }
        if let Some(help) = &self.help {
            if self.primary.is_some() || !self.secondary.is_empty() {
                spaces(out, gutter);
                out.push_str(" |\n");
            }
            spaces(out, gutter);
            out.push_str(" = help: ");
            out.push_str(help);
            out.push('\n');
        }
    }
}

/// The 1-based line and character column of byte `offset` in `text` (clamped to the end).
pub fn line_column(text: &[u8], offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    // Count characters, not bytes: continuation bytes (0b10xx_xxxx) do not start one.
    let column = before[line_start..]
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count()
        + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

fn digits(n: u32) -> usize {
    n.max(1).ilog10() as usize + 1
}

/// Reads and keeps source files so that snippets can be shown. Files that cannot be read (or
/// are not UTF-8) render without a snippet. Each file is indexed by line once, so that a
/// snippet costs the same in the 100,000th diagnostic as in the first.
#[derive(Default)]
pub struct SourceCache {
    /// Each file read (`None`: unreadable), in the order first asked for.
    files: Vec<Option<Indexed>>,
    /// The index of each file's entry in `files`.
    by_path: HashMap<PathBuf, usize>,
    /// The file of the last lookup and its index: consecutive diagnostics are mostly in the
    /// same file, and comparing a path is cheaper than hashing it.
    last: Option<(PathBuf, usize)>,
}

/// A file's text and the byte offset where each of its lines starts.
struct Indexed {
    text: String,
    line_starts: Vec<usize>,
}

impl Indexed {
    fn new(text: String) -> Indexed {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Indexed { text, line_starts }
    }
}

impl SourceCache {
    /// An empty cache.
    pub fn new() -> SourceCache {
        SourceCache::default()
    }

    /// Registers text for a path that is not (or not yet) on disk.
    pub fn insert(&mut self, path: impl Into<PathBuf>, text: String) {
        let path = path.into();
        let file = Some(Indexed::new(text));
        match self.by_path.get(&path) {
            Some(&index) => self.files[index] = file,
            None => {
                self.by_path.insert(path, self.files.len());
                self.files.push(file);
            }
        }
    }

    /// The 1-based `line` of `path`, without its `\n`.
    pub fn line(&mut self, path: &Path, line: u32) -> Option<&str> {
        let index = match &self.last {
            Some((last, index)) if last == path => *index,
            _ => {
                let index = match self.by_path.get(path) {
                    Some(&index) => index,
                    None => {
                        let indexed = std::fs::read_to_string(path).ok().map(Indexed::new);
                        self.by_path.insert(path.to_path_buf(), self.files.len());
                        self.files.push(indexed);
                        self.files.len() - 1
                    }
                };
                self.last = Some((path.to_path_buf(), index));
                index
            }
        };
        let file = self.files[index].as_ref()?;
        let index = line.checked_sub(1)? as usize;
        let start = *file.line_starts.get(index)?;
        let end = file
            .line_starts
            .get(index + 1)
            .map_or(file.text.len(), |next| next - 1);
        file.text.get(start..end)
    }
}

/// A set of diagnostics: what a failed load returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Number of errors (warnings excluded).
    pub fn error_count(&self) -> usize {
        self.0
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }

    /// True when there is at least one error.
    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// Renders every diagnostic rustc-style, followed by a summary line.
    pub fn render_human(&self, sources: &mut SourceCache) -> String {
        let mut out = String::new();
        for diagnostic in &self.0 {
            diagnostic.render_into(sources, &mut out);
            out.push('\n');
        }
        out.push_str(&self.summary());
        out
    }

    /// Writes [`render_human`](Diagnostics::render_human)'s text to `out` a chunk at a time,
    /// without building it whole: at the registry's size limit it is over a hundred MB.
    ///
    /// # Errors
    /// Writing to `out` fails.
    pub fn write_human(
        &self,
        sources: &mut SourceCache,
        mut out: impl std::io::Write,
    ) -> std::io::Result<()> {
        const CHUNK: usize = 1 << 16;
        let mut chunk = String::with_capacity(2 * CHUNK);
        for diagnostic in &self.0 {
            diagnostic.render_into(sources, &mut chunk);
            chunk.push('\n');
            if chunk.len() >= CHUNK {
                out.write_all(chunk.as_bytes())?;
                chunk.clear();
            }
        }
        chunk.push_str(&self.summary());
        out.write_all(chunk.as_bytes())
    }

    /// `N errors, N warnings`, the human report's last line.
    fn summary(&self) -> String {
        let (errors, warnings) = (self.error_count(), self.warning_count());
        format!(
            "{} error{}, {} warning{}\n",
            errors,
            plural(errors),
            warnings,
            plural(warnings)
        )
    }

    /// `{"diagnostics": [...], "errors": N, "warnings": N}`, one object per diagnostic with its
    /// primary position flattened into `file`, `line` and `column`.
    pub fn to_json(&self) -> serde_json::Value {
        // Plain structs with string keys always serialize.
        serde_json::to_value(JsonReport(self)).unwrap_or_default()
    }

    /// Writes [`to_json`](Diagnostics::to_json) as compact JSON, the same text its `Display`
    /// gives, without building the value first (a hundred thousand diagnostics would be a
    /// million map entries).
    ///
    /// # Errors
    /// Writing to `out` fails.
    pub fn write_json(&self, mut out: impl std::io::Write) -> std::io::Result<()> {
        // Serialized a chunk at a time into memory, where serde_json's many small writes are
        // cheap whatever `out` is, and passed on in large writes.
        const CHUNK: usize = 1 << 16;
        let mut chunk = Vec::with_capacity(2 * CHUNK);
        chunk.extend_from_slice(b"{\"diagnostics\":[");
        for (index, diagnostic) in self.0.iter().enumerate() {
            if index > 0 {
                chunk.push(b',');
            }
            serde_json::to_writer(&mut chunk, &JsonDiagnostic(diagnostic))?;
            if chunk.len() >= CHUNK {
                out.write_all(&chunk)?;
                chunk.clear();
            }
        }
        let (errors, warnings) = (self.error_count(), self.warning_count());
        chunk.extend_from_slice(
            format!("],\"errors\":{errors},\"warnings\":{warnings}}}").as_bytes(),
        );
        out.write_all(&chunk)
    }
}

// The JSON form of diagnostics. Keys are written in sorted order, as `serde_json::Value` maps
// keep them, so that `to_json` and `write_json` give the same text.

/// `Diagnostics` as JSON.
struct JsonReport<'a>(&'a Diagnostics);

impl Serialize for JsonReport<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut report = serializer.serialize_struct("Diagnostics", 3)?;
        let items: Vec<JsonDiagnostic<'_>> = self.0.0.iter().map(JsonDiagnostic).collect();
        report.serialize_field("diagnostics", &items)?;
        report.serialize_field("errors", &self.0.error_count())?;
        report.serialize_field("warnings", &self.0.warning_count())?;
        report.end()
    }
}

/// One diagnostic as JSON: its primary position flattened, every label listed.
struct JsonDiagnostic<'a>(&'a Diagnostic);

impl Serialize for JsonDiagnostic<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let d = self.0;
        let primary = d.primary.as_ref();
        let labels: Vec<JsonLabel<'_>> = d
            .primary
            .iter()
            .chain(&d.secondary)
            .map(JsonLabel)
            .collect();
        let mut item = serializer.serialize_struct("Diagnostic", 8)?;
        item.serialize_field("code", d.code.id())?;
        item.serialize_field("column", &primary.map(|l| l.column))?;
        item.serialize_field("file", &primary.map(|l| l.file.to_string_lossy()))?;
        item.serialize_field("help", &d.help)?;
        item.serialize_field("labels", &labels)?;
        item.serialize_field("line", &primary.map(|l| l.line))?;
        item.serialize_field("message", &d.message)?;
        item.serialize_field("severity", &d.severity)?;
        item.end()
    }
}

/// A label as JSON. The file is written lossily like the flattened `file`, so a path that is
/// not UTF-8 cannot fail the output.
struct JsonLabel<'a>(&'a Label);

impl Serialize for JsonLabel<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let l = self.0;
        let mut label = serializer.serialize_struct("Label", 5)?;
        label.serialize_field("column", &l.column)?;
        label.serialize_field("file", &l.file.to_string_lossy())?;
        label.serialize_field("len", &l.len)?;
        label.serialize_field("line", &l.line)?;
        label.serialize_field("message", &l.message)?;
        label.end()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl std::fmt::Display for Diagnostics {
    /// Rendered rustc-style (sources read from disk), so that `?` in a build script shows a
    /// readable report.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render_human(&mut SourceCache::new()))
    }
}

impl std::error::Error for Diagnostics {}

/// The candidate closest to `input`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(input, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, candidate)| candidate)
}

/// Comparisons one [`Suggester`] makes at most: "did you mean" is worth a few milliseconds,
/// not minutes when thousands of names are unknown among thousands declared.
const SUGGESTION_BUDGET: usize = 300_000;

/// [`did_you_mean`] for many inputs against one list of candidates, in bounded time: each
/// distinct input is compared once, and after [`SUGGESTION_BUDGET`] comparisons in all no more
/// suggestions are made (the diagnostics keep their other help).
pub struct Suggester<'a> {
    candidates: Vec<&'a str>,
    answers: HashMap<String, Option<&'a str>>,
    budget: usize,
}

impl<'a> Suggester<'a> {
    /// A suggester over `candidates`.
    pub fn new(candidates: impl IntoIterator<Item = &'a str>) -> Suggester<'a> {
        Suggester {
            candidates: candidates.into_iter().collect(),
            answers: HashMap::new(),
            budget: SUGGESTION_BUDGET,
        }
    }

    /// The candidate closest to `input`, as [`did_you_mean`] would answer while the budget
    /// lasts; `None` after.
    pub fn suggest(&mut self, input: &str) -> Option<&'a str> {
        if let Some(answer) = self.answers.get(input) {
            return *answer;
        }
        if self.budget < self.candidates.len() {
            return None;
        }
        self.budget -= self.candidates.len();
        let answer = did_you_mean(input, self.candidates.iter().copied());
        self.answers.insert(input.to_owned(), answer);
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_snippet_with_underline_and_help() {
        let mut sources = SourceCache::new();
        sources.insert("r.yaml", "- feature: a\n  team: msg-team\n".into());
        let d = Diagnostic::error(Code::UnknownTeam, "unknown team `msg-team`")
            .at(Label::new("r.yaml", 2, 9, 8).with_message("not declared"))
            .help("did you mean `msgs-team`?");
        insta::assert_snapshot!(d.render(&mut sources), @r"
        error[unknown-team]: unknown team `msg-team`
         --> r.yaml:2:9
          |
        2 |   team: msg-team
          |         ^^^^^^^^ not declared
          |
          = help: did you mean `msgs-team`?
        ");
    }

    #[test]
    fn written_human_text_is_the_rendered_text() {
        let mut sources = SourceCache::new();
        sources.insert("a.yaml", "- feature: a\n  team: t\n".into());
        sources.insert("b.yaml", "- feature: a\n".into());
        let one = Diagnostic::error(Code::DuplicateName, "duplicate feature `a`")
            .at(Label::new("b.yaml", 1, 12, 1).with_message("defined again here"))
            .also(Label::new("a.yaml", 1, 12, 1).with_message("first defined here"))
            .help("rename one");
        let other = Diagnostic::warning(Code::UnknownTeam, "unknown team `t`")
            .at(Label::new("a.yaml", 2, 9, 1))
            .help("declare it");
        // Enough diagnostics for several chunks.
        let diagnostics = Diagnostics([one, other].iter().cycle().take(2_000).cloned().collect());
        let mut written = Vec::new();
        diagnostics.write_human(&mut sources, &mut written).unwrap();
        let rendered = diagnostics.render_human(&mut sources);
        assert!(rendered.ends_with("\n1000 errors, 1000 warnings\n"));
        assert_eq!(String::from_utf8(written).unwrap(), rendered);
    }

    #[test]
    fn json_shows_the_code_as_its_kebab_case_id() {
        let diagnostics = Diagnostics(vec![
            Diagnostic::error(Code::UnknownRenameSource, "m").at(Label::new("r.yaml", 3, 5, 2)),
        ]);
        assert_eq!(
            diagnostics.to_json().to_string(),
            r#"{"diagnostics":[{"code":"unknown-rename-source","column":5,"file":"r.yaml","help":null,"labels":[{"column":5,"file":"r.yaml","len":2,"line":3,"message":""}],"line":3,"message":"m","severity":"error"}],"errors":1,"warnings":0}"#
        );
        assert_eq!(
            serde_json::to_value(Code::InvalidUtf8).unwrap(),
            serde_json::json!("invalid-utf8")
        );
    }

    /// The JSON as it was built before `write_json`: a `serde_json::Value` per diagnostic.
    /// Both ways must give the same text.
    #[test]
    fn written_json_is_the_json_value_text() {
        let diagnostics = Diagnostics(vec![
            Diagnostic::error(Code::DuplicateName, "duplicate feature `a` \"quoted\"\n")
                .at(Label::new("dir/r.yaml", 3, 5, 2).with_message("defined again here"))
                .also(Label::new("dir/q.yaml", 1, 1, 1).with_message("first defined here"))
                .help("rename one — or remove it"),
            Diagnostic::error(Code::EmptyRegistry, "the registry has no features"),
            Diagnostic::warning(Code::TemplateSymlink, "a link").help("copy it"),
        ]);
        let expected: Vec<serde_json::Value> = diagnostics
            .0
            .iter()
            .map(|d| {
                let primary = d.primary.as_ref();
                serde_json::json!({
                    "severity": d.severity,
                    "code": d.code.id(),
                    "message": d.message,
                    "file": primary.map(|l| l.file.to_string_lossy()),
                    "line": primary.map(|l| l.line),
                    "column": primary.map(|l| l.column),
                    "labels": d.primary.iter().chain(&d.secondary).collect::<Vec<_>>(),
                    "help": d.help,
                })
            })
            .collect();
        let expected = serde_json::json!({
            "diagnostics": expected,
            "errors": 2,
            "warnings": 1,
        })
        .to_string();
        let mut written = Vec::new();
        diagnostics.write_json(&mut written).unwrap();
        assert_eq!(String::from_utf8(written).unwrap(), expected);
        assert_eq!(diagnostics.to_json().to_string(), expected);
        // Enough diagnostics for several chunks.
        let many = Diagnostics(diagnostics.0.iter().cycle().take(3_000).cloned().collect());
        let mut written = Vec::new();
        many.write_json(&mut written).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            many.to_json().to_string()
        );
        let mut empty = Vec::new();
        Diagnostics::default().write_json(&mut empty).unwrap();
        assert_eq!(
            String::from_utf8(empty).unwrap(),
            Diagnostics::default().to_json().to_string()
        );
    }

    #[test]
    fn suggests_close_names_only() {
        let names = ["msgs-team", "voice-team", "feature_group"];
        assert_eq!(did_you_mean("msg-team", names), Some("msgs-team"));
        assert_eq!(did_you_mean("featuregroup", names), Some("feature_group"));
        assert_eq!(did_you_mean("zzz", names), None);
    }

    #[test]
    fn suggester_answers_like_did_you_mean_within_its_budget() {
        let names = ["msgs-team", "voice-team", "feature_group"];
        let mut suggester = Suggester::new(names);
        assert_eq!(suggester.suggest("msg-team"), Some("msgs-team"));
        assert_eq!(suggester.suggest("msg-team"), Some("msgs-team"));
        assert_eq!(suggester.suggest("zzz"), None);
        assert_eq!(suggester.budget, SUGGESTION_BUDGET - 2 * names.len());

        let many: Vec<String> = (0..SUGGESTION_BUDGET / 10)
            .map(|i| format!("team-{i}"))
            .collect();
        let mut suggester = Suggester::new(many.iter().map(String::as_str));
        let answered = (0..20)
            .filter(|i| suggester.suggest(&format!("team-{i}x")).is_some())
            .count();
        assert_eq!(answered, 10, "ten inputs exhaust the budget");
    }

    #[test]
    fn snippets_come_from_the_line_index() {
        let mut sources = SourceCache::new();
        sources.insert("f", "one\ntwo\r\n\nlast".into());
        let lines: Vec<Option<String>> = (0..=5)
            .map(|n| sources.line(Path::new("f"), n).map(str::to_owned))
            .collect();
        let expected = [
            None,
            Some("one"),
            Some("two\r"),
            Some(""),
            Some("last"),
            None,
        ];
        assert_eq!(lines, expected.map(|l| l.map(str::to_owned)));
    }
}
