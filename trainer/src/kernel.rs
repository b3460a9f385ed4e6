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
//! fewest landmarks within [`LANDMARK_TIE`] of the best score.

use ndarray::{Array2, ArrayView2, Axis, s};

use crate::error::{Result, TrainError};
use crate::gemm::{accumulate_gram, project};
use crate::linalg::solve_spd;

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
fn features(x: ArrayView2<'_, f32>, landmarks: ArrayView2<'_, f32>, gamma: f32) -> Array2<f32> {
    let mut k = project(x, landmarks.t(), None);
    to_kernel(&mut k, gamma);
    k
}

fn to_kernel(dots: &mut Array2<f32>, gamma: f32) {
    let g = 2.0 * gamma;
    dots.mapv_inplace(|d| (g * (d.min(1.0) - 1.0)).exp());
}

/// The hyper-parameters of one residual fit.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct KernelParams {
    pub gamma: f64,
    pub lambda: f64,
    pub landmarks: usize,
}

/// Kernel widths tried (γ on unit vectors: exp(−γ‖x − l‖²), ‖x − l‖² ∈ [0, 4]).
pub const GAMMA_GRID: [f64; 5] = [0.5, 1.0, 2.0, 4.0, 8.0];
/// Penalties tried; on the scale of the kernel matrix, whose diagonal is 1.
pub const LAMBDA_GRID: [f64; 5] = [1e-3, 1e-2, 3e-2, 1e-1, 1.0];
/// Landmark counts tried (those under the number of training inputs, and that number).
pub const LANDMARK_GRID: [usize; 3] = [256, 1024, 2048];

/// Fits the correction of residuals `r` at inputs `x` (unit rows) with
/// `params.landmarks` landmarks: every input, or k-means centroids when fewer.
pub fn fit_residual(
    x: ArrayView2<'_, f32>,
    r: ArrayView2<'_, f32>,
    params: KernelParams,
) -> Result<KernelResidual> {
    let m = params.landmarks.clamp(1, x.nrows().max(1));
    let landmarks = choose_landmarks(x, m);
    let k_nm = features(x, landmarks.view(), params.gamma as f32);
    let k_mm = features(landmarks.view(), landmarks.view(), params.gamma as f32);
    let every = (m == x.nrows()).then_some(r);
    let (g, c) = match every {
        Some(_) => (Array2::zeros((0, 0)), Array2::zeros((0, 0))),
        None => gram(&k_nm, r),
    };
    let coef = solve(&g, &c, &k_mm, m, params.lambda, every)?;
    Ok(KernelResidual {
        landmarks,
        coef: coef.mapv(|v| v as f32),
        gamma: params.gamma as f32,
    })
}

/// m landmarks for inputs `x`: every input when m reaches their number, else the
/// centroids of a spherical k-means, which cover the inputs better than a sample does.
fn choose_landmarks(x: ArrayView2<'_, f32>, m: usize) -> Array2<f32> {
    if m >= x.nrows() {
        x.to_owned()
    } else {
        crate::cluster::spherical_kmeans(x, m, 0)
    }
}

/// K_nmᵀK_nm and K_nmᵀR in f64.
fn gram(k_nm: &Array2<f32>, r: ArrayView2<'_, f32>) -> (Array2<f64>, Array2<f64>) {
    let m = k_nm.ncols();
    let mut g = Array2::zeros((m, m));
    let mut c = Array2::zeros((m, r.ncols()));
    accumulate_gram(k_nm.view(), r, &mut g, &mut c);
    (g, c)
}

/// A = (G + λK_mm + εI)⁻¹C on the leading m landmarks. The system is positive
/// semi-definite in exact arithmetic; nearly coinciding landmarks make it singular in
/// floating point, so ε starts at 1e-9 of the mean diagonal and grows tenfold until
/// Cholesky succeeds (at most 1e-3, a penalty still far below the data's scale).
fn solve(
    g: &Array2<f64>,
    c: &Array2<f64>,
    k_mm: &Array2<f32>,
    m: usize,
    lambda: f64,
    every_input: Option<ArrayView2<'_, f32>>,
) -> Result<Array2<f64>> {
    let k = k_mm.slice(s![..m, ..m]);
    // With every input a landmark the solution is exact kernel ridge, (K + λI)⁻¹R, whose
    // condition number is the square root of the normal equations' below.
    let (mut a, rhs) = match every_input {
        Some(r) => {
            let mut a = k.mapv(|v| v as f64);
            a.diag_mut().mapv_inplace(|v| v + lambda);
            (a, r.mapv(|v| v as f64))
        }
        None => {
            let mut a = g.slice(s![..m, ..m]).to_owned();
            a.zip_mut_with(&k, |v, &kv| *v += lambda * kv as f64);
            (a, c.slice(s![..m, ..]).to_owned())
        }
    };
    let scale = (a.diag().sum() / m as f64).max(1e-300);
    let mut added = 0.0;
    for exponent in -9..=-3 {
        let eps = scale * 10f64.powi(exponent);
        a.diag_mut().mapv_inplace(|v| v + eps - added);
        added = eps;
        if let Some(x) = solve_spd(&a, &rhs) {
            return Ok(x);
        }
    }
    Err(TrainError::Linalg(format!(
        "kernel system not positive definite (m = {m}, λ = {lambda})"
    )))
}

