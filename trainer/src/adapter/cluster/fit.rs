//! Fitting the per-cluster maps: spherical k-means, the shrunk weighted ridge of each
//! cluster, and the choice of k and β on held-out pairs.

use ndarray::{Array1, Array2, Array3, ArrayView2, Axis, s};

use super::{ClusterMaps, ClusterParams, softmax_rows};
use crate::adapter::{Adapter, AdapterParams, Fitting, Tuning, wrong_params};
use crate::error::{Result, TrainError};
use crate::fit::score::{TIE, mean_row_cosine};
use crate::gemm::project;
use crate::linalg::solve_spd;
use crate::map::LinearMap;
use crate::stats::accumulate_gram;

/// Cluster counts tried (those leaving at least [`MIN_PER_CLUSTER`] pairs a cluster).
pub const CLUSTER_GRID: [usize; 4] = [2, 4, 8, 16];
/// Soft-assignment sharpness tried (cosines lie in [−1, 1]).
pub const TEMPERATURE_GRID: [f64; 3] = [5.0, 10.0, 20.0];
/// Fewest pairs a cluster should average for a cluster count to be tried.
pub const MIN_PER_CLUSTER: usize = 25;

fn weighted_mean(
    m: ArrayView2<'_, f32>,
    w: ndarray::ArrayView1<'_, f32>,
    total: f64,
) -> Array1<f64> {
    let mut sum = Array1::<f64>::zeros(m.ncols());
    for (row, &wi) in m.rows().into_iter().zip(w.iter()) {
        sum.zip_mut_with(&row, |s, &v| *s += wi as f64 * v as f64);
    }
    sum / total
}

/// Fits the adapter on unit rows `x` → `y`, each cluster's map shrunk toward `global`
/// with penalty `lambda` (on the scale of XᵀX).
pub fn fit_clusters(
    x: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    global: &LinearMap,
    lambda: f64,
    params: ClusterParams,
    seed: u64,
) -> Result<ClusterMaps> {
    let (d_in, d_out) = (x.ncols(), y.ncols());
    let centroids = crate::fit::kmeans::spherical_kmeans(x, params.clusters, seed);
    let k = centroids.nrows();
    let a = softmax_rows(project(x, centroids.t(), None), params.temperature as f32);
    let mut weights = Array3::<f32>::zeros((k, d_in, d_out));
    let mut biases = Array2::<f32>::zeros((k, d_out));
    for c in 0..k {
        let w = a.column(c);
        let total = w
            .iter()
            .map(|&v| v as f64)
            .sum::<f64>()
            .max(f64::MIN_POSITIVE);
        let mean_x = weighted_mean(x, w, total);
        let mean_y = weighted_mean(y, w, total);
        // √a-weighted, centred rows: their f32 products, summed in f64, are the weighted
        // statistics (the trainer's one GEMM path, several times faster than f64 products).
        let root = w.mapv(f32::sqrt).insert_axis(Axis(1));
        let xc = (&x - &mean_x.mapv(|v| v as f32)) * &root;
        let yc = (&y - &mean_y.mapv(|v| v as f32)) * &root;
        let mut sxx = Array2::<f64>::zeros((d_in, d_in));
        let mut sxy = Array2::<f64>::zeros((d_in, d_out));
        accumulate_gram(xc.view(), yc.view(), &mut sxx, &mut sxy);
        sxx.diag_mut().mapv_inplace(|v| v + lambda);
        sxy += &(&global.weight * lambda);
        let wc = solve_spd(&sxx, &sxy).ok_or_else(|| {
            TrainError::Linalg(format!(
                "cluster {c}: the shrunk system is not positive definite"
            ))
        })?;
        let bc = &mean_y - &mean_x.dot(&wc);
        weights
            .slice_mut(s![c, .., ..])
            .assign(&wc.mapv(|v| v as f32));
        biases.row_mut(c).assign(&bc.mapv(|v| v as f32));
    }
    Ok(ClusterMaps {
        centroids,
        weights,
        biases,
        temperature: params.temperature as f32,
    })
}

