#!/usr/bin/env bash
# Issue 18, goal 1: training documents chosen by `shimkit sample` (coverage of the old space)
# against seeded random samples of the same size, on both bundled pairs and a generated set.
# One `shimkit eval` a set, size, seed and strategy; benches/sample.py prints the table from
# the JSON reports.
#
#   benches/sample.sh [SEEDS] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-5}
out=${2:-/tmp/shimkit-sample}
shimkit=${SHIMKIT:-target/release/shimkit}
python=${SHIMKIT_PYTHON:-python3}
mkdir -p "$out"
[ -d "$out/gen" ] || "$shimkit" -q gen --docs 5000 --queries 300 --old-dim 384 --new-dim 768 \
    --seed 18 --no-text --out "$out/gen"
for set in "data/cranfield minilm mpnet" "data/cranfield minilm-l3 minilm" "$out/gen old new"; do
    read -r dataset old new <<<"$set"
    for size in 250 700; do
        for ((seed = 0; seed < seeds; seed++)); do
            for sample in random shimkit; do
                "$shimkit" -q eval --dataset "$dataset" --old "$old" --new "$new" --seed "$seed" \
                    --methods ridge,auto --train-pairs "$size" --sample "$sample" \
                    --backfill 0.5 --curve 100 --resamples 200 \
                    --json "$out/$(basename "$dataset").$old-$new.$size.$seed.$sample.json" >/dev/null
            done
        done
    done
done
"$python" benches/sample.py "$out"/*.json
