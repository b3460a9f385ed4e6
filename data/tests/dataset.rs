//! Evaluation sets: the bundled Cranfield set, sets nobody has seen, and broken ones.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use shimkit_data::{Columns, EvalSet, Qrels, ReadOptions, Split};

fn cranfield() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cranfield")
}

#[test]
fn bundled_cranfield_loads_with_three_models() {
    let set = EvalSet::open(cranfield()).unwrap();
    assert_eq!(set.models(), vec!["minilm", "minilm-l3", "mpnet"]);
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    let corpus = set
        .load("mpnet", Split::Corpus, &ReadOptions::default())
        .unwrap();
    assert_eq!((corpus.len(), corpus.dim()), (1400, 768));
    let queries = set
        .load("minilm", Split::Queries, &ReadOptions::default())
        .unwrap();
    assert_eq!((queries.len(), queries.dim()), (225, 384));
    let cov = set.check_coverage(&Columns::default()).unwrap();
    assert_eq!((cov.docs, cov.queries), (1400, 225));
    assert_eq!(cov.qrels_unknown_docs + cov.qrels_unknown_queries, 0);
    let qrels = set.qrels().unwrap();
    assert_eq!(qrels.rows(), 1612);
    assert_eq!(qrels.queries.len(), 225);
    let grades = qrels.grade_counts();
    assert_eq!(
        (grades[&1], grades[&2], grades[&3], grades[&4]),
        (363, 734, 387, 128)
    );
}

#[test]
fn shared_data_sets_all_load_when_present() {
    // Every set under ../shared/data (sets added after this test was written too).
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    let Ok(entries) = std::fs::read_dir(&shared) else {
        eprintln!("skipped: {} not present", shared.display());
        return;
    };
    for e in entries {
        let dir = e.unwrap().path();
        if dir.join("qrels.tsv").is_file() {
            let set = EvalSet::open(&dir).unwrap();
            assert!(!set.models().is_empty(), "{}", dir.display());
            set.check_coverage(&Columns::default()).unwrap();
        }
    }
}

/// Copies two models' files of the bundled set under new names: a set nobody has seen.
fn unseen_set(d: &Path) {
    let src = cranfield();
    for (from, to) in [("minilm", "alpha"), ("mpnet", "beta.v2")] {
        for split in [Split::Corpus, Split::Queries] {
            std::fs::copy(src.join(split.file_name(from)), d.join(split.file_name(to))).unwrap();
        }
    }
    std::fs::copy(src.join("qrels.tsv"), d.join("qrels.tsv")).unwrap();
}

#[test]
fn works_on_a_set_in_the_layout_that_nobody_has_seen() {
    let d = tmp();
    unseen_set(d.path());
    let set = EvalSet::open(d.path()).unwrap();
    assert_eq!(set.models(), vec!["alpha", "beta.v2"]);
    assert!(set.manifest.is_none());
    assert_eq!(
        set.load("beta.v2", Split::Queries, &ReadOptions::default())
            .unwrap()
            .dim(),
        768
    );
}

