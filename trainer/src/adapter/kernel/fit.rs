//! Fitting the kernel residual: landmarks, the Nyström solve, and the choice of γ, λ and
//! the landmark count on held-out pairs.

use ndarray::{Array2, ArrayView2, s};

use super::{KernelParams, KernelResidual, features, to_kernel};
use crate::adapter::{Adapter, AdapterParams, Fitting, Tuning, wrong_params};
use crate::error::{Result, TrainError};
use crate::fit::score::{TIE, mean_row_cosine};
use crate::gemm::project;
use crate::linalg::solve_spd;
use crate::stats::accumulate_gram;

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
        crate::fit::kmeans::spherical_kmeans(x, m, 0)
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
                let score = mean_row_cosine(pred.view(), y_val);
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
        .filter(|r| r.1 >= best - TIE)
        .max_by(|a, b| b.0.landmarks.cmp(&a.0.landmarks).then(a.1.total_cmp(&b.1)))
        .ok_or_else(|| TrainError::Linalg("no kernel fit succeeded".into()))
}

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

/// Chooses γ, λ and the landmark count on the validation rows, as [`crate::adapter::Kind::tune`].
pub fn tune_params(t: &Tuning<'_>) -> Result<AdapterParams> {
    let r_tr = &t.y_tr - &t.base.apply(t.x_tr);
    let base_val = t.base.apply(t.x_val);
    let landmarks = t.settings.landmarks;
    let (tuned, _) = tune(
        t.x_tr,
        r_tr.view(),
        t.x_val,
        base_val.view(),
        t.y_val,
        landmarks,
    )?;
    // Tuned on the inner split; "every input a landmark" stays that on all rows.
    Ok(tuned
        .for_rows(t.x_tr.nrows(), t.rows, landmarks.cap())
        .into())
}

/// Fits the residual with fixed parameters, as [`crate::adapter::Kind::fit`].
pub fn fit_params(params: AdapterParams, f: &Fitting<'_>) -> Result<Adapter> {
    let AdapterParams::Kernel(p) = params else {
        return Err(wrong_params(params));
    };
    let p = p.for_rows(f.tuned_on, f.x.nrows(), f.settings.landmarks.cap());
    let r = &f.y - &f.base.apply(f.x);
    Ok(Adapter::Kernel(fit_residual(f.x, r.view(), p)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Axis;
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
            score > mean_row_cosine(base.view(), yv.view()) + 0.05,
            "{score}"
        );
        assert!(LAMBDA_GRID.contains(&params.lambda) && GAMMA_GRID.contains(&params.gamma));
        // A smooth target in 5 dimensions needs far fewer than 400 landmarks: the cheaper
        // count ties with every input and wins on cost.
        assert_eq!(params.landmarks, 256, "{params:?}");
        // Every input a landmark scores at most the tie margin better.
        let (all, all_score) = tuned(Landmarks::Fixed(n));
        assert_eq!(all.landmarks, n);
        assert!(all_score <= score + TIE, "{all_score} vs {score}");
        // A fixed count is kept; one above the inputs means every input.
        for (fixed, want) in [(37, 37), (5000, n)] {
            let (p, _) = tuned(Landmarks::Fixed(fixed));
            assert_eq!(p.landmarks, want);
        }
    }
}
