//! An affine map y ≈ xW + b, the form every closed-form shim takes, and its error computed
//! from statistics alone.

use ndarray::{Array1, Array2, ArrayView2};

use crate::stats::{Centred, PairStats};

/// `y ≈ x·weight + bias`, in f64 while fitting.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearMap {
    /// d_in × d_out.
    pub weight: Array2<f64>,
    pub bias: Array1<f64>,
}

impl LinearMap {
    /// The map with weight `w` whose intercept makes it exact on the means: b = μy − μxW.
    pub fn through_means(weight: Array2<f64>, c: &Centred) -> Self {
        let bias = &c.mean_y - &c.mean_x.dot(&weight);
        LinearMap { weight, bias }
    }

    /// Σ‖y − xW − b‖² over the pairs `s` summarises, without the pairs themselves:
    /// Σ‖y‖² − 2(tr(WᵀXᵀY) + Σy·b) + tr(WᵀXᵀXW) + 2(ΣxW)·b + n‖b‖².
    pub fn squared_error(&self, s: &PairStats) -> f64 {
        let w = &self.weight;
        let b = &self.bias;
        let cross = (w * &s.xty).sum() + s.sum_y.dot(b);
        let quad = (w * &crate::linalg::mm(&s.xtx, false, w, false)).sum();
        let lin = s.sum_x.dot(w).dot(b);
        s.yy - 2.0 * cross + quad + 2.0 * lin + s.n as f64 * b.dot(b)
    }

    /// The map in float32, as a shim stores and applies it.
    pub fn to_f32(&self) -> (Array2<f32>, Array1<f32>) {
        (self.weight.mapv(|v| v as f32), self.bias.mapv(|v| v as f32))
    }

    /// `x·W + b` in float32, as the shim will compute it.
    pub fn apply(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        let (w, b) = self.to_f32();
        crate::gemm::project(x, w.view(), b.as_slice())
    }

    /// Free parameters, for preferring the smaller of two equally good shims.
    pub fn dims(&self) -> (usize, usize) {
        self.weight.dim()
    }
}
