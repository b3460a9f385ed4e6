//! The matrix products on the hot paths: Gram matrices while fitting, projection while
//! applying. Both go through faer's `matmul` (the pure-Rust `gemm` kernels, parallel with
//! rayon); BENCHMARKS.md records the measurement that chose it.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// Rows per f32 product before it is added into the f64 sums: short enough that f32
/// rounding stays at the level of one batch, long enough to keep the GEMM efficient.
const BLOCK_ROWS: usize = 4096;

/// `xtx += XᵀX` and `xty += XᵀY`, products in f32 by blocks of rows, sums in f64.
pub fn accumulate_gram(
    x: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    xtx: &mut Array2<f64>,
    xty: &mut Array2<f64>,
) {
    let (d_in, d_out) = (x.ncols(), y.ncols());
    let x = x.as_standard_layout();
    let y = y.as_standard_layout();
    let mut g = Array2::<f32>::zeros((d_in, d_in));
    let mut c = Array2::<f32>::zeros((d_in, d_out));
    let mut start = 0;
    while start < x.nrows() {
        let end = (start + BLOCK_ROWS).min(x.nrows());
        let xb = x.slice(ndarray::s![start..end, ..]);
        let yb = y.slice(ndarray::s![start..end, ..]);
        let xm = as_mat(&xb);
        let ym = as_mat(&yb);
        matmul(
            as_mat_mut(&mut g.view_mut()),
            Accum::Replace,
            xm.transpose(),
            xm,
            1.0f32,
            Par::rayon(0),
        );
        matmul(
            as_mat_mut(&mut c.view_mut()),
            Accum::Replace,
            xm.transpose(),
            ym,
            1.0f32,
            Par::rayon(0),
        );
        add_f32(xtx, &g);
        add_f32(xty, &c);
        start = end;
    }
}

/// `out = X·W` (+ `bias` on every row when given), in f32.
pub fn project(
    x: ArrayView2<'_, f32>,
    weight: ArrayView2<'_, f32>,
    bias: Option<&[f32]>,
) -> Array2<f32> {
    let x = x.as_standard_layout();
    let w = weight.as_standard_layout();
    let mut out = Array2::<f32>::zeros((x.nrows(), w.ncols()));
    if let Some(b) = bias {
        for mut row in out.rows_mut() {
            row.as_slice_mut().expect("fresh array").copy_from_slice(b);
        }
    }
    let accum = if bias.is_some() {
        Accum::Add
    } else {
        Accum::Replace
    };
    matmul(
        as_mat_mut(&mut out.view_mut()),
        accum,
        as_mat(&x.view()),
        as_mat(&w.view()),
        1.0f32,
        Par::rayon(0),
    );
    out
}

fn add_f32(acc: &mut Array2<f64>, part: &Array2<f32>) {
    acc.zip_mut_with(part, |a, &p| *a += p as f64);
}

/// A faer view of a standard-layout ndarray view (no copy).
fn as_mat<'a>(a: &'a ArrayView2<'_, f32>) -> MatRef<'a, f32> {
    let s = a.as_slice().expect("standard layout");
    MatRef::from_row_major_slice(s, a.nrows(), a.ncols())
}

fn as_mat_mut<'a>(a: &'a mut ArrayViewMut2<'_, f32>) -> MatMut<'a, f32> {
    let (r, c) = a.dim();
    let s = a.as_slice_mut().expect("standard layout");
    MatMut::from_row_major_slice_mut(s, r, c)
}
