//! `score_columns` scores a document set as `evaluate` scores its paths: the doc-side
//! projection `evaluate` searched, handed over as a column, gets that path's figures
//! exactly; a column missing documents is searched without them.

use shimkit_trainer::Method;
use shimkit_trainer::eval::{
    Column, Docs, EvalConfig, Exact, PathKind, QueryModel, Ranking, Searcher, ShimKey, Side,
    evaluate, score_columns, score_columns_against,
};

mod common;
use common::cranfield;

#[test]
fn a_column_holding_a_paths_documents_gets_that_paths_figures() {
    let (data, notes) = cranfield();
    let cfg = EvalConfig {
        methods: vec![Method::Ridge],
        resamples: 300,
        curve: vec![],
        ..EvalConfig::default()
    };
    let evaluation = evaluate(&data, &notes, &cfg, "cranfield").unwrap();
    let report = &evaluation.report;
    let key = ShimKey {
        side: Side::Doc,
        method: Method::Ridge,
    };
    let (_, shim) = evaluation.shims.iter().find(|(k, _)| *k == key).unwrap();
    let projected = shim.apply(data.old_docs.view(), true).unwrap();
    let query_key = ShimKey {
        side: Side::Query,
        method: Method::Ridge,
    };
    let (_, query_shim) = evaluation
        .shims
        .iter()
        .find(|(k, _)| *k == query_key)
        .unwrap();
    let mapped = query_shim.apply(data.new_queries.view(), true).unwrap();
    // Half the documents have no vector in this column.
    let rows: Vec<u32> = (0..data.doc_ids.len() as u32)
        .filter(|r| r % 2 == 0)
        .collect();
    let half = projected.select(
        ndarray::Axis(0),
        &rows.iter().map(|&r| r as usize).collect::<Vec<_>>(),
    );
    let columns = [
        Column {
            name: "projected",
            kind: PathKind::ShimDoc,
            reembedded: 0.0,
            queries: QueryModel::New,
            vectors: projected.view(),
            rows: None,
        },
        Column {
            name: "old-column",
            kind: PathKind::NoMigration,
            reembedded: 0.0,
            queries: QueryModel::Old,
            vectors: data.old_docs.view(),
            rows: None,
        },
        Column {
            name: "half",
            kind: PathKind::ShimDoc,
            reembedded: 0.0,
            queries: QueryModel::New,
            vectors: half.view(),
            rows: Some(&rows),
        },
        Column {
            name: "mapped-queries",
            kind: PathKind::ShimQuery,
            reembedded: 0.0,
            queries: QueryModel::Mapped(mapped.view()),
            vectors: data.old_docs.view(),
            rows: None,
        },
    ];
    let scored = score_columns(&data, &columns, cfg.k, cfg.resamples, cfg.seed, &Exact).unwrap();
    let same = |a: &shimkit_trainer::eval::PathResult, b: &shimkit_trainer::eval::PathResult| {
        assert_eq!(
            a.per_query_ndcg, b.per_query_ndcg,
            "{} vs {}",
            a.name, b.name
        );
        assert_eq!(a.retention, b.retention);
        assert_eq!(a.retention_ci, b.retention_ci);
        assert_eq!(a.recall, b.recall);
        assert_eq!(a.delta_vs_no_migration_ci, b.delta_vs_no_migration_ci);
    };
    same(&scored[0], report.path("no-migration").unwrap());
    same(&scored[1], report.path("full-reembed").unwrap());
    same(&scored[2], report.path("shim-doc:ridge").unwrap());
    same(&scored[3], report.path("no-migration").unwrap());
    same(&scored[5], report.path("shim-query:ridge").unwrap());
    // Without half its documents a column finds less.
    assert!(
        scored[4].recall < scored[2].recall,
        "{} vs {}",
        scored[4].recall,
        scored[2].recall
    );
    assert_eq!(
        scored[2].to_json(10)["retention_ndcg@10"],
        scored[2].retention
    );
}

/// A searcher that loses each query's best hit: an index whose recall@k is (k-1)/k.
struct LosesTheBest;

impl Searcher for LosesTheBest {
    fn search(
        &self,
        queries: ndarray::ArrayView2<'_, f32>,
        docs: Docs<'_>,
        k: usize,
    ) -> shimkit_trainer::Result<Vec<Ranking>> {
        let mut found = Exact.search(queries, docs, k + 1)?;
        for ranking in &mut found {
            ranking.remove(0);
            ranking.truncate(k);
        }
        Ok(found)
    }
}

#[test]
fn each_columns_recall_against_exact_search_is_reported_for_an_approximate_index() {
    let (data, _) = cranfield();
    let columns = [Column {
        name: "new",
        kind: PathKind::Backfill,
        reembedded: 1.0,
        queries: QueryModel::New,
        vectors: data.new_docs.view(),
        rows: None,
    }];
    let exact = score_columns(&data, &columns, 10, 200, 0, &Exact).unwrap();
    assert!(exact.iter().all(|p| p.ann_recall.is_none()));
    let lossy =
        score_columns_against(&data, &columns, 10, 200, 0, &LosesTheBest, Some(&Exact)).unwrap();
    for p in &lossy {
        let recall = p.ann_recall.unwrap();
        assert!((recall - 0.9).abs() < 1e-12, "{}: {recall}", p.name);
    }
    // The figures are the approximate index's: losing the best hit costs nDCG.
    assert!(lossy[2].ndcg < exact[2].ndcg);
}
