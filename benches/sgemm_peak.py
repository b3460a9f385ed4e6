"""This machine's SGEMM peak with numpy (OpenBLAS): the reference for shimkit's GEMM figures.

python benches/sgemm_peak.py  ->  JSON lines: shape, best GFLOP/s over repeats.
Shapes: square 2048 (the classic peak), and the fit's and projection's own shapes
(X^T X over a 4096-row block, X^T Y, and a 4096-row projection 768 -> 1024).
"""
import json
import time

import numpy as np


def best_gflops(a, b, repeats=7):
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    m, k = a.shape
    n = b.shape[1]
    return 2.0 * m * n * k / best / 1e9


def main():
    rng = np.random.default_rng(0)
    cfg = np.show_config(mode="dicts")
    blas = cfg.get("Build Dependencies", {}).get("blas", {}).get("name", "?")
    x = rng.standard_normal((4096, 768), dtype=np.float32)
    y = rng.standard_normal((4096, 1024), dtype=np.float32)
    w = rng.standard_normal((768, 1024), dtype=np.float32)
    sq = rng.standard_normal((2048, 2048), dtype=np.float32)
    for name, a, b in [
        ("square 2048x2048x2048", sq, sq),
        ("XtX 768x4096x768", x.T, x),
        ("XtY 768x4096x1024", x.T, y),
        ("project 4096x768x1024", x, w),
    ]:
        print(json.dumps({"tool": f"numpy {np.__version__} ({blas})", "shape": name, "gflops": round(best_gflops(a, b), 1)}))


if __name__ == "__main__":
    main()
