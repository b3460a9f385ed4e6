"""Retrieval retention of isotrieve 0.4.0 and rebasis 0.1.0 against shimkit, same training split.

benches/peers_eval.py DATASET OLD NEW REPORT.json SHIMS_DIR   (run with the peers' Python, 3.12+)

Inputs are those of tests/python/eval_check.py: REPORT.json and SHIMS_DIR come from
  shimkit eval --dataset DATASET --old OLD --new NEW --json REPORT.json --save-shims SHIMS_DIR
(`--resamples 200 --curve 100` make that faster and change nothing used here).

Training pairs: the documents listed in SHIMS_DIR/train_ids.txt, i.e. exactly the seeded
sample shimkit fitted on; every peer sees those pairs and nothing else (no queries, no
qrels). Inputs are L2-normalised, as shimkit's are. Each tool fits both directions:
  doc-side    X = OLD corpus vectors, Y = NEW   -> path shim-doc: the whole OLD corpus
              mapped old->new, searched with NEW-model queries
  query-side  X = NEW corpus vectors, Y = OLD   -> path shim-query: NEW-model queries mapped
              new->old, searching the OLD corpus
Mapped vectors are L2-normalised before the exact cosine search. nDCG@10 and retention
(path nDCG@10 / full-reembed nDCG@10) use eval_check.py's own functions (imported, not
copied): linear graded gains, ideal DCG over all judged documents, ties by lower doc row,
queries = those with at least one judgement of grade >= 1.

Tools and calls:
  isotrieve ridge      RidgeMapping(alpha="auto").fit(X, Y); .transform(x). GCV alpha over
                       its grid, bias column in the penalty, fits on a 90% split of the
                       pairs (10% internal hold-out), and .fit also fits the inverse map
                       (counted in its fit time, as a user pays it).
  rebasis auto         what `rebasis fit --method auto` runs once the vectors are in hand
                       (probe/session.py): split_disjoint(sample, 1000, seed=0) splits the
                       training docs into held-out query proxies (capped at half: 350 of
                       700) and fit pairs (350); build_tier0 makes the ground truth (the
                       NEW model's own top-10 for each proxy). Query-side:
                       rebasis.probe.runner.run_probe(...).adapter (every CPU candidate of
                       selection.CANDIDATE_METHODS fitted by fit_candidates, scored by ARR,
                       winner by select_best). Doc-side:
                       rebasis.probe.migration.fit_migration_adapter(...).adapter (what
                       `--direction old_to_new` saves). The winner is not refitted on all
                       700 pairs: rebasis does not. A "+csls" winner was scored with a
                       search-time doc bias that neither the saved .rbs nor rebasis' Bridge
                       carries, so it is searched here by plain cosine, as served.
  rebasis linear       LinearAdapter.fit(X, Y) (alpha=1e-3, trace-scaled); .apply(x)
  rebasis procrustes   ProcrustesAdapter.fit(X, Y); .apply(x)
  shimkit ridge, auto  not refitted: the saved SHIMS_DIR/{doc,query}-side-{ridge,auto}
                       shims are applied (unit(unit(x) @ weight + bias)) and the result is
                       checked against REPORT.json (nDCG@10 and retention within 2e-3, the
                       eval_check tolerance for shim paths; full-reembed within 1e-4). Fit
                       seconds are shimkit's own, from REPORT.json `fits`.

Fit seconds: wall time of the fitting call alone, arrays already in memory, one run.
Prints a markdown table; exits 1 (after printing it) when the shimkit check fails.
"""
import importlib.util
import logging
import sys
import time
import warnings
from pathlib import Path

import csv
import json

import numpy as np
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from shim_forward import forward  # noqa: E402  (the documented forward pass, every method)

_spec = importlib.util.spec_from_file_location("eval_check", ROOT / "tests" / "python" / "eval_check.py")
ec = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ec)

def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def f32(x):
    return np.ascontiguousarray(x, dtype=np.float32)


