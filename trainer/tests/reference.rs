//! The closed-form shims against slow, obvious references in f64.
//!
//! Tolerances: the statistics multiply f32 inputs in f32 blocks and sum in f64, so they
//! carry f32 rounding (~1e-7 relative per product, over blocks of 4096 rows); the checks
//! below allow 1e-5 relative on weights. Validation errors computed from moments expand
//! ‖y − xW − b‖² into terms up to ~200× larger than the result on these synthetic sets
//! (real unit-norm embeddings leave residuals of a tenth to a half of Σ‖y‖², so far less
//! cancellation), which lifts that rounding to ~2e-5: errors are checked to 1e-4 relative.
//! A wrong formula is off by order one.

use ndarray::{Array1, Array2, Axis, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shimkit_trainer::{LinearMap, PairStats, methods};

fn random(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, cols), |_| rng.random::<f32>() * 2.0 - 1.0)
}

/// y = x·M + b + noise, for a fixed random M.
fn pairs(n: usize, d_in: usize, d_out: usize, seed: u64) -> (Array2<f32>, Array2<f32>) {
    let x = random(n, d_in, seed);
    let m = random(d_in, d_out, seed + 1);
    let noise = random(n, d_out, seed + 2) * 0.1;
    let b = Array1::from_shape_fn(d_out, |j| j as f32 * 0.1);
    let y = x.dot(&m) + &b + noise;
    (x, y)
}

fn stats(x: &Array2<f32>, y: &Array2<f32>) -> PairStats {
    let mut s = PairStats::new(x.ncols(), y.ncols());
    s.add(x.view(), y.view());
    s
}

fn f64s(a: &Array2<f32>) -> Array2<f64> {
    a.mapv(|v| v as f64)
}

/// Gaussian elimination with partial pivoting: the obvious way.
fn solve(mut a: Array2<f64>, mut b: Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    for k in 0..n {
        let p = (k..n)
            .max_by(|&i, &j| a[[i, k]].abs().total_cmp(&a[[j, k]].abs()))
            .unwrap();
        for j in 0..n {
            a.swap([k, j], [p, j]);
        }
        for j in 0..b.ncols() {
            b.swap([k, j], [p, j]);
        }
        for i in k + 1..n {
            let f = a[[i, k]] / a[[k, k]];
            for j in k..n {
                a[[i, j]] -= f * a[[k, j]];
            }
            for j in 0..b.ncols() {
                b[[i, j]] -= f * b[[k, j]];
            }
        }
    }
    for k in (0..n).rev() {
        for j in 0..b.ncols() {
            let mut v = b[[k, j]];
            for i in k + 1..n {
                v -= a[[k, i]] * b[[i, j]];
            }
            b[[k, j]] = v / a[[k, k]];
        }
    }
    b
}

/// Ridge by dense normal equations on explicitly centred f64 data.
fn ridge_reference(x: &Array2<f32>, y: &Array2<f32>, lambda: f64) -> LinearMap {
    let (x, y) = (f64s(x), f64s(y));
    let mx = x.mean_axis(Axis(0)).unwrap();
    let my = y.mean_axis(Axis(0)).unwrap();
    let xc = &x - &mx;
    let yc = &y - &my;
    let mut a = xc.t().dot(&xc);
    for i in 0..a.nrows() {
        a[[i, i]] += lambda;
    }
    let w = solve(a, xc.t().dot(&yc));
    let bias = &my - &mx.dot(&w);
    LinearMap { weight: w, bias }
}

fn direct_error(map: &LinearMap, x: &Array2<f32>, y: &Array2<f32>) -> f64 {
    let pred = f64s(x).dot(&map.weight) + &map.bias;
    (&pred - &f64s(y)).mapv(|v| v * v).sum()
}

fn assert_close(a: &Array2<f64>, b: &Array2<f64>, rel: f64, what: &str) {
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-12);
    let diff = (a - b).iter().fold(0f64, |m, v| m.max(v.abs()));
    assert!(
        diff <= rel * scale,
        "{what}: max difference {diff:e} against scale {scale:e}"
    );
}

