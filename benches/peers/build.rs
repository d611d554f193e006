//! Generates the peers' code from the shared IDLs: pilota's types for `idl/bench.thrift`
//! (the codec benchmarks compare against them), volo-thrift's service for the same file,
//! and tonic's echo service for `proto/echo.proto`.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let idl = manifest.join("../../idl/bench.thrift");
    println!("cargo:rerun-if-changed={}", idl.display());

    pilota_build::Builder::thrift()
        .ignore_unused(false)
        .compile_with_config(
            vec![pilota_build::IdlService::from_path(idl.clone())],
            pilota_build::Output::File(out.join("pilota_gen.rs")),
        );

    // Configured here rather than by a `volo.yml`.
    volo_build::Builder::thrift()
        .add_service(&idl)
        .filename("volo_gen.rs".into())
        .out_dir(&out)
        .write()
        .expect("volo-build generates idl/bench.thrift");

    // No system protoc is assumed: use the vendored one.
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(
        protoc_bin_vendored::protoc_bin_path().expect("a vendored protoc for this host"),
    );
    let proto = manifest.join("proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    tonic_prost_build::configure()
        .out_dir(&out)
        .compile_with_config(config, &[proto.join("echo.proto")], &[proto])
        .expect("tonic-prost-build generates proto/echo.proto");
}
