//! The lint's Python front end (tree-sitter and the decorator scan) on arbitrary text: markers
//! or a parse error, never a panic or a stack overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(source) = std::str::from_utf8(data) {
        featgen_lint::fuzzing::python(source);
    }
});
