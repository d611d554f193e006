//! Code generation speed on a synthetic IDL of 500 structs, 50 services and 2,000 methods
//! (issue #3's target: ≤ 300 ms). Run: `cargo bench -p ringrpc-codegen --bench generate`.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn synthetic_idl() -> String {
    let mut idl = String::from("namespace rs synthetic\n\nenum Kind { A = 1, B, C }\n\n");
    for s in 0..500 {
        let _ = writeln!(idl, "/** Struct number {s}. */\nstruct S{s} {{");
        let _ = writeln!(
            idl,
            "  1: required i64 id,\n  2: optional string name = \"s{s}\","
        );
        let _ = writeln!(
            idl,
            "  3: list<i32> values,\n  4: map<string, double> scores,\n  5: set<string> tags,"
        );
        let _ = writeln!(idl, "  6: Kind kind = Kind.B,\n  7: binary blob,");
        if s > 0 {
            let _ = writeln!(
                idl,
                "  8: optional S{} previous,\n  9: list<S{}> history,",
                s - 1,
                s - 1
            );
        }
        idl.push_str("}\n\n");
    }
    for v in 0..50 {
        let _ = writeln!(
            idl,
            "/** @control_plane(timeout_ms = 200, retry.max_attempts = 2) */\nservice Svc{v} {{"
        );
        for m in 0..40 {
            let a = (v * 40 + m) % 500;
            let _ = writeln!(
                idl,
                "  /** @control_plane(timeout_ms = {}) */\n  S{a} call{m}(1: S{a} req, 2: i32 n) (control_plane.idempotent = \"true\")",
                50 + m
            );
        }
        idl.push_str("}\n\n");
    }
    idl
}

fn generate(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("ringrpc-codegen-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("synthetic.thrift");
    std::fs::write(&path, synthetic_idl()).expect("write IDL");
    let builder = ringrpc_codegen::Builder::new();
    let (code, _) = builder.generate(&path).expect("the synthetic IDL is valid");
    eprintln!(
        "synthetic IDL: 500 structs, 50 services, 2000 methods → {} lines of Rust",
        code.lines().count()
    );
    let mut group = c.benchmark_group("codegen");
    group.sample_size(20);
    group.bench_function("synthetic_500_structs_2000_methods", |b| {
        b.iter(|| builder.generate(black_box(&path)).expect("valid"))
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, generate);
criterion_main!(benches);
