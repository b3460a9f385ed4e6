#!/usr/bin/env bash
# shimkit's own streamed `project` and `fit` against the same jobs through DataFusion in
# this process (`--engine local`), side by side, round after round, on one generated table
# (BENCHMARKS.md, issue 16). Usage: benches/engine.sh [DOCS] [ROUNDS] [PARTITIONS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
docs="${1:-500000}"
rounds="${2:-3}"
partitions="${3:-2}"
bin="$root/target/release/shimkit"
(cd "$root" && cargo build --release -q)
work="$(mktemp -d /tmp/shimkit-engine-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
"$bin" -q gen --docs "$docs" --queries 10 --old-dim 768 --new-dim 1024 --no-text --seed 5 --out "$work/set"
old="$work/set/corpus.old.parquet"
new="$work/set/corpus.new.parquet"
"$bin" -q fit --old "$old" --new "$new" --method ridge --out "$work/shim.safetensors"
run() { # name, then the command; prints "name seconds peak-KiB"
    local name="$1"; shift
    local t; t="$(mktemp)"
    /usr/bin/time -f "%e %M" -o "$t" "$@" >/dev/null
    echo "$name $(cat "$t")"
    rm -f "$t"
}
for r in $(seq 1 "$rounds"); do
    run "round$r project" "$bin" -q project --shim "$work/shim.safetensors" --input "$old" --output "$work/p.parquet"
    run "round$r project-engine" "$bin" -q project --shim "$work/shim.safetensors" --input "$old" --output "$work/pdir" --engine local --partitions "$partitions"
    run "round$r fit" "$bin" -q fit --old "$old" --new "$new" --method ridge --out "$work/f1.safetensors"
    run "round$r fit-engine" "$bin" -q fit --old "$old" --new "$new" --method ridge --out "$work/f2.safetensors" --engine local --partitions "$partitions"
    rm -rf "$work/p.parquet" "$work/pdir"
done
