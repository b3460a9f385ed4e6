//! Exact search throughput: `cargo bench --bench search -- CORPUS.parquet QUERIES.parquet [K] [REPEATS]`.
//!
//! Reads both tables (not timed), then times `shimkit_trainer::eval::search` (a blocked
//! GEMM and the top-k selection) over every query and document, best of REPEATS (default
//! 3). Prints one JSON line: seconds, and GFLOP/s counting the multiply's 2·q·n·d flops
//! over the whole time (selection included). Compare with `python benches/search.py` on the same files and `benches/sgemm_peak.py`.

use std::time::Instant;

use shimkit_data::{ReadOptions, TableSource, normalize_rows, read_table};
use shimkit_trainer::eval::search;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.len() < 2 {
        eprintln!(
            "usage: cargo bench --bench search -- CORPUS.parquet QUERIES.parquet [K] [REPEATS]"
        );
        std::process::exit(2);
    }
    let k: usize = args.get(2).map_or(100, |v| v.parse().expect("K"));
    let repeats: usize = args.get(3).map_or(3, |v| v.parse().expect("REPEATS"));
    let read = |p: &str| {
        let t = read_table(
            &TableSource::new(p).expect("source"),
            &ReadOptions::default(),
        )
        .expect("read");
        normalize_rows(t.vectors)
    };
    let docs = read(&args[0]);
    let queries = read(&args[1]);
    let (n, d, q) = (docs.nrows(), docs.ncols(), queries.nrows());
    let flops = 2.0 * (q * n * d) as f64;
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let t = Instant::now();
        let hits = search(queries.view(), docs.view(), k);
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(hits.len(), q);
    }
    println!(
        "{}",
        serde_json::json!({
            "tool": "shimkit eval::search",
            "queries": q, "docs": n, "dim": d, "k": k,
            "seconds": best,
            "gflops": flops / best / 1e9,
            "threads": rayon::current_num_threads(),
        })
    );
}