def fit_isotrieve(x, y):
    from isotrieve.mapping import RidgeMapping

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m, s = timed(lambda: RidgeMapping(alpha="auto").fit(x, y))
    warned = sorted({str(w.message).split(".")[0] for w in caught})
    return (lambda v: m.transform(f32(v))), s, f"alpha={m._chosen_alpha:g}" + "".join(f"; warns: {w}" for w in warned)


def fit_rebasis(cls_name):
    def fit(x, y):
        from rebasis.core import linear, procrustes

        cls = {"LinearAdapter": linear.LinearAdapter, "ProcrustesAdapter": procrustes.ProcrustesAdapter}[cls_name]
        a, s = timed(lambda: cls.fit(x, y))
        return a.apply, s, ""

    return fit


def rebasis_auto(od_t, nd_t, k, seed=0, heldout=1000):
    """Both directions of rebasis' automatic selection on the training docs; see the docstring."""
    from rebasis.probe.groundtruth import build_tier0
    from rebasis.probe.migration import fit_migration_adapter
    from rebasis.probe.runner import run_probe
    from rebasis.sample.strategies import SampleResult, split_disjoint

    out = {}
    t0 = time.perf_counter()
    sample = SampleResult(indices=np.arange(len(od_t), dtype=np.int64), strategy="uniform", seed=seed)
    qp, fp = split_disjoint(sample, heldout, seed=seed)
    gt = build_tier0(nd_t, nd_t[qp], qp, k=k)
    setup = time.perf_counter() - t0
    split = f"fit {len(fp)} / held-out {len(qp)}"
    res, s = timed(lambda: run_probe(
        old_doc_vectors=od_t, new_doc_vectors=nd_t, fit_indices=fp, ground_truth=gt,
        old_query_vectors=od_t[qp], new_query_vectors=nd_t[qp], k=k, seed=seed))
    scores = ", ".join(f"{c.name} {c.arr:.3f}" for c in res.candidates) if hasattr(res, "candidates") else ""
    out["query"] = (res.adapter.apply, s + setup, f"run_probe -> {res.best.name}; {split}", scores)
    mig, s = timed(lambda: fit_migration_adapter(
        old_doc_vectors=od_t, new_doc_vectors=nd_t, new_query_vectors=nd_t[qp], ground_truth=gt,
        fit_indices=fp, k=k))
    scores = ", ".join(f"{m} {v:.3f}" for m, v in sorted(mig.scores.items(), key=lambda t: -t[1]))
    out["doc"] = (mig.adapter.apply, s + setup, f"fit_migration_adapter -> {mig.method}; {split}", scores)
    return out


