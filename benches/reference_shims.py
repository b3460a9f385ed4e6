"""Independent numpy implementation of shimkit's closed-form shims, for the Cranfield test.

python benches/reference_shims.py [DATA_DIR] [OUT_JSON]

Split: the first 700 documents of corpus.<model>.parquet (file order) fit, the other 700
are held out. Inputs and targets are L2-normalised. Fixed hyper-parameters, so nothing
depends on how either side tunes them:
  ridge       centred least squares with penalty lambda on the centred X^T X
  procrustes  W = s U V^T from the SVD of centred X^T Y, s = sum(sigma) / trace(centred X^T X)
  lowrank     ridge W projected on the top-r eigenvectors of W^T (centred X^T X) W
Prints, and writes as JSON, the held-out mean cosine of each method in both directions.
trainer/tests/cranfield.rs asserts shimkit's figures against this file.
"""
import json
import sys

import numpy as np
import pyarrow.parquet as pq

LAMBDA = 0.5
RANK = 64
TRAIN = 700


def load(path):
    t = pq.read_table(path)
    ids = t.column("id").to_pylist()
    emb = t.column("embedding").combine_chunks()
    x = np.asarray(emb.flatten().to_numpy(zero_copy_only=False), dtype=np.float64).reshape(len(ids), -1)
    return ids, x / np.linalg.norm(x, axis=1, keepdims=True)


def centred(x, y):
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    return mx, my, xc.T @ xc, xc.T @ yc


def ridge(x, y, lam):
    mx, my, sxx, sxy = centred(x, y)
    w = np.linalg.solve(sxx + lam * np.eye(sxx.shape[0]), sxy)
    return w, my - mx @ w


def procrustes(x, y):
    mx, my, sxx, sxy = centred(x, y)
    u, s, vt = np.linalg.svd(sxy, full_matrices=False)
    w = (s.sum() / np.trace(sxx)) * (u @ vt)
    return w, my - mx @ w


def lowrank(x, y, lam, r):
    mx, my, sxx, sxy = centred(x, y)
    w, _ = ridge(x, y, lam)
    vals, vecs = np.linalg.eigh(w.T @ sxx @ w)
    q = vecs[:, np.argsort(vals)[::-1][:r]]
    w = w @ q @ q.T
    return w, my - mx @ w


def mean_cosine(w, b, x, y):
    p = x @ w + b
    return float(((p * y).sum(1) / np.linalg.norm(p, axis=1)).mean())


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "data/cranfield"
    out = sys.argv[2] if len(sys.argv) > 2 else None
    ids_old, old = load(f"{data}/corpus.minilm.parquet")
    ids_new, new = load(f"{data}/corpus.mpnet.parquet")
    assert ids_old == ids_new, "the two models list documents in different orders"
    results = {"lambda": LAMBDA, "rank": RANK, "train": TRAIN, "heldout": len(ids_old) - TRAIN, "numpy": np.__version__}
    for name, (x, y) in {"minilm-to-mpnet": (old, new), "mpnet-to-minilm": (new, old)}.items():
        xt, yt, xv, yv = x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:]
        results[name] = {
            "ridge": mean_cosine(*ridge(xt, yt, LAMBDA), xv, yv),
            "procrustes": mean_cosine(*procrustes(xt, yt), xv, yv),
            "lowrank": mean_cosine(*lowrank(xt, yt, LAMBDA, RANK), xv, yv),
        }
    text = json.dumps(results, indent=2, sort_keys=True)
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
