//! Decompositions in f64 through faer, on ndarray matrices.

use faer::linalg::solvers::Solve;
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

/// Solves `a·x = b` for symmetric positive-definite `a` by Cholesky; `None` when `a` is not
/// positive definite (the caller then falls back to an eigendecomposition).
pub fn solve_spd(a: &Array2<f64>, b: &Array2<f64>) -> Option<Array2<f64>> {
    let llt = to_faer(a).llt(Side::Lower).ok()?;
    let x = llt.solve(to_faer(b));
    Some(from_faer(x.as_ref()))
}

/// The lower Cholesky factor L of a symmetric positive-definite `a` (a = L·Lᵀ).
pub fn cholesky(a: &Array2<f64>) -> Option<Array2<f64>> {
    let llt = to_faer(a).llt(Side::Lower).ok()?;
    Some(from_faer(llt.L()))
}

/// `op(a)·op(b)` in f64 through faer's parallel GEMM, `op` transposing when asked:
/// ndarray's own f64 product is single-threaded and was the bulk of a d = 768 fit.
pub fn mm(a: &Array2<f64>, transpose_a: bool, b: &Array2<f64>, transpose_b: bool) -> Array2<f64> {
    let a = a.as_standard_layout();
    let b = b.as_standard_layout();
    let ar =
        faer::MatRef::from_row_major_slice(a.as_slice().expect("standard"), a.nrows(), a.ncols());
    let br =
        faer::MatRef::from_row_major_slice(b.as_slice().expect("standard"), b.nrows(), b.ncols());
    let ar = if transpose_a { ar.transpose() } else { ar };
    let br = if transpose_b { br.transpose() } else { br };
    let mut out = Array2::<f64>::zeros((ar.nrows(), br.ncols()));
    let (r, c) = out.dim();
    let dst = faer::MatMut::from_row_major_slice_mut(out.as_slice_mut().expect("fresh"), r, c);
    faer::linalg::matmul::matmul(
        dst,
        faer::Accum::Replace,
        ar,
        br,
        1.0f64,
        faer::Par::rayon(0),
    );
    out
}
