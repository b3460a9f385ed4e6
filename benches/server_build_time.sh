#!/usr/bin/env bash
# Clean release build time of shimkit-server before issue 14 (07ecec5, the trainer with
# candle) and now, one build at a time, each in an empty target directory (BENCHMARKS.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
before="$(mktemp -d)/before"
git -C "$root" worktree add -f -q "$before" 07ecec5
trap 'git -C "$root" worktree remove --force "$before"' EXIT
for which in before now; do
    if [ "$which" = before ]; then dir="$before"; else dir="$root"; fi
    target="$(mktemp -d)"
    log="$(mktemp)"
    start=$(date +%s.%N)
    (cd "$dir" && CARGO_TARGET_DIR="$target" cargo build --release -p shimkit-server >"$log" 2>&1)
    end=$(date +%s.%N)
    candle=$(cd "$dir" && cargo tree -p shimkit-server -e normal 2>/dev/null | grep -c candle || true)
    echo "$which: $(echo "$end - $start" | bc) s, $(grep -c Compiling "$log") crates compiled, candle lines in cargo tree: $candle"
    rm -rf "$target" "$log"
done
