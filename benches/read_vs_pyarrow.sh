#!/usr/bin/env bash
# Side-by-side read benchmark: shimkit vs pyarrow read_table + numpy, same file, same machine.
#
#   benches/read_vs_pyarrow.sh [ROWS] [DIM] [ROUNDS]     (default 200000 768 5)
#
# Writes the table with `shimkit gen` (zstd, ~64 MiB row groups) and a copy re-written by
# pyarrow with its defaults (snappy, one row group), then alternates the two readers on each
# file ROUNDS times, each run a fresh process (peak RSS is per process), 3 reads per run.
# Needs SHIMKIT_PYTHON (or .venv/bin/python) with tests/python/requirements.txt installed.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-200000}
dim=${2:-768}
rounds=${3:-5}
py=${SHIMKIT_PYTHON:-.venv/bin/python}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shimkit-target}"
cargo build --release --quiet --bench read_matrix --bin shimkit
bench=$(ls -t "$CARGO_TARGET_DIR"/release/deps/read_matrix-* | grep -v '\.d$' | head -1)
dir=${BENCH_DIR:-/tmp/shimkit-read-bench}
if [ ! -f "$dir/corpus.old.parquet" ] || [ "$("$CARGO_TARGET_DIR"/release/shimkit inspect "$dir/corpus.old.parquet" --json | "$py" -c 'import json,sys; r=json.load(sys.stdin); print(r["rows"], r["dim"])')" != "$rows $dim" ]; then
    "$CARGO_TARGET_DIR"/release/shimkit -q gen --docs "$rows" --queries 10 --old-dim "$dim" --new-dim 8 --no-text --force --out "$dir"
    "$py" -c "import pyarrow.parquet as pq, sys; pq.write_table(pq.read_table(sys.argv[1]), sys.argv[2])" "$dir/corpus.old.parquet" "$dir/pyarrow_written.parquet"
fi
out=$(mktemp)
for round in $(seq "$rounds"); do
    for f in corpus.old.parquet pyarrow_written.parquet; do
        "$bench" "$dir/$f" whole 3 | sed "s|^|$f |" >>"$out"
        "$py" benches/read_matrix.py "$dir/$f" 3 | sed "s|^|$f |" >>"$out"
    done
done
"$py" - "$out" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, js = line.split(" ", 1)
    r = json.loads(js)
    runs.setdefault((name, r["tool"].split()[0]), []).append(r)
print(f"{'file':<26} {'reader':<8} {'rows':>8} {'dim':>4} {'median best-of-3 s':>18} {'min s':>7} {'rows/s':>9} {'peak RSS MiB':>12}")
for (name, tool), rs in sorted(runs.items()):
    best = [r["best_s"] for r in rs]
    med = statistics.median(best)
    print(f"{name:<26} {tool:<8} {rs[0]['rows']:>8} {rs[0]['dim']:>4} {med:>18.3f} {min(best):>7.3f} {rs[0]['rows']/med:>9.0f} {statistics.median(r['peak_rss_mib'] for r in rs):>12.0f}")
PY
rm -f "$out"
