//! `backfill+blend:<f>:<method>` in `evaluate`: the weight α is the one `choose_alpha`
//! picks from the re-embedded documents alone, and the path's figures are those of the
//! index rebuilt here from it (re-embedded rows blended, the rest projected); likewise
//! `backfill+refit:<f>:<method>` with a shim refitted on every re-embedded document.

use ndarray::{Array2, Axis};
use shimkit_trainer::Method;
use shimkit_trainer::eval::{
    Column, EvalConfig, EvalData, Exact, PathKind, QueryModel, ShimKey, Side, blend_rows,
    choose_alpha, evaluate, fit_config, fit_shim, sample_order, score_columns,
};

mod common;
use common::cranfield;

/// Per-query nDCG of new-model queries against `index`, scored as `evaluate` scores a path
/// (the first two columns scored are the baselines).
fn per_query_ndcg(
    data: &EvalData,
    cfg: &EvalConfig,
    index: &Array2<f32>,
    reembedded: f64,
) -> Vec<f64> {
    let column = Column {
        name: "rebuilt",
        kind: PathKind::Backfill,
        reembedded,
        queries: QueryModel::New,
        vectors: index.view(),
        rows: None,
    };
    let scored = score_columns(data, &[column], cfg.k, cfg.resamples, cfg.seed, &Exact).unwrap();
    scored[2].per_query_ndcg.clone()
}

#[test]
fn a_blended_backfill_is_the_index_its_chosen_weight_builds() {
    let (data, notes) = cranfield();
    let cfg = EvalConfig {
        methods: vec![Method::Ridge],
        backfill: vec![0.5],
        train_pairs: Some(700),
        resamples: 300,
        curve: vec![],
        ..EvalConfig::default()
    };
    let evaluation = evaluate(&data, &notes, &cfg, "cranfield").unwrap();
    let report = &evaluation.report;
    assert_eq!(report.blends.len(), 1);
    let b = &report.blends[0];
    assert_eq!((b.share, b.method), (0.5, Method::Ridge));

    let key = ShimKey {
        side: Side::Doc,
        method: Method::Ridge,
    };
    let (_, shim) = evaluation.shims.iter().find(|(k, _)| *k == key).unwrap();
    let projected = shim.apply(data.old_docs.view(), true).unwrap();
    let order = sample_order(&data.doc_ids, cfg.seed);
    let rows = &order[..700];
    let ids: Vec<String> = rows.iter().map(|&i| data.doc_ids[i].clone()).collect();
    let truth = data.new_docs.select(Axis(0), rows);
    let their_projections = projected.select(Axis(0), rows);
    let choice = choose_alpha(truth.view(), their_projections.view(), &ids, 0.5, cfg.seed);
    assert_eq!(choice.alpha, b.choice.alpha);
    assert_eq!(choice.scores.len(), 5);
    // On Cranfield the plain backfill (α = 1) is not the choice: the mix ranks worse.
    assert!(choice.alpha < 1.0, "{choice:?}");

    let mut index = projected.clone();
    let blended = blend_rows(truth.view(), their_projections.view(), choice.alpha);
    for (r, &i) in rows.iter().enumerate() {
        index.row_mut(i).assign(&blended.row(r));
    }
    let path = report.path("backfill+blend:0.5:ridge").expect("the path");
    assert_eq!(
        per_query_ndcg(&data, &cfg, &index, 0.5),
        path.per_query_ndcg
    );
    let plain = report.path("backfill:0.5:ridge").unwrap();
    assert!(
        path.retention > plain.retention,
        "blend {} against plain {}",
        path.retention,
        plain.retention
    );
}

#[test]
fn a_refitted_backfill_is_the_index_a_refit_on_every_reembedded_document_builds() {
    let (data, notes) = cranfield();
    let cfg = EvalConfig {
        methods: vec![Method::Ridge],
        backfill: vec![0.5, 0.75],
        train_pairs: Some(700),
        resamples: 300,
        curve: vec![],
        ..EvalConfig::default()
    };
    let report = evaluate(&data, &notes, &cfg, "cranfield").unwrap().report;
    // At the training share a refit would see the same pairs: no path.
    assert!(report.path("backfill+refit:0.5:ridge").is_none());
    let path = report.path("backfill+refit:0.75:ridge").expect("the path");

    let order = sample_order(&data.doc_ids, cfg.seed);
    let rows = &order[..1050];
    let ids: Vec<String> = rows.iter().map(|&i| data.doc_ids[i].clone()).collect();
    let old = data.old_docs.select(Axis(0), rows);
    let truth = data.new_docs.select(Axis(0), rows);
    let (shim, record) = fit_shim(
        old.view(),
        truth.view(),
        &ids,
        &fit_config(&cfg, Method::Ridge),
        Side::Doc,
        ("old", "new"),
    )
    .unwrap();
    assert_eq!(record.pairs, 1050);
    let mut index = shim.apply(data.old_docs.view(), true).unwrap();
    let projected = index.select(Axis(0), rows);
    let choice = choose_alpha(truth.view(), projected.view(), &ids, 0.75, cfg.seed);
    let blended = blend_rows(truth.view(), projected.view(), choice.alpha);
    for (r, &i) in rows.iter().enumerate() {
        index.row_mut(i).assign(&blended.row(r));
    }
    assert_eq!(
        per_query_ndcg(&data, &cfg, &index, 0.75),
        path.per_query_ndcg
    );
    assert!((path.reembedded - 0.75).abs() < 1e-9);
    // Its paired interval against the pure doc-side shim is reported, as for every backfill.
    assert!(path.delta_vs_shim_doc_ci.is_some());
}
