//! Cheap passes that keep syn, the expensive part, away from code that cannot matter.
//!
//! Only three things in Rust source can produce a finding or a route: `#[route]`/`#[task]`
//! markers and framework endpoint attributes, router and task registrations, and (for
//! resolution) the definitions and imports they lead to. All of them are spelt with a small
//! vocabulary (`route`, `routing`, `Router`, `task`, `web`, the configured task calls, ...): the
//! words the recognisers themselves list in [`super::vocabulary`].
//!
//! - A file that contains none of those words is not parsed at all: it is kept aside and parsed
//!   only if a registration elsewhere names a function it might define (see `check`).
//! - In a file that is parsed, the text inside every function body whose identifiers include
//!   none of those words, every function's parameters and return type, every struct, enum and union with a
//!   body (attributes included: no fact comes from a type definition), and every doc comment
//!   is replaced by spaces before tokenizing. Newlines stay, so every position is unchanged;
//!   function names and attributes, `mod`, `use` and the `impl` blocks kept stay, which is all
//!   that resolution needs.
//!
//! Syntax errors inside blanked text are not reported (unbalanced delimiters still are); the
//! compiler reports those anyway. If the pruned text does not parse, the caller parses the
//! original, so a pruning mistake can never invent an error.

use aho_corasick::{AhoCorasick, AhoCorasickKind};

use super::scan::TaskPattern;
use super::vocabulary::{self, Vocabulary};

/// The vocabulary of a lint run (it depends on the configured task calls).
pub(crate) struct Triggers {
    file_words: AhoCorasick,
    idents: Words,
    /// Words whose presence says that a file uses a web framework.
    framework: Vec<&'static str>,
    /// Method names (`get`, `post`): they matter only as called functions (`get(h)`, not
    /// `map.get(k)`) in files that use a web framework.
    methods: Words,
}

impl Triggers {
    /// The vocabulary for `tasks` (their last segments, such as `spawn`, become triggers).
    pub fn new(tasks: &[TaskPattern]) -> Self {
        let task_words: Vec<String> = tasks
            .iter()
            .filter_map(TaskPattern::last)
            .map(str::to_owned)
            .collect();
        // A file matters when it contains a recogniser's identifier, framework name or
        // `#[attribute`, or a task call's name.
        let idents = vocabulary::all(|v: &Vocabulary| v.idents);
        let mut words: Vec<String> = idents
            .iter()
            .chain(&vocabulary::all(|v: &Vocabulary| v.framework))
            .map(|w| (*w).to_owned())
            .collect();
        words.extend(
            vocabulary::all(|v: &Vocabulary| v.attributes)
                .iter()
                .map(|a| format!("#[{a}")),
        );
        words.extend(task_words.iter().cloned());
        // A DFA: the search runs over every byte of every file, construction once per run.
        let file_words = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .build(&words)
            .or_else(|_| AhoCorasick::new(&words))
            .unwrap_or_else(|_| {
                // The patterns are a few plain words: construction cannot fail. Should it,
                // parse every file rather than none.
                AhoCorasick::new([""]).expect("the empty pattern is valid")
            });
        let mut methods = vocabulary::all(|v: &Vocabulary| v.calls);
        methods.extend(vocabulary::all(|v: &Vocabulary| v.attributes));
        Triggers {
            file_words,
            idents: Words::new(
                idents
                    .iter()
                    .map(|w| (*w).to_owned())
                    .chain(task_words)
                    .collect(),
            ),
            framework: vocabulary::all(|v: &Vocabulary| v.framework),
            methods: Words::new(methods.iter().map(|w| (*w).to_owned()).collect()),
        }
    }

    /// Whether `source` may declare or register an endpoint or task.
    pub fn file_matters(&self, source: &str) -> bool {
        self.file_words.is_match(source)
    }

