"""Summarises benches/sample.sh: doc-side (and query-side) retention of the shims fitted on
documents chosen by `shimkit sample` against random samples of the same size, as the mean
over seeds, for each set, size and method."""
import json
import statistics
import sys
from collections import defaultdict


def main(paths):
    runs = defaultdict(list)
    for path in paths:
        r = json.load(open(path))
        k = r["k"]
        name = f"{r['dataset'].split('/')[-1]} {r['old']}→{r['new']}"
        for p in r["paths"]:
            if p["name"].startswith(("shim-doc:", "shim-query:")):
                runs[(name, r["train_pairs"], p["name"], r["sample"])].append(p[f"retention_ndcg@{k}"])
    print(f"{'set':<26} {'pairs':>5} {'path':<18} {'random':>8} {'shimkit':>8} {'gain':>7}  seeds")
    for key in sorted({k[:3] for k in runs}):
        rand, chosen = runs.get(key + ("random",), []), runs.get(key + ("shimkit",), [])
        if not rand or not chosen:
            continue
        a, b = statistics.mean(rand), statistics.mean(chosen)
        print(f"{key[0]:<26} {key[1]:>5} {key[2]:<18} {a:>8.4f} {b:>8.4f} {b - a:>+7.4f}  {len(rand)}")


if __name__ == "__main__":
    main(sys.argv[1:])
