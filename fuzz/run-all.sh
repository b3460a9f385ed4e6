#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 30) from its committed seeds (fuzz/seeds/T)
# and the corpus it grew before (fuzz/corpus/T, not committed). A crash stops the run:
# its input is in fuzz/artifacts/T/, and `cargo +nightly fuzz run T FILE` replays it.
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz). FUZZ_DEV=1 builds
# the targets without optimisations (quicker to build, slower to run: CI's short pass).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-30}"
targets=$(sed -n 's/^name = "\(.*\)"/\1/p' Cargo.toml | grep -v '^shimkit-fuzz$')
mode=()
if [[ "${FUZZ_DEV:-0}" == 1 ]]; then mode=(--dev); fi
cargo +nightly fuzz build "${mode[@]}" ${FUZZ_TARGET_DIR:+--target-dir "$FUZZ_TARGET_DIR"}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in $targets; do
    mkdir -p "corpus/$t"
    echo "== fuzz $t for ${seconds}s"
    if ! cargo +nightly fuzz run "${mode[@]}" ${FUZZ_TARGET_DIR:+--target-dir "$FUZZ_TARGET_DIR"} "$t" \
        "corpus/$t" "seeds/$t" -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz target $t failed"
        exit 1
    fi
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' "$log" || true
done