    /// `source` with what cannot matter blanked out (see the module documentation), and the
    /// names of the functions defined in the `impl` blocks blanked (if a registration names
    /// one, [`Pruning::Shallow`] is needed).
    pub fn prune(&self, source: &str, pruning: Pruning) -> (String, Vec<String>) {
        let mut pruner = Pruner {
            triggers: self,
            framework: None,
            pruning,
            source,
            text: source.as_bytes(),
            blanks: Vec::new(),
            blanked_fns: Vec::new(),
        };
        pruner.run();
        let blanked_fns = std::mem::take(&mut pruner.blanked_fns);
        pruner.blanks.sort_unstable();
        let mut out = String::with_capacity(source.len());
        let mut copied = 0;
        for (start, end) in pruner.blanks {
            let start = start.max(copied);
            if start >= end {
                continue;
            }
            out.push_str(&source[copied..start]);
            // Line breaks stay, so that lines stay right; on the last line one space per
            // character (not per byte) stays, so that the columns of what follows stay right,
            // unless nothing follows on that line (a comment, most items). Everything else
            // goes: the tokenizer need not step over it.
            let blanked = &source[start..end];
            let last_line = blanked.rfind('\n').map_or(0, |i| i + 1);
            let newlines = memchr::memchr_iter(b'\n', &blanked.as_bytes()[..last_line]).count();
            push_repeated(&mut out, b'\n', newlines);
            let line_ends = matches!(source.as_bytes().get(end), None | Some(b'\n' | b'\r'));
            if !line_ends {
                push_repeated(&mut out, b' ', blanked[last_line..].chars().count());
            }
            copied = end;
        }
        out.push_str(&source[copied..]);
        (out, blanked_fns)
    }
}

impl Triggers {
    /// How deeply a recursive-descent parser (syn) and the visitors over its tree may recurse on
    /// `source`, as a count of [nesting units](super::depth); with the byte offset where the
    /// count first exceeds `limit`, if it does (the count stops there).
    ///
    /// A unit is an open delimiter, or a token in a run of tokens that one expression or type
    /// can span: runs restart at `,` and `;`, and after a `{..}` group not continued by an
    /// operator, `.`, `?`, `as` or `else` (so items and statements do not add up). The count at
    /// a point is the sum of the runs of every group enclosing it plus the groups' number.
    pub fn nesting(&self, source: &str, limit: usize) -> (usize, Option<usize>) {
        let mut lexer = Pruner {
            triggers: self,
            framework: None,
            pruning: Pruning::Shallow,
            source,
            text: source.as_bytes(),
            blanks: Vec::new(),
            blanked_fns: Vec::new(),
        };
        // Per open group: the length of its current run and whether a brace group just closed
        // in it. The file itself is the first group.
        let mut levels: Vec<(usize, bool)> = vec![(0, false)];
        let (mut count, mut deepest) = (0usize, 0usize);
        let mut at = 0;
        while let Some(start) = lexer.token_start(at) {
            let (token, next) = lexer.token_at(start);
            at = next;
            let first = lexer.text[start];
            let top = levels.len() - 1;
            let continues = match token {
                Token::Dot => true,
                Token::Other => b"?+-*/%&|^<>=!".contains(&first),
                Token::Ident(s, e) => matches!(&lexer.text[s..e], b"else" | b"as"),
                _ => false,
            };
            if std::mem::take(&mut levels[top].1) && !continues {
                count -= std::mem::take(&mut levels[top].0);
            }
            match token {
                Token::Semi => count -= std::mem::take(&mut levels[top].0),
                Token::Other if first == b',' => count -= std::mem::take(&mut levels[top].0),
                Token::Close if top > 0 => {
                    let (run, _) = levels[top];
                    levels.pop();
                    count -= run + 1;
                    levels[top - 1].1 = first == b'}';
                }
                Token::Open(_) => {
                    levels[top].0 += 1;
                    levels.push((0, false));
                    count += 2;
                }
                _ => {
                    levels[top].0 += 1;
                    count += 1;
                }
            }
            deepest = deepest.max(count);
            if count > limit {
                return (deepest, Some(start));
            }
        }
        (deepest, None)
    }
}

/// How much [`Triggers::prune`] removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pruning {
    /// Also the bodies of `impl` blocks that mention no trigger: their associated functions are
    /// needed only when a registration names one (`get(Chat::update)`), which the caller
    /// detects by name and answers with a shallow parse.
    Deep,
    /// Function bodies only: every function signature stays.
    Shallow,
}

/// What the lexer has seen of a function's signature, between its name and its body.
#[derive(Default)]
struct Signature {
    /// Open `<` not yet closed.
    angles: usize,
    /// Whether its parameters have been seen.
    parameters: bool,
    /// Where its return type starts (the `->` after the parameters).
    returns: Option<usize>,
}

