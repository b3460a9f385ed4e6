"""Exact search with numpy, the reference for `cargo bench --bench search`.

python benches/search.py CORPUS.parquet QUERIES.parquet [K] [REPEATS]

Reads both tables with pyarrow (not timed), L2-normalises, then per block of 16,384
documents: scores = Q @ D_blockᵀ (OpenBLAS SGEMM), np.argpartition for each query's top K
in the block, merged with the running top K; final sort by score. Best of REPEATS. Prints
one JSON line in the same form as the Rust bench.
"""
import json
import sys
import time

import numpy as np
import pyarrow.parquet as pq


def load(path):
    t = pq.read_table(path, columns=["embedding"])
    emb = t.column("embedding").combine_chunks()
    x = np.asarray(emb.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(t.num_rows, -1)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def search(q, d, k, block=16384):
    best_s = np.full((q.shape[0], 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((q.shape[0], 0), dtype=np.int64)
    for start in range(0, d.shape[0], block):
        s = q @ d[start:start + block].T
        kk = min(k, s.shape[1])
        part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        cand_s = np.concatenate([best_s, np.take_along_axis(s, part, 1)], axis=1)
        cand_i = np.concatenate([best_i, part + start], axis=1)
        keep = np.argpartition(-cand_s, min(k, cand_s.shape[1]) - 1, axis=1)[:, :k]
        best_s = np.take_along_axis(cand_s, keep, 1)
        best_i = np.take_along_axis(cand_i, keep, 1)
    order = np.argsort(-best_s, axis=1, kind="stable")
    return np.take_along_axis(best_i, order, 1)


def main():
    docs, queries = load(sys.argv[1]), load(sys.argv[2])
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        search(queries, docs, k)
        best = min(best, time.perf_counter() - t)
    q, (n, d) = queries.shape[0], docs.shape
    print(json.dumps({"tool": "numpy (OpenBLAS) blocked matmul + argpartition", "queries": q, "docs": n, "dim": d,
                      "k": k, "seconds": best, "gflops": 2.0 * q * n * d / best / 1e9}))


if __name__ == "__main__":
    main()
