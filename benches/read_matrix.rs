//! Reading an embedding table into a matrix: time and peak memory.
//!
//! `cargo bench --bench read_matrix -- FILE [whole|stream] [REPEATS]`
//! `cargo bench --bench read_matrix -- OUT.parquet write ROWS DIM`: writer throughput alone
//! (`EmbeddingWriter`, zstd, from rows already in memory), the output side of `project`.
//!
//! `whole` reads the table into one row-major f32 matrix (what a fit or an evaluation
//! does); `stream` folds it batch by batch into a checksum (what a projection does), to show
//! that memory stays flat. Prints one JSON line: rows, dim, best and median seconds, rows/s,
//! and the process's peak resident memory (VmHWM). `benches/read_matrix.py` does the same
//! with pyarrow for the side-by-side in BENCHMARKS.md.

use std::time::Instant;

use shimkit_data::{BatchReader, ReadOptions, TableSource, read_table};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(path) = args.first() else {
        eprintln!("usage: read_matrix FILE [whole|stream] [REPEATS]");
        std::process::exit(2);
    };
    let mode = args.get(1).map(String::as_str).unwrap_or("whole");
    if mode == "write" {
        write_bench(path, &args);
        return;
    }
    let repeats: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(3);
    let source = TableSource::new(path).expect("open");
    let mut times = Vec::new();
    let (mut rows, mut dim, mut checksum) = (0usize, 0usize, 0f64);
    for _ in 0..repeats {
        let t = Instant::now();
        match mode {
            "whole" => {
                let table = read_table(&source, &ReadOptions::default()).expect("read");
                rows = table.len();
                dim = table.dim();
                checksum = table.vectors.row(rows - 1).iter().map(|&v| v as f64).sum();
            }
            "stream" => {
                rows = 0;
                checksum = 0.0;
                for batch in BatchReader::open(&source, ReadOptions::default()).expect("open") {
                    let batch = batch.expect("batch");
                    rows += batch.ids.len();
                    dim = batch.vectors.ncols();
                    checksum += batch.vectors.row(0).iter().map(|&v| v as f64).sum::<f64>();
                }
            }
            other => panic!("unknown mode {other}"),
        }
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let best = times[0];
    println!(
        "{}",
        serde_json::json!({
            "tool": "shimkit", "mode": mode, "rows": rows, "dim": dim,
            "best_s": best, "median_s": times[times.len() / 2], "rows_per_s": rows as f64 / best,
            "peak_rss_mib": peak_rss_mib(), "threads": rayon::current_num_threads(), "checksum": checksum,
        })
    );
}

fn write_bench(path: &str, args: &[String]) {
    let rows: usize = args
        .get(2)
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let dim: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(1024);
    let batch = 4096;
    // Eight distinct blocks of pseudo-random floats, cycled: Parquet compresses each page
    // on its own, so the repetition gains zstd nothing, and generation stays off the clock.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let blocks: Vec<ndarray::Array2<f32>> = (0..8)
        .map(|_| {
            ndarray::Array2::from_shape_simple_fn((batch, dim), || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
        })
        .collect();
    let t = Instant::now();
    let mut w = shimkit_data::EmbeddingWriter::create(path, dim).expect("create");
    let mut written = 0;
    while written < rows {
        let n = batch.min(rows - written);
        let ids: Vec<String> = (written..written + n).map(|i| format!("d{i}")).collect();
        let block = &blocks[(written / batch) % blocks.len()];
        w.write(&ids, block.slice(ndarray::s![..n, ..]))
            .expect("write");
        written += n;
    }
    w.finish().expect("finish");
    let secs = t.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({"tool": "shimkit EmbeddingWriter", "mode": "write", "rows": rows, "dim": dim, "seconds": secs,
            "rows_per_s": rows as f64 / secs, "bytes": bytes, "peak_rss_mib": peak_rss_mib()})
    );
}
