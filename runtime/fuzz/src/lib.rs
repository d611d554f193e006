//! Fuzz target bodies over the runtime, shared with ringrpc-examples' tests
//! (`examples/tests/support/`, replayed by `examples/tests/fuzz_replay.rs`).
#[path = "../../../examples/tests/support/client_fuzz.rs"]
pub mod client_fuzz;
#[path = "../../../examples/tests/support/server_fuzz.rs"]
pub mod server_fuzz;
