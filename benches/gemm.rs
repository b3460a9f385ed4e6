//! GEMM throughput on shimkit's own shapes, for choosing the kernel (BENCHMARKS.md).
//!
//! `cargo bench --bench gemm` prints one JSON line per (shape, kernel): best GFLOP/s of 7.
//! Compare with `python benches/sgemm_peak.py` (numpy/OpenBLAS) run on the same machine.

use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::Array2;

fn data(rows: usize, cols: usize, salt: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        (((i * 131 + j * 71 + salt) % 1009) as f32 - 504.0) / 504.0
    })
}

fn best<F: FnMut()>(mut f: F) -> f64 {
    f();
    (0..7)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let threads = rayon::current_num_threads();
    accumulation(threads);
    let x = data(4096, 768, 1);
    let y = data(4096, 1024, 2);
    let w = data(768, 1024, 3);
    let sq = data(2048, 2048, 4);
    // (name, lhs, rhs, lhs transposed)
    let shapes: Vec<(&str, &Array2<f32>, &Array2<f32>, bool)> = vec![
        ("square 2048x2048x2048", &sq, &sq, false),
        ("XtX 768x4096x768", &x, &x, true),
        ("XtY 768x4096x1024", &x, &y, true),
        ("project 4096x768x1024", &x, &w, false),
    ];
    for (name, a, b, transpose) in shapes {
        let (m, k) = if transpose {
            (a.ncols(), a.nrows())
        } else {
            (a.nrows(), a.ncols())
        };
        let n = b.ncols();
        let flops = 2.0 * (m * n * k) as f64;
        let a_ref = MatRef::from_row_major_slice(a.as_slice().unwrap(), a.nrows(), a.ncols());
        let b_ref = MatRef::from_row_major_slice(b.as_slice().unwrap(), b.nrows(), b.ncols());
        let lhs = if transpose { a_ref.transpose() } else { a_ref };
        let mut out = vec![0f32; m * n];
        for (kernel, par) in [
            ("faer matmul, rayon", Par::rayon(0)),
            ("faer matmul, 1 thread", Par::Seq),
        ] {
            let t = best(|| {
                let dst = MatMut::from_row_major_slice_mut(&mut out, m, n);
                matmul(dst, Accum::Replace, lhs, b_ref, 1.0f32, par);
            });
            report(name, kernel, flops / t, threads);
        }
        let t = best(|| {
            let r = if transpose { a.t().dot(b) } else { a.dot(b) };
            std::hint::black_box(r);
        });
        report(
            name,
            "matrixmultiply (ndarray dot), 1 thread",
            flops / t,
            threads,
        );
        let t = best(|| unsafe {
            // gemm's raw interface: dst = lhs · rhs with explicit strides (row-major dst).
            let (lhs_cs, lhs_rs) = if transpose {
                (a.ncols() as isize, 1)
            } else {
                (1, a.ncols() as isize)
            };
            gemm::gemm(
                m,
                n,
                k,
                out.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                lhs_cs,
                lhs_rs,
                b.as_ptr(),
                1,
                b.ncols() as isize,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(threads),
            );
        });
        report(name, "gemm 0.18 crate, rayon", flops / t, threads);
        if name.starts_with("XtX") {
            // Only the lower triangle of a symmetric product: half the work, reported as the
            // full product's flops per second (what it is worth to the caller).
            let t = best(|| {
                let dst = MatMut::from_row_major_slice_mut(&mut out, m, n);
                faer::linalg::matmul::triangular::matmul(
                    dst,
                    faer::linalg::matmul::triangular::BlockStructure::TriangularLower,
                    Accum::Replace,
                    lhs,
                    faer::linalg::matmul::triangular::BlockStructure::Rectangular,
                    b_ref,
                    faer::linalg::matmul::triangular::BlockStructure::Rectangular,
                    1.0f32,
                    Par::rayon(0),
                );
            });
            report(
                name,
                "faer triangular (lower half only), rayon; full-product equivalent",
                flops / t,
                threads,
            );
        }
    }
}

/// `PairStats::add` over 65,536 pairs 768 → 1024, the f64 sums included: the accumulation
/// a fit runs, in full-product flops (XᵀX counted whole though only half is computed).
fn accumulation(threads: usize) {
    let rows = 65_536;
    let x = data(rows, 768, 5);
    let y = data(rows, 1024, 6);
    let t = best(|| {
        let mut s = shimkit_trainer::PairStats::new(768, 1024);
        s.add(x.view(), y.view());
        std::hint::black_box(s);
    });
    let flops = 2.0 * rows as f64 * (768.0 * 768.0 + 768.0 * 1024.0);
    report(
        "PairStats::add 65536 pairs 768->1024",
        "shimkit (triangular XtX + gemm XtY + f64 sums)",
        flops / t,
        threads,
    );
}

fn report(shape: &str, kernel: &str, flops_per_s: f64, threads: usize) {
    println!(
        "{}",
        serde_json::json!({"shape": shape, "kernel": kernel, "gflops": (flops_per_s / 1e9 * 10.0).round() / 10.0, "threads": threads})
    );
}
