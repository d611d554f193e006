//! Fuzz target bodies, shared with the codec's tests (`tests/support/fuzz_checks.rs`).
#[path = "../../tests/support/mod.rs"]
pub mod support;

pub use support::fuzz_checks;
