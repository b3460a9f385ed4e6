//! The non-linear shims through `fit`: each learns what ridge cannot, `auto` takes one only
//! when it is better on held-out pairs, and the function fitted does not depend on row
//! order.

use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shimkit_trainer::adapter::Adapter;
use shimkit_trainer::{FitConfig, FitOutcome, Method, fit};

fn inputs(n: usize, d: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    shimkit_data::normalize_rows(Array2::from_shape_fn((n, d), |_| {
        rng.random::<f32>() * 2.0 - 1.0
    }))
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("doc-{i}")).collect()
}

fn cfg(method: Method) -> FitConfig {
    FitConfig {
        method,
        seed: 1,
        ..FitConfig::default()
    }
}

fn run(x: &Array2<f32>, y: &Array2<f32>, method: Method) -> FitOutcome {
    fit(x.view(), y.view(), &ids(x.nrows()), &cfg(method)).unwrap()
}

#[test]
fn kernel_learns_a_smooth_map_ridge_cannot() {
    let x = inputs(1500, 8, 2);
    let a = inputs(8, 6, 3) * 3.0;
    let y = shimkit_data::normalize_rows(x.dot(&a).mapv(|v| v.tanh() + 0.3 * (2.0 * v).sin()));
    let ridge = run(&x, &y, Method::Ridge).chosen.heldout_cosine;
    let kernel = run(&x, &y, Method::Kernel);
    assert!(
        kernel.chosen.heldout_cosine > ridge + 0.02,
        "{} vs {ridge}",
        kernel.chosen.heldout_cosine
    );
    assert!(matches!(kernel.adapter, Some(Adapter::Kernel(_))));
    let auto = run(&x, &y, Method::Auto);
    assert!(!auto.chosen.method.is_linear(), "{:?}", auto.candidates);
}

#[test]
fn cluster_learns_a_map_that_differs_by_region() {
    // Two half-spaces, each mapped by its own rotation-like matrix.
    let x = inputs(2000, 6, 4);
    let (a, b) = (inputs(6, 6, 5), inputs(6, 6, 6));
    let mut y = Array2::zeros((2000, 6));
    for (i, row) in x.rows().into_iter().enumerate() {
        let m = if row[0] > 0.0 { &a } else { &b };
        y.row_mut(i).assign(&row.dot(m));
    }
    let y = shimkit_data::normalize_rows(y);
    let ridge = run(&x, &y, Method::Ridge).chosen.heldout_cosine;
    let cluster = run(&x, &y, Method::Cluster);
    let c = cluster.chosen.heldout_cosine;
    assert!(c > ridge + 0.05, "cluster {c} vs ridge {ridge}");
    let Some(Adapter::Cluster(maps)) = &cluster.adapter else {
        panic!("no cluster maps")
    };
    assert!(maps.clusters() >= 2);
}

#[test]
fn on_a_linear_map_auto_keeps_a_linear_shim() {
    let x = inputs(1200, 10, 4);
    let a = inputs(10, 7, 5);
    let noise = inputs(1200, 7, 6) * 0.05;
    let y = x.dot(&a) + &noise;
    let auto = run(&x, &y, Method::Auto);
    assert!(auto.chosen.method.is_linear(), "{:?}", auto.candidates);
    assert_eq!(auto.candidates.len(), 6, "every method was a candidate");
}

#[test]
fn the_fitted_function_does_not_depend_on_row_order() {
    let (n, d) = (600, 5);
    let x = inputs(n, d, 7);
    let y = shimkit_data::normalize_rows(x.mapv(|v| (3.0 * v).sin()));
    let order: Vec<usize> = (0..n).rev().collect();
    let names = ids(n);
    let rev_ids: Vec<String> = order.iter().map(|&i| names[i].clone()).collect();
    let probe = inputs(50, d, 8);
    for method in [Method::Kernel, Method::Cluster, Method::Mlp] {
        let a = fit(x.view(), y.view(), &names, &cfg(method)).unwrap();
        let b = fit(
            x.select(Axis(0), &order).view(),
            y.select(Axis(0), &order).view(),
            &rev_ids,
            &cfg(method),
        )
        .unwrap();
        assert_eq!(a.chosen.adapter, b.chosen.adapter, "{method}");
        let apply = |o: &FitOutcome| {
            let affine = || {
                let w = o.map.weight.mapv(|v| v as f32);
                probe.dot(&w) + &o.map.bias.mapv(|v| v as f32)
            };
            o.adapter.as_ref().unwrap().apply(probe.view(), affine)
        };
        let diff = (&apply(&a) - &apply(&b))
            .mapv(f32::abs)
            .fold(0.0f32, |m, &v| m.max(v));
        assert!(diff < 1e-3, "{method}: the two fits differ by {diff}");
    }
}
