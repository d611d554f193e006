//! Golden files: `tests/data/golden_cases/<case>/input.thrift` generates exactly
//! `expected.rs`. Regenerate after an intended change with
//! `UPDATE_GOLDEN=1 cargo test -p ringrpc-codegen --test golden_output`.

use std::path::Path;

#[test]
fn generated_code_matches_the_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden_cases");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 3);
    for case in cases {
        let (code, _) = ringrpc_codegen::Builder::new()
            .generate(&case.join("input.thrift"))
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        let expected_path = case.join("expected.rs");
        if update {
            std::fs::write(&expected_path, &code).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1)",
                expected_path.display()
            )
        });
        if code != expected {
            let first = code
                .lines()
                .zip(expected.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(code.lines().count().min(expected.lines().count()));
            panic!(
                "{}: generated code differs from expected.rs at line {} (UPDATE_GOLDEN=1 to accept)\n  got:      {:?}\n  expected: {:?}",
                case.display(),
                first + 1,
                code.lines().nth(first),
                expected.lines().nth(first)
            );
        }
    }
}