#[test]
fn missing_pieces_are_named() {
    let d = tmp();
    unseen_set(d.path());
    std::fs::remove_file(d.path().join("queries.alpha.parquet")).unwrap();
    let set = EvalSet::open(d.path()).unwrap();
    assert_eq!(set.models(), vec!["beta.v2"]);
    assert!(
        set.problems
            .iter()
            .any(|p| p.contains("\"alpha\" has no queries.alpha.parquet")),
        "{:?}",
        set.problems
    );
    let err = set
        .load("alpha", Split::Queries, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model \"alpha\" has no queries.alpha.parquet"),
        "{err}"
    );
    let err = set.path("gamma", Split::Corpus).unwrap_err().to_string();
    assert!(
        err.contains("no model \"gamma\"") && err.contains("beta.v2"),
        "{err}"
    );

    std::fs::remove_file(d.path().join("qrels.tsv")).unwrap();
    let err = EvalSet::open(d.path()).unwrap_err().to_string();
    assert!(err.contains("no qrels.tsv"), "{err}");

    let err = EvalSet::open(d.path().join("nope"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a directory"), "{err}");
}

#[test]
fn manifest_models_without_files_are_reported() {
    let d = tmp();
    unseen_set(d.path());
    std::fs::write(
        d.path().join("MANIFEST.json"),
        r#"{"models": {"alpha": {}, "gamma": {}}}"#,
    )
    .unwrap();
    let set = EvalSet::open(d.path()).unwrap();
    assert!(
        set.problems
            .iter()
            .any(|p| p.contains("MANIFEST.json lists model \"gamma\"")),
        "{:?}",
        set.problems
    );
    std::fs::write(d.path().join("MANIFEST.json"), "{not json").unwrap();
    let err = EvalSet::open(d.path()).unwrap_err().to_string();
    assert!(err.contains("MANIFEST.json: not valid JSON"), "{err}");
}

#[test]
fn models_that_cover_different_ids_are_named_with_examples() {
    let d = tmp();
    let m = matrix(4, 3, 1);
    let q = matrix(2, 3, 2);
    write_table(
        &d.path().join("corpus.a.parquet"),
        str_ids(&["1", "2", "3", "4"]),
        fsl_f32(3, rows(&m)),
    );
    write_table(
        &d.path().join("corpus.b.parquet"),
        str_ids(&["1", "2", "3", "9"]),
        fsl_f32(3, rows(&m)),
    );
    for model in ["a", "b"] {
        write_table(
            &d.path().join(format!("queries.{model}.parquet")),
            str_ids(&["q1", "q2"]),
            fsl_f32(3, rows(&q)),
        );
    }
    std::fs::write(
        d.path().join("qrels.tsv"),
        "query-id\tcorpus-id\tscore\nq1\t1\t1\n",
    )
    .unwrap();
    let set = EvalSet::open(d.path()).unwrap();
    let err = set
        .check_coverage(&Columns::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("corpus.b.parquet"), "{err}");
    assert!(
        err.contains("lacks 1 id(s) that corpus.a.parquet has (e.g. \"4\")"),
        "{err}"
    );
    assert!(
        err.contains("has 1 id(s) that corpus.a.parquet lacks (e.g. \"9\")"),
        "{err}"
    );
}

#[test]
fn qrels_judging_unknown_ids_are_counted() {
    let d = tmp();
    unseen_set(d.path());
    let mut text = std::fs::read_to_string(d.path().join("qrels.tsv")).unwrap();
    text.push_str("999\t1\t2\n1\tno-such-doc\t1\n");
    std::fs::write(d.path().join("qrels.tsv"), text).unwrap();
    let cov = EvalSet::open(d.path())
        .unwrap()
        .check_coverage(&Columns::default())
        .unwrap();
    assert_eq!((cov.qrels_unknown_queries, cov.qrels_unknown_docs), (1, 1));
}

#[test]
fn qrels_errors_name_the_line() {
    let f = Path::new("q.tsv");
    let err = Qrels::parse(f, "query-id\tcorpus-id\tscore\n1\t2\t3\n1\t4\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("q.tsv: line 3: expected 3 tab-separated fields"),
        "{err}"
    );
    let err = Qrels::parse(f, "1\t2\thigh\n").unwrap_err().to_string();
    assert!(
        err.contains("line 1: score \"high\" is not an integer"),
        "{err}"
    );
    let err = Qrels::parse(f, "1\t2\t1\n1\t2\t2\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2: query \"1\" judges document \"2\" twice"),
        "{err}"
    );
    let err = Qrels::parse(f, "query-id\tcorpus-id\tscore\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no judgements"), "{err}");
    // TREC's four-column form and a missing header are accepted; grade 0 is kept.
    let q = Qrels::parse(f, "1 0 d1 2".replace(' ', "\t").as_str()).unwrap();
    assert_eq!(
        q.queries,
        vec![("1".to_string(), vec![("d1".to_string(), 2)])]
    );
    let q = Qrels::parse(f, "a\tx\t0\na\ty\t1\nb\tx\t3\r\n").unwrap();
    assert_eq!(q.rows(), 3);
    assert_eq!(q.queries_with_relevant(), 2);
}
