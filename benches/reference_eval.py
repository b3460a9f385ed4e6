"""Where the reference ridge figures of shared/data/README.md come from, in plain numpy.

python benches/reference_eval.py DATASET OLD NEW SHIMS_DIR

Fits an affine ridge map (centred, intercept unpenalised, closed form in float64) on the
training documents shimkit sampled (SHIMS_DIR/train_ids.txt from `shimkit eval
--save-shims`), for a sweep of fixed λ, both directions, and prints nDCG@10 retention of the
doc-side and query-side paths with eval_check.py's metric functions (imported). λ is on
the scale of XᵀX (sum over pairs), as in shimkit.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
import eval_check as ec  # noqa: E402


def ridge(x, y, lam):
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    w = np.linalg.solve(xc.T @ xc + lam * np.eye(x.shape[1]), xc.T @ yc)
    return w, my - mx @ w


def main():
    dataset, old, new, shims = sys.argv[1:5]
    _, row, od, nd, oq, nq, judged = ec.read_set(dataset, old, new)
    od, nd = od.astype(np.float64), nd.astype(np.float64)
    train = [row[i] for i in open(f"{shims}/train_ids.txt").read().split()]

    def ndcg(ranking):
        return float(np.mean([ec.metrics(r, r, j, 10)["ndcg"] for r, j in zip(ranking, judged)]))

    full = ndcg(ec.rank(nq, nd.astype(np.float32), 100))
    print(f"no-migration {ndcg(ec.rank(oq, od.astype(np.float32), 100)):.4f}  full-reembed {full:.4f}  ({len(train)} training docs)")
    print(f"{'lambda':>8}  {'doc-side':>8}  {'query-side':>10}")
    for lam in [1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0]:
        w, b = ridge(od[train], nd[train], lam)
        doc = ndcg(ec.rank(nq, ec.unit((od @ w + b).astype(np.float32)), 100)) / full
        w, b = ridge(nd[train], od[train], lam)
        query = ndcg(ec.rank(ec.unit((ec.unit(nq).astype(np.float64) @ w + b).astype(np.float32)), od.astype(np.float32), 100)) / full
        print(f"{lam:>8g}  {doc:>8.4f}  {query:>10.4f}")


if __name__ == "__main__":
    main()
