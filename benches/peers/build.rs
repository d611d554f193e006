//! Generates pilota's types for `idl/bench.thrift` (the peers compare against them).

fn main() {
    let idl = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../idl/bench.thrift");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("pilota_gen.rs");
    println!("cargo:rerun-if-changed={}", idl.display());
    pilota_build::Builder::thrift()
        .ignore_unused(false)
        .compile_with_config(
            vec![pilota_build::IdlService::from_path(idl)],
            pilota_build::Output::File(out),
        );
}
