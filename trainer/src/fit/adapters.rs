//! Fitting the non-linear candidates (kernel, cluster, mlp) on top of ridge: tuning on the
//! kept training pairs, scoring on the validation split, and refitting.

use ndarray::{Array2, ArrayView2, Axis};

use super::choose::{parameters, ridge_lambda_for};
use super::score::mean_row_cosine;
use super::{Candidate, FitConfig, Method};
use crate::adapter::cluster;
use crate::adapter::kernel;
use crate::adapter::mlp::{self, MlpConfig};
use crate::adapter::{Adapter, AdapterParams};
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
    let params: AdapterParams = match method {
        Method::Kernel => {
            let r_tr = &y_tr - &base_inner.apply(x_tr.view());
            let base_iv = base_inner.apply(x_iv.view());
            let (tuned, _) = kernel::tune(
                x_tr.view(),
                r_tr.view(),
                x_iv.view(),
                base_iv.view(),
                y_iv.view(),
                cfg.landmarks,
            )?;
            // Tuned on the inner split; "every input a landmark" stays that on all rows.
            tuned
                .for_rows(x_tr.nrows(), x.nrows(), cfg.landmarks.cap())
                .into()
        }
        Method::Cluster => {
            let tuned = cluster::tune(
                x_tr.view(),
                y_tr.view(),
                x_iv.view(),
                y_iv.view(),
                &base_inner,
                l,
                cfg.seed,
            )?;
            let Some((tuned, _)) = tuned else {
                return Err(TrainError::Invalid {
                    what: "cluster",
                    message: format!(
                        "{} training pairs are too few to tune two clusters of at least {} pairs each",
                        x_tr.nrows(),
                        cluster::MIN_PER_CLUSTER
                    ),
                });
            };
            tuned.into()
        }
        Method::Mlp => {
            let trained = mlp::train(
                x_tr.view(),
                y_tr.view(),
                Some((x_iv.view(), y_iv.view())),
                &base_inner,
                &cfg.mlp,
                cfg.mlp.epochs,
                cfg.seed,
            )?;
            cfg.mlp.params(trained.epochs).into()
        }
        other => {
            return Err(TrainError::Invalid {
                what: "method",
                message: format!("{other} has no adapter"),
            });
        }
    };
    let base = methods::ridge(train, l)?;
    let adapter = fit_adapter(params, &base, l, x.view(), y.view(), x.nrows(), cfg)?;
    let pred = adapter.apply(x_val.view(), || base.apply(x_val.view()));
    let (d_in, d_out) = (train.d_in(), train.d_out());
    let affine = match adapter {
        Adapter::Kernel(_) => parameters(Method::Ridge, d_in, d_out, None),
        // Cluster maps replace the affine part; the MLP counts its own.
        Adapter::Cluster(_) | Adapter::Mlp(_) => 0,
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
/// [`kernel::KernelParams::for_rows`]).
pub(super) fn fit_adapter(
    params: AdapterParams,
    base: &LinearMap,
    lambda: f64,
    x: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    tuned_on: usize,
    cfg: &FitConfig,
) -> Result<Adapter> {
    Ok(match params {
        AdapterParams::Kernel(p) => {
            let p = p.for_rows(tuned_on, x.nrows(), cfg.landmarks.cap());
            let r = &y - &base.apply(x);
            Adapter::Kernel(kernel::fit_residual(x, r.view(), p)?)
        }
        AdapterParams::Cluster(p) => {
            Adapter::Cluster(cluster::fit_clusters(x, y, base, lambda, p, cfg.seed)?)
        }
        AdapterParams::Mlp(p) => {
            let run = MlpConfig {
                hidden: p.hidden,
                epochs: p.epochs,
                learning_rate: p.learning_rate,
                weight_decay: p.weight_decay,
                batch: p.batch,
                contrastive_weight: p.contrastive_weight,
                temperature: p.temperature,
                ..cfg.mlp
            };
            Adapter::Mlp(mlp::train(x, y, None, base, &run, p.epochs, cfg.seed)?.mlp)
        }
    })
}
