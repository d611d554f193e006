//! The ringrpc demo (placeholder until the runtime lands).
fn main() {}
