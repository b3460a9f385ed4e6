"""Can a query-side map be the adjoint of the doc-side one? Saved shims, side by side.

python benches/query_adjoint.py DATASET OLD NEW SHIMS_DIR

SHIMS_DIR comes from `shimkit eval --dataset DATASET --old OLD --new NEW --methods
ridge,procrustes,lowrank --save-shims DIR`. For a doc-side shim d -> dW + b, the query-side
map q -> W q ranks the old documents by (dW)·q, exactly as the doc-side shim would if the
projected documents were not normalised (b·q is the same for every document). Prints
nDCG@10 retention of: the doc-side shim as shipped, the same without normalising, the
adjoint query-side map, and the query-side shim fitted new -> old.
"""
import os
import sys

import numpy as np
from safetensors.numpy import load_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
import eval_check as ec  # noqa: E402


def main():
    dataset, old, new, shims = sys.argv[1:5]
    od, nq, ndcg, full = ec.retention_setup(dataset, old, new)
    print(f"{old} -> {new}: retention of the full re-embed's nDCG@10 ({full:.4f})")
    for m in ["ridge", "procrustes", "lowrank"]:
        d = load_file(f"{shims}/doc-side-{m}.safetensors")
        q = load_file(f"{shims}/query-side-{m}.safetensors")
        w, b = d["weight"].astype(np.float64), d["bias"].astype(np.float64)
        shipped = ndcg(nq, ec.unit(od @ w + b).astype(np.float32)) / full
        unnormalised = ndcg(nq, (od @ w + b).astype(np.float32)) / full
        adjoint = ndcg(ec.unit(nq @ w.T), od) / full
        fitted = ndcg(ec.unit(nq @ q["weight"] + q["bias"]), od) / full
        print(
            f"  {m:<11} doc-side {shipped:.3f}  unnormalised {unnormalised:.3f}"
            f"  query-side adjoint {adjoint:.3f}  query-side fitted {fitted:.3f}"
        )


if __name__ == "__main__":
    main()
