//! Shared pieces of the ringrpc benchmarks.
