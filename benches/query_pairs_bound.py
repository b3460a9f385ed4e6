"""How far can query pairs take a linear query-side shim? A bound and a learning curve.

python benches/query_pairs_bound.py DATASET OLD NEW [SEED ...]

A query-side shim maps new-model queries into the old index, whose ceiling is staying on
the old model (old queries on old documents: "no-migration"). This script fits ridge maps
new -> old in numpy on 700 random document pairs and query pairs, the queries given a
share s of the weight, and prints nDCG@10 retention of the full re-embed (the metric
functions of tests/python/eval_check.py) with the mean cosine between the mapped queries
and their true old vectors:

- the in-sample bound: the map fitted on every query and scored on the same queries (what
  retention a map reaches when it reproduces the old query vectors that closely);
- the learning curve: queries in 8 folds, the map fitted on the pairs of 1, 2, 4, 6 or 7
  of them and scored on a fold it never saw, rotating over the folds; for each size the
  best (share, lambda) over the grid, chosen on the scored queries: an optimistic figure;
- a low-rank correction: the document map kept, and a reduced-rank ridge of its residual
  on half the queries' pairs added to it, scored on the other half (both ways round).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
import eval_check as ec  # noqa: E402

SHARES = [0.0, 0.1, 0.25, 0.5, 0.75]
LAMBDAS = [0.03, 0.3]
FOLDS = 8


def weighted_ridge(xd, yd, xq, yq, share, lam):
    """Ridge with an intercept, the queries holding `share` of the weight."""
    w = np.concatenate([np.full(len(xd), (1 - share) / len(xd)), np.full(len(xq), share / max(len(xq), 1))])
    x, y = np.vstack([xd, xq]), np.vstack([yd, yq])
    keep = w > 0
    x, y, w = x[keep], y[keep], w[keep] / w[keep].mean()
    mx = (w[:, None] * x).sum(0) / w.sum()
    my = (w[:, None] * y).sum(0) / w.sum()
    xc = (x - mx) * np.sqrt(w)[:, None]
    yc = (y - my) * np.sqrt(w)[:, None]
    m = np.linalg.solve(xc.T @ xc + lam * np.eye(x.shape[1]), xc.T @ yc)
    return m, my - mx @ m


def main():
    dataset, old, new = sys.argv[1:4]
    seeds = [int(s) for s in sys.argv[4:]] or [0]
    _, _, od, nd, oq, nq, judged = ec.read_set(dataset, old, new)
    od32 = od.astype(np.float32)
    od, nd, oq, nq = (a.astype(np.float64) for a in (od, nd, oq, nq))
    full = ec.mean_ndcg(nq.astype(np.float32), nd.astype(np.float32), judged)

    def retention(q):
        return ec.mean_ndcg(ec.unit(q).astype(np.float32), od32, judged) / full

    def cosine(q):
        return float(np.mean((ec.unit(q) * ec.unit(oq)).sum(1)))

    print(f"{old} -> {new}: {len(nq)} queries, {len(od)} documents; no-migration {retention(oq):.4f}")
    for seed in seeds:
        rng = np.random.default_rng(seed)
        train = rng.permutation(len(od))[:700]
        xd, yd = nd[train], od[train]
        print(f"seed {seed}: in-sample bound (fitted on every query, scored on them)")
        for share in [0.25, 0.5, 0.75, 1.0]:
            for lam in [0.01, 0.3, 3.0]:
                m, b = weighted_ridge(xd, yd, nq, oq, share, lam)
                mapped = nq @ m + b
                print(f"  share {share:<4} lambda {lam:<4}: retention {retention(mapped):.4f}, cosine {cosine(mapped):.3f}")
        print(f"seed {seed}: learning curve (held-out folds, best share and lambda)")
        folds = rng.permutation(len(nq)) % FOLDS
        for k_train in [1, 2, 4, 6, 7]:
            best = None
            for share in SHARES:
                for lam in LAMBDAS:
                    mapped = np.zeros_like(oq)
                    for k in range(FOLDS):
                        fit_on = np.isin(folds, [(k + 1 + j) % FOLDS for j in range(k_train)])
                        m, b = weighted_ridge(xd, yd, nq[fit_on], oq[fit_on], share, lam)
                        mapped[folds == k] = nq[folds == k] @ m + b
                    r = retention(mapped)
                    if best is None or r > best[0]:
                        best = (r, share, lam, cosine(mapped))
            pairs = round(len(nq) * k_train / FOLDS)
            print(
                f"  ~{pairs:>3} query pairs: retention {best[0]:.4f} (share {best[1]}, lambda {best[2]}),"
                f" held-out cosine {best[3]:.3f}"
            )
        m, b = weighted_ridge(xd, yd, nq[:0], oq[:0], 0.0, 0.3)
        print(f"seed {seed}: low-rank correction on half the queries (document map alone {retention(nq @ m + b):.4f})")
        half = folds < FOLDS // 2
        for rank in [4, 8, 16, 32]:
            for lam in [0.1, 1.0, 10.0]:
                mapped = np.zeros_like(oq)
                for fit_on in [half, ~half]:
                    f = low_rank_correction(lambda x: x @ m + b, nq[fit_on], oq[fit_on] - (nq[fit_on] @ m + b), rank, lam)
                    mapped[~fit_on] = f(nq[~fit_on])
                print(f"  rank {rank:>2} lambda {lam:<4}: retention {retention(mapped):.4f}")


def low_rank_correction(xd_map, xq, rq, rank, lam):
    """A rank-`rank` ridge of the residuals `rq` on the queries `xq` (reduced-rank regression:
    the ridge fit projected on the top right singular vectors of its fitted values)."""
    mx, mr = xq.mean(0), rq.mean(0)
    xc = xq - mx
    c = np.linalg.solve(xc.T @ xc + lam * np.eye(xq.shape[1]), xc.T @ (rq - mr))
    _, _, vt = np.linalg.svd(xc @ c, full_matrices=False)
    c = c @ vt[:rank].T @ vt[:rank]
    return lambda x: xd_map(x) + (x - mx) @ c + mr


if __name__ == "__main__":
    main()
