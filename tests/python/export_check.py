"""Checks a module folder written by `shimkit export --format sentence-transformers`
against `shimkit project`, in numpy, as sentence-transformers would compute it:
Normalize (when listed before the Dense), Dense (linear.weight [out, in], linear.bias,
Identity), Normalize (when listed after).

    python export_check.py MODULE_DIR INPUT.parquet PROJECTED.parquet
"""
import json
import os
import sys

import numpy as np
import pyarrow.parquet as pq
from safetensors.numpy import load_file


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main(module, inp, projected):
    config = json.load(open(os.path.join(module, "config.json")))
    assert config["activation_function"] == "torch.nn.modules.linear.Identity", config
    assert config["bias"] is True, config
    t = load_file(os.path.join(module, "model.safetensors"))
    assert set(t) == {"linear.weight", "linear.bias"}, set(t)
    w, b = t["linear.weight"], t["linear.bias"]
    assert w.dtype == np.float32 and w.shape == (config["out_features"], config["in_features"]), w.shape
    assert b.shape == (config["out_features"],), b.shape
    entries = json.load(open(os.path.join(module, "modules.entries.json")))
    kinds = [e["type"].rsplit(".", 1)[1] for e in entries]
    dense_at = kinds.index("Dense")
    assert entries[dense_at]["path"] == os.path.basename(module.rstrip("/")), entries
    assert [e["idx"] for e in entries] == list(range(entries[0]["idx"], entries[0]["idx"] + len(entries)))
    assert all(e["name"] == str(e["idx"]) for e in entries), entries

    x = pq.read_table(inp)
    x = np.stack(x["embedding"].to_numpy(zero_copy_only=False)).astype(np.float64)
    for kind in kinds:
        if kind == "Normalize":
            x = unit(x)
        else:
            x = x @ w.astype(np.float64).T + b.astype(np.float64)
    p = pq.read_table(projected)
    p = np.stack(p["embedding"].to_numpy(zero_copy_only=False))
    diff = np.abs(x - p).max()
    assert diff <= 1e-5, f"max |difference| {diff:.2e} against shimkit project"
    print(f"{module}: {kinds}, max |difference| {diff:.2e}")


if __name__ == "__main__":
    main(*sys.argv[1:])
