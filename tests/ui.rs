//! Compile-fail and compile-pass cases for the macros: each `.stderr` is the error a user sees.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*/*.rs");
    // `#[tool]`, `#[tools]` and `tools_condition` generate code that names `stategraph::agent`.
    #[cfg(feature = "agent")]
    t.compile_fail("tests/ui/agent/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