#[test]
fn ridge_equals_the_normal_equations() {
    for (n, d_in, d_out, lambda) in [(400, 6, 5, 0.3), (300, 12, 20, 1e-3), (100, 30, 4, 10.0)] {
        let (x, y) = pairs(n, d_in, d_out, n as u64);
        let got = methods::ridge(&stats(&x, &y), lambda).unwrap();
        let want = ridge_reference(&x, &y, lambda);
        assert_close(&got.weight, &want.weight, 1e-5, "weight");
        assert_close(
            &got.bias.clone().insert_axis(Axis(0)),
            &want.bias.clone().insert_axis(Axis(0)),
            1e-5,
            "bias",
        );
    }
}

#[test]
fn squared_error_from_statistics_equals_the_direct_sum() {
    let (x, y) = pairs(500, 8, 6, 3);
    let map = ridge_reference(
        &x.slice(s![..300, ..]).to_owned(),
        &y.slice(s![..300, ..]).to_owned(),
        0.5,
    );
    let (xv, yv) = (
        x.slice(s![300.., ..]).to_owned(),
        y.slice(s![300.., ..]).to_owned(),
    );
    let from_stats = map.squared_error(&stats(&xv, &yv));
    let direct = direct_error(&map, &xv, &yv);
    assert!(
        (from_stats - direct).abs() <= 1e-4 * direct,
        "{from_stats} vs {direct}"
    );
}

#[test]
fn kfold_ridge_errors_equal_brute_force_refits() {
    let (x, y) = pairs(360, 7, 5, 11);
    let k = 4;
    let fold_of = |i: usize| i % k;
    let rows = |f: usize, inside: bool| -> Vec<usize> {
        (0..x.nrows())
            .filter(|&i| (fold_of(i) == f) == inside)
            .collect()
    };
    let folds: Vec<PairStats> = (0..k)
        .map(|f| {
            stats(
                &x.select(Axis(0), &rows(f, true)),
                &y.select(Axis(0), &rows(f, true)),
            )
        })
        .collect();
    let mut total = PairStats::new(7, 5);
    folds.iter().for_each(|f| total.merge(f));
    let grid = [1e-4, 0.01, 1.0, 30.0];
    let fast = methods::ridge_cv(&total, &folds, &grid).unwrap();
    for (g, &lambda) in grid.iter().enumerate() {
        let mut brute = 0.0;
        for f in 0..k {
            let (tr, va) = (rows(f, false), rows(f, true));
            let map = ridge_reference(&x.select(Axis(0), &tr), &y.select(Axis(0), &tr), lambda);
            brute += direct_error(&map, &x.select(Axis(0), &va), &y.select(Axis(0), &va));
        }
        assert!(
            (fast[g] - brute).abs() <= 1e-4 * brute,
            "λ={lambda}: {} vs {brute}",
            fast[g]
        );
    }
}

#[test]
fn kfold_lowrank_errors_equal_brute_force_refits() {
    let (x, y) = pairs(300, 10, 8, 5);
    let k = 3;
    let rows = |f: usize, inside: bool| -> Vec<usize> {
        (0..x.nrows()).filter(|&i| (i % k == f) == inside).collect()
    };
    let folds: Vec<PairStats> = (0..k)
        .map(|f| {
            stats(
                &x.select(Axis(0), &rows(f, true)),
                &y.select(Axis(0), &rows(f, true)),
            )
        })
        .collect();
    let mut total = PairStats::new(10, 8);
    folds.iter().for_each(|f| total.merge(f));
    let ranks = [1, 2, 4, 8];
    let fast = methods::lowrank_cv(&total, &folds, 0.1, &ranks).unwrap();
    for (g, &r) in ranks.iter().enumerate() {
        let mut brute = 0.0;
        for f in 0..k {
            let (tr, va) = (rows(f, false), rows(f, true));
            let map = methods::lowrank(
                &stats(&x.select(Axis(0), &tr), &y.select(Axis(0), &tr)),
                0.1,
                r,
            )
            .unwrap();
            brute += direct_error(&map, &x.select(Axis(0), &va), &y.select(Axis(0), &va));
        }
        assert!(
            (fast[g] - brute).abs() <= 1e-4 * brute,
            "rank {r}: {} vs {brute}",
            fast[g]
        );
    }
    // Full rank is ridge itself, and lower ranks fit the training data no better.
    let all = stats(&x, &y);
    let full = methods::lowrank(&all, 0.1, 8).unwrap();
    assert_close(
        &full.weight,
        &methods::ridge(&all, 0.1).unwrap().weight,
        1e-8,
        "full rank",
    );
    let e2 = methods::lowrank(&all, 0.1, 2).unwrap().squared_error(&all);
    assert!(e2 > full.squared_error(&all));
}

