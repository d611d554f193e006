//! Fuzz target bodies over the runtime, shared with ringrpc-examples' tests
//! (`examples/tests/support/server_fuzz.rs`, replayed by `examples/tests/fuzz_replay.rs`).
#[path = "../../../examples/tests/support/server_fuzz.rs"]
pub mod server_fuzz;
