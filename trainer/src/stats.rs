//! Sufficient statistics of paired data, accumulated in f64 over streamed batches.
//!
//! Every closed-form shim here (ridge, Procrustes, reduced-rank) and its validation error
//! is a function of n, Σx, Σy, XᵀX, XᵀY and Σ‖y‖², so a fit over any number of pairs needs
//! memory for these alone: O(d_in·(d_in + d_out)), not O(n).

use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::gemm::accumulate_gram;

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
