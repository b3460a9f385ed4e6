//! Sufficient statistics of paired data, accumulated in f64 over streamed batches.
//!
//! Every closed-form shim here (ridge, Procrustes, reduced-rank) and its validation error
//! is a function of n, Σx, Σy, XᵀX, XᵀY and Σ‖y‖², so a fit over any number of pairs needs
//! memory for these alone: O(d_in·(d_in + d_out)), not O(n).
//!
//! Their products are the fits' hot path, each with the kernel that measured fastest on its
//! shape (`cargo bench --bench gemm`): XᵀX with faer's triangular product, the lower half
//! only (it is symmetric); XᵀY with the `gemm` crate called directly (faer's `matmul` was
//! slower on this transposed-left shape).

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Par};
use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::gemm::{as_mat, as_mat_mut};

/// Moments of (x, y) pairs; `x` is the shim's input side, `y` its output side.
#[derive(Debug, Clone, PartialEq)]
pub struct PairStats {
    pub n: u64,
    pub sum_x: Array1<f64>,
    pub sum_y: Array1<f64>,
    /// XᵀX (d_in × d_in).
    pub xtx: Array2<f64>,
    /// XᵀY (d_in × d_out).
    pub xty: Array2<f64>,
    /// Σ‖y‖², the only part of YᵀY a squared error needs.
    pub yy: f64,
}

/// The centred second moments: Sxx = Σ(x-μx)(x-μx)ᵀ, Sxy = Σ(x-μx)(y-μy)ᵀ.
#[derive(Debug, Clone)]
pub struct Centred {
    pub mean_x: Array1<f64>,
    pub mean_y: Array1<f64>,
    pub sxx: Array2<f64>,
    pub sxy: Array2<f64>,
}

/// `sum += Σ rows of a`, row by row (contiguous, so it vectorises), in f64.
fn add_rows(sum: &mut Array1<f64>, a: ArrayView2<'_, f32>) {
    let sum = sum.as_slice_mut().expect("fresh array");
    for row in a.rows() {
        for (s, &v) in sum.iter_mut().zip(row.iter()) {
            *s += v as f64;
        }
    }
}

/// Σ‖row‖² in f64, each row's squares through [`shimkit_data::squared_norm`].
fn sum_of_squares(a: ArrayView2<'_, f32>) -> f64 {
    a.rows()
        .into_iter()
        .map(|row| match row.as_slice() {
            Some(r) => shimkit_data::squared_norm(r),
            None => row.iter().map(|&v| (v as f64) * (v as f64)).sum(),
        })
        .sum()
}

impl PairStats {
    pub fn new(d_in: usize, d_out: usize) -> Self {
        PairStats {
            n: 0,
            sum_x: Array1::zeros(d_in),
            sum_y: Array1::zeros(d_out),
            xtx: Array2::zeros((d_in, d_in)),
            xty: Array2::zeros((d_in, d_out)),
            yy: 0.0,
        }
    }

    pub fn d_in(&self) -> usize {
        self.sum_x.len()
    }

    pub fn d_out(&self) -> usize {
        self.sum_y.len()
    }

    /// Adds a batch of rows. The products are formed in f32 by the GEMM, one batch at a
    /// time, and summed across batches in f64, so rounding does not grow with n.
    pub fn add(&mut self, x: ArrayView2<'_, f32>, y: ArrayView2<'_, f32>) {
        assert_eq!(x.nrows(), y.nrows(), "x and y must have the same rows");
        if x.nrows() == 0 {
            return;
        }
        self.n += x.nrows() as u64;
        add_rows(&mut self.sum_x, x);
        add_rows(&mut self.sum_y, y);
        self.yy += sum_of_squares(y);
        accumulate_gram(x, y, &mut self.xtx, &mut self.xty);
    }

    /// Adds another set of statistics (same dimensions).
    pub fn merge(&mut self, other: &PairStats) {
        self.n += other.n;
        self.sum_x += &other.sum_x;
        self.sum_y += &other.sum_y;
        self.xtx += &other.xtx;
        self.xty += &other.xty;
        self.yy += other.yy;
    }

    /// The statistics of all pairs but `part`'s (the training side of a fold).
    pub fn without(&self, part: &PairStats) -> PairStats {
        PairStats {
            n: self.n - part.n,
            sum_x: &self.sum_x - &part.sum_x,
            sum_y: &self.sum_y - &part.sum_y,
            xtx: &self.xtx - &part.xtx,
            xty: &self.xty - &part.xty,
            yy: self.yy - part.yy,
        }
    }

