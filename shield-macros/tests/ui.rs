//! Compile-pass and compile-fail cases for `#[fnshield::handler]`, with `.stderr` snapshots.
//! Regenerate with `TRYBUILD=overwrite cargo test -p fnshield-macros --test ui`, then review.
#![allow(missing_docs)]

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
