"""shimkit fit against isotrieve 0.4.0 and rebasis 0.1.0 on the same pairs and split.

benches/peers_fit.py SET OLD NEW TRAIN SHIMKIT [REPEATS]   (run with the peers' Python, 3.12+)

Pairs: corpus.OLD / corpus.NEW of the evaluation set SET; the first TRAIN documents (file
order) are the training pairs, the rest are held out. Every tool fits old -> new and
new -> old on the training pairs; each map is scored by mean cosine on the held-out pairs
(rows L2-normalised, map applied, output compared with the true vector).

Two times per tool, best of REPEATS:
  end to end  a fresh process doing what a user does: start, import, read both Parquet
              files, fit, save the map (shimkit: `shimkit fit`; peers: python -c ...)
  fit call    the fitting function alone, in a warm process, arrays already in memory
              (shimkit: the `fit` command's own timer is not separable from reading, so
              the shimkit row shows end to end in both columns)
"""
import json
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def load(path):
    t = pq.read_table(path)
    x = np.asarray(t.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    return t.column("id").to_pylist(), x.reshape(t.num_rows, -1)


def unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def mean_cosine(pred, y):
    return float((unit(pred) * unit(y)).sum(1).mean())


def write(path, ids, x):
    emb = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), x.shape[1])
    pq.write_table(pa.table({"id": ids, "embedding": emb}), path, compression="zstd")


def best_time(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


PEER_E2E = {
    "isotrieve RidgeMapping(alpha=auto)": """
import numpy as np, pyarrow.parquet as pq
from isotrieve.mapping import RidgeMapping
def load(p):
    t = pq.read_table(p); return np.asarray(t.column('embedding').combine_chunks().flatten().to_numpy(zero_copy_only=False)).reshape(t.num_rows, -1)
m = RidgeMapping(alpha='auto').fit(load('{x}'), load('{y}'))
np.save('{out}', m.transform(np.eye(load('{x}').shape[1], dtype=np.float32)))
""",
    "rebasis LinearAdapter (alpha=1e-3 fixed)": """
import numpy as np, pyarrow.parquet as pq
from safetensors.numpy import save_file
from rebasis.core.linear import LinearAdapter
def load(p):
    t = pq.read_table(p); return np.asarray(t.column('embedding').combine_chunks().flatten().to_numpy(zero_copy_only=False)).reshape(t.num_rows, -1)
a = LinearAdapter.fit(load('{x}'), load('{y}'))
save_file(a.state_dict(), '{out}')
""",
}


def main():
    data, old, new, train, shimkit = sys.argv[1:6]
    repeats = int(sys.argv[6]) if len(sys.argv) > 6 else 3
    train = int(train)
    ids, x_old = load(f"{data}/corpus.{old}.parquet")
    ids_new, x_new = load(f"{data}/corpus.{new}.parquet")
    assert ids == ids_new
    rows = []
    from isotrieve.mapping import RidgeMapping
    from rebasis.core.linear import LinearAdapter
    from safetensors.numpy import load_file

    with tempfile.TemporaryDirectory() as d:
        for direction, (xs, ys) in {f"{old}->{new}": (x_old, x_new), f"{new}->{old}": (x_new, x_old)}.items():
            xt, yt, xh, yh = xs[:train], ys[:train], xs[train:], ys[train:]
            xp, yp = f"{d}/x.parquet", f"{d}/y.parquet"
            write(xp, ids[:train], xt)
            write(yp, ids[:train], yt)
            for method in ["ridge", "auto"]:
                out = f"{d}/s.safetensors"
                cmd = [shimkit, "-q", "fit", "--old", xp, "--new", yp, "--method", method, "--out", out]
                t, _ = best_time(lambda: subprocess.run(cmd, check=True), repeats)
                s = load_file(out)
                pred = unit(xh) @ s["weight"] + s["bias"]
                rows.append({"direction": direction, "tool": f"shimkit fit --method {method}", "end_to_end_s": t, "fit_call_s": t, "heldout_cosine": mean_cosine(pred, yh)})
            t_fit, m = best_time(lambda: RidgeMapping(alpha="auto").fit(xt, yt), repeats)
            e2e = PEER_E2E["isotrieve RidgeMapping(alpha=auto)"].format(x=xp, y=yp, out=f"{d}/iso.npy")
            t_e2e, _ = best_time(lambda: subprocess.run([sys.executable, "-c", e2e], check=True, capture_output=True), repeats)
            rows.append({"direction": direction, "tool": "isotrieve RidgeMapping(alpha=auto)", "end_to_end_s": t_e2e, "fit_call_s": t_fit, "heldout_cosine": mean_cosine(m.transform(xh.astype(np.float32)), yh)})
            t_fit, a = best_time(lambda: LinearAdapter.fit(xt, yt), repeats)
            e2e = PEER_E2E["rebasis LinearAdapter (alpha=1e-3 fixed)"].format(x=xp, y=yp, out=f"{d}/reb.safetensors")
            t_e2e, _ = best_time(lambda: subprocess.run([sys.executable, "-c", e2e], check=True, capture_output=True), repeats)
            rows.append({"direction": direction, "tool": "rebasis LinearAdapter (alpha=1e-3 fixed)", "end_to_end_s": t_e2e, "fit_call_s": t_fit, "heldout_cosine": mean_cosine(a.apply(xh.astype(np.float32)), yh)})
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