/// Chooses γ, λ and m by mean cosine on the validation rows: `base_*` are the linear map's
/// predictions, `y_*` the targets, `x_*` the unit inputs; landmarks are drawn from `x_tr`
/// as [`fit_residual`] draws them.
#[allow(clippy::too_many_arguments)]
pub fn tune(
    x_tr: ArrayView2<'_, f32>,
    r_tr: ArrayView2<'_, f32>,
    x_val: ArrayView2<'_, f32>,
    base_val: ArrayView2<'_, f32>,
    y_val: ArrayView2<'_, f32>,
    landmarks: Landmarks,
) -> Result<(KernelParams, f64)> {
    let n = x_tr.nrows();
    let max_landmarks = landmarks.cap();
    if n == 0 || x_val.nrows() == 0 {
        return Err(TrainError::Invalid {
            what: "kernel",
            message: "no pairs to tune the kernel on".into(),
        });
    }
    let grid: &[usize] = match landmarks {
        Landmarks::Auto { .. } => &LANDMARK_GRID,
        Landmarks::Fixed(_) => &[],
    };
    let mut ms: Vec<usize> = grid
        .iter()
        .copied()
        .filter(|&m| m < n && m <= max_landmarks)
        .collect();
    let top = n.min(max_landmarks);
    if ms.last() != Some(&top) {
        ms.push(top);
    }
    let mut results: Vec<(KernelParams, f64)> = Vec::new();
    for &m in &ms {
        let landmarks = choose_landmarks(x_tr, m);
        let dots_tr = project(x_tr, landmarks.t(), None);
        let dots_val = project(x_val, landmarks.t(), None);
        let dots_mm = project(landmarks.view(), landmarks.t(), None);
        for gamma in GAMMA_GRID {
            let (mut k_tr, mut k_val, mut k_mm) =
                (dots_tr.clone(), dots_val.clone(), dots_mm.clone());
            for k in [&mut k_tr, &mut k_val, &mut k_mm] {
                to_kernel(k, gamma as f32);
            }
            let every = (m == n).then_some(r_tr);
            let (g, c) = match every {
                Some(_) => (Array2::zeros((0, 0)), Array2::zeros((0, 0))),
                None => gram(&k_tr, r_tr),
            };
            for lambda in LAMBDA_GRID {
                let Ok(coef) = solve(&g, &c, &k_mm, m, lambda, every) else {
                    continue;
                };
                let coef = coef.mapv(|v| v as f32);
                let mut pred = project(k_val.view(), coef.view(), None);
                pred += &base_val;
                let score = mean_cosine(pred.view(), y_val);
                results.push((
                    KernelParams {
                        gamma,
                        lambda,
                        landmarks: m,
                    },
                    score,
                ));
            }
        }
    }
    let results: Vec<(KernelParams, f64)> =
        results.into_iter().filter(|r| r.1.is_finite()).collect();
    let best = results
        .iter()
        .map(|r| r.1)
        .fold(f64::NEG_INFINITY, f64::max);
    // Cost counts too: applying costs O(m) a vector, so the fewest landmarks within the
    // tie margin of the best score win (the margin `auto` uses between methods), and the
    // best score among those.
    results
        .into_iter()
        .filter(|r| r.1 >= best - LANDMARK_TIE)
        .max_by(|a, b| b.0.landmarks.cmp(&a.0.landmarks).then(a.1.total_cmp(&b.1)))
        .ok_or_else(|| TrainError::Linalg("no kernel fit succeeded".into()))
}

/// Held-out mean cosine within which fewer landmarks are preferred.
pub const LANDMARK_TIE: f64 = 0.002;

/// How many landmarks a kernel shim keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landmarks {
    /// Chosen by held-out score and cost, at most `max`.
    Auto { max: usize },
    /// This many (or every training input, when there are fewer).
    Fixed(usize),
}

impl Default for Landmarks {
    fn default() -> Self {
        Landmarks::Auto { max: MAX_LANDMARKS }
    }
}

impl Landmarks {
    /// The most landmarks a fit may keep.
    pub fn cap(self) -> usize {
        match self {
            Landmarks::Auto { max } => max.max(1),
            Landmarks::Fixed(m) => m.max(1),
        }
    }
}

/// The default cap on landmarks: applying costs O(m·(d_in + d_out)) a vector, against
/// d_in·d_out for the affine part (`--max-landmarks` trades quality for speed).
pub const MAX_LANDMARKS: usize = 2048;

impl KernelParams {
    /// These parameters for a fit on `rows` inputs when they were tuned on `tuned_on`: a
    /// choice of every input as a landmark stays that, up to `max_landmarks`.
    pub fn for_rows(self, tuned_on: usize, rows: usize, max_landmarks: usize) -> KernelParams {
        let landmarks = if self.landmarks >= tuned_on {
            rows
        } else {
            self.landmarks
        }
        .min(max_landmarks.max(1));
        KernelParams { landmarks, ..self }
    }
}

