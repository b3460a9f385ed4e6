//! The MLP's training: its start, its gain over ridge, its seed and its gradient.

use super::*;

fn unit(n: usize, d: usize, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    shimkit_data::normalize_rows(Array2::from_shape_fn((n, d), |_| rng.random::<f32>() - 0.5))
}

fn target(x: &Array2<f32>) -> Array2<f32> {
    shimkit_data::normalize_rows(Array2::from_shape_fn((x.nrows(), 5), |(i, j)| {
        (3.0 * x[[i, j % x.ncols()]]).sin() + x[[i, (j + 1) % x.ncols()]].powi(2)
    }))
}

fn ridge_of(x: &Array2<f32>, y: &Array2<f32>) -> LinearMap {
    let mut s = crate::PairStats::new(x.ncols(), y.ncols());
    s.add(x.view(), y.view());
    crate::methods::ridge(&s, 1e-3).unwrap()
}

#[test]
fn before_training_it_is_exactly_the_ridge_map() {
    let x = unit(100, 6, 1);
    let y = target(&x);
    let base = ridge_of(&x, &y);
    let t = train(
        x.view(),
        y.view(),
        None,
        &base,
        &MlpConfig::default(),
        0,
        3,
        Start::Given(None),
    )
    .unwrap();
    let want = project(
        x.view(),
        base.weight.mapv(|v| v as f32).view(),
        Some(base.bias.mapv(|v| v as f32).as_slice().unwrap()),
    );
    assert_eq!(
        t.mlp.apply(x.view()),
        want,
        "W₂ = 0: the residual adds exactly nothing"
    );
}

#[test]
fn training_beats_ridge_on_held_out_pairs_and_repeats_with_its_seed() {
    let (x, xv) = (unit(800, 6, 2), unit(200, 6, 3));
    let (y, yv) = (target(&x), target(&xv));
    let base = ridge_of(&x, &y);
    let cfg = MlpConfig {
        epochs: 60,
        ..MlpConfig::default()
    };
    let t = train(
        x.view(),
        y.view(),
        Some((xv.view(), yv.view())),
        &base,
        &cfg,
        cfg.epochs,
        5,
        Start::Choose,
    )
    .unwrap();
    let ridge_pred = project(
        xv.view(),
        base.weight.mapv(|v| v as f32).view(),
        Some(base.bias.mapv(|v| v as f32).as_slice().unwrap()),
    );
    let before = crate::fit::score::mean_row_cosine(ridge_pred.view(), yv.view());
    let after = crate::fit::score::mean_row_cosine(t.mlp.apply(xv.view()).view(), yv.view());
    assert!(
        (t.epochs > 0 || t.start_ridge.is_some()) && after > before + 0.01,
        "ridge {before}, mlp {after} at epoch {} from {:?}",
        t.epochs,
        t.start_ridge
    );
    let again = train(
        x.view(),
        y.view(),
        Some((xv.view(), yv.view())),
        &base,
        &cfg,
        cfg.epochs,
        5,
        Start::Choose,
    )
    .unwrap();
    assert_eq!(again.mlp, t.mlp, "same seed, same weights on CPU");
}

#[test]
fn the_loss_gradient_matches_finite_differences() {
    let dev = Device::Cpu;
    let x = unit(16, 4, 7);
    let y = target(&x);
    let cfg = MlpConfig {
        hidden: 3,
        ..MlpConfig::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut rand =
        |r: usize, c: usize| Array2::from_shape_fn((r, c), |_| rng.random::<f32>() - 0.5);
    let (a, w1, w2) = (rand(4, 5), rand(4, 3), rand(3, 5));
    let make = |w1: &Array2<f32>| -> Params {
        let v = |m: &Array2<f32>| Var::from_tensor(&tensor(m.view(), &dev).unwrap()).unwrap();
        Params {
            a: v(&a),
            b: Var::zeros(5, candle_core::DType::F32, &dev).unwrap(),
            w1: v(w1),
            c: Var::zeros(3, candle_core::DType::F32, &dev).unwrap(),
            w2: v(&w2),
        }
    };
    let (xt, yt) = (
        tensor(x.view(), &dev).unwrap(),
        tensor(y.view(), &dev).unwrap(),
    );
    let value = |p: &Params| -> f64 {
        let l = loss(&p.forward(&xt).unwrap(), &yt, &cfg).unwrap();
        l.to_scalar::<f32>().unwrap() as f64
    };
    let p = make(&w1);
    let l = loss(&p.forward(&xt).unwrap(), &yt, &cfg).unwrap();
    let grads = l.backward().unwrap();
    let g = array2(grads.get(p.w1.as_tensor()).unwrap()).unwrap();
    let eps = 1e-2f32;
    for (i, j) in [(0, 0), (1, 2), (3, 1)] {
        let (mut up, mut down) = (w1.clone(), w1.clone());
        up[[i, j]] += eps;
        down[[i, j]] -= eps;
        let numeric = (value(&make(&up)) - value(&make(&down))) / (2.0 * eps as f64);
        let analytic = g[[i, j]] as f64;
        // Central differences in f32: 2% or 1e-3, whichever is larger.
        let tol = (0.02 * numeric.abs()).max(1e-3);
        assert!(
            (numeric - analytic).abs() < tol,
            "w1[{i},{j}]: {numeric} vs {analytic}"
        );
    }
}

#[test]
fn the_closed_form_start_solves_its_normal_equations() {
    let x = unit(300, 6, 4);
    let y = target(&x);
    let w1 = Array2::from_shape_fn((6, 20), |(i, j)| ((i * 20 + j) as f32 * 0.37).sin());
    let c = Array1::from_shape_fn(20, |j| (j as f32 * 0.11).cos() * 0.1);
    let h = hidden_units(x.view(), &w1, &c);
    let r = y.clone();
    for (lambda, w) in closed_form_starts(&h, &r, &[1e-2, 1.0]).unwrap() {
        // (HᵀH + λ·m̄·I)·W = HᵀR, in f64, by the slow obvious products.
        let h64 = h.mapv(f64::from);
        let gram = h64.t().dot(&h64);
        let mean = (0..20).map(|i| gram[[i, i]]).sum::<f64>() / 20.0;
        let w64 = w.mapv(f64::from);
        let lhs = gram.dot(&w64) + &(w64.clone() * (lambda * mean));
        let rhs = h64.t().dot(&r.mapv(f64::from));
        let err = (&lhs - &rhs).iter().map(|v| v.abs()).fold(0.0, f64::max);
        let scale = rhs.iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!(err <= 1e-4 * scale, "λ {lambda}: {err} against {scale}");
    }
}
