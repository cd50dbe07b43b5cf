//! The lint's Rust front end (pruning, the nesting guard, syn, the scanner) on arbitrary text:
//! a result or a parse error, never a panic or a stack overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(source) = std::str::from_utf8(data) {
        featgen_lint::fuzzing::rust(source);
    }
});