impl Signature {
    /// Follows the punctuation token at `at`.
    fn token(&mut self, text: &[u8], at: usize) {
        match text[at] {
            b'<' => self.angles += 1,
            // The `>` of `->` closes nothing.
            b'>' if at == 0 || text[at - 1] != b'-' => self.angles = self.angles.saturating_sub(1),
            b'-' if text.get(at + 1) == Some(&b'>')
                && self.angles == 0
                && self.parameters
                && self.returns.is_none() =>
            {
                self.returns = Some(at);
            }
            _ => {}
        }
    }
}

/// What a `{` after an item keyword opens.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Opens {
    /// A function body: kept when it mentions a trigger.
    FnBody,
    /// An `impl` body: kept when it mentions a trigger or pruning is shallow.
    ImplBody,
    /// A struct, enum or union body: never needed.
    Fields,
}

/// A lexical token, as much as brace matching and identifier tests need.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Token {
    /// An identifier or keyword (start, end).
    Ident(usize, usize),
    /// `{`, `(` or `[`.
    Open(u8),
    /// `}`, `)` or `]`.
    Close,
    /// `;`.
    Semi,
    /// `.`.
    Dot,
    /// Any other punctuation, literal or lifetime.
    Other,
}

struct Pruner<'a> {
    triggers: &'a Triggers,
    /// Whether the file uses a web framework; decided on first need (most files never ask).
    framework: Option<bool>,
    pruning: Pruning,
    /// Names of the functions in the `impl` blocks blanked.
    blanked_fns: Vec<String>,
    source: &'a str,
    text: &'a [u8],
    /// Byte ranges to blank; they start and end on character boundaries (tokens, comments,
    /// the insides of braces).
    blanks: Vec<(usize, usize)>,
}

