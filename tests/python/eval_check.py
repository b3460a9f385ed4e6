"""An independent evaluation, in numpy, of the paths `shimkit eval` reports.

usage: eval_check.py DATASET OLD NEW REPORT.json SHIMS_DIR

Reads the evaluation set with pyarrow, applies the shims shimkit saved (--save-shims) the
documented way (x/|x| @ weight + bias, then L2-normalised), rebuilds every path of the
report that involves the ridge shims, and computes nDCG@k, Recall@k, Recall@100, MRR@k and
overlap@k from their textbook definitions (linear graded gains, ideal DCG over all judged
documents, ties broken by the lower document row). It also recomputes the seeded training
sample from its documented hash. Exits non-zero, naming the path and metric, when a figure
differs from the report by more than the tolerance: 1e-4 for the paths that search the
models' own vectors (no-migration, full-reembed, read-through, dual-index-raw); 2e-3 for the
paths through a shim, whose vectors numpy and shimkit round differently in f32, which can
swap two documents whose scores tie to ~1e-7 (one swap in 225 queries moves a mean by up to
~2e-3; the Cranfield run shows 4e-4).
"""
import csv
import json
import sys

import numpy as np
import pyarrow.parquet as pq
from safetensors.numpy import load_file

from shim_forward import forward

TOL = 1e-4
TOL_SHIM = 2e-3
M64 = (1 << 64) - 1


def fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def mix(seed: int, purpose: int, h: int) -> int:
    x = h ^ ((seed * 0x9E3779B97F4A7C15) & M64) ^ ((purpose * 0xD1B54A32D192ED03) & M64)
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def load(path):
    t = pq.read_table(path)
    ids = [str(i) for i in t.column("id").to_pylist()]
    emb = t.column("embedding").combine_chunks()
    dim = len(emb[0])
    v = np.asarray(emb.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    return ids, v.reshape(len(ids), dim)


def unit(x):
    n = np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    n[n == 0] = 1.0
    return (x / n).astype(np.float32)


def rank(q, d, depth, rows=None):
    """Top `depth` (doc row, score) per query; ties by lower row."""
    s = q @ d.T
    rows = np.arange(d.shape[0]) if rows is None else np.asarray(rows)
    out = []
    for i in range(s.shape[0]):
        order = np.lexsort((rows, -s[i]))[:depth]
        out.append([(int(rows[j]), float(s[i, j])) for j in order])
    return out


def rank_offset(q, d, offset, depth):
    s = q @ d.T + offset[None, :]
    out = []
    for i in range(s.shape[0]):
        order = np.lexsort((np.arange(d.shape[0]), -s[i]))[:depth]
        out.append([(int(j), float(s[i, j])) for j in order])
    return out


def fuse(a, b, depth, score):
    out = []
    for ra, rb in zip(a, b):
        merged = [(d, score(r, s)) for r, (d, s) in enumerate(ra)]
        merged += [(d, score(r, s)) for r, (d, s) in enumerate(rb)]
        merged.sort(key=lambda t: (-np.float32(t[1]), t[0]))
        out.append(merged[:depth])
    return out


def metrics(ranking, ref, judged, k):
    docs = [d for d, _ in ranking]
    grades, relevant = judged
    dcg = sum(grades.get(d, 0) / np.log2(r + 2) for r, d in enumerate(docs[:k]) if grades.get(d, 0) > 0)
    ideal = sum(g / np.log2(r + 2) for r, g in enumerate(relevant[:k]))
    hits = [grades.get(d, 0) >= 1 for d in docs]
    first = next((r for r, h in enumerate(hits[:k]) if h), None)
    top_ref = {d for d, _ in ref[:k]}
    return {
        "ndcg": dcg / ideal if ideal > 0 else 0.0,
        "recall": sum(hits[:k]) / len(relevant),
        "recall_100": sum(hits[:100]) / len(relevant),
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
        "overlap": len([d for d in docs[:k] if d in top_ref]) / k,
    }


def mean_ndcg(queries, docs, judged, k=10):
    """Mean nDCG@k of ranking `docs` by dot product with each of `queries`."""
    ranking = rank(np.asarray(queries, dtype=np.float32), docs, 100)
    return float(np.mean([metrics(r, r, j, k)["ndcg"] for r, j in zip(ranking, judged)]))


def retention_setup(dataset, old, new):
    """What a side-by-side bench of shims needs: old documents, new-model queries (f64),
    nDCG@10 of a ranking over the set's judgements, and the full re-embed's nDCG@10, the
    denominator of every retention."""
    _, _, od, nd, _, nq, judged = read_set(dataset, old, new)
    nq = nq.astype(np.float64)

    def ndcg(queries, docs):
        return mean_ndcg(queries, docs, judged)

    return od, nq, ndcg, ndcg(nq, nd)


def read_set(dataset, old, new):
    """An evaluation set aligned as shimkit aligns it: documents both models embed (old
    model's order), queries both embed that have a judgement of grade >= 1, rows
    L2-normalised, and per query (grade by document row, relevant grades best first)."""
    od_ids, od = load(f"{dataset}/corpus.{old}.parquet")
    nd_ids, nd = load(f"{dataset}/corpus.{new}.parquet")
    oq_ids, oq = load(f"{dataset}/queries.{old}.parquet")
    nq_ids, nq = load(f"{dataset}/queries.{new}.parquet")
    qrels = {}
    with open(f"{dataset}/qrels.tsv") as f:
        rows = csv.reader(f, delimiter="\t")
        next(rows)
        for q, d, g in rows:
            qrels.setdefault(q, {})[d] = int(g)
    od_pos = {i: r for r, i in enumerate(od_ids)}
    new_pos = {i: r for r, i in enumerate(nd_ids)}
    docs = [i for i in od_ids if i in new_pos]
    od = unit(od[[od_pos[i] for i in docs]])
    nd = unit(nd[[new_pos[i] for i in docs]])
    doc_row = {i: r for r, i in enumerate(docs)}
    oq_pos = {i: r for r, i in enumerate(oq_ids)}
    nq_pos = {i: r for r, i in enumerate(nq_ids)}
    queries = [
        i for i in oq_ids if i in nq_pos and any(g >= 1 for g in qrels.get(i, {}).values())
    ]
    oq = unit(oq[[oq_pos[i] for i in queries]])
    nq = unit(nq[[nq_pos[i] for i in queries]])
    judged = []
    for q in queries:
        grades = {doc_row[d]: g for d, g in qrels[q].items() if d in doc_row}
        relevant = sorted((g for g in qrels[q].values() if g >= 1), reverse=True)
        judged.append((grades, relevant))
    return docs, doc_row, od, nd, oq, nq, judged


def main():
    dataset, old, new, report_path, shims = sys.argv[1:6]
    report = json.load(open(report_path))
    k, seed, n_train = report["k"], report["seed"], report["train_pairs"]
    docs, doc_row, od, nd, oq, nq, judged = read_set(dataset, old, new)

    order = sorted(range(len(docs)), key=lambda i: (mix(seed, 3, fnv1a(docs[i].encode())), i))
    saved = open(f"{shims}/train_ids.txt").read().split()
    expected = [docs[i] for i in order[:n_train]]
    assert saved == expected, "training sample differs from the documented hash order"

    def shim(name):
        t = load_file(f"{shims}/{name}.safetensors")
        return lambda x: unit(forward(t, x).astype(np.float32))

    depth = max(k, 100)
    paths = {
        "no-migration": rank(oq, od, depth),
        "full-reembed": rank(nq, nd, depth),
        "shim-query:ridge": rank(shim("query-side-ridge")(nq), od, depth),
    }
    projected = shim("doc-side-ridge")(od)
    paths["shim-doc:ridge"] = rank(nq, projected, depth)
    if "shim-query-nobias:ridge" in {p["name"] for p in report["paths"]}:
        # The query-side ridge shim with its bias set to zero.
        t = dict(load_file(f"{shims}/query-side-ridge.safetensors"))
        t["bias"] = np.zeros_like(t["bias"])
        paths["shim-query-nobias:ridge"] = rank(unit(forward(t, nq).astype(np.float32)), od, depth)
    if "shim-query+csls:ridge" in {p["name"] for p in report["paths"]}:
        # CSLS: rank by q.d - r(d)/2, r(d) = mean cosine of d to its 10 nearest points on
        # the other side of the map, never counting the same document.
        train = order[:n_train]

        def offsets(index, other):
            s = index @ other.T
            for j, i in enumerate(train):
                s[i, j] = -np.inf
            top = -np.sort(-s, axis=1)[:, :10]
            return (-top.astype(np.float64).mean(axis=1) / 2).astype(np.float32)

        mapped_q = shim("query-side-ridge")(nq)
        off = offsets(od, shim("query-side-ridge")(nd[train]))
        paths["shim-query+csls:ridge"] = rank_offset(mapped_q, od, off, depth)
        off = offsets(projected, nd[train])
        paths["shim-doc+csls:ridge"] = rank_offset(nq, projected, off, depth)
    for f in report_fractions(report):
        m = int(np.floor(f * len(docs) + 0.5))
        mixed = projected.copy()
        mixed[order[:m]] = nd[order[:m]]
        paths[f"backfill:{f}:ridge"] = rank(nq, mixed, depth)
        # The blended backfill, at the weight the report chose: unit(a*true + (1-a)*projected).
        for b in report.get("backfill_blends", []):
            if b["share"] == f and b["method"] == "ridge":
                a, rest = np.float32(b["alpha"]), np.float32(1.0 - b["alpha"])
                blended = projected.copy()
                rows = order[:m]
                blended[rows] = unit(a * nd[rows] + rest * projected[rows])
                paths[f"backfill+blend:{f}:ridge"] = rank(nq, blended, depth)
        new_rows, old_rows = order[:m], order[m:]
        a = rank(nq, nd[new_rows], depth, new_rows) if m else [[] for _ in queries]
        b = rank(oq, od[old_rows], depth, old_rows) if old_rows else [[] for _ in queries]
        paths[f"read-through:{f}"] = fuse(a, b, depth, lambda r, s: 1.0 / (60.0 + r + 1))
        paths[f"dual-index-raw:{f}"] = fuse(a, b, depth, lambda r, s: s)

    ref = paths["full-reembed"]
    by_name = {p["name"]: p for p in report["paths"]}
    keys = {"ndcg": f"ndcg@{k}", "recall": f"recall@{k}", "recall_100": "recall@100",
            "mrr": f"mrr@{k}", "overlap": f"overlap@{k}"}
    failures, full = [], None
    for name, ranking in paths.items():
        per_query = [metrics(r, rr, j, k) for r, rr, j in zip(ranking, ref, judged)]
        mine = {m: float(np.mean([p[m] for p in per_query])) for m in keys}
        if name == "full-reembed":
            full = mine["ndcg"]
        theirs = by_name[name]
        tol = TOL if name.split(":")[0] in RAW else TOL_SHIM
        for m, key in keys.items():
            if abs(mine[m] - theirs[key]) > tol:
                failures.append(f"{name} {key}: numpy {mine[m]:.6f} vs shimkit {theirs[key]:.6f}")
        print(f"{name:<24} " + " ".join(f"{key}={mine[m]:.4f}" for m, key in keys.items()))
    for name in paths:
        mine = float(np.mean([metrics(r, rr, j, k)["ndcg"] for r, rr, j in zip(paths[name], ref, judged)])) / full
        tol = TOL if name.split(":")[0] in RAW else TOL_SHIM
        if abs(mine - by_name[name][f"retention_ndcg@{k}"]) > tol:
            failures.append(f"{name} retention: numpy {mine:.6f} vs shimkit {by_name[name][f'retention_ndcg@{k}']:.6f}")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)
    print(f"all {len(paths)} paths agree (raw paths to {TOL}, shim paths to {TOL_SHIM})")


RAW = {"no-migration", "full-reembed", "read-through", "dual-index-raw"}


def report_fractions(report):
    return [float(p["name"].split(":")[1]) for p in report["paths"] if p["name"].startswith("read-through:")]


if __name__ == "__main__":
    main()
