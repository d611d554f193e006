//! Replays the fuzz seed corpora (`fuzz/seeds/<target>/`) and the golden vectors through
//! the fuzz targets' bodies, so CI runs what the fuzzers found interesting.

mod support;

use std::path::Path;

use support::fuzz_checks;

/// A fuzz target's body.
type Target = fn(&[u8]);

fn replay(dir: &Path, target: Target) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_file() {
            target(&std::fs::read(&path).unwrap());
            n += 1;
        }
    }
    n
}

#[test]
fn seeds_and_golden_vectors_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let golden = root.join("tests/golden/vectors");
    let targets: [(&str, Target); 5] = [
        ("binary_decode", fuzz_checks::binary),
        ("compact_decode", fuzz_checks::compact),
        ("frame_decode", fuzz_checks::frames),
        ("detect", fuzz_checks::detect),
        ("headers", fuzz_checks::headers),
    ];
    let mut total = 0;
    for (name, target) in targets {
        total += replay(&root.join("fuzz/seeds").join(name), target);
        total += replay(&golden, target);
    }
    assert!(
        total >= 5 * 59,
        "expected the seeds and golden vectors, replayed {total}"
    );
}
