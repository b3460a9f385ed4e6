//! The projection X·W, the product on every shim's hot path: faer's `matmul`, and for one
//! to three rows (a server's single query) a matrix-vector kernel that streams `W` once per
//! row, faster than faer's there (`cargo bench --bench gemm`, figures in BENCHMARKS.md;
//! pure Rust, parallel with rayon). The products of the fits are in `stats`.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// `out = X·W` (+ `bias` on every row when given), in f32.
pub fn project(
    x: ArrayView2<'_, f32>,
    weight: ArrayView2<'_, f32>,
    bias: Option<&[f32]>,
) -> Array2<f32> {
    let x = x.as_standard_layout();
    let (k, n) = weight.dim();
    let mut out = Array2::<f32>::zeros((x.nrows(), n));
    if let Some(b) = bias {
        for mut row in out.rows_mut() {
            row.as_slice_mut().expect("fresh array").copy_from_slice(b);
        }
    }
    if x.nrows() == 0 || k == 0 || n == 0 {
        return out;
    }
    let accum = if bias.is_some() {
        Accum::Add
    } else {
        Accum::Replace
    };
    if x.nrows() < 4
        && gemv::available()
        && let Some(w) = weight.as_slice()
    {
        let x = x.as_slice().expect("standard layout");
        let out_rows = out.as_slice_mut().expect("fresh array").chunks_exact_mut(n);
        for (y, xr) in out_rows.zip(x.chunks_exact(k)) {
            gemv::accumulate(xr, w, y);
        }
        return out;
    }
    // The transpose of a row-major matrix (landmarks, centroids: `L.t()`) is read in place:
    // copying it cost as much as the product for a single vector.
    let transposed = weight.t();
    let copied;
    let w = if weight.is_standard_layout() {
        as_mat(&weight)
    } else if transposed.is_standard_layout() {
        as_mat(&transposed).transpose()
    } else {
        copied = weight.as_standard_layout();
        as_mat(&copied)
    };
    // A few rows are a matrix-vector product bound by reading `W` once: waking the thread
    // pool costs more than the split saves, and a server's single-vector latency pays it.
    let work = x.nrows() * k * n;
    let par = if work < SEQUENTIAL_BELOW {
        Par::Seq
    } else {
        Par::rayon(0)
    };
    matmul(
        as_mat_mut(&mut out.view_mut()),
        accum,
        as_mat(&x.view()),
        w,
        1.0f32,
        par,
    );
    out
}

/// Multiply-adds under which [`project`] runs on the calling thread (a 4 × 768 × 1024
/// batch is just under).
const SEQUENTIAL_BELOW: usize = 1 << 22;

/// `y += x·W` for one row `x`, with W row-major: bound by reading W, so it walks W's rows
/// in order, four at a time, loading and storing `y` once per four rows. The sum for each
/// output runs over the rows in order, as faer's does, so results agree with the batched
/// path (bit for bit in `tests`).
mod gemv {
    pub fn available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Callers check [`available`] first.
    pub fn accumulate(x: &[f32], w: &[f32], y: &mut [f32]) {
        debug_assert_eq!(x.len() * y.len(), w.len());
        #[cfg(target_arch = "x86_64")]
        {
            assert!(available(), "gemv::accumulate needs AVX2 and FMA");
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            unsafe { accumulate_avx2(x, w, y) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (x, w, y);
            unreachable!("gemv::available() is false off x86_64");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn accumulate_avx2(x: &[f32], w: &[f32], y: &mut [f32]) {
        let n = y.len();
        if n == 0 {
            return;
        }
        let mut rows = w.chunks_exact(n);
        let mut xs = x.chunks_exact(4);
        for c in &mut xs {
            let (r0, r1, r2, r3) = (
                rows.next().expect("4 rows"),
                rows.next().expect("4 rows"),
                rows.next().expect("4 rows"),
                rows.next().expect("4 rows"),
            );
            for j in 0..n {
                let acc = c[0].mul_add(r0[j], y[j]);
                let acc = c[1].mul_add(r1[j], acc);
                let acc = c[2].mul_add(r2[j], acc);
                y[j] = c[3].mul_add(r3[j], acc);
            }
        }
        for (&xi, r) in xs.remainder().iter().zip(rows) {
            for (yj, &wj) in y.iter_mut().zip(r) {
                *yj = xi.mul_add(wj, *yj);
            }
        }
    }
}

/// A faer view of a standard-layout ndarray view (no copy).
pub(crate) fn as_mat<'a, S: ndarray::Data<Elem = f32>>(
    a: &'a ndarray::ArrayBase<S, ndarray::Ix2>,
) -> MatRef<'a, f32> {
    let s = a.as_slice().expect("standard layout");
    MatRef::from_row_major_slice(s, a.nrows(), a.ncols())
}

pub(crate) fn as_mat_mut<'a>(a: &'a mut ArrayViewMut2<'_, f32>) -> MatMut<'a, f32> {
    let (r, c) = a.dim();
    let s = a.as_slice_mut().expect("standard layout");
    MatMut::from_row_major_slice_mut(s, r, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        let mut s = seed;
        Array2::from_shape_fn((rows, cols), |_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
    }

    /// The one-to-three-row kernel and the batched path agree with a plain f64 product,
    /// on shapes whose lengths are not multiples of the kernel's four rows or the SIMD width.
    #[test]
    fn few_rows_and_batches_match_a_plain_product() {
        for (k, n) in [(7, 5), (768, 1024), (33, 17), (1, 3)] {
            let w = filled(k, n, 1);
            let b: Vec<f32> = filled(1, n, 2).into_raw_vec_and_offset().0;
            for rows in [1, 2, 3, 4, 9] {
                let x = filled(rows, k, 3 + rows as u64);
                let got = project(x.view(), w.view(), Some(&b));
                for i in 0..rows {
                    for j in 0..n {
                        let want = b[j] as f64
                            + (0..k)
                                .map(|t| x[[i, t]] as f64 * w[[t, j]] as f64)
                                .sum::<f64>();
                        let err = (got[[i, j]] as f64 - want).abs();
                        assert!(
                            err < 1e-5 * (k as f64).sqrt(),
                            "{k}×{n}, {rows} rows: {err}"
                        );
                    }
                }
            }
            // The weight read in place as the transpose of a row-major matrix, and copied
            // when it is neither layout (every other column).
            let wt = filled(n, k, 4);
            let wide = filled(k, 2 * n, 5);
            let strided = wide.slice(ndarray::s![.., ..;2]);
            for (weight, dense) in [(wt.t(), wt.t().to_owned()), (strided, strided.to_owned())] {
                for rows in [1, 5] {
                    let x = filled(rows, k, 6);
                    let got = project(x.view(), weight, None);
                    let want = project(x.view(), dense.view(), None);
                    let err = (&got - &want).mapv(f32::abs).fold(0.0f32, |a, &b| a.max(b));
                    assert!(err <= 1e-5, "{k}×{n}, {rows} rows: {err}");
                }
            }
            // One row alone equals the same row inside a batch (to f32 rounding of the
            // order of the sums).
            let x = filled(5, k, 9);
            let batch = project(x.view(), w.view(), None);
            let one = project(x.slice(ndarray::s![2..3, ..]), w.view(), None);
            for j in 0..n {
                assert!((one[[0, j]] - batch[[2, j]]).abs() <= 1e-5, "{k}×{n}");
            }
        }
    }
}
