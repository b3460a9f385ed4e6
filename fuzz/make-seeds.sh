#!/usr/bin/env bash
# Writes fuzz/seeds/<target>/: small valid (and a few invalid) inputs of every parser,
# taken from the bundled Cranfield set and made by shimkit itself. Needs a release build
# of shimkit and a Python with pyarrow and numpy (tests/python/requirements.txt).
# The seeds are committed; rerun this only to change them.
set -euo pipefail
cd "$(dirname "$0")"
py="${SHIMKIT_PYTHON:-../.venv/bin/python}"
shimkit="${SHIMKIT:-../target/release/shimkit}"
rm -rf seeds && mkdir -p seeds/{parquet_table,qrels,texts,manifest,artifact,json_body,octet_body,arrow_body,keys,config}
"$py" - <<'PY'
import io, json, struct
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
rng = np.random.default_rng(0)
data = "../data/cranfield"
real = pq.read_table(f"{data}/corpus.minilm.parquet").slice(0, 3)
pq.write_table(real, "seeds/parquet_table/cranfield-3rows.parquet")
def table(n, d, ids="str", kind="fixed", dtype="float32", nulls=False):
    v = rng.standard_normal((n, d)).astype(dtype)
    flat = pa.array(v.ravel())
    if kind == "fixed":
        col = pa.FixedSizeListArray.from_arrays(flat, d)
    else:
        offsets = pa.array(np.arange(0, n * d + 1, d, dtype=np.int32 if kind == "list" else np.int64))
        col = (pa.ListArray if kind == "list" else pa.LargeListArray).from_arrays(offsets, flat)
    if nulls:
        col = pa.array([None if i == 1 else x for i, x in enumerate(col.to_pylist())], type=col.type)
    id_col = pa.array([f"d{i}" for i in range(n)]) if ids == "str" else pa.array(np.arange(n, dtype=ids))
    return pa.table({"id": id_col, "embedding": col})
seeds = {
    "fixed-f32": (table(6, 4), {}),
    "list-f16-int64-ids": (table(5, 3, ids="int64", kind="list", dtype="float16"), {}),
    "largelist-f64": (table(4, 5, kind="large", dtype="float64"), {}),
    "row-groups-snappy": (table(9, 2), {"row_group_size": 3, "compression": "snappy"}),
    "uncompressed-int32-ids": (table(4, 3, ids="int32"), {"compression": "none"}),
    "null-vector": (table(3, 2, nulls=True), {}),
}
for name, (t, kw) in seeds.items():
    pq.write_table(t, f"seeds/parquet_table/{name}.parquet", **kw)
qrels = open(f"{data}/qrels.tsv").read().splitlines()
open("seeds/qrels/cranfield-head.tsv", "w").write("\n".join(qrels[:12]) + "\n")
open("seeds/qrels/bom-trec.tsv", "w", encoding="utf-8").write("\ufeffq1\t0\td1\t2\nq1\t0\td2\t0\n")
for split in ["corpus", "queries"]:
    lines = open(f"{data}/{split}.jsonl").read().splitlines()[:3]
    open(f"seeds/texts/{split}.jsonl", "w").write("\n".join(lines) + "\n")
open("seeds/manifest/cranfield.json", "w").write(open(f"{data}/MANIFEST.json").read())
open("seeds/manifest/models.json", "w").write(json.dumps({"models": {"a": {"dim": 3}, "b": {}}}))
for i, (rows, dim) in enumerate([(1, 3), (2, 4)]):
    v = rng.standard_normal((rows, dim)).round(4).tolist()
    open(f"seeds/json_body/b{i}.json", "w").write(json.dumps({"vectors": v}))
open("seeds/json_body/normalize.json", "w").write('{"vectors": [[1e-3, -2.5E+2, 0]], "normalize": false}')
for i, (rows, dim) in enumerate([(1, 3), (2, 2)]):
    body = struct.pack(f"<{rows * dim}f", *rng.standard_normal(rows * dim))
    r, d = str(rows).encode(), str(dim).encode()
    open(f"seeds/octet_body/o{i}.bin", "wb").write(bytes([len(r), len(d)]) + r + d + body)
for name, t in [("fixed", table(3, 4)), ("list-f64", table(2, 3, kind="list", dtype="float64"))]:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    open(f"seeds/arrow_body/{name}.arrow", "wb").write(sink.getvalue())
open("seeds/keys/roles.txt", "w").write("# ops\nreader-key-0123456789\nadmin admin-key-0123456789\n\nread other-key-0123456789\n")
open("seeds/config/full.toml", "w").write('addr = "0.0.0.0:8080"\nshims = "shims"\napi_key_file = "keys.txt"\nmax_body_bytes = 67108864\nmax_batch = 65536\nmax_connections = 100\nheader_timeout_secs = 2.5\nbody_timeout_secs = 30\n')
PY
# Shims of every kind, fitted by shimkit on a small generated set.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$shimkit" gen -q --docs 400 --queries 5 --old-dim 6 --new-dim 5 --no-text --out "$tmp/set"
for method in ridge procrustes lowrank kernel cluster mlp; do
    "$shimkit" fit -q --method "$method" --old "$tmp/set/corpus.old.parquet" \
        --new "$tmp/set/corpus.new.parquet" --out "seeds/artifact/$method.safetensors" --min-pairs 10
done
du -sh seeds
