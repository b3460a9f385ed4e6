//! How well a map does on held-out pairs: the mean cosine between its outputs and the true
//! targets, accumulated in f64. Every candidate, tuning grid and early stop scores this way.

use ndarray::{Array2, ArrayView2, Axis};

use crate::map::LinearMap;

/// Ties closer than this go to the candidate with fewer parameters.
pub const TIE: f64 = 0.002;

/// Mean cosine between `x·W + b` and `y` (rows of `y` are unit length), accumulated in f64.
pub fn mean_cosine(map: &LinearMap, x: &Array2<f32>, y: &Array2<f32>) -> f64 {
    if x.nrows() == 0 {
        return f64::NAN;
    }
    let pred = map.apply(x.view());
    let total: f64 = pred
        .rows()
        .into_iter()
        .zip(y.rows())
        .map(|(p, t)| {
            let dot: f64 = p
                .iter()
                .zip(t.iter())
                .map(|(&a, &b)| a as f64 * b as f64)
                .sum();
            let norm: f64 = p
                .iter()
                .map(|&a| (a as f64) * (a as f64))
                .sum::<f64>()
                .sqrt();
            if norm > 0.0 { dot / norm } else { 0.0 }
        })
        .sum();
    total / x.nrows() as f64
}

/// Mean cosine between rows of `pred` and unit rows of `y`, in f64.
pub fn mean_row_cosine(pred: ArrayView2<'_, f32>, y: ArrayView2<'_, f32>) -> f64 {
    if pred.nrows() == 0 {
        return f64::NAN;
    }
    let total: f64 = pred
        .axis_iter(Axis(0))
        .zip(y.axis_iter(Axis(0)))
        .map(|(p, t)| {
            let (dot, norm) = p
                .iter()
                .zip(t.iter())
                .fold((0.0f64, 0.0f64), |(d, n), (&a, &b)| {
                    (d + a as f64 * b as f64, n + a as f64 * a as f64)
                });
            if norm > 0.0 { dot / norm.sqrt() } else { 0.0 }
        })
        .sum();
    total / pred.nrows() as f64
}
