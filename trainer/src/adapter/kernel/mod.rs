//! Residual kernel ridge: a non-linear correction on top of a linear shim.
//!
//! The linear map leaves a residual R = Y − (XW + b) that still depends on X. This module
//! fits it with an RBF kernel on the unit sphere, k(x, l) = exp(−γ‖x − l‖²) = exp(2γ(x·l − 1))
//! for unit x and l, through a Nyström approximation with m landmarks L (the centroids of a
//! spherical k-means of the training inputs, or the inputs themselves):
//!
//! ```text
//! residual(x) = k(x, L) · A,    A = (K_nmᵀ K_nm + λ K_mm)⁻¹ K_nmᵀ R
//! ```
//!
//! the "subset of regressors" solution, which equals exact kernel ridge, (K + λI)⁻¹R, when
//! every training input is a landmark (and is then computed that way, which is better
//! conditioned). Fitting costs O(n·m²), applying one vector
//! O(m·(d_in + d_out)). γ, λ and m are chosen on held-out pairs, m by score and cost: the
//! fewest landmarks within [`crate::fit::TIE`] of the best score.

use ndarray::{Array2, ArrayView2};

use super::{Tensor, Tensors, check_unit_rows, shape_error};
use crate::gemm::project;

#[cfg(feature = "train")]
mod fit;
#[cfg(feature = "train")]
pub use fit::*;

/// The fitted correction: `residual(x) = exp(2γ(x·Lᵀ − 1)) · coef` for unit-length x.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelResidual {
    /// m × d_in, unit rows.
    pub landmarks: Array2<f32>,
    /// m × d_out.
    pub coef: Array2<f32>,
    pub gamma: f32,
}

impl KernelResidual {
    /// What [`apply`](Self::apply) relies on, for a residual read from a file: at least one
    /// landmark, unit-length landmarks (so that x·l ≤ 1 and the exponent never overflows),
    /// and a width γ that is finite and positive.
    pub fn check(&self) -> Result<(), String> {
        if self.landmarks.nrows() == 0 {
            return Err("a kernel shim has at least one landmark; this one has none".into());
        }
        if !(self.gamma.is_finite() && self.gamma > 0.0 && (2.0 * self.gamma).is_finite()) {
            return Err(format!(
                "kernel.gamma is {}; a kernel width is a finite number > 0",
                self.gamma
            ));
        }
        check_unit_rows(self.landmarks.view(), "kernel.landmarks")
    }

    /// Kernel features of unit-length rows: n × m.
    pub fn features(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        features(x, self.landmarks.view(), self.gamma)
    }

    /// The correction for unit-length rows of `x`: n × d_out.
    pub fn apply(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        project(self.features(x).view(), self.coef.view(), None)
    }

    pub fn landmarks(&self) -> usize {
        self.landmarks.nrows()
    }

    /// Free parameters: the landmarks are data, but they are stored and applied.
    pub fn parameters(&self) -> usize {
        self.landmarks.len() + self.coef.len() + 1
    }
}

/// exp(2γ(x·lᵀ − 1)), computed in place over the product.
pub(crate) fn features(
    x: ArrayView2<'_, f32>,
    landmarks: ArrayView2<'_, f32>,
    gamma: f32,
) -> Array2<f32> {
    let mut k = project(x, landmarks.t(), None);
    to_kernel(&mut k, gamma);
    k
}

pub(crate) fn to_kernel(dots: &mut Array2<f32>, gamma: f32) {
    let g = 2.0 * gamma;
    dots.mapv_inplace(|d| (g * (d.min(1.0) - 1.0)).exp());
}

/// The hyper-parameters of one residual fit.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KernelParams {
    pub gamma: f64,
    pub lambda: f64,
    pub landmarks: usize,
}

impl std::fmt::Display for KernelParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "γ {}, kernel λ {}, {} landmarks",
            self.gamma, self.lambda, self.landmarks
        )
    }
}

/// The tensors a kernel shim adds: `kernel.landmarks` [m, d_in], `kernel.coef` [m, d_out],
/// `kernel.gamma` [1].
pub const TENSORS: [&str; 3] = ["kernel.landmarks", "kernel.coef", "kernel.gamma"];

impl KernelResidual {
    pub fn to_tensors(&self, d_in: usize, d_out: usize) -> Result<Vec<Tensor>, String> {
        let m = self.landmarks.nrows();
        if self.landmarks.ncols() != d_in || self.coef.dim() != (m, d_out) {
            return Err(shape_error(
                "kernel",
                &[self.landmarks.shape(), self.coef.shape()],
                d_in,
                d_out,
            ));
        }
        Ok(vec![
            Tensor::new(TENSORS[0], vec![m, d_in], self.landmarks.iter().copied()),
            Tensor::new(TENSORS[1], vec![m, d_out], self.coef.iter().copied()),
            Tensor::new(TENSORS[2], vec![1], [self.gamma]),
        ])
    }

    pub fn from_tensors(t: &dyn Tensors, d_in: usize, d_out: usize) -> Result<Self, String> {
        let (landmarks, ls) = t.get(TENSORS[0], 2)?;
        let (coef, cs) = t.get(TENSORS[1], 2)?;
        let (gamma, gs) = t.get(TENSORS[2], 1)?;
        if ls[1] != d_in || cs != [ls[0], d_out] || gs != [1] {
            return Err(shape_error("kernel", &[&ls, &cs], d_in, d_out));
        }
        Ok(KernelResidual {
            landmarks: Array2::from_shape_vec((ls[0], ls[1]), landmarks)
                .map_err(|e| e.to_string())?,
            coef: Array2::from_shape_vec((cs[0], cs[1]), coef).map_err(|e| e.to_string())?,
            gamma: gamma[0],
        })
    }
}
