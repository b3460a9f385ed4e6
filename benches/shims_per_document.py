"""Summarises `shimkit eval` reports for issue 18 (benches/shims_per_document.sh).

Goal 2: for every method and backfill share f, the plain backfill and the blended one
against the pure doc-side shim (paired 95% interval of the nDCG@10 gain; "loses" when the
interval lies below zero), and beyond the training share against the straight line from
the doc-side shim at the training share to 1.0 at f = 1; there, the refitted backfill too.
Goal 3: query-side shims with and without query pairs, against no-migration.
"""
import json
import sys
from collections import defaultdict


def main(paths):
    goal2 = defaultdict(list)
    refit_gain = defaultdict(list)
    refits = defaultdict(list)
    for path in paths:
        r = json.load(open(path))
        k = r["k"]
        by = {p["name"]: p for p in r["paths"]}
        name = f"{r['dataset'].split('/')[-1]} {r['old']}→{r['new']} seed {r['seed']}"
        train_share = r["train_pairs"] / r["data"]["docs"]
        print(f"\n## {name} (training share {train_share:.2f})")
        print(f"{'method':<8} {'f':>5} {'shim-doc':>9} {'backfill':>9} {'blend':>9} {'refit':>9} {'α':>5} {'line':>7}  blend vs shim-doc 95% CI")
        alphas = {(b["share"], b["method"]): b["alpha"] for b in r.get("backfill_blends", [])}
        methods = sorted({n.split(":")[-1] for n in by if n.startswith("backfill+blend:")})
        for m in methods:
            doc = by[f"shim-doc:{m}"][f"retention_ndcg@{k}"]
            for f in sorted({float(n.split(":")[1]) for n in by if n.startswith("backfill:")}):
                plain = by.get(f"backfill:{f}:{m}")
                blend = by.get(f"backfill+blend:{f}:{m}")
                if not plain or not blend:
                    continue
                ci = blend[f"ci95_delta_ndcg@{k}_vs_shim_doc"]
                line = doc + (1 - doc) * (f - train_share) / (1 - train_share) if f > train_share else None
                refit = by.get(f"backfill+refit:{f}:{m}")
                best = max(blend[f"retention_ndcg@{k}"], refit[f"retention_ndcg@{k}"] if refit else 0.0)
                verdict = "loses" if ci[1] < 0 else "ok"
                if line is not None and blend[f"retention_ndcg@{k}"] < line:
                    verdict += ", blend under the line"
                    if refit:
                        refits[m].append(refit[f"retention_ndcg@{k}"] >= line)
                        verdict += ", refit " + ("above it" if best >= line else "under it too")
                goal2[m].append(blend[f"retention_ndcg@{k}"] - plain[f"retention_ndcg@{k}"])
                if refit:
                    refit_gain[m].append(refit[f"retention_ndcg@{k}"] - blend[f"retention_ndcg@{k}"])
                refit_text = f"{refit[f'retention_ndcg@{k}']:>9.4f}" if refit else f"{'':>9}"
                print(f"{m:<8} {f:>5} {doc:>9.4f} {plain[f'retention_ndcg@{k}']:>9.4f} {blend[f'retention_ndcg@{k}']:>9.4f} {refit_text} "
                      f"{alphas.get((f, m), float('nan')):>5.2f} {line if line is not None else float('nan'):>7.4f}  "
                      f"[{ci[0]:+.4f}, {ci[1]:+.4f}] {verdict}")
        q = r.get("query_pairs")
        if q:
            none = by["no-migration"][f"retention_ndcg@{k}"]
            shares = ", ".join(f"{f['share']['achieved']:.2f}" for f in q["per_fold"])
            print(f"query pairs ({q['folds']} folds; share of each fold's fit {shares}); no-migration {none:.4f}")
            for g in q["gains"]:
                print(f"  {g['path']:<24} {g['retention']:.4f} vs {g['against']} {g['retention_without']:.4f}: "
                      f"nDCG {g['delta_ndcg']:+.4f} [{g['ci95_delta_ndcg'][0]:+.4f}, {g['ci95_delta_ndcg'][1]:+.4f}]; "
                      f"{g['retention'] - none:+.4f} against no-migration")
    print("\nmean retention gain of the blend over the plain backfill, every set, seed and share:")
    for m, gains in sorted(goal2.items()):
        print(f"  {m:<8} {sum(gains) / len(gains):+.4f} over {len(gains)}")
    print("mean retention gain of the refit over the blend, beyond the training share:")
    for m, gains in sorted(refit_gain.items()):
        print(f"  {m:<8} {sum(gains) / len(gains):+.4f} over {len(gains)}")
    print("cases with the blend under the line that the refit lifts above it:")
    for m, lifted in sorted(refits.items()):
        print(f"  {m:<8} {sum(lifted)} of {len(lifted)}")


if __name__ == "__main__":
    main(sys.argv[1:])
