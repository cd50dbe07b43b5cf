//! Reading one registry file into a YAML tree: the size limit, the UTF-8 check (a byte-order
//! mark is skipped) and the YAML parse, each failure a located diagnostic. Files are
//! independent of each other, so the loader reads them in parallel.

use std::io::Read as _;
use std::path::Path;

use crate::diagnostic::{Code, Diagnostic, Label, line_column};
use crate::yaml::{self, Node};

/// Largest registry file accepted; a registry of 10,000 features is about 1 MiB.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Reads, decodes and parses one registry file. Independent of every other file, so files
/// are parsed in parallel.
pub(crate) fn parse_file(path: &Path) -> Result<Node, Box<Diagnostic>> {
    let file_error = |code, message: String, line, column, help: &str| {
        Box::new(
            Diagnostic::error(code, message)
                .at(Label::new(path, line, column, 1))
                .help(help),
        )
    };
    let bytes = match read_limited(path) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            let message = format!("registry file is larger than {} MiB", MAX_FILE_BYTES >> 20);
            let help = "split the registry into one file per team in a directory";
            return Err(file_error(Code::FileTooLarge, message, 1, 1, help));
        }
        Err(err) => {
            let message = format!("cannot read {}: {err}", path.display());
            return Err(Box::new(Diagnostic::error(Code::Io, message)));
        }
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let text = std::str::from_utf8(bytes).map_err(|err| {
        let (line, column) = line_column(bytes, err.valid_up_to());
        let diagnostic = Diagnostic::error(Code::InvalidUtf8, "registry file is not valid UTF-8")
            .at(Label::new(path, line, column, 1).with_message("invalid byte here"))
            .help("save the file as UTF-8");
        Box::new(diagnostic)
    })?;
    yaml::parse(text).map_err(|err| {
        let (code, help) = if err.budget {
            (
                Code::YamlTooLarge,
                "remove the aliases (an alias bomb?) or the nesting deeper than a registry needs",
            )
        } else {
            (Code::YamlSyntax, "fix the YAML syntax at this position")
        };
        file_error(code, err.message, err.line.max(1), err.column.max(1), help)
    })
}

/// Reads at most `MAX_FILE_BYTES`; `None` when the file is larger.
fn read_limited(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE_BYTES).then_some(bytes))
}
