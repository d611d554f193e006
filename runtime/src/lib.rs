//! ringrpc: typed Thrift clients and servers on a thread-per-core io_uring runtime.
//!
//! This is the crate applications depend on. Today it re-exports the wire layer
//! ([`codec`], from `ringrpc-codec`); the runtime (workers, buffer pools, ConnShard), the
//! client and server, and the governance layers land here next (see DESIGN.md).

pub mod admin;
pub mod bufpool;
pub mod call;
mod call_span;
pub mod client;
pub mod governance;
pub mod health;
pub mod metainfo;
pub mod method;
pub mod metrics;
#[cfg(feature = "otel")]
pub mod otel;
pub mod policy;
pub mod rt;
pub mod server;
pub mod service;
pub mod transport;
pub mod watch;

pub use call::{CallError, Channel, MethodInfo, PolicyConst, ReplySink};
pub use client::{Client, PoolMode};
pub use metainfo::MetaInfo;
pub use ringrpc_codec as codec;
/// Generates Rust from a Thrift file in place (path relative to the crate's `Cargo.toml`;
/// optional `include = ["dir", …]`). An IDL error is a compile error quoting the IDL
/// location:
///
/// ```compile_fail
/// mod missing {
///     ringrpc::include_thrift!("idl/does-not-exist.thrift");
/// }
/// ```
pub use ringrpc_macros::include_thrift;
pub use rt::Driver;
pub use server::{Dispatch, RunningServer, Server};

/// Includes the Rust that `ringrpc_codegen::Builder` generated into `$OUT_DIR` for the IDL
/// file `name` (`include_idl!("echo")` for `echo.thrift`), like `tonic::include_proto!`.
#[macro_export]
macro_rules! include_idl {
    ($name:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $name, ".rs"));
    };
}

/// The paths generated code names (tonic's pattern): generated code refers only to
/// `::ringrpc::__codegen::*`, so the crate's inside can change without regenerating.
/// Not a public API.
#[doc(hidden)]
pub mod __codegen {
    pub use crate::call::{CallError, Channel, MethodInfo, OnewayResult, PolicyConst, ReplySink};
    pub use crate::method::{
        MethodArgs, Reply, ResultStruct, call, call_oneway, missing_success, serve, serve_oneway,
        unknown_method,
    };
    pub use crate::server::Dispatch;
    pub use ringrpc_codec::value::{
        encode_list, encode_map, encode_set, read_field, required, write_field,
        write_optional_field,
    };
    pub use ringrpc_codec::{
        ApplicationErrorKind, ApplicationException, Blob, Bytes, BytesStr, Decode, DecodeError,
        DecodeErrorKind, Encode, EncodeError, HashMap, HashSet, ProtocolReader, ProtocolWriter,
        TType, UnionSlot, Uuid, VecMap, VecSet,
    };
    pub use std::boxed::Box;
    pub use std::convert::From;
    pub use std::default::Default;
    pub use std::option::Option::{self, None, Some};
    pub use std::result::Result::{self, Err, Ok};
    pub use std::vec;
    pub use std::vec::Vec;

    /// What `Encode::encode` returns.
    pub type EncodeResult = Result<(), EncodeError>;
    /// What `Decode::decode` returns.
    pub type DecodeResult<T> = Result<T, DecodeError>;
}
