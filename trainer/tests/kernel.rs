//! The `kernel` shim through `fit`: it learns what ridge cannot, `auto` takes it only when
//! it is better on held-out pairs, and the function it fits does not depend on row order.

use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shimkit_trainer::{FitConfig, Method, fit};

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

#[test]
fn kernel_learns_a_map_ridge_cannot_and_auto_takes_it() {
    let (n, d_in, d_out) = (1500, 8, 6);
    let x = inputs(n, d_in, 2);
    let a = inputs(d_in, d_out, 3) * 3.0;
    let y = shimkit_data::normalize_rows(x.dot(&a).mapv(|v| v.tanh() + 0.3 * (2.0 * v).sin()));
    let ridge = fit(x.view(), y.view(), &ids(n), &cfg(Method::Ridge)).unwrap();
    let kernel = fit(x.view(), y.view(), &ids(n), &cfg(Method::Kernel)).unwrap();
    let (r, k) = (ridge.chosen.heldout_cosine, kernel.chosen.heldout_cosine);
    assert!(k > r + 0.02, "kernel {k} vs ridge {r}");
    assert!(kernel.kernel.is_some());
    let auto = fit(x.view(), y.view(), &ids(n), &cfg(Method::Auto)).unwrap();
    assert_eq!(auto.chosen.method, Method::Kernel);
}

#[test]
fn on_a_linear_map_auto_keeps_the_smaller_shim() {
    let (n, d_in, d_out) = (1200, 10, 7);
    let x = inputs(n, d_in, 4);
    let a = inputs(d_in, d_out, 5);
    let noise = inputs(n, d_out, 6) * 0.05;
    let y = x.dot(&a) + &noise;
    let auto = fit(x.view(), y.view(), &ids(n), &cfg(Method::Auto)).unwrap();
    assert_ne!(auto.chosen.method, Method::Kernel, "{:?}", auto.candidates);
    let best_linear = auto
        .candidates
        .iter()
        .filter(|c| c.method != Method::Kernel)
        .map(|c| c.heldout_cosine)
        .fold(f64::MIN, f64::max);
    assert!(auto.chosen.heldout_cosine >= best_linear - shimkit_trainer::TIE);
}

#[test]
fn the_kernel_fit_does_not_depend_on_row_order() {
    let (n, d) = (400, 5);
    let x = inputs(n, d, 7);
    let y = shimkit_data::normalize_rows(x.mapv(|v| (3.0 * v).sin()));
    let ids = ids(n);
    let a = fit(x.view(), y.view(), &ids, &cfg(Method::Kernel)).unwrap();
    let order: Vec<usize> = (0..n).rev().collect();
    let rev_ids: Vec<String> = order.iter().map(|&i| ids[i].clone()).collect();
    let b = fit(
        x.select(Axis(0), &order).view(),
        y.select(Axis(0), &order).view(),
        &rev_ids,
        &cfg(Method::Kernel),
    )
    .unwrap();
    assert_eq!(a.chosen.kernel, b.chosen.kernel);
    // The same function (landmarks may come in another order, sums in another order).
    let probe = inputs(50, d, 8);
    let (ka, kb) = (a.kernel.unwrap(), b.kernel.unwrap());
    assert_eq!(ka.landmarks(), kb.landmarks());
    let diff = (&ka.apply(probe.view()) - &kb.apply(probe.view()))
        .mapv(f32::abs)
        .fold(0.0f32, |m, &v| m.max(v));
    assert!(diff < 1e-3, "the two fits differ by {diff}");
}