impl Pruner<'_> {
    fn run(&mut self) {
        let mut at = 0;
        // After `fn name`, `struct name`, `impl`: what the next `{..}` at this nesting depth
        // opens, unless a `;` ends the item first (trait methods, tuple and unit structs).
        let mut pending: Option<(Opens, usize)> = None;
        let mut previous_keyword: Option<Opens> = None;
        let mut depth = 0usize;
        // Where the current item starts (its first attribute), and at which depth: a struct,
        // enum or union, or an `impl` block blanked, goes whole, attributes (`#[derive(..)]`)
        // included.
        let mut item: Option<(usize, usize)> = None;
        // The pending function's signature: its `<..>` nesting, and where its return type (with
        // any `where` clause) starts, once its `->` follows the parameters.
        let mut signature = Signature::default();
        while let Some(start) = self.token_start(at) {
            let (token, next) = self.token_at(start);
            if item.is_none() {
                item = Some((start, depth));
            }
            match token {
                Token::Ident(start, end) => {
                    let word = &self.text[start..end];
                    // A keyword counts once followed by a name (`fn(u8)` is a pointer type).
                    if let Some(opens) = previous_keyword.take() {
                        pending = Some((opens, depth));
                        signature = Signature::default();
                    }
                    previous_keyword = match word {
                        b"fn" => Some(Opens::FnBody),
                        b"struct" | b"enum" | b"union" => Some(Opens::Fields),
                        _ => None,
                    };
                    // `impl<T> X<T>` has no name right after the keyword; `-> impl Trait {`
                    // is a function's return type, whose body is already pending.
                    if word == b"impl" && pending.is_none() {
                        pending = Some((Opens::ImplBody, depth));
                    }
                }
                Token::Open(b'{') if pending.is_some_and(|(_, d)| d == depth) => {
                    let opens = pending.map_or(Opens::FnBody, |(o, _)| o);
                    pending = None;
                    previous_keyword = None;
                    if opens == Opens::FnBody {
                        self.blank_return_type(&mut signature, start);
                    }
                    let fns_before = self.blanked_fns.len();
                    let (close, matters) = self.body(next, opens == Opens::ImplBody);
                    let keep = match opens {
                        Opens::FnBody => matters,
                        Opens::ImplBody => matters || self.pruning == Pruning::Shallow,
                        Opens::Fields => false,
                    };
                    if keep {
                        self.blanked_fns.truncate(fns_before);
                    } else {
                        let whole = match item {
                            Some((first, d)) if opens != Opens::FnBody && d == depth => {
                                (first, (close + 1).min(self.text.len()))
                            }
                            _ => (next, close),
                        };
                        self.blanks.push(whole);
                        item = None;
                        // Resume after the closing brace: the body's depth never counted.
                        at = (close + 1).min(self.text.len());
                        continue;
                    }
                    item = None;
                    depth += 1;
                }
                // A function's parameters: only its name and attributes are facts.
                Token::Open(b'(') if pending == Some((Opens::FnBody, depth)) => {
                    previous_keyword = None;
                    let (close, _) = self.body(next, false);
                    self.blanks.push((next, close));
                    at = (close + 1).min(self.text.len());
                    // Parentheses inside `<..>` are a bound's (`F: Fn(u8) -> u8`).
                    signature.parameters |= signature.angles == 0;
                    continue;
                }
                Token::Open(open) => {
                    previous_keyword = None;
                    depth += 1;
                    if open == b'{' {
                        item = None;
                    }
                }
                Token::Close => {
                    previous_keyword = None;
                    if self.text[start] == b'}' {
                        item = None;
                    }
                    depth = depth.saturating_sub(1);
                    if pending.is_some_and(|(_, d)| d > depth) {
                        pending = None;
                    }
                }
                Token::Semi => {
                    previous_keyword = None;
                    item = None;
                    if pending == Some((Opens::FnBody, depth)) {
                        self.blank_return_type(&mut signature, start);
                    }
                    if pending.is_some_and(|(_, d)| d == depth) {
                        pending = None;
                    }
                }
                Token::Other if pending == Some((Opens::FnBody, depth)) => {
                    previous_keyword = None;
                    signature.token(self.text, start);
                }
                Token::Dot | Token::Other => previous_keyword = None,
            }
            at = next;
        }
    }

    /// Blanks the return type of the function whose body or `;` starts at `end`, unless a
    /// `<..>` is still open (a `{..}` generic argument: `-> Foo<{ N }>`).
    fn blank_return_type(&mut self, signature: &mut Signature, end: usize) {
        if let Some(returns) = signature.returns.take()
            && signature.angles == 0
        {
            self.blanks.push((returns, end));
        }
    }

    /// From just after a `{`: the index of the matching `}` (or the end) and whether an
    /// identifier inside is a trigger. With `names`, the names of the functions defined inside
    /// are added to `blanked_fns` (the caller drops them if the body is kept).
    fn body(&mut self, mut at: usize, names: bool) -> (usize, bool) {
        let mut depth = 0usize;
        let mut matters = false;
        let mut after_dot = false;
        let mut after_fn = false;
        while let Some(start) = self.token_start(at) {
            let (token, next) = self.token_at(start);
            match token {
                Token::Close if depth == 0 => return (start, matters),
                Token::Close => depth -= 1,
                Token::Open(_) => depth += 1,
                Token::Ident(start, end) => {
                    let word = &self.text[start..end];
                    let defined = std::mem::replace(&mut after_fn, word == b"fn");
                    if names && defined {
                        self.blanked_fns.push(self.source[start..end].to_owned());
                    }
                    // A method name matters as a call, not where a function of that name is
                    // defined (`fn get(&self, id: u64)` in a store is not `get(handler)`).
                    if !matters {
                        matters = self.triggers.idents.contains(word)
                            || (!after_dot
                                && !defined
                                && self.triggers.methods.contains(word)
                                && self.uses_framework());
                    }
                }
                _ => {}
            }
            if !matches!(token, Token::Ident(..)) {
                after_fn = false;
            }
            after_dot = token == Token::Dot;
            at = next;
        }
        (self.text.len(), matters)
    }

    fn uses_framework(&mut self) -> bool {
        let (source, words) = (self.source, &self.triggers.framework);
        *self
            .framework
            .get_or_insert_with(|| words.iter().any(|w| source.contains(w)))
    }

    /// Where the next token starts, from `at`: whitespace and comments are skipped, doc
    /// comments blanked on the way.
    #[inline(always)]
    fn token_start(&mut self, mut at: usize) -> Option<usize> {
        let text = self.text;
        loop {
            let byte = *text.get(at)?;
            match byte {
                b' ' | b'\t' | b'\n' | b'\r' => at += 1,
                b'/' if text.get(at + 1) == Some(&b'/') => {
                    let end = memchr_newline(text, at);
                    let doc = matches!(text.get(at + 2), Some(b'/' | b'!'))
                        && text.get(at + 3) != Some(&b'/');
                    if doc {
                        self.blanks.push((at, end));
                    }
                    at = end;
                }
                b'/' if text.get(at + 1) == Some(&b'*') => {
                    let end = block_comment_end(text, at);
                    let doc = matches!(text.get(at + 2), Some(b'*' | b'!'))
                        && !matches!(text.get(at + 3), Some(b'*' | b'/'));
                    if doc {
                        self.blanks.push((at, end));
                    }
                    at = end;
                }
                _ => return Some(at),
            }
        }
    }

    /// The token at `at` (which is not whitespace) and the index just after it.
    #[inline(always)]
    fn token_at(&self, at: usize) -> (Token, usize) {
        let text = self.text;
        let byte = text[at];
        match byte {
            b'{' | b'(' | b'[' => (Token::Open(byte), at + 1),
            b'}' | b')' | b']' => (Token::Close, at + 1),
            b';' => (Token::Semi, at + 1),
            b'.' => (Token::Dot, at + 1),
            b'"' => (Token::Other, string_end(text, at + 1)),
            b'\'' => (Token::Other, quote_end(text, at)),
            b'r' | b'b' | b'c' => {
                if let Some(end) = raw_or_byte_literal_end(text, at) {
                    (Token::Other, end)
                } else {
                    let end = ident_end(text, at);
                    (Token::Ident(at, end), end)
                }
            }
            _ if IDENT_BYTES[usize::from(byte)] && !byte.is_ascii_digit() => {
                let end = ident_end(text, at);
                (Token::Ident(at, end), end)
            }
            _ if byte.is_ascii_digit() => (Token::Other, ident_end(text, at)),
            _ => (Token::Other, at + 1),
        }
    }
}

