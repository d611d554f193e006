//! ringrpc-codegen: IDL front ends (Thrift, later protobuf) → one IR → Rust code.
//!
//! Today: the Thrift front end ([`thrift`]: lexer, parser, syntax tree) with
//! [`diagnostic`]s that point at `file:line:col`, quote the line and underline the
//! offending text; and [`policy`], the `@control_plane` key set with its validation.
//! Resolution into the IR, the Rust generators, the `idl-gen` CLI, the build.rs API and
//! `include_idl!` come next. Generated code will
//! implement `ringrpc-codec`'s `Encode`/`Decode` and name only `::ringrpc::__codegen` paths.

pub mod builder;
pub mod diagnostic;
pub mod ir;
pub mod policy;
pub mod policy_dump;
pub mod resolve;
pub mod rust;
pub mod thrift;

pub use builder::{Builder, Error};
pub use diagnostic::{Diagnostic, Diagnostics, Severity, SourceFile, Span};
pub use resolve::resolve;
