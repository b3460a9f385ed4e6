//! Fitting the non-linear candidates (kernel, cluster, mlp) on top of ridge: tuning on the
//! kept training pairs, scoring on the validation split, and refitting.

use ndarray::{Array2, ArrayView2, Axis};

use super::choose::{parameters, ridge_lambda_for};
use super::score::mean_row_cosine;
use super::{Candidate, FitConfig, Method};
use crate::adapter::{self, Adapter, AdapterParams, Fitting, Settings, Tuning};
use crate::error::{Result, TrainError};
use crate::map::LinearMap;
use crate::methods;
use crate::stats::PairStats;

/// The affine part of a shim whose adapter trains its own (the MLP's), else `map`.
pub(super) fn with_own_affine(map: LinearMap, adapter: Option<&Adapter>) -> LinearMap {
    match adapter.and_then(Adapter::own_affine) {
        Some((w, b)) => LinearMap {
            weight: w.mapv(|v| v as f64),
            bias: b.mapv(|v| v as f64),
        },
        None => map,
    }
}

/// A non-linear candidate on top of ridge: its hyper-parameters tuned with tuning fold 0
/// of the kept training pairs held out (the ridge under it fitted on the other folds), then
/// refitted on every kept training pair and scored on the validation split.
#[allow(clippy::too_many_arguments)]
pub(super) fn adapter_candidate(
    method: Method,
    train: &PairStats,
    folds: &[PairStats],
    cfg: &FitConfig,
    ridge_lambda: &mut Option<f64>,
    reservoir: &(Array2<f32>, Array2<f32>, Vec<usize>),
    x_val: &Array2<f32>,
    y_val: &Array2<f32>,
) -> Result<(Candidate, AdapterParams)> {
    let l = ridge_lambda_for(train, folds, cfg, ridge_lambda)?;
    let (x, y, fold) = reservoir;
    let inner_val: Vec<usize> = (0..fold.len()).filter(|&i| fold[i] == 0).collect();
    let inner_tr: Vec<usize> = (0..fold.len()).filter(|&i| fold[i] != 0).collect();
    if inner_val.len() < 5 || inner_tr.len() < 5 {
        return Err(TrainError::Invalid {
            what: "method",
            message: format!(
                "{method} needs at least 5 pairs in each of its tuning splits; {} and {} kept",
                inner_tr.len(),
                inner_val.len()
            ),
        });
    }
    let mut rest = PairStats::new(train.d_in(), train.d_out());
    folds.iter().skip(1).for_each(|f| rest.merge(f));
    let base_inner = methods::ridge(&rest, l)?;
    let (x_tr, y_tr) = (x.select(Axis(0), &inner_tr), y.select(Axis(0), &inner_tr));
    let (x_iv, y_iv) = (x.select(Axis(0), &inner_val), y.select(Axis(0), &inner_val));
    let kind = adapter::kind(method).ok_or_else(|| TrainError::Invalid {
        what: "method",
        message: format!("{method} has no adapter"),
    })?;
    let settings = settings(cfg);
    let params = (kind.tune)(&Tuning {
        x_tr: x_tr.view(),
        y_tr: y_tr.view(),
        x_val: x_iv.view(),
        y_val: y_iv.view(),
        base: &base_inner,
        lambda: l,
        rows: x.nrows(),
        settings: &settings,
    })?;
    let base = methods::ridge(train, l)?;
    let adapter = fit_adapter(params, &base, l, x.view(), y.view(), x.nrows(), cfg)?;
    let pred = adapter.apply(x_val.view(), || base.apply(x_val.view()));
    let (d_in, d_out) = (train.d_in(), train.d_out());
    let affine = if adapter.adds_to_affine() {
        parameters(Method::Ridge, d_in, d_out, None)
    } else {
        0
    };
    Ok((
        Candidate {
            method,
            lambda: Some(l),
            rank: None,
            heldout_cosine: mean_row_cosine(pred.view(), y_val.view()),
            parameters: affine + adapter.parameters(),
            adapter: Some(params),
        },
        params,
    ))
}

/// Fits an adapter with fixed hyper-parameters on unit rows `x` → `y`, on top of `base`;
/// `tuned_on` is the number of rows the parameters were tuned on (see
/// [`crate::kernel::KernelParams::for_rows`]).
pub(super) fn fit_adapter(
    params: AdapterParams,
    base: &LinearMap,
    lambda: f64,
    x: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    tuned_on: usize,
    cfg: &FitConfig,
) -> Result<Adapter> {
    let kind = adapter::kind(params.method()).ok_or_else(|| TrainError::Invalid {
        what: "method",
        message: format!("{} has no adapter", params.method()),
    })?;
    (kind.fit)(
        params,
        &Fitting {
            x,
            y,
            base,
            lambda,
            tuned_on,
            settings: &settings(cfg),
        },
    )
}

/// The adapters' share of the fit's settings.
fn settings(cfg: &FitConfig) -> Settings {
    Settings {
        landmarks: cfg.landmarks,
        mlp: cfg.mlp,
        seed: cfg.seed,
    }
}
