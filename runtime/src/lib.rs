//! ringrpc: typed Thrift clients and servers on a thread-per-core io_uring runtime.
//!
//! This is the crate applications depend on. Today it re-exports the wire layer
//! ([`codec`], from `ringrpc-codec`); the runtime (workers, buffer pools, ConnShard), the
//! client and server, and the governance layers land here next (see DESIGN.md).

pub use ringrpc_codec as codec;
