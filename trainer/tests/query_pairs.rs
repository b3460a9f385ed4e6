//! Query pairs in `evaluate` (`query_pair_folds`): every scored query is mapped by a shim
//! fitted without it. The test rebuilds each fold's fit from the public pieces (the fold
//! of each query, the training documents, `choose_share`, `blend`, `fit`) and scores the
//! queries it maps as a column: the report's `shim-query-qp:ridge` must have exactly those
//! figures, and its shares must be those chosen here.

use ndarray::{Array2, Axis};
use shimkit_trainer::eval::{
    Column, EvalConfig, Exact, PathKind, QueryModel, evaluate, query_fold, score_columns,
};
use shimkit_trainer::query_pairs::{Pairs, blend, choose_share};
use shimkit_trainer::{Direction, FitConfig, Method, Shim, fit};

mod common;
use common::cranfield;

#[test]
fn each_query_is_mapped_by_the_shim_of_the_fold_it_was_held_out_of() {
    let (data, notes) = cranfield();
    let cfg = EvalConfig {
        methods: vec![Method::Ridge],
        resamples: 300,
        curve: vec![],
        train_pairs: Some(700),
        query_pair_folds: Some(2),
        ..EvalConfig::default()
    };
    let evaluation = evaluate(&data, &notes, &cfg, "cranfield").unwrap();
    let report = &evaluation.report;
    let qp = report.query_pairs.as_ref().expect("a query-pairs report");
    assert_eq!(qp.folds, 2);
    assert_eq!(qp.per_fold.len(), 2);

    let train: Vec<usize> = evaluation
        .train_ids
        .iter()
        .map(|id| data.doc_ids.iter().position(|d| d == id).unwrap())
        .collect();
    let (doc_new, doc_old) = (
        data.new_docs.select(Axis(0), &train),
        data.old_docs.select(Axis(0), &train),
    );
    let docs = Pairs {
        x: doc_new.view(),
        y: doc_old.view(),
        ids: &evaluation.train_ids,
    };
    let n = data.query_ids.len();
    let mut mapped = Array2::<f32>::zeros((n, data.old_queries.ncols()));
    let mut held_total = 0;
    for k in 0..2 {
        let (rest, held): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| query_fold(&data.query_ids[i], cfg.seed, 2) != k);
        held_total += held.len();
        let ids: Vec<String> = rest.iter().map(|&i| data.query_ids[i].clone()).collect();
        let (q_new, q_old) = (
            data.new_queries.select(Axis(0), &rest),
            data.old_queries.select(Axis(0), &rest),
        );
        let queries = Pairs {
            x: q_new.view(),
            y: q_old.view(),
            ids: &ids,
        };
        let share = choose_share(Some(&docs), &queries, &FitConfig::default()).unwrap();
        assert_eq!(share.share, qp.per_fold[k].share.share, "fold {k}");
        assert_eq!(share.query_pairs, rest.len());
        assert_eq!(qp.per_fold[k].held_out, held.len());
        let (x, y, blend_ids) = blend(Some(&docs), &queries, share.doc_repeat, share.query_repeat);
        let ridge = FitConfig {
            method: Method::Ridge,
            ..FitConfig::default()
        };
        let outcome = fit(x.view(), y.view(), &blend_ids, &ridge).unwrap();
        let shim = Shim::from_outcome(&outcome, Direction::NewToOld, "mpnet", "minilm");
        let rows = shim
            .apply(data.new_queries.select(Axis(0), &held).view(), true)
            .unwrap();
        for (r, &i) in held.iter().enumerate() {
            mapped.row_mut(i).assign(&rows.row(r));
        }
    }
    assert_eq!(held_total, n, "the folds cover every scored query once");

    let column = Column {
        name: "rebuilt",
        kind: PathKind::ShimQuery,
        reembedded: 0.0,
        queries: QueryModel::Mapped(mapped.view()),
        vectors: data.old_docs.view(),
        rows: None,
    };
    let scored = score_columns(&data, &[column], cfg.k, cfg.resamples, cfg.seed, &Exact).unwrap();
    let rebuilt = &scored[2];
    let path = report.path("shim-query-qp:ridge").expect("the path");
    assert_eq!(path.kind, PathKind::ShimQuery);
    assert_eq!(rebuilt.per_query_ndcg, path.per_query_ndcg);
    assert_eq!(rebuilt.retention_ci, path.retention_ci);

    // The gain is against the same method fitted on documents alone.
    let gain = &qp.gains[0];
    let without = report.path("shim-query:ridge").unwrap();
    assert_eq!(gain.against, "shim-query:ridge");
    assert!((gain.delta_ndcg - (path.ndcg - without.ndcg)).abs() < 1e-12);
    assert!(
        gain.ci95_delta_ndcg[0] <= gain.delta_ndcg && gain.delta_ndcg <= gain.ci95_delta_ndcg[1]
    );
}

#[test]
fn too_few_or_too_many_folds_are_refused() {
    let (data, notes) = cranfield();
    for folds in [1, data.query_ids.len() + 1] {
        let cfg = EvalConfig {
            methods: vec![Method::Ridge],
            resamples: 10,
            curve: vec![],
            query_pair_folds: Some(folds),
            ..EvalConfig::default()
        };
        let err = evaluate(&data, &notes, &cfg, "cranfield")
            .err()
            .expect("refused");
        assert!(err.to_string().contains("--query-pair-folds"), "{err}");
    }
}
