//! ringrpc-codegen: IDL front ends (Thrift, later protobuf) → one IR → Rust code.
//!
//! Not implemented yet: the Thrift front end, the IR and the generators arrive with the
//! codegen issue. Generated code will implement the traits of `ringrpc-codec`
//! (`Encode`, `Decode`) and name only `::ringrpc::__codegen` paths.