/// A random orthogonal matrix: Q of the SVD of a random square matrix.
fn orthogonal(d: usize, seed: u64) -> Array2<f32> {
    let a = random(d, d, seed).mapv(|v| v as f64);
    let (u, _, v) = shimkit_trainer::thin_svd(&a).unwrap();
    u.dot(&v.t()).mapv(|v| v as f32)
}

#[test]
fn procrustes_is_orthogonal_and_recovers_a_rotation() {
    let d = 16;
    let q = orthogonal(d, 9);
    let x = shimkit_trainer::normalize_rows(random(800, d, 10));
    let y = x.dot(&q);
    let map = methods::procrustes(&stats(&x, &y)).unwrap();
    assert_close(
        &map.weight,
        &q.mapv(|v| v as f64),
        1e-4,
        "recovered rotation",
    );
    assert!(map.bias.iter().all(|b| b.abs() < 1e-4), "{:?}", map.bias);
    // Ridge with a tiny λ recovers it too.
    let ridge = methods::ridge(&stats(&x, &y), 1e-8).unwrap();
    assert_close(&ridge.weight, &q.mapv(|v| v as f64), 1e-3, "ridge");
}

#[test]
fn procrustes_between_different_dimensions_is_semi_orthogonal() {
    for (d_in, d_out) in [(12, 20), (20, 12)] {
        let (x, y) = pairs(500, d_in, d_out, 21);
        let map = methods::procrustes(&stats(&x, &y)).unwrap();
        let w = &map.weight;
        // WᵀW (or WWᵀ) is s²·I on the smaller side.
        let gram = if d_in >= d_out {
            w.t().dot(w)
        } else {
            w.dot(&w.t())
        };
        let s2 = gram[[0, 0]];
        assert!(s2 > 0.0);
        assert_close(
            &(gram / s2),
            &Array2::eye(d_in.min(d_out)),
            1e-8,
            "semi-orthogonal",
        );
    }
}

#[test]
fn streamed_statistics_equal_one_pass() {
    let (x, y) = pairs(10_000, 9, 7, 2);
    let whole = stats(&x, &y);
    let mut streamed = PairStats::new(9, 7);
    let mut start = 0;
    for size in [1, 7, 100, 999, 4096, 5000].iter().cycle() {
        if start >= x.nrows() {
            break;
        }
        let end = (start + size).min(x.nrows());
        streamed.add(x.slice(s![start..end, ..]), y.slice(s![start..end, ..]));
        start = end;
    }
    assert_eq!(streamed.n, whole.n);
    assert_close(&streamed.xtx, &whole.xtx, 1e-6, "XᵀX");
    assert_close(&streamed.xty, &whole.xty, 1e-6, "XᵀY");
    let a = methods::ridge(&streamed, 0.1).unwrap();
    let b = methods::ridge(&whole, 0.1).unwrap();
    assert_close(&a.weight, &b.weight, 1e-5, "weights");
}

#[test]
fn refit_from_auto_equals_fitting_the_method_alone() {
    use shimkit_trainer::{FitConfig, Method, fit};
    let (x, y) = pairs(600, 12, 9, 21);
    let ids: Vec<String> = (0..600).map(|i| format!("d{i}")).collect();
    let cfg = |method| FitConfig {
        method,
        seed: 4,
        ..FitConfig::default()
    };
    let auto = fit(x.view(), y.view(), &ids, &cfg(Method::Auto)).unwrap();
    for method in Method::CONCRETE {
        let alone = fit(x.view(), y.view(), &ids, &cfg(method)).unwrap();
        let derived = auto
            .refit(method)
            .unwrap()
            .expect("auto scored every method");
        assert_eq!(derived.chosen.method, method);
        assert_eq!(derived.chosen.lambda, alone.chosen.lambda, "{method}");
        assert_eq!(derived.chosen.rank, alone.chosen.rank, "{method}");
        assert_eq!(
            derived.chosen.heldout_cosine, alone.chosen.heldout_cosine,
            "{method}"
        );
        let diff = (&derived.map.weight - &alone.map.weight)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(diff < 1e-12, "{method}: weights differ by {diff}");
        assert_eq!(derived.map.bias, alone.map.bias, "{method}");
    }
}
