//! The closed-form shims: ridge, Procrustes and reduced-rank regression, each fitted from
//! [`PairStats`] and tuned by exact K-fold validation on per-fold statistics.

use ndarray::{Array1, Array2, Axis};

use crate::error::Result;
use rayon::prelude::*;

use crate::linalg::{cholesky, mm, solve_spd, sym_eigen, thin_svd};
use crate::map::LinearMap;
use crate::stats::PairStats;

/// λ candidates, relative to the mean eigenvalue of the centred XᵀX, so the grid follows
/// the data's scale and the number of pairs.
pub const LAMBDA_GRID: [f64; 15] = [
    1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0, 10.0,
];

/// Ridge on centred data (the intercept is not penalised): W = (Sxx + λI)⁻¹Sxy.
pub fn ridge(stats: &PairStats, lambda: f64) -> Result<LinearMap> {
    let c = stats.centred();
    let mut a = c.sxx.clone();
    a.diag_mut().mapv_inplace(|v| v + lambda);
    // Cholesky is several times cheaper than the eigendecomposition; the latter remains for
    // a system that is not positive definite (λ = 0 with collinear inputs).
    if let Some(w) = solve_spd(&a, &c.sxy) {
        return Ok(LinearMap::through_means(w, &c));
    }
    let (s, v) = sym_eigen(&c.sxx)?;
    let p = v.t().dot(&c.sxy);
    let d = s.mapv(|e| 1.0 / (e.max(0.0) + lambda));
    let w = v.dot(&(&p * &d.view().insert_axis(Axis(1))));
    Ok(LinearMap::through_means(w, &c))
}

/// The λ grid in absolute terms for these statistics.
pub fn lambda_grid(stats: &PairStats) -> Vec<f64> {
    let c = stats.centred();
    let mean_eig = c.sxx.diag().sum() / c.sxx.nrows().max(1) as f64;
    LAMBDA_GRID
        .iter()
        .map(|a| a * mean_eig.max(f64::MIN_POSITIVE))
        .collect()
}

/// K-fold validation error of ridge for every λ of `grid`: `folds[k]` holds the statistics
/// of fold k, `total` of all folds. Exact: each fold costs one eigendecomposition of its
/// training XᵀX, then O(d²) a λ. Returns the summed validation squared error per λ.
pub fn ridge_cv(total: &PairStats, folds: &[PairStats], grid: &[f64]) -> Result<Vec<f64>> {
    let per_fold: Vec<Result<Vec<f64>>> = folds
        .par_iter()
        .filter(|f| f.n > 0 && f.n < total.n)
        .map(|fold| ridge_fold_errors(total, fold, grid))
        .collect();
    let mut errors = vec![0.0; grid.len()];
    for fold in per_fold {
        for (e, f) in errors.iter_mut().zip(fold?) {
            *e += f;
        }
    }
    Ok(errors)
}

/// One fold's validation error for every λ, from one eigendecomposition of its training
/// Sxx = V·diag(s)·Vᵀ: with P = VᵀSxy and d = 1/(s+λ), W(λ) = V·diag(d)·P, so each term of
/// the error is a weighted sum over the eigenbasis, O(d²) a λ.
fn ridge_fold_errors(total: &PairStats, fold: &PairStats, grid: &[f64]) -> Result<Vec<f64>> {
    let train = total.without(fold);
    let c = train.centred();
    let (s, v) = sym_eigen(&c.sxx)?;
    let p = mm(&v, true, &c.sxy, false); // d_in × d_out
    let h = mm(&v, true, &fold.xty, false); // Vᵀ XᵀY of the held-out fold
    let h_row: Array1<f64> = (&p * &h).sum_axis(Axis(1));
    let b = mm(&mm(&v, true, &fold.xtx, false), false, &v, false);
    let g = mm(&p, false, &p, true);
    let m = &b * &g;
    let a_mean = v.t().dot(&c.mean_x);
    let a_fold = v.t().dot(&fold.sum_x);
    Ok(grid
        .iter()
        .map(|&lambda| {
            let d = s.mapv(|e| 1.0 / (e.max(0.0) + lambda));
            // μxW and (Σx_fold)W through the eigenbasis: (Vᵀμx ∘ d)ᵀ P.
            let mean_w = (&a_mean * &d).dot(&p);
            let fold_w = (&a_fold * &d).dot(&p);
            let bias = &c.mean_y - &mean_w;
            let cross = d.dot(&h_row) + fold.sum_y.dot(&bias);
            let quad = d.dot(&m.dot(&d));
            let lin = fold_w.dot(&bias);
            fold.yy - 2.0 * cross + quad + 2.0 * lin + fold.n as f64 * bias.dot(&bias)
        })
        .collect())
}

