//! Compile-fail and compile-pass cases for the macros: each `.stderr` is the error a user sees.

#[test]
fn ui() {
    // `.ci/run` runs this suite in steps of its own, with the default features and with
    // `agent` (the two sets whose messages must match), before the whole suite with every
    // feature, where building the compile-fail crate's dependencies again would cost minutes.
    if std::env::var_os("STATEGRAPH_UI_CHECKED").is_some() {
        println!("the compile-fail suite ran in its own steps (STATEGRAPH_UI_CHECKED)");
        return;
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*/*.rs");
    // `#[tool]`, `#[tools]` and `tools_condition` generate code that names `stategraph::agent`.
    #[cfg(feature = "agent")]
    t.compile_fail("tests/ui/agent/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
