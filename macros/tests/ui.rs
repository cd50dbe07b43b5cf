//! Compile errors of `#[route]` and `#[task]`, checked against `.stderr` snapshots (rustc 1.95).
//! One test function, so trybuild builds the dependencies once.

#[test]
fn compile_errors() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
