//! Generates the benchmark service (`idl/bench.thrift`) for rpc-bench.

fn main() {
    let idl = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../idl");
    if let Err(e) = ringrpc_codegen::Builder::new()
        .include_dir(&idl)
        .compile(&[idl.join("bench.thrift")])
    {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
