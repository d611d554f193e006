//! Shared pieces of the ringrpc benchmarks: the messages of `idl/bench.thrift` and the
//! sample values every implementation is measured on (see `benches/README.md`), and the
//! pieces of `rpc-bench`: the load generator ([`load`]), server cost ([`procstat`]) and
//! the result rows ([`report`]), and the matrix report's medians ([`matrix`]) and plots
//! ([`plot`]).

#[doc(hidden)]
#[path = "../../codec/tests/support/mod.rs"]
pub mod support;

pub mod load;
pub mod matrix;
pub mod messages;
pub mod plot;
pub mod procstat;
pub mod raw;
pub mod report;

/// The benchmark service generated from `idl/bench.thrift` (rpc-bench serves and calls it).
pub mod service {
    ringrpc::include_idl!("bench");
}
