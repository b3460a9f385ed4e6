#!/usr/bin/env bash
# A migration cycle's time on a table of N rows with Q queries: the same store scored three
# times, in process, with exact search in PostgreSQL, and through HNSW in PostgreSQL (with
# each path's recall against exact search), from `migrate status --json`'s `seconds`.
#
#   benches/migrate_cycle.sh [N=1000000] [Q=1000] [OLD_DIM=384] [NEW_DIM=768]
#   SEARCHES="memory exact" benches/migrate_cycle.sh ...   (a subset, in that order)
#
# Needs a release build (cargo build --release) and a Python with pgserver and pyarrow in
# SHIMKIT_PYTHON (tests/python/requirements.txt). Half the table arrives re-embedded in
# the first cycle; the migration fits its own ridge shim on those pairs and projects the
# other half. Work files go to $BENCH_DIR (default /tmp/shimkit-migrate-bench), removed
# at the end; `migrate status --json` is kept in $STATUS_OUT (default
# /tmp/shimkit-migrate-status.json).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
Q="${2:-1000}"
OLD_DIM="${3:-384}"
NEW_DIM="${4:-768}"
PY="${SHIMKIT_PYTHON:-python3}"
# The searches to score the store with, one cycle each, in this order.
SEARCHES="${SEARCHES:-memory exact hnsw}"
B=target/release/shimkit
W="${BENCH_DIR:-/tmp/shimkit-migrate-bench}"
rm -rf "$W"
mkdir -p "$W/incoming"
stop() {
    "$PY" tests/python/pg_server.py stop "$W/pg" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap stop EXIT

t() { local s; s=$(date +%s.%N); "$@"; echo "  $(echo "$(date +%s.%N) - $s" | bc) s: $*" >&2; }

echo "== $N rows, $Q queries, $OLD_DIM -> $NEW_DIM dimensions" >&2
t $B gen -q --docs "$N" --queries "$Q" --old-dim "$OLD_DIM" --new-dim "$NEW_DIM" --no-text --out "$W/set"
URL="$("$PY" tests/python/pg_server.py start "$W/pg" 2>/dev/null | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["url"])')"
SEP='?'; [[ "$URL" == *\?* ]] && SEP='&'
t $B load -q --input "$W/set/corpus.old.parquet" --output "$URL${SEP}table=docs&vector=embedding"
"$PY" - "$W/set/corpus.new.parquet" "$W/incoming/half.parquet" "$N" <<'EOF'
import sys, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
pq.write_table(t.slice(0, int(sys.argv[3]) // 2), sys.argv[2])
EOF

spec() {
    cat > "$W/migration.toml" <<EOF
[store]
url = "$URL${SEP}table=docs&id=id"
old = "embedding"
new = "embedding_next"

[eval]
dataset = "set"
old_model = "old"
new_model = "new"
$1

[backfill]
incoming = "incoming"
method = "ridge"

[gate]
target = 0.95

[window]
cutover = "2099-01-01"
EOF
}

for search in $SEARCHES; do
    spec "search = \"$search\""
    t $B migrate run -q "$W/migration.toml" --once
done

$B migrate status "$W/migration.toml" --json > "$W/status.json"
"$PY" - "$W/status.json" "$SEARCHES" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print("| search | load | shim and projection | scoring | cycle | nDCG@10 of new-column | ANN recall@10 (min over paths) |")
print("|---|---:|---:|---:|---:|---:|---:|")
label = {"memory": "in process", "exact": "PostgreSQL, exact", "hnsw": "PostgreSQL, HNSW"}
for c, search in zip(s["cycles"], [label[x] for x in sys.argv[2].split()]):
    sec = c["seconds"]
    new = next(p for p in c["paths"] if p["name"] == "new-column")
    recalls = [p["ann_recall@10"] for p in c["paths"] if "ann_recall@10" in p]
    recall = f"{min(recalls):.4f}" if recalls else ""
    print(f"| {search} | {sec['load']:.1f} s | {sec['shim_and_projection']:.1f} s | {sec['score']:.1f} s "
          f"| {sec['total']:.1f} s | {new['ndcg@10']:.4f} | {recall} |")
for c, search in zip(s["cycles"], sys.argv[2].split()):
    recalls = [f"{p['name']} {p['ann_recall@10']:.4f}" for p in c["paths"] if "ann_recall@10" in p]
    if recalls:
        print(f"\n{search}: ANN recall@10 by path: " + ", ".join(recalls))
EOF
# The whole history, for figures the table leaves out.
cp "$W/status.json" "${STATUS_OUT:-/tmp/shimkit-migrate-status.json}"
