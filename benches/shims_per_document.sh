#!/usr/bin/env bash
# Issue 18, goals 2 and 3 on both bundled pairs and a generated set: the backfill curve with
# and without blending each re-embedded vector with its projection, and query-side shims
# with query pairs (half the queries, cross-fitted). One `shimkit eval` a pair and seed; the
# table is printed by benches/shims_per_document.py from the JSON reports.
#
#   benches/shims_per_document.sh [SEEDS] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-2}
out=${2:-/tmp/shims-per-document}
shimkit=${SHIMKIT:-target/release/shimkit}
python=${SHIMKIT_PYTHON:-python3}
mkdir -p "$out"
[ -d "$out/gen" ] || "$shimkit" -q gen --docs 5000 --queries 300 --old-dim 384 --new-dim 768 \
    --seed 18 --no-text --out "$out/gen"
for set in "data/cranfield minilm mpnet" "data/cranfield minilm-l3 minilm" "$out/gen old new"; do
    read -r dataset old new <<<"$set"
    for ((seed = 0; seed < seeds; seed++)); do
        "$shimkit" -q eval --dataset "$dataset" --old "$old" --new "$new" --seed "$seed" \
            --methods ridge,kernel,cluster,mlp --train-pairs 700 \
            --backfill 0.1,0.25,0.5,0.75 --query-pair-folds 2 --curve 100 \
            --json "$out/$(basename "$dataset").$old-$new.$seed.json" >/dev/null
    done
done
"$python" benches/shims_per_document.py "$out"/*.json
