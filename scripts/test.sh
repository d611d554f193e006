#!/usr/bin/env bash
# The whole ringrpc test suite, from a fresh clone. Installs what is missing (Debian's etcd and
# protoc, the Python interop peers into ./.venv), then runs formatting, lints, every test, the
# golden-vector freshness check and the benchmark peers' cross-checks. Exits non-zero on any
# failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Debian packages: etcd-server (etcd tests), protobuf-compiler + libprotobuf-dev (etcd-client's build), ca-certificates"
scripts/system-deps.sh

step "Python interop peers (thriftpy2, Apache thrift) in .venv"
scripts/python-peers.sh

step "cargo fmt --check (workspace, fuzz targets, benchmark peers)"
cargo fmt --all -- --check
cargo fmt --manifest-path codec/fuzz/Cargo.toml -- --check
cargo fmt --manifest-path runtime/fuzz/Cargo.toml -- --check
cargo fmt --manifest-path benches/peers/Cargo.toml -- --check

step "cargo clippy --workspace --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy on the fuzz workspaces (their lockfiles are current and the targets build)"
# They share the workspace's target directory, so the dependencies checked above are reused.
for fuzz in codec/fuzz runtime/fuzz; do
    CARGO_TARGET_DIR="$PWD/target" cargo clippy --manifest-path "$fuzz/Cargo.toml" --all-targets --locked -- -D warnings
done

step "cargo clippy, feature otel (ringrpc::otel and its test)"
cargo clippy -p ringrpc -p ringrpc-examples --features ringrpc-examples/otel --all-targets --locked -- -D warnings

step "cargo doc --workspace (rustdoc warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "cargo test --workspace"
cargo test --workspace --locked

step "feature otel: spans exported over OTLP to a receiver in the test form one trace"
cargo test -p ringrpc --features otel --locked --doc otel
cargo test -p ringrpc-examples --features otel --locked --test otel

step "golden vectors match what the independent Python implementations produce"
.venv/bin/python codec/tests/golden/gen_golden.py --check

step "benchmark peers: pilota and Apache thrift codecs give the same bytes; volo-thrift and tonic echo servers serve ringrpc's load"
(cd benches/peers && cargo clippy --all-targets --locked -- -D warnings && cargo test --locked)

printf '\nAll checks passed.\n'
