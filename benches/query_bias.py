"""Does a query-side shim's bias help retrieval? Saved shims, with and without it.

python benches/query_bias.py DATASET OLD NEW SHIMS_DIR [METHOD ...]

SHIMS_DIR comes from `shimkit eval --dataset DATASET --old OLD --new NEW --save-shims DIR`.
For a query-side (new -> old) shim y = xW + b, the bias adds b·d to every document's
score: a document prior, the same for every query, that favours documents near b (about
the old space's mean direction, the hubs). This script ranks the old corpus with the
mapped new-model queries with and without b and prints nDCG@10 retention of each (the
metric functions of tests/python/eval_check.py).
"""
import os
import sys

from safetensors.numpy import load_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
import eval_check as ec  # noqa: E402


def main():
    dataset, old, new, shims = sys.argv[1:5]
    methods = sys.argv[5:] or ["ridge", "procrustes", "lowrank"]
    od, nq, ndcg, full = ec.retention_setup(dataset, old, new)
    print(f"{old} -> {new}: query-side retention of the full re-embed's nDCG@10 ({full:.4f})")
    for m in methods:
        t = load_file(f"{shims}/query-side-{m}.safetensors")
        if any(k.startswith(("kernel.", "cluster.", "mlp.")) for k in t):
            print(f"  {m:<12} skipped: not an affine shim")
            continue
        with_bias = ndcg(ec.unit(nq @ t["weight"] + t["bias"]), od) / full
        without = ndcg(ec.unit(nq @ t["weight"]), od) / full
        print(f"  {m:<12} with bias {with_bias:.3f}   without {without:.3f}")


if __name__ == "__main__":
    main()
