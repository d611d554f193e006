//! Shared pieces of the ringrpc benchmarks: the messages of `idl/bench.thrift` and the
//! sample values every implementation is measured on (see `benches/README.md`).

#[doc(hidden)]
#[path = "../../codec/tests/support/mod.rs"]
pub mod support;

pub mod messages;
