#!/usr/bin/env bash
# Runs the runtime's fuzz targets (`server_conn`, `client_conn`, or the one named) for
# SECONDS (default 90) each, seeded with seeds/<target>; new interesting inputs go to
# corpus/<target> (not committed).
# Usage: runtime/fuzz/run.sh [SECONDS] [TARGET]   (needs `cargo install cargo-fuzz`)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs="${1:-90}"
targets="${2:-server_conn client_conn}"
for target in $targets; do
    mkdir -p "corpus/$target" "seeds/$target"
    echo "== $target (${secs}s)"
    cargo fuzz run --sanitizer none "$target" "corpus/$target" "seeds/$target" \
        -- -max_total_time="$secs" -timeout=20 -print_final_stats=1 2>&1 \
        | grep -E "^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb|==[0-9]+== ERROR|.*panicked|.*SUMMARY|Done )" || true
done
