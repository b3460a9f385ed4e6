#!/usr/bin/env bash
# Ballista: `project --engine df://` on a cluster of two executors of one core each against
# one executor of one core, side by side, round after round, on one generated directory
# (BENCHMARKS.md, issue 16). The scheduler and client run on the same machine; they are
# idle while the executors work.
# Usage: benches/cluster.sh [DOCS] [ROUNDS] [PARTITIONS] [OUT_DIM]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
docs="${1:-5000000}"
rounds="${2:-3}"
partitions="${3:-8}"
out_dim="${4:-384}"
bin="$root/target/release/shimkit"
(cd "$root" && cargo build --release -q)
work="$(mktemp -d /tmp/shimkit-cluster-bench.XXXXXX)"
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
trap 'stop; rm -rf "$work"' EXIT
# The shim: fitted on a small set of the same dimensions. The corpus: DOCS vectors of 768
# in a directory (the new model's side is kept narrow: only the old one is read).
"$bin" -q gen --docs 50000 --queries 10 --old-dim 768 --new-dim "$out_dim" --no-text --seed 5 --out "$work/small"
"$bin" -q fit --old "$work/small/corpus.old.parquet" --new "$work/small/corpus.new.parquet" --method ridge --out "$work/shim.safetensors"
"$bin" -q gen --docs "$docs" --queries 10 --old-dim 768 --new-dim 8 --no-text --seed 6 --out "$work/big"
mkdir -p "$work/corpus"
mv "$work/big/corpus.old.parquet" "$work/corpus/"
rm -rf "$work/big" "$work/small"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
cluster() { # executors; starts a scheduler and that many one-core executors
    local port; port="$(free_port)"
    "$bin" -q cluster scheduler --bind "127.0.0.1:$port" & pids+=($!)
    wait_port "$port"
    for _ in $(seq 1 "$1"); do
        local f g; f="$(free_port)"; g="$(free_port)"
        "$bin" -q cluster executor --scheduler "127.0.0.1:$port" --bind "127.0.0.1:$f" --grpc-port "$g" --cores 1 & pids+=($!)
        wait_port "$g"
    done
    sleep 2
    url="df://127.0.0.1:$port"
}
run() { # name, executors; prints "name seconds client-peak-KiB"
    cluster "$2"
    local t; t="$(mktemp)"
    /usr/bin/time -f "%e %M" -o "$t" "$bin" -q project --shim "$work/shim.safetensors" \
        --input "$work/corpus" --output "$work/out" --engine "$url" --partitions "$partitions" >/dev/null
    echo "$1 $(cat "$t")"
    rm -rf "$t" "$work/out"
    stop
}
for r in $(seq 1 "$rounds"); do
    if (( r % 2 )); then
        run "round$r one-executor" 1
        run "round$r two-executors" 2
    else
        run "round$r two-executors" 2
        run "round$r one-executor" 1
    fi
done
