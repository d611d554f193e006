#!/usr/bin/env bash
# The codec's guard: runs the codec bench (benches/peers: ringrpc, pilota and the Apache thrift
# crate on the same messages) for N rounds, then prints each peer's time ÷ ringrpc's with a
# verdict per target (decode ≥ 2× thrift and ≥ 1.5× pilota, encode ≥ 1.5× and ≥ 1.1×). Exits 1
# when a target is missed. Run it for every change to the codec or the read path, and quote its
# table in the change's note. About 3 minutes a round on a 2-core machine, plus the first build.
#
#   scripts/codec-bench.sh            # one round
#   scripts/codec-bench.sh --rounds 3 # three rounds: ratios per round, median over rounds
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds=1
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
        *) echo "usage: $0 [--rounds N]" >&2; exit 2 ;;
    esac
done
case "$rounds" in
    ''|*[!0-9]*|0) echo "--rounds: a positive whole number, not '$rounds'" >&2; exit 2 ;;
esac

# protoc: ringrpc-bench (the sample messages) builds etcd-client, whose build script runs it.
scripts/system-deps.sh

cd benches/peers
baselines=()
for round in $(seq 1 "$rounds"); do
    echo "==> codec bench, round $round of $rounds" >&2
    cargo bench --locked --bench codec -- --warm-up-time 1 --measurement-time 3 --noplot \
        --save-baseline "codec-round-$round" >&2
    baselines+=("codec-round-$round")
done
# The bench profile's build of the table tool reuses the bench's compiled dependencies.
cargo run --locked --quiet --profile bench --bin codec-table -- "${baselines[@]}"
