"""The documented numpy forward pass of a shimkit shim artifact, every method.

forward(t, x): t = safetensors.numpy.load_file(path), x = (n, source_dim) vectors.
Returns the raw output (before the output normalisation `shimkit project` applies).
Used by interop.py (against `shimkit project`), eval_check.py and benches/peers_eval.py.
"""
import numpy as np


def unit(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return x / n


def forward(t, x, normalize_input=True):
    x = np.asarray(x, dtype=np.float64)
    if normalize_input:
        x = unit(x)
    f = {k: v.astype(np.float64) for k, v in t.items()}
    y = x @ f["weight"] + f["bias"]
    if "kernel.coef" in f:  # kernel: an RBF residual on the sphere
        y = y + np.exp(2 * f["kernel.gamma"][0] * (x @ f["kernel.landmarks"].T - 1)) @ f["kernel.coef"]
    if "cluster.weights" in f:  # cluster: blended per-cluster maps replace y
        a = f["cluster.temperature"][0] * (x @ f["cluster.centroids"].T)
        a = np.exp(a - a.max(axis=1, keepdims=True))
        a /= a.sum(axis=1, keepdims=True)
        per = np.einsum("ni,cio->nco", x, f["cluster.weights"]) + f["cluster.biases"]
        y = np.einsum("nc,nco->no", a, per)
    if "mlp.w2" in f:  # mlp: a gelu (tanh form) residual branch
        h = x @ f["mlp.w1"] + f["mlp.c"]
        h = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h**3)))
        y = y + h @ f["mlp.w2"]
    return y