/// Chooses k and β by mean cosine on the validation rows; k = 1 (the global map) is the
/// baseline a choice must beat. Returns `None` when no cluster count is worth trying.
#[allow(clippy::too_many_arguments)]
pub fn tune(
    x_tr: ArrayView2<'_, f32>,
    y_tr: ArrayView2<'_, f32>,
    x_val: ArrayView2<'_, f32>,
    y_val: ArrayView2<'_, f32>,
    global: &LinearMap,
    lambda: f64,
    seed: u64,
) -> Result<Option<(ClusterParams, f64)>> {
    let score = |clusters: usize, temperature: f64| -> Result<(ClusterParams, f64)> {
        let params = ClusterParams {
            clusters,
            temperature,
        };
        let maps = fit_clusters(x_tr, y_tr, global, lambda, params, seed)?;
        Ok((params, mean_row_cosine(maps.apply(x_val).view(), y_val)))
    };
    let better = |best: Option<(ClusterParams, f64)>, found: (ClusterParams, f64)| match best {
        Some(b) if b.1 >= found.1 => Some(b),
        _ => Some(found),
    };
    // k at the middle sharpness, then the sharpness at the best k: each fit costs k
    // d_in × d_in solves, and the full grid cost more than twice as much for the same
    // choices on Cranfield.
    // Applying costs k affine maps a vector, so, as for the kernel's landmarks, the fewest
    // clusters within the tie margin of the best score win.
    let middle = TEMPERATURE_GRID[TEMPERATURE_GRID.len() / 2];
    let mut by_k = Vec::new();
    for k in CLUSTER_GRID
        .into_iter()
        .filter(|&k| x_tr.nrows() >= k * MIN_PER_CLUSTER)
    {
        by_k.push(score(k, middle)?);
    }
    let top = by_k.iter().map(|r| r.1).fold(f64::NEG_INFINITY, f64::max);
    let mut best = by_k.into_iter().find(|r| r.1 >= top - TIE);
    if let Some((p, _)) = best {
        for t in TEMPERATURE_GRID.into_iter().filter(|&t| t != middle) {
            best = better(best, score(p.clusters, t)?);
        }
    }
    Ok(best)
}

/// Chooses k and β on the validation rows, as [`crate::adapter::Kind::tune`].
pub fn tune_params(t: &Tuning<'_>) -> Result<AdapterParams> {
    let s = t.settings;
    match tune(t.x_tr, t.y_tr, t.x_val, t.y_val, t.base, t.lambda, s.seed)? {
        Some((tuned, _)) => Ok(tuned.into()),
        None => Err(TrainError::Invalid {
            what: "cluster",
            message: format!(
                "{} training pairs are too few to tune two clusters of at least {MIN_PER_CLUSTER} pairs each",
                t.x_tr.nrows()
            ),
        }),
    }
}

/// Fits the maps with fixed parameters, as [`crate::adapter::Kind::fit`].
pub fn fit_params(params: AdapterParams, f: &Fitting<'_>) -> Result<Adapter> {
    let AdapterParams::Cluster(p) = params else {
        return Err(wrong_params(params));
    };
    let maps = fit_clusters(f.x, f.y, f.base, f.lambda, p, f.settings.seed)?;
    Ok(Adapter::Cluster(maps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::kmeans::spherical_kmeans;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn unit(v: Array2<f32>) -> Array2<f32> {
        shimkit_data::normalize_rows(v)
    }

    #[test]
    fn kmeans_finds_well_separated_groups() {
        // Three tight groups around three axes.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let x = unit(Array2::from_shape_fn((300, 3), |(i, j)| {
            (if i % 3 == j { 1.0 } else { 0.0 }) + rng.random::<f32>() * 0.1
        }));
        let c = spherical_kmeans(x.view(), 3, 7);
        for axis in 0..3 {
            let best = (0..3).map(|r| c[[r, axis]]).fold(0.0f32, f32::max);
            assert!(best > 0.98, "no centroid near axis {axis}: {c:?}");
        }
    }

    #[test]
    fn assignments_sum_to_one_and_a_huge_penalty_gives_the_global_map() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let x = unit(Array2::from_shape_fn((200, 4), |_| {
            rng.random::<f32>() - 0.5
        }));
        let y = unit(x.mapv(|v| (3.0 * v).sin()));
        let global = LinearMap {
            weight: Array2::from_shape_fn((4, 4), |(i, j)| if i == j { 0.5 } else { 0.1 }),
            bias: Array1::zeros(4),
        };
        let params = ClusterParams {
            clusters: 4,
            temperature: 10.0,
        };
        let maps = fit_clusters(x.view(), y.view(), &global, 1e9, params, 3).unwrap();
        for row in maps.assign(x.view()).rows() {
            assert!((row.sum() - 1.0).abs() < 1e-5);
        }
        // Every cluster's weight equals the global one; the biases then make each map exact
        // on its cluster's means, so compare the slopes.
        for c in 0..4 {
            let diff = (&maps.weights.index_axis(Axis(0), c).mapv(|v| v as f64) - &global.weight)
                .mapv(f64::abs)
                .fold(0.0f64, |m, &v| m.max(v));
            assert!(diff < 1e-5, "cluster {c}: {diff}");
        }
    }
}
