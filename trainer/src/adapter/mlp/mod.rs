//! A residual MLP adapter: y = x·A + b + gelu(x·W₁ + c)·W₂, trained with candle (see
//! `fit`), applied here in plain Rust.

use ndarray::{Array1, Array2, ArrayView2};

use super::{Tensor, Tensors, shape_error};
use crate::gemm::project;

#[cfg(feature = "train")]
mod fit;
#[cfg(feature = "train")]
pub use fit::*;

/// The trained adapter: its own affine part (trained from ridge) and the residual branch.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpResidual {
    /// A, d_in × d_out.
    pub weight: Array2<f32>,
    /// b, d_out.
    pub bias: Array1<f32>,
    /// W₁, d_in × hidden.
    pub w1: Array2<f32>,
    /// c, hidden.
    pub c: Array1<f32>,
    /// W₂, hidden × d_out.
    pub w2: Array2<f32>,
}

impl MlpResidual {
    /// What [`apply`](Self::apply) relies on, for a residual read from a file: at least
    /// one hidden unit.
    pub fn check(&self) -> Result<(), String> {
        if self.w1.ncols() == 0 {
            return Err("an MLP shim has at least one hidden unit; this one has none".into());
        }
        Ok(())
    }
}

impl MlpResidual {
    pub fn hidden(&self) -> usize {
        self.w1.ncols()
    }

    pub fn parameters(&self) -> usize {
        self.weight.len() + self.bias.len() + self.w1.len() + self.c.len() + self.w2.len()
    }

    /// The adapter's output for unit rows of `x`.
    pub fn apply(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        let mut h = project(
            x,
            self.w1.view(),
            Some(self.c.as_slice().expect("contiguous")),
        );
        h.mapv_inplace(gelu);
        let mut out = project(
            x,
            self.weight.view(),
            Some(self.bias.as_slice().expect("contiguous")),
        );
        out += &project(h.view(), self.w2.view(), None);
        out
    }
}

/// gelu, tanh approximation: 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))).
pub fn gelu(v: f32) -> f32 {
    const K: f32 = 0.797_884_6; // √(2/π)
    0.5 * v * (1.0 + (K * (v + 0.044_715 * v * v * v)).tanh())
}

/// The hyper-parameters of one trained MLP, as artifacts and reports record them.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlpParams {
    pub hidden: usize,
    /// Epochs trained (chosen by early stopping).
    pub epochs: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch: usize,
    pub contrastive_weight: f64,
    pub temperature: f64,
    /// λ of W₂'s closed-form start (a ridge of the affine part's residual on the hidden
    /// units), chosen on held-out pairs; `None`: W₂ started at zero, at the ridge map
    /// (which held-out pairs preferred, or a shim fitted before the start existed).
    #[serde(default)]
    pub start_ridge: Option<f64>,
}

impl std::fmt::Display for MlpParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} hidden units, {} epochs", self.hidden, self.epochs)?;
        match self.start_ridge {
            Some(l) => write!(f, ", W₂ from the residual's ridge (λ {l})"),
            None => write!(f, ", from ridge"),
        }
    }
}

/// The tensors an MLP shim adds: `mlp.w1` [d_in, hidden], `mlp.c` [hidden], `mlp.w2`
/// [hidden, d_out]. Its `weight` and `bias` are its own trained affine part.
pub const TENSORS: [&str; 3] = ["mlp.w1", "mlp.c", "mlp.w2"];

impl MlpResidual {
    pub fn to_tensors(&self, d_in: usize, d_out: usize) -> Result<Vec<Tensor>, String> {
        let h = self.hidden();
        if self.w1.dim() != (d_in, h) || self.c.len() != h || self.w2.dim() != (h, d_out) {
            return Err(shape_error(
                "MLP",
                &[self.w1.shape(), self.c.shape(), self.w2.shape()],
                d_in,
                d_out,
            ));
        }
        Ok(vec![
            Tensor::new(TENSORS[0], vec![d_in, h], self.w1.iter().copied()),
            Tensor::new(TENSORS[1], vec![h], self.c.iter().copied()),
            Tensor::new(TENSORS[2], vec![h, d_out], self.w2.iter().copied()),
        ])
    }

    /// Its residual branch, and the shim's `weight` and `bias` as its affine part.
    pub fn from_tensors(t: &dyn Tensors, d_in: usize, d_out: usize) -> Result<Self, String> {
        let (w1, s1) = t.get(TENSORS[0], 2)?;
        let (c, sc) = t.get(TENSORS[1], 1)?;
        let (w2, s2) = t.get(TENSORS[2], 2)?;
        let h = s1[1];
        if s1[0] != d_in || sc != [h] || s2 != [h, d_out] {
            return Err(shape_error("MLP", &[&s1, &sc, &s2], d_in, d_out));
        }
        let (weight, _) = t.get("weight", 2)?;
        let (bias, _) = t.get("bias", 1)?;
        Ok(MlpResidual {
            weight: Array2::from_shape_vec((d_in, d_out), weight).map_err(|e| e.to_string())?,
            bias: Array1::from(bias),
            w1: Array2::from_shape_vec((d_in, h), w1).map_err(|e| e.to_string())?,
            c: Array1::from(c),
            w2: Array2::from_shape_vec((h, d_out), w2).map_err(|e| e.to_string())?,
        })
    }
}
