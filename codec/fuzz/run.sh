#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 90) each, seeded with seeds/<target> and the
# golden vectors; new interesting inputs go to corpus/<target> (not committed).
# Usage: codec/fuzz/run.sh [SECONDS]   (needs `cargo install cargo-fuzz`)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs="${1:-90}"
for target in binary_decode compact_decode frame_decode detect headers; do
    mkdir -p "corpus/$target" "seeds/$target"
    echo "== $target (${secs}s)"
    cargo fuzz run --sanitizer none "$target" "corpus/$target" "seeds/$target" ../tests/golden/vectors \
        -- -max_total_time="$secs" -print_final_stats=1 2>&1 \
        | grep -E "^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb|==[0-9]+== ERROR|.*panicked|.*SUMMARY|Done )" || true
done
