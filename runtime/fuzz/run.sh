#!/usr/bin/env bash
# Runs the runtime's fuzz target `server_conn` for SECONDS (default 90), seeded with
# seeds/server_conn; new interesting inputs go to corpus/server_conn (not committed).
# Usage: runtime/fuzz/run.sh [SECONDS]   (needs `cargo install cargo-fuzz`)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs="${1:-90}"
mkdir -p corpus/server_conn seeds/server_conn
cargo fuzz run --sanitizer none server_conn corpus/server_conn seeds/server_conn \
    -- -max_total_time="$secs" -timeout=20 -print_final_stats=1 2>&1 \
    | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb|==[0-9]+== ERROR|.*panicked|.*SUMMARY|Done )" || true
