"""pyarrow side of the read benchmark: read_table + a numpy (rows, dim) float32 matrix.

python benches/read_matrix.py FILE [REPEATS]  ->  one JSON line, like benches/read_matrix.rs.
Ids stay an Arrow array (zero copy); shimkit's reader also turns them into strings and
validates every row (finite, non-zero, unique ids), which this side does not.
"""
import json
import resource
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def main():
    path = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        table = pq.read_table(path, columns=["id", "embedding"])
        emb = table.column("embedding").combine_chunks()
        dim = emb.type.list_size
        matrix = np.asarray(emb.flatten().to_numpy(zero_copy_only=False), dtype=np.float32).reshape(-1, dim)
        ids = table.column("id")
        times.append(time.perf_counter() - t)
        rows = matrix.shape[0]
        checksum = float(matrix[-1].astype(np.float64).sum())
        del table, emb, matrix, ids
    times.sort()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({
        "tool": f"pyarrow {pa.__version__} + numpy {np.__version__}", "mode": "whole", "rows": rows, "dim": dim,
        "best_s": times[0], "median_s": times[len(times) // 2], "rows_per_s": rows / times[0],
        "peak_rss_mib": peak, "threads": pa.cpu_count(), "checksum": checksum,
    }))


if __name__ == "__main__":
    main()