/// Appends `count` copies of `byte` (`\n` or a space) to `out`, a block at a time.
fn push_repeated(out: &mut String, byte: u8, count: usize) {
    const NEWLINES: &str = "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n";
    const SPACES: &str = "                                ";
    let block = if byte == b'\n' { NEWLINES } else { SPACES };
    let mut left = count;
    while left > 0 {
        let n = left.min(block.len());
        out.push_str(&block[..n]);
        left -= n;
    }
}

/// A few words, tested against every identifier of every function body: most identifiers
/// are rejected by their first byte and length alone, without comparing any text.
struct Words {
    words: Vec<String>,
    /// Per first byte, bit `n` set when a word of `n` bytes starts with it (bit 0 for the
    /// lengths past 63).
    lengths: [u64; 256],
}

impl Words {
    fn new(words: Vec<String>) -> Self {
        let mut lengths = [0u64; 256];
        for word in &words {
            if let Some(&first) = word.as_bytes().first() {
                lengths[usize::from(first)] |= length_bit(word.len());
            }
        }
        Words { words, lengths }
    }

    /// Whether `word` is one of the words.
    fn contains(&self, word: &[u8]) -> bool {
        let Some(&first) = word.first() else {
            return false;
        };
        self.lengths[usize::from(first)] & length_bit(word.len()) != 0
            && self.words.iter().any(|w| w.as_bytes() == word)
    }
}

/// The bit of [`Words::lengths`] for a word of `len` bytes.
fn length_bit(len: usize) -> u64 {
    if len < 64 { 1 << len } else { 1 }
}

/// Index of the newline ending the line that contains `at` (or the end).
fn memchr_newline(text: &[u8], at: usize) -> usize {
    memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |i| at + i)
}