    pub fn centred(&self) -> Centred {
        let n = self.n.max(1) as f64;
        let mean_x = &self.sum_x / n;
        let mean_y = &self.sum_y / n;
        let mx = mean_x.view().insert_axis(Axis(1));
        let my = mean_y.view().insert_axis(Axis(0));
        let sxx = &self.xtx - &(mx.dot(&mx.t()) * n);
        let sxy = &self.xty - &(mx.dot(&my) * n);
        Centred {
            mean_x,
            mean_y,
            sxx,
            sxy,
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<(Array2<f32>, Array2<f32>)> =
        std::cell::RefCell::new((Array2::zeros((0, 0)), Array2::zeros((0, 0))));
}

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
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            // Both products overwrite what they use, so reused buffers need no zeroing; a
            // fresh 5 MiB pair per call cost a memset and page faults on every flush.
            let (g, c) = &mut *scratch;
            if g.dim() != (d_in, d_in) {
                *g = Array2::zeros((d_in, d_in));
            }
            if c.dim() != (d_in, d_out) {
                *c = Array2::zeros((d_in, d_out));
            }
            accumulate_blocks(&x.view(), &y.view(), xtx, xty, g, c);
        }
        // Re-entered on this thread (rayon can run another caller's task while the GEMM
        // waits): that call gets buffers of its own.
        Err(_) => {
            let (mut g, mut c) = (Array2::zeros((d_in, d_in)), Array2::zeros((d_in, d_out)));
            accumulate_blocks(&x.view(), &y.view(), xtx, xty, &mut g, &mut c);
        }
    });
}

fn accumulate_blocks(
    x: &ArrayView2<'_, f32>,
    y: &ArrayView2<'_, f32>,
    xtx: &mut Array2<f64>,
    xty: &mut Array2<f64>,
    g: &mut Array2<f32>,
    c: &mut Array2<f32>,
) {
    let mut start = 0;
    while start < x.nrows() {
        let end = (start + BLOCK_ROWS).min(x.nrows());
        let xb = x.slice(ndarray::s![start..end, ..]);
        let yb = y.slice(ndarray::s![start..end, ..]);
        let xm = as_mat(&xb);
        triangular::matmul(
            as_mat_mut(&mut g.view_mut()),
            BlockStructure::TriangularLower,
            Accum::Replace,
            xm.transpose(),
            BlockStructure::Rectangular,
            xm,
            BlockStructure::Rectangular,
            1.0f32,
            Par::rayon(0),
        );
        transposed_product(&xb, &yb, c);
        add_lower_symmetric(xtx, g);
        add_f32(xty, c);
        start = end;
    }
}

/// `out = Xᵀ·Y` for row-major X (rows × d_in) and Y (rows × d_out).
fn transposed_product(x: &ArrayView2<'_, f32>, y: &ArrayView2<'_, f32>, out: &mut Array2<f32>) {
    let (rows, d_in, d_out) = (x.nrows(), x.ncols(), y.ncols());
    let xs = x.as_slice().expect("standard layout");
    let ys = y.as_slice().expect("standard layout");
    let dst = out.as_slice_mut().expect("standard layout");
    assert!(
        y.nrows() == rows
            && xs.len() == rows * d_in
            && ys.len() == rows * d_out
            && dst.len() == d_in * d_out
    );
    // SAFETY: the three buffers hold exactly the elements the shapes and strides below
    // address (checked above): dst is d_in × d_out row-major; lhs = Xᵀ, whose (i, k) element
    // is X[k, i] at k·d_in + i (column stride d_in, row stride 1); rhs = Y row-major. The
    // crate computes dst = alpha·dst + beta·lhs·rhs, here with alpha = 0 and dst unread.
    unsafe {
        gemm::gemm(
            d_in,
            d_out,
            rows,
            dst.as_mut_ptr(),
            1,
            d_out as isize,
            false,
            xs.as_ptr(),
            d_in as isize,
            1,
            ys.as_ptr(),
            1,
            d_out as isize,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(rayon::current_num_threads()),
        );
    }
}

/// Adds a product whose lower triangle alone was computed, mirrored into both halves.
fn add_lower_symmetric(acc: &mut Array2<f64>, lower: &Array2<f32>) {
    let d = lower.nrows();
    for i in 0..d {
        for j in 0..i {
            let v = lower[[i, j]] as f64;
            acc[[i, j]] += v;
            acc[[j, i]] += v;
        }
        acc[[i, i]] += lower[[i, i]] as f64;
    }
}

fn add_f32(acc: &mut Array2<f64>, part: &Array2<f32>) {
    acc.zip_mut_with(part, |a, &p| *a += p as f64);
}