/// Mean cosine between rows of `pred` and unit rows of `y`, in f64.
pub fn mean_cosine(pred: ArrayView2<'_, f32>, y: ArrayView2<'_, f32>) -> f64 {
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

/// Rows that should be unit length are, to 1e-3 (a file's values are only checked here).
pub(crate) fn check_unit_rows(rows: ArrayView2<'_, f32>, what: &str) -> Result<(), String> {
    for (i, row) in rows.rows().into_iter().enumerate() {
        let norm = row
            .iter()
            .map(|&v| (v as f64) * (v as f64))
            .sum::<f64>()
            .sqrt();
        if (norm - 1.0).abs() > 1e-3 {
            return Err(format!(
                "row {i} of {what} has length {norm}, not 1 (the rows are unit vectors)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn unit_rows(n: usize, d: usize, seed: u64) -> Array2<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        shimkit_data::normalize_rows(Array2::from_shape_fn((n, d), |_| {
            rng.random::<f32>() * 2.0 - 1.0
        }))
    }

    /// Exact kernel ridge in f64: (K + λI)⁻¹R, the slow, obvious reference.
    fn exact(
        x: &Array2<f32>,
        r: &Array2<f32>,
        gamma: f64,
        lambda: f64,
        xt: &Array2<f32>,
    ) -> Array2<f64> {
        let x64 = x.mapv(|v| v as f64);
        let k = x64.dot(&x64.t()).mapv(|d| (2.0 * gamma * (d - 1.0)).exp());
        let mut a = k.clone();
        a.diag_mut().mapv_inplace(|v| v + lambda);
        let alpha = solve_spd(&a, &r.mapv(|v| v as f64)).unwrap();
        let kt = xt
            .mapv(|v| v as f64)
            .dot(&x64.t())
            .mapv(|d| (2.0 * gamma * (d - 1.0)).exp());
        kt.dot(&alpha)
    }

    #[test]
    fn nystrom_approaches_exact_kernel_ridge_as_landmarks_grow() {
        let (n, d) = (300, 6);
        let x = unit_rows(n, d, 1);
        // A smooth non-linear target.
        let r = Array2::from_shape_fn((n, 3), |(i, j)| {
            (x[[i, j]] * 3.0).sin() * x[[i, (j + 1) % d]]
        });
        let xt = unit_rows(50, d, 2);
        let want = exact(&x, &r, 2.0, 0.1, &xt);
        let mut errors = Vec::new();
        for m in [20, 80, 300] {
            let fit = fit_residual(
                x.view(),
                r.view(),
                KernelParams {
                    gamma: 2.0,
                    lambda: 0.1,
                    landmarks: m,
                },
            )
            .unwrap();
            let got = fit.apply(xt.view()).mapv(|v| v as f64);
            let err = (&got - &want).mapv(f64::abs).fold(0.0f64, |a, &b| a.max(b));
            errors.push(err);
        }
        assert!(errors[0] > errors[1] && errors[1] > errors[2], "{errors:?}");
        // Every input a landmark: the subset-of-regressors solution is exact kernel ridge
        // (f32 kernels and products: 1e-3 on values of order 1).
        assert!(errors[2] < 1e-3, "{errors:?}");
    }

    #[test]
    fn tuning_prefers_the_fit_that_generalises() {
        let (n, d) = (400, 5);
        let x = unit_rows(n, d, 3);
        let y_of = |x: &Array2<f32>| {
            shimkit_data::normalize_rows(Array2::from_shape_fn((x.nrows(), 4), |(i, j)| {
                (x[[i, j]] * 4.0).tanh() + 0.3
            }))
        };
        let y = y_of(&x);
        let xv = unit_rows(200, d, 4);
        let yv = y_of(&xv);
        // Base prediction: the mean target, so the kernel has everything to learn.
        let mean = y.mean_axis(Axis(0)).unwrap();
        let r = &y - &mean;
        let base = Array2::from_shape_fn((200, 4), |(_, j)| mean[j]);
        let tuned = |landmarks| {
            tune(
                x.view(),
                r.view(),
                xv.view(),
                base.view(),
                yv.view(),
                landmarks,
            )
            .unwrap()
        };
        let (params, score) = tuned(Landmarks::default());
        assert!(
            score > mean_cosine(base.view(), yv.view()) + 0.05,
            "{score}"
        );
        assert!(LAMBDA_GRID.contains(&params.lambda) && GAMMA_GRID.contains(&params.gamma));
        // A smooth target in 5 dimensions needs far fewer than 400 landmarks: the cheaper
        // count ties with every input and wins on cost.
        assert_eq!(params.landmarks, 256, "{params:?}");
        // Every input a landmark scores at most the tie margin better.
        let (all, all_score) = tuned(Landmarks::Fixed(n));
        assert_eq!(all.landmarks, n);
        assert!(all_score <= score + LANDMARK_TIE, "{all_score} vs {score}");
        // A fixed count is kept; one above the inputs means every input.
        for (fixed, want) in [(37, 37), (5000, n)] {
            let (p, _) = tuned(Landmarks::Fixed(fixed));
            assert_eq!(p.landmarks, want);
        }
    }
}
