"""pyarrow side of tests/interop.rs.

dump FILE OUT: read FILE with pyarrow, write OUT.ids (one id a line), OUT.f32 (the vectors,
  little-endian float32, row-major) and OUT.schema.
apply SHIM INPUT PROJECTED: load the shim with safetensors.numpy, apply it to INPUT the
  documented way (affine; plus the RBF residual of a kernel shim; blended per-cluster maps for a cluster shim; the gelu branch of an mlp shim), and check that PROJECTED (shimkit project's output) holds the same
  vectors to 1e-6 (1e-5 for kernel, cluster and mlp shims); prints the largest difference.
write DIR: write Parquet files the way pyarrow users do, each with the ids and float32
  values shimkit must read from it (float64 and float16 inputs are rounded by numpy, the
  reference for what "the same value" means).
"""
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from shim_forward import forward


def dump(path, out):
    table = pq.read_table(path)
    ids = table.column("id").to_pylist()
    emb = table.column("embedding").combine_chunks()
    values = np.asarray(emb.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    with open(out + ".ids", "w") as f:
        f.write("".join(f"{i}\n" for i in ids))
    values.astype("<f4").tofile(out + ".f32")
    with open(out + ".schema", "w") as f:
        f.write(str(table.schema))


def write(d):
    rng = np.random.default_rng(5)
    n, dim = 700, 12
    base = rng.standard_normal((n, dim))
    cases = []

    def case(name, ids, column, expected, **kw):
        pq.write_table(pa.table({"id": ids, "embedding": column}), f"{d}/{name}.parquet", **kw)
        with open(f"{d}/{name}.ids", "w") as f:
            f.write("".join(f"{i}\n" for i in ids.to_pylist()))
        np.asarray(expected, dtype="<f4").tofile(f"{d}/{name}.f32")
        cases.append(name)

    str_ids = pa.array([f"doc-{i}" for i in range(n)])
    f32 = base.astype(np.float32)
    fsl = pa.FixedSizeListArray.from_arrays(pa.array(f32.ravel()), dim)
    case("default_snappy", str_ids, fsl, f32)
    case("many_row_groups", str_ids, fsl, f32, row_group_size=64)
    case("zstd_level9", str_ids, fsl, f32, compression="zstd", compression_level=9)
    case("int64_ids", pa.array(np.arange(n, dtype=np.int64) * 1_000_000_007), fsl, f32)
    case("int32_ids", pa.array(np.arange(n, dtype=np.int32) - 5), fsl, f32)
    case("large_string_ids", str_ids.cast(pa.large_string()), fsl, f32)
    offsets = pa.array(np.arange(0, n * dim + 1, dim, dtype=np.int32))
    case("list_double", str_ids, pa.ListArray.from_arrays(offsets, pa.array(base.ravel())), base.astype(np.float32))
    offsets64 = pa.array(np.arange(0, n * dim + 1, dim, dtype=np.int64))
    case("large_list_double", str_ids, pa.LargeListArray.from_arrays(offsets64, pa.array(base.ravel())), base.astype(np.float32))
    f16 = base.astype(np.float16)
    case("halffloat", str_ids, pa.FixedSizeListArray.from_arrays(pa.array(f16.ravel()), dim), f16.astype(np.float32))
    case("uncompressed", str_ids, fsl, f32, compression="none")
    with open(f"{d}/cases.txt", "w") as f:
        f.write("".join(c + "\n" for c in cases))


def apply(shim, inp, projected):
    import json

    from safetensors import safe_open
    from safetensors.numpy import load_file

    t = load_file(shim)
    with safe_open(shim, framework="numpy") as f:
        meta = f.metadata()
    info = json.loads(meta["shim"])
    assert meta["format"] == "shimkit.shim", meta
    src = pq.read_table(inp)
    x = np.asarray(src.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
    x = x.reshape(src.num_rows, -1)
    if info["normalize_input"]:
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    if any(k.startswith(("kernel.", "cluster.", "mlp.")) for k in t):
        assert meta["format_version"] == "2", meta
    y = forward(t, x, normalize_input=False)
    if info["normalize_output"]:
        y = y / np.linalg.norm(y, axis=1, keepdims=True)
    out = pq.read_table(projected)
    got = np.asarray(out.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)).reshape(out.num_rows, -1)
    assert out.column("id").to_pylist() == src.column("id").to_pylist(), "ids differ"
    diff = float(np.abs(got - y).max())
    print(f"max abs difference {diff:.3e}")
    # numpy works in f64, shimkit in f32: 1e-6 for affine shims; a kernel shim's features
    # pass an f32 product through exp(2γ(·)), which scales its rounding by 2γ (up to 16),
    # and then a second product, and a cluster shim's assignments pass one through
    # exp(β·) (β up to 20), so 1e-5 for both.
    tol = 1e-5 if any(k in t for k in ("kernel.coef", "cluster.weights", "mlp.w2")) else 1e-6
    if diff > tol:
        sys.exit(f"numpy and shimkit project differ by {diff} (tolerance {tol})")


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "apply":
        apply(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        sys.exit(f"unknown mode {sys.argv[1]}")
