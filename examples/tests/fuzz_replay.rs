//! Replays the `server_conn` fuzz corpus (`runtime/fuzz/seeds/server_conn/`) and the
//! generated seed streams through the fuzz target's body (`support/server_fuzz.rs`), so CI
//! runs what the fuzzer found interesting against a live server connection.
//!
//! `cargo test -p ringrpc-examples --test fuzz_replay -- --ignored write_seeds` rewrites
//! the generated part of the corpus.

mod support {
    pub mod client_fuzz;
    pub mod server_fuzz;
}

use std::path::PathBuf;

use support::client_fuzz::client_stream;
use support::server_fuzz::{seed_streams, server_stream};

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime/fuzz/seeds")
        .join(target)
}

/// The committed corpus of `target`, sorted.
fn corpus_files(target: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(corpus(target))
        .unwrap_or_else(|e| panic!("the committed corpus {}: {e}", corpus(target).display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
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
    let files = corpus_files("server_conn");
    for path in &files {
        let _ = server_stream(&std::fs::read(path).unwrap());
        replayed += 1;
    }
    assert!(
        files.len() >= seed_streams().len(),
        "expected the committed corpus, found {} files",
        files.len()
    );
    println!("replayed {replayed} streams");
}

#[test]
fn the_client_survives_hostile_replies() {
    let seeds = support::client_fuzz::seed_streams();
    for (name, stream) in &seeds {
        let answered = client_stream(stream);
        assert!(answered >= 1, "the seed {name} answered no call");
    }
    let files = corpus_files("client_conn");
    for path in &files {
        let _ = client_stream(&std::fs::read(path).unwrap());
    }
    assert!(files.len() >= seeds.len(), "expected the committed corpus");
    println!("replayed {} reply streams", seeds.len() + files.len());
}

#[test]
#[ignore = "writes the generated seeds into the corpus folders"]
fn write_seeds() {
    for (target, seeds) in [
        ("server_conn", seed_streams()),
        ("client_conn", support::client_fuzz::seed_streams()),
    ] {
        std::fs::create_dir_all(corpus(target)).unwrap();
        for (name, stream) in seeds {
            std::fs::write(corpus(target).join(name), stream).unwrap();
        }
    }
}