/// Orthogonal map with a global scale, on centred data: W = s·UVᵀ from the SVD of Sxy
/// (semi-orthogonal when the dimensions differ), s = Σσ / tr(Sxx).
pub fn procrustes(stats: &PairStats) -> Result<LinearMap> {
    let c = stats.centred();
    let (u, sigma, v) = thin_svd(&c.sxy)?;
    let trace = c.sxx.diag().sum();
    let scale = if trace > 0.0 {
        sigma.sum() / trace
    } else {
        1.0
    };
    let w = u.dot(&v.t()) * scale;
    Ok(LinearMap::through_means(w, &c))
}

/// Reduced-rank regression: the ridge fit projected on the top-`rank` right singular
/// directions of its fitted values, W_r = W·Q_r·Q_rᵀ with Q_r the top eigenvectors of
/// WᵀSxxW.
pub fn lowrank(stats: &PairStats, lambda: f64, rank: usize) -> Result<LinearMap> {
    let full = ridge(stats, lambda)?;
    let c = stats.centred();
    let q = top_output_directions(&full.weight, &c.sxx, rank)?;
    let w = full.weight.dot(&q).dot(&q.t());
    Ok(LinearMap::through_means(w, &c))
}

/// The top `rank` right singular directions of the centred fitted values Xc·W, as the last
/// `rank` columns (weakest first, strongest last). (XcW)ᵀ(XcW) = WᵀSxxW = (LᵀW)ᵀ(LᵀW) with
/// Sxx = LLᵀ, so a thin SVD of the d_in × d_out matrix LᵀW gives them without forming the
/// d_out × d_out product.
fn top_output_directions(w: &Array2<f64>, sxx: &Array2<f64>, rank: usize) -> Result<Array2<f64>> {
    let d_out = w.ncols();
    let vectors = match cholesky(sxx) {
        Some(l) => {
            let (_, _, v) = thin_svd(&l.t().dot(w))?;
            // Singular values descend: reverse to the ascending order callers slice from.
            let k = v.ncols();
            let rev: Vec<usize> = (0..k).rev().collect();
            v.select(Axis(1), &rev)
        }
        None => sym_eigen(&w.t().dot(&sxx.dot(w)))?.1,
    };
    let d = vectors.ncols();
    let r = rank.clamp(1, d.min(d_out));
    Ok(vectors.slice(ndarray::s![.., d - r..]).to_owned())
}

/// Rank candidates for a d_in → d_out map: powers of two below min(d_in, d_out).
pub fn rank_grid(d_in: usize, d_out: usize) -> Vec<usize> {
    let max = d_in.min(d_out);
    let mut out: Vec<usize> = (3..)
        .map(|p| 1usize << p)
        .take_while(|&r| r < max)
        .collect();
    if out.is_empty() {
        out.push(max.max(1));
    }
    out
}

/// K-fold validation error of reduced-rank regression for each rank of `ranks`.
pub fn lowrank_cv(
    total: &PairStats,
    folds: &[PairStats],
    lambda: f64,
    ranks: &[usize],
) -> Result<Vec<f64>> {
    let max_rank = ranks.iter().copied().max().unwrap_or(1);
    let per_fold: Vec<Result<Vec<f64>>> = folds
        .par_iter()
        .filter(|f| f.n > 0 && f.n < total.n)
        .map(|fold| {
            let train = total.without(fold);
            let c = train.centred();
            let full = ridge(&train, lambda)?;
            let q_all = top_output_directions(&full.weight, &c.sxx, max_rank)?;
            let cols = q_all.ncols();
            Ok(ranks
                .iter()
                .map(|&r| {
                    // The top r of the top directions: the last r columns.
                    let q = q_all
                        .slice(ndarray::s![.., cols - r.min(cols)..])
                        .to_owned();
                    let w = mm(&mm(&full.weight, false, &q, false), false, &q, true);
                    LinearMap::through_means(w, &c).squared_error(fold)
                })
                .collect())
        })
        .collect();
    let mut errors = vec![0.0; ranks.len()];
    for fold in per_fold {
        for (e, f) in errors.iter_mut().zip(fold?) {
            *e += f;
        }
    }
    Ok(errors)
}
