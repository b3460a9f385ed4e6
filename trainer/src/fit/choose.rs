//! Tuning each method's hyper-parameters, scoring it on held-out pairs, and choosing
//! among the candidates.

use ndarray::Array2;

use super::score::{TIE, mean_cosine};
use super::{Candidate, FitConfig};
use crate::error::{Result, TrainError};
use crate::map::LinearMap;
use crate::method::Method;
use crate::methods;
use crate::stats::PairStats;

/// The best candidate by held-out cosine; within [`TIE`] of the best, the smallest.
pub fn choose(candidates: &[Candidate]) -> &Candidate {
    let best = candidates
        .iter()
        .map(|c| c.heldout_cosine)
        .fold(f64::NEG_INFINITY, f64::max);
    candidates
        .iter()
        .filter(|c| c.heldout_cosine >= best - TIE)
        .min_by_key(|c| c.parameters)
        .unwrap_or(&candidates[0])
}

pub(super) fn tune_and_score(
    method: Method,
    train: &PairStats,
    folds: &[PairStats],
    cfg: &FitConfig,
    ridge_lambda: &mut Option<f64>,
    x_val: &Array2<f32>,
    y_val: &Array2<f32>,
) -> Result<Candidate> {
    let (d_in, d_out) = (train.d_in(), train.d_out());
    let mut lambda = None;
    let mut rank = None;
    if matches!(method, Method::Ridge | Method::Lowrank) {
        lambda = Some(ridge_lambda_for(train, folds, cfg, ridge_lambda)?);
    }
    if method == Method::Lowrank {
        let l = lambda.unwrap_or(0.0);
        rank = Some(match cfg.rank {
            Some(r) => r.clamp(1, d_in.min(d_out)),
            None => {
                let grid = methods::rank_grid(d_in, d_out);
                let errors = methods::lowrank_cv(train, folds, l, &grid)?;
                let grid_f: Vec<f64> = grid.iter().map(|&r| r as f64).collect();
                argmin(&grid_f, &errors) as usize
            }
        });
    }
    let map = build(method, train, lambda, rank)?;
    Ok(Candidate {
        method,
        lambda,
        rank,
        heldout_cosine: mean_cosine(&map, x_val, y_val),
        parameters: parameters(method, d_in, d_out, rank),
        adapter: None,
    })
}

/// The λ of ridge: given, already tuned for another candidate, or tuned now.
pub(super) fn ridge_lambda_for(
    train: &PairStats,
    folds: &[PairStats],
    cfg: &FitConfig,
    ridge_lambda: &mut Option<f64>,
) -> Result<f64> {
    let l = match (cfg.lambda, *ridge_lambda) {
        (Some(l), _) => l,
        (None, Some(l)) => l,
        (None, None) => {
            let grid = methods::lambda_grid(train);
            let errors = methods::ridge_cv(train, folds, &grid)?;
            argmin(&grid, &errors)
        }
    };
    *ridge_lambda = Some(l);
    Ok(l)
}

/// Fits one concrete method with its hyper-parameters fixed.
pub fn build(
    method: Method,
    stats: &PairStats,
    lambda: Option<f64>,
    rank: Option<usize>,
) -> Result<LinearMap> {
    match method {
        // The adapters' affine part is the ridge map they are built on.
        Method::Ridge | Method::Kernel | Method::Cluster | Method::Mlp => {
            methods::ridge(stats, lambda.unwrap_or(0.0))
        }
        Method::Procrustes => methods::procrustes(stats),
        Method::Lowrank => {
            let r = rank.unwrap_or(stats.d_in().min(stats.d_out()));
            methods::lowrank(stats, lambda.unwrap_or(0.0), r)
        }
        Method::Auto => Err(TrainError::Invalid {
            what: "method",
            message: "auto is a choice among methods, not a method to build".into(),
        }),
    }
}

/// Free parameters of each method's map (the bias counted too).
pub fn parameters(method: Method, d_in: usize, d_out: usize, rank: Option<usize>) -> usize {
    let k = d_in.min(d_out);
    match method {
        Method::Ridge | Method::Kernel | Method::Cluster | Method::Mlp | Method::Auto => {
            d_in * d_out + d_out
        }
        // A semi-orthogonal matrix has d_in·d_out − k(k+1)/2 degrees of freedom; plus the scale.
        Method::Procrustes => d_in * d_out - k * (k + 1) / 2 + 1 + d_out,
        Method::Lowrank => rank.unwrap_or(k) * (d_in + d_out) + d_out,
    }
}

fn argmin(grid: &[f64], errors: &[f64]) -> f64 {
    let k = errors
        .iter()
        .enumerate()
        .filter(|(_, e)| e.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(k, _)| k)
        .unwrap_or(0);
    grid[k]
}