/// Index just after the (nested) block comment starting at `at`.
fn block_comment_end(text: &[u8], at: usize) -> usize {
    let mut depth = 0usize;
    let mut i = at;
    while i + 1 < text.len() {
        match (text[i], text[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    text.len()
}

/// Which bytes continue an identifier (or number): ASCII letters, digits, `_`, and every byte
/// of a multi-byte character. A table: this test runs on nearly every byte of every file.
const IDENT_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte == b'_' || byte.is_ascii_alphanumeric() || byte >= 0x80;
        b += 1;
    }
    table
};

/// Index just after an identifier (or number) starting at `at`.
fn ident_end(text: &[u8], at: usize) -> usize {
    text[at..]
        .iter()
        .position(|&b| !IDENT_BYTES[usize::from(b)])
        .map_or(text.len(), |i| at + i)
}

/// Index just after a string whose contents start at `at` (escapes honoured).
fn string_end(text: &[u8], mut at: usize) -> usize {
    while let Some(i) = memchr::memchr2(b'"', b'\\', &text[at.min(text.len())..]) {
        at += i;
        if text[at] == b'"' {
            return at + 1;
        }
        at += 2;
    }
    text.len()
}

/// After a `'` at `at`: a character literal's end, or just the quote for a lifetime or label.
fn quote_end(text: &[u8], at: usize) -> usize {
    match text.get(at + 1) {
        Some(b'\\') => {
            // '\n', '\'', '\u{..}': the closing quote is the next unescaped one.
            let mut i = at + 3;
            while i < text.len() && text[i] != b'\'' {
                i += 1;
            }
            (i + 1).min(text.len())
        }
        Some(_) => {
            // One character (maybe multi-byte) then `'` is a literal; otherwise a lifetime.
            let len = text[at + 1..]
                .iter()
                .skip(1)
                .take_while(|&&b| (b & 0xC0) == 0x80)
                .count()
                + 1;
            if text.get(at + 1 + len) == Some(&b'\'') {
                at + len + 2
            } else {
                at + 1
            }
        }
        None => at + 1,
    }
}

/// End of a raw string (`r"..."`, `r#"..."#`, `br".."`, `cr".."`), byte string or byte
/// character starting at `at`; `None` when `at` starts an identifier instead.
fn raw_or_byte_literal_end(text: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    if matches!(text[i], b'b' | b'c') {
        i += 1;
        match text.get(i) {
            Some(b'"') => return Some(string_end(text, i + 1)),
            Some(b'\'') if text[at] == b'b' => return Some(quote_end(text, i)),
            Some(b'r') => {}
            _ => return None,
        }
    }
    // `r` then hashes then `"`.
    i += 1;
    let hashes = text[i..].iter().take_while(|&&b| b == b'#').count();
    if text.get(i + hashes) != Some(&b'"') {
        return None;
    }
    let mut j = i + hashes + 1;
    while j < text.len() {
        if text[j] == b'"'
            && text[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&b| b == b'#')
                .count()
                == hashes
        {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pruned(source: &str) -> String {
        let triggers = Triggers::new(&[TaskPattern::new("tokio::spawn")]);
        let (out, _) = triggers.prune(source, Pruning::Shallow);
        // Whatever is left stays at its line and column.
        assert_eq!(
            out.split('\n').count(),
            source.split('\n').count(),
            "lines are kept"
        );
        for (a, b) in out.split('\n').zip(source.split('\n')) {
            let b: Vec<char> = b.chars().collect();
            for (column, c) in a.chars().enumerate().filter(|(_, c)| *c != ' ') {
                assert_eq!(Some(&c), b.get(column), "{a:?} moved from {b:?}");
            }
        }
        // Collapse runs of spaces so that expectations stay readable.
        out.split(' ')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn keeps_signatures_and_bodies_that_matter() {
        assert_eq!(pruned("fn a(x: u8) -> u8 { x + 1 }"), "fn a( ) { }");
        assert_eq!(
            pruned("impl S { fn b(&self) { tokio::spawn(run()); } fn c() { 1 } }"),
            "impl S { fn b( ) { tokio::spawn(run()); } fn c() { } }"
        );
        assert_eq!(
            pruned(
                "/// Doc.\n#[derive(Debug)]\nstruct S { f: u8 }\nstruct T(u8);\nenum E { A, B }"
            ),
            "\n\n\nstruct T(u8);\n"
        );
        // A type inside a kept body goes whole too; inside a macro's arguments only its body
        // (the item cannot be told from the call around it).
        assert_eq!(
            pruned("fn r() { route(); #[derive(Debug)] struct S { a: u8 } }"),
            "fn r() { route(); }"
        );
        assert_eq!(
            pruned("m!(#[derive(Debug)] struct S { a: u8 });"),
            "m!(#[derive(Debug)] struct S { });"
        );
        // A pointer type is not a function with a body.
        assert_eq!(
            pruned("impl From<fn()> for S { fn from(f: fn()) -> S { S } }"),
            "impl From<fn()> for S { fn from( ) { } }"
        );
        assert_eq!(
            pruned("trait T { fn a(); fn b() { 2 } }"),
            "trait T { fn a(); fn b() { } }"
        );
    }

    #[test]
    fn return_types_go_up_to_the_body() {
        assert_eq!(
            pruned("fn a<F: Fn(u8) -> u8>(f: F) -> Option<(u8, u8)> where F: Copy { f(1) }"),
            "fn a<F: Fn( ) -> u8>( ) { }"
        );
        assert_eq!(
            pruned("trait T { fn a(&self) -> Vec<Vec<u8>>; }"),
            "trait T { fn a( ) ; }"
        );
        // A brace inside `<..>` is not the body: the signature stays as it is.
        assert_eq!(
            pruned("fn a() -> Foo<{ N }> { 1 }"),
            "fn a() -> Foo<{ }> { 1 }"
        );
    }

    #[test]
    fn deep_pruning_blanks_impl_blocks_without_triggers() {
        let triggers = Triggers::new(&[TaskPattern::new("tokio::spawn")]);
        let source = "impl<T> S<T> { fn a() {} }\nimpl R { fn b() { tokio::spawn(c()) } }\n\
                      fn f() -> impl Fn() { || {} }";
        let (out, blanked) = triggers.prune(source, Pruning::Deep);
        assert_eq!(blanked, ["a"]);
        let out: Vec<&str> = out.split(' ').filter(|s| !s.is_empty()).collect();
        assert_eq!(
            out.join(" "),
            "\nimpl R { fn b() { tokio::spawn(c()) } }\nfn f() { }"
        );
        let (_, blanked) = triggers.prune(source, Pruning::Shallow);
        assert!(blanked.is_empty());
        // Defining a function named like a routing function is not calling one.
        let source = "use axum::routing::get;\nimpl Store { fn get(&self) -> u8 { 1 } }";
        let (out, blanked) = triggers.prune(source, Pruning::Deep);
        assert_eq!(blanked, ["get"]);
        let out: Vec<&str> = out.split(' ').filter(|s| !s.is_empty()).collect();
        assert_eq!(out.join(" "), "use axum::routing::get;\n");
    }

    #[test]
    fn method_names_matter_only_as_calls_in_framework_files() {
        assert_eq!(pruned("fn d() { get(h) }"), "fn d() { }");
        assert_eq!(
            pruned("use axum::routing::get; fn e() { m.get(k) }"),
            "use axum::routing::get; fn e() { }"
        );
        assert_eq!(
            pruned("use axum::routing::get; fn e() { get(h) }"),
            "use axum::routing::get; fn e() { get(h) }"
        );
    }

    #[test]
    fn strings_chars_lifetimes_and_comments_do_not_confuse_braces() {
        let source = "fn a<'a>(x: &'a str) -> char { let s = \"}{\"; let r = r#\"}\"#; \
                      let c = '}'; let b = b'{'; /* } */ // }\n '\\'' }\nfn route() { route() }";
        assert_eq!(pruned(source), "fn a<'a>( ) {\n }\nfn route() { route() }");
        assert_eq!(
            pruned("fn a() { \"é\" } fn route() {}"),
            "fn a() { } fn route() {}"
        );
    }

    #[test]
    fn skips_files_without_the_vocabulary() {
        let triggers = Triggers::new(&[TaskPattern::new(".register")]);
        assert!(!triggers.file_matters("fn a() { let m = HashMap::new(); m.get(&1); }"));
        assert!(triggers.file_matters("fn a() { s.register(job) }"));
        assert!(triggers.file_matters("#[get(\"/x\")] async fn x() {}"));
        assert!(triggers.file_matters("use axum::Router;"));
    }
}

#[cfg(test)]
mod on_real_code {
    use super::*;

    /// Pruning must never turn a file that parses into one that does not (the fallback would
    /// hide it, at the cost of the speed pruning exists for): checked on every Rust file of this
    /// repository.
    #[test]
    fn pruned_files_still_parse() {
        let triggers = Triggers::new(&[TaskPattern::new("tokio::spawn")]);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut checked = 0;
        for entry in ignore::Walk::new(&root).flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let Ok(source) = std::fs::read_to_string(path) else {
                continue;
            };
            if syn::parse_file(&source).is_err() {
                continue;
            }
            let (pruned, _) = triggers.prune(&source, Pruning::Deep);
            if let Err(err) = syn::parse_file(&pruned) {
                panic!(
                    "{}: pruned text does not parse: {err}\n{pruned}",
                    path.display()
                );
            }
            checked += 1;
        }
        assert!(checked > 20, "only {checked} files checked");
    }
}