def main():
    dataset, old, new, report_path, shims = sys.argv[1:6]
    logging.disable(logging.CRITICAL)
    try:  # rebasis logs through structlog; keep stdout for the table
        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    except Exception:
        pass

    report = json.load(open(report_path))
    k = report["k"]
    docs, doc_row, od, nd, oq, nq, judged = ec.read_set(dataset, old, new)
    train_ids = open(f"{shims}/train_ids.txt").read().split()
    train = np.array([doc_row[i] for i in train_ids])
    assert len(train) == report["train_pairs"], (len(train), report["train_pairs"])
    od_t, nd_t = f32(od[train]), f32(nd[train])  # already L2-normalised by ec.read_set
    depth = max(k, 100)

    def ndcg(ranking):
        return float(np.mean([ec.metrics(r, r, j, k)["ndcg"] for r, j in zip(ranking, judged)]))

    full = ndcg(ec.rank(nq, nd, depth))
    nomig = ndcg(ec.rank(oq, od, depth))

    def path_ndcg(direction, apply):
        if direction == "doc":  # whole OLD corpus mapped old->new, NEW queries
            return ndcg(ec.rank(nq, ec.unit(f32(apply(od))), depth))
        return ndcg(ec.rank(ec.unit(f32(apply(nq))), od, depth))  # NEW queries mapped new->old

    label = {"doc": f"doc-side {old}->{new}", "query": f"query-side {new}->{old}"}
    rows, notes, failures = [], [], []
    by_name = {p["name"]: p for p in report["paths"]}
    if abs(full - by_name["full-reembed"][f"ndcg@{k}"]) > ec.TOL:
        failures.append(f"full-reembed ndcg: numpy {full:.6f} vs shimkit {by_name['full-reembed'][f'ndcg@{k}']:.6f}")
    fit_s = {(f["method"], f["direction"]): f["seconds"] for f in report.get("fits", [])}
    for method in ["ridge", "auto"]:
        for d in ["doc", "query"]:
            t = load_file(f"{shims}/{d}-side-{method}.safetensors")
            v = path_ndcg(d, lambda x: forward(t, x))
            theirs = by_name[f"shim-{d}:{method}"]
            for what, mine, ref in [("ndcg", v, theirs[f"ndcg@{k}"]), ("retention", v / full, theirs[f"retention_ndcg@{k}"])]:
                if abs(mine - ref) > ec.TOL_SHIM:
                    failures.append(f"shim-{d}:{method} {what}: numpy {mine:.6f} vs shimkit {ref:.6f}")
            chosen = next((f["chosen"] for f in report.get("fits", []) if f["method"] == method
                           and f["direction"] == ("old-to-new" if d == "doc" else "new-to-old")), None)
            s = fit_s.get((method, "old-to-new" if d == "doc" else "new-to-old"))
            note = f"R.json {theirs[f'ndcg@{k}']:.4f}" + (f"; chose {chosen}" if method == "auto" else "")
            rows.append((f"shimkit {method}", d, v, s, note))

    peers = [("isotrieve 0.4.0 ridge (alpha=auto)", fit_isotrieve),
             ("rebasis 0.1.0 linear (LinearAdapter)", fit_rebasis("LinearAdapter")),
             ("rebasis 0.1.0 procrustes (ProcrustesAdapter)", fit_rebasis("ProcrustesAdapter"))]
    for name, fit in peers:
        for d in ["doc", "query"]:
            x, y = (od_t, nd_t) if d == "doc" else (nd_t, od_t)
            try:
                apply, s, note = fit(x, y)
                rows.append((name, d, path_ndcg(d, apply), s, note))
            except Exception as e:  # a peer failing is a result, not a crash
                rows.append((name, d, None, None, f"FAILED: {type(e).__name__}: {e}"))
    try:
        auto = rebasis_auto(od_t, nd_t, k)
        for d in ["doc", "query"]:
            apply, s, note, scores = auto[d]
            rows.append(("rebasis 0.1.0 auto", d, path_ndcg(d, apply), s, note))
            if scores:
                notes.append(f"rebasis auto {d}-side candidate scores (its T0 ARR@{k}): {scores}")
    except Exception as e:
        for d in ["doc", "query"]:
            rows.append(("rebasis 0.1.0 auto", d, None, None, f"FAILED: {type(e).__name__}: {e}"))

    print(f"## {Path(dataset).name}: {old} -> {new}, {len(train)} training docs "
          f"(SHIMS_DIR/train_ids.txt), {len(judged)} queries, {len(docs)} docs\n")
    print(f"full-reembed nDCG@{k} = {full:.4f}; no-migration nDCG@{k} = {nomig:.4f} "
          f"(retention {nomig / full:.4f})\n")
    print(f"| tool / method | direction | nDCG@{k} | retention | fit seconds | notes |")
    print("|---|---|---:|---:|---:|---|")
    for d in ["doc", "query"]:
        for name, dd, v, s, note in rows:
            if dd != d:
                continue
            nd_s = "-" if v is None else f"{v:.4f}"
            rt_s = "-" if v is None else f"{v / full:.4f}"
            s_s = "-" if s is None else f"{s:.3f}"
            print(f"| {name} | {label[d]} | {nd_s} | {rt_s} | {s_s} | {note} |")
    for n in notes:
        print(f"\n{n}")
    if failures:
        print("\nshimkit check FAILED:\n" + "\n".join(failures))
        sys.exit(1)
    print(f"\nshimkit ridge/auto recomputed from the saved shims agree with {Path(report_path).name} "
          f"(shim paths to {ec.TOL_SHIM}, full-reembed to {ec.TOL})")


if __name__ == "__main__":
    main()
