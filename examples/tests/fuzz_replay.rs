//! Replays the `server_conn` fuzz corpus (`runtime/fuzz/seeds/server_conn/`) and the
//! generated seed streams through the fuzz target's body (`support/server_fuzz.rs`), so CI
//! runs what the fuzzer found interesting against a live server connection.
//!
//! `cargo test -p ringrpc-examples --test fuzz_replay -- --ignored write_seeds` rewrites
//! the generated part of the corpus.

mod support {
    pub mod server_fuzz;
}

use std::path::PathBuf;

use support::server_fuzz::{seed_streams, server_stream};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime/fuzz/seeds/server_conn")
}

#[test]
fn the_server_survives_the_fuzz_corpus_and_the_seed_streams() {
    let mut replayed = 0;
    for (name, stream) in seed_streams() {
        let replies = server_stream(&stream);
        let expected = match name.as_str() {
            n if n.ends_with("-testOneway") => 0,
            n if n.ends_with("-pipelined") => 3,
            _ => 1,
        };
        assert_eq!(replies, expected, "replies to the seed {name}");
        replayed += 1;
    }
    let mut files: Vec<_> = std::fs::read_dir(corpus())
        .expect("the committed corpus")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in &files {
        let _ = server_stream(&std::fs::read(path).unwrap());
        replayed += 1;
    }
    assert!(
        files.len() >= seed_streams().len(),
        "expected the committed corpus at {}, found {} files",
        corpus().display(),
        files.len()
    );
    println!("replayed {replayed} streams");
}

#[test]
#[ignore = "writes the generated seeds into the corpus folder"]
fn write_seeds() {
    std::fs::create_dir_all(corpus()).unwrap();
    for (name, stream) in seed_streams() {
        std::fs::write(corpus().join(name), stream).unwrap();
    }
}
