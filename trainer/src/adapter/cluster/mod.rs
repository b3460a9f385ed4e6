//! Per-cluster affine maps, blended by soft assignment.
//!
//! One affine map bends every region of the space the same way; this adapter gives each of
//! k regions its own. Spherical k-means on the (unit) source vectors finds k centroids
//! C; a vector belongs to cluster c with weight a_c(x) = softmax_c(β·x·C_cᵀ), and
//!
//! ```text
//! y(x) = Σ_c a_c(x) · (x·W_c + b_c)
//! ```
//!
//! Each W_c is a weighted ridge regression shrunk toward the global map W:
//! W_c = (S_xx,c + λI)⁻¹(S_xy,c + λW), with S the a_c-weighted, centred statistics; so a
//! cluster with few pairs falls back to the global map instead of overfitting. k and β are
//! chosen on held-out pairs, and k = 1 is the global map itself.

use ndarray::{Array2, Array3, ArrayView2, Axis};

use super::{Tensor, Tensors, check_unit_rows, shape_error};
use crate::gemm::project;

#[cfg(feature = "train")]
mod fit;
#[cfg(feature = "train")]
pub use fit::*;

/// The fitted adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterMaps {
    /// k × d_in, unit rows.
    pub centroids: Array2<f32>,
    /// k × d_in × d_out.
    pub weights: Array3<f32>,
    /// k × d_out.
    pub biases: Array2<f32>,
    /// β of the soft assignment.
    pub temperature: f32,
}

impl ClusterMaps {
    /// What [`apply`](Self::apply) relies on, for maps read from a file: at least one
    /// cluster (with none the blend is empty and every answer all zeros), unit-length
    /// centroids, and a finite, positive sharpness.
    pub fn check(&self) -> Result<(), String> {
        if self.centroids.nrows() == 0 {
            return Err("a cluster shim has at least one cluster; this one has none".into());
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(format!(
                "cluster.temperature is {}; the sharpness is a finite number > 0",
                self.temperature
            ));
        }
        check_unit_rows(self.centroids.view(), "cluster.centroids")
    }
}

/// The hyper-parameters of one fit.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClusterParams {
    pub clusters: usize,
    pub temperature: f64,
}

impl std::fmt::Display for ClusterParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} clusters, sharpness {}",
            self.clusters, self.temperature
        )
    }
}

/// The tensors a cluster shim adds: `cluster.centroids` [k, d_in], `cluster.weights`
/// [k, d_in, d_out], `cluster.biases` [k, d_out], `cluster.temperature` [1].
pub const TENSORS: [&str; 4] = [
    "cluster.centroids",
    "cluster.weights",
    "cluster.biases",
    "cluster.temperature",
];

impl ClusterMaps {
    pub fn to_tensors(&self, d_in: usize, d_out: usize) -> Result<Vec<Tensor>, String> {
        let k = self.centroids.nrows();
        if self.centroids.ncols() != d_in
            || self.weights.dim() != (k, d_in, d_out)
            || self.biases.dim() != (k, d_out)
        {
            return Err(shape_error(
                "cluster",
                &[
                    self.centroids.shape(),
                    self.weights.shape(),
                    self.biases.shape(),
                ],
                d_in,
                d_out,
            ));
        }
        Ok(vec![
            Tensor::new(TENSORS[0], vec![k, d_in], self.centroids.iter().copied()),
            Tensor::new(
                TENSORS[1],
                vec![k, d_in, d_out],
                self.weights.iter().copied(),
            ),
            Tensor::new(TENSORS[2], vec![k, d_out], self.biases.iter().copied()),
            Tensor::new(TENSORS[3], vec![1], [self.temperature]),
        ])
    }

    pub fn from_tensors(t: &dyn Tensors, d_in: usize, d_out: usize) -> Result<Self, String> {
        let (centroids, cs) = t.get(TENSORS[0], 2)?;
        let (weights, ws) = t.get(TENSORS[1], 3)?;
        let (biases, bs) = t.get(TENSORS[2], 2)?;
        let (temperature, ts) = t.get(TENSORS[3], 1)?;
        let k = cs[0];
        if cs[1] != d_in || ws != [k, d_in, d_out] || bs != [k, d_out] || ts != [1] {
            return Err(shape_error("cluster", &[&cs, &ws, &bs], d_in, d_out));
        }
        Ok(ClusterMaps {
            centroids: Array2::from_shape_vec((k, d_in), centroids).map_err(|e| e.to_string())?,
            weights: Array3::from_shape_vec((k, d_in, d_out), weights)
                .map_err(|e| e.to_string())?,
            biases: Array2::from_shape_vec((k, d_out), biases).map_err(|e| e.to_string())?,
            temperature: temperature[0],
        })
    }
}

impl ClusterMaps {
    pub fn clusters(&self) -> usize {
        self.centroids.nrows()
    }

    /// Soft assignments of unit rows: n × k, rows summing to 1.
    pub fn assign(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        softmax_rows(project(x, self.centroids.t(), None), self.temperature)
    }

    /// The blended maps of unit rows of `x`: n × d_out.
    pub fn apply(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        let a = self.assign(x);
        let mut out = Array2::<f32>::zeros((x.nrows(), self.biases.ncols()));
        for c in 0..self.clusters() {
            let b = self.biases.row(c);
            let y = project(
                x,
                self.weights.index_axis(Axis(0), c),
                Some(b.as_slice().expect("contiguous")),
            );
            let w = a.column(c);
            out.zip_mut_with(&(&y * &w.insert_axis(Axis(1))), |o, &v| *o += v);
        }
        out
    }

    pub fn parameters(&self) -> usize {
        self.centroids.len() + self.weights.len() + self.biases.len() + 1
    }
}

pub(crate) fn softmax_rows(mut logits: Array2<f32>, beta: f32) -> Array2<f32> {
    for mut row in logits.rows_mut() {
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (beta * (v - max)).exp());
        let sum: f32 = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    logits
}
