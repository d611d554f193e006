//! Generates Rust for the example IDLs with ringrpc-codegen's build.rs API, and for Apache's
//! conformance IDL (`../shared/idl/ThriftTest.thrift`, or `RINGRPC_THRIFTTEST_IDL`).

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let idl = root.join("../idl");
    println!("cargo:rerun-if-env-changed=RINGRPC_THRIFTTEST_IDL");
    let thrift_test = std::env::var_os("RINGRPC_THRIFTTEST_IDL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../../shared/idl/ThriftTest.thrift"));
    if let Err(e) = ringrpc_codegen::Builder::new().include_dir(&idl).compile(&[
        idl.join("golden.thrift"),
        idl.join("bench.thrift"),
        idl.join("echo.thrift"),
        thrift_test,
    ]) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
