//! Decompositions in f64 through faer, on ndarray matrices.

use faer::{Mat, Side};
use ndarray::{Array1, Array2};

use crate::error::{Result, TrainError};

fn to_faer(a: &Array2<f64>) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[[i, j]])
}

fn from_faer(m: faer::MatRef<'_, f64>) -> Array2<f64> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)])
}

/// Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix.
pub fn sym_eigen(a: &Array2<f64>) -> Result<(Array1<f64>, Array2<f64>)> {
    let m = to_faer(a);
    let evd = m
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| TrainError::Linalg(format!("eigendecomposition: {e:?}")))?;
    let s = evd.S().column_vector();
    let values = Array1::from_shape_fn(s.nrows(), |i| s[i]);
    Ok((values, from_faer(evd.U())))
}

/// Thin SVD: `a = U·diag(s)·Vᵀ`, singular values descending; U is m×k, V is n×k.
pub fn thin_svd(a: &Array2<f64>) -> Result<(Array2<f64>, Array1<f64>, Array2<f64>)> {
    let m = to_faer(a);
    let svd = m
        .thin_svd()
        .map_err(|e| TrainError::Linalg(format!("SVD: {e:?}")))?;
    let s = svd.S().column_vector();
    let values = Array1::from_shape_fn(s.nrows(), |i| s[i]);
    Ok((from_faer(svd.U()), values, from_faer(svd.V())))
}
