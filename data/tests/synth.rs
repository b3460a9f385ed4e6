//! The synthetic generator: valid sets, reproducible from the seed alone, learnable.

mod common;

use common::*;
use shimkit_data::synth::{SynthSpec, generate};
use shimkit_data::{Columns, EvalSet, ReadOptions, Split};

fn small() -> SynthSpec {
    SynthSpec {
        docs: 5000,
        queries: 40,
        old_dim: 24,
        new_dim: 40,
        latent_dim: 16,
        seed: 11,
        ..SynthSpec::default()
    }
}

fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_generated_set_is_a_valid_eval_set() {
    let d = tmp();
    let out = d.path().join("set");
    let spec = small();
    let report = generate(&spec, &out, false, &|_| {}).unwrap();
    assert_eq!(report.docs, 5000);
    let set = EvalSet::open(&out).unwrap();
    assert_eq!(set.models(), vec!["new", "old"]);
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    let cov = set.check_coverage(&Columns::default()).unwrap();
    assert_eq!((cov.docs, cov.queries), (5000, 40));
    assert_eq!(cov.qrels_unknown_docs, 0);
    // Each query's closest constructed document is within the grade-3 threshold.
    assert_eq!(cov.queries_without_relevant, 0);
    let qrels = set.qrels().unwrap();
    assert_eq!(qrels.rows() as u64, report.qrels_rows);
    assert!(qrels.grade_counts().keys().all(|g| (1..=3).contains(g)));
    let old = set
        .load("old", Split::Corpus, &ReadOptions::default())
        .unwrap();
    assert_eq!(old.dim(), 24);
    for row in old.vectors.rows() {
        let norm = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
    let manifest = set.manifest.unwrap();
    assert_eq!(manifest["counts"]["docs"], 5000);
    assert_eq!(manifest["models"]["new"]["dim"], 40);
    assert!(out.join("corpus.jsonl").is_file());
}

#[test]
fn output_depends_on_the_seed_alone() {
    let d = tmp();
    let spec = small();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let a = d.path().join("a");
    one.install(|| generate(&spec, &a, false, &|_| {})).unwrap();
    let b = d.path().join("b");
    generate(&spec, &b, false, &|_| {}).unwrap();
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.len(), fb.len());
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(x == y, "same seed, different thread count: {name} differs");
    }
    let c = d.path().join("c");
    generate(&SynthSpec { seed: 12, ..spec }, &c, false, &|_| {}).unwrap();
    let vectors = |f: &[(String, Vec<u8>)]| {
        f.iter()
            .find(|(n, _)| n == "corpus.new.parquet")
            .unwrap()
            .1
            .clone()
    };
    assert!(
        vectors(&fa) != vectors(&files(&c)),
        "another seed gave the same vectors"
    );
}

#[test]
fn new_model_is_related_to_old_by_a_learnable_map() {
    // Least squares old -> new on half the documents, scored on the other half: the map
    // must capture most of the new space but not all of it.
    let d = tmp();
    let out = d.path().join("set");
    generate(
        &SynthSpec {
            docs: 4000,
            ..small()
        },
        &out,
        false,
        &|_| {},
    )
    .unwrap();
    let set = EvalSet::open(&out).unwrap();
    let x = set
        .load("old", Split::Corpus, &ReadOptions::default())
        .unwrap()
        .vectors
        .mapv(|v| v as f64);
    let y = set
        .load("new", Split::Corpus, &ReadOptions::default())
        .unwrap()
        .vectors
        .mapv(|v| v as f64);
    let n = 2000;
    let (xt, yt) = (x.slice(ndarray::s![..n, ..]), y.slice(ndarray::s![..n, ..]));
    // Normal equations with a small ridge, solved by Gaussian elimination.
    let mut a = xt.t().dot(&xt);
    for i in 0..a.nrows() {
        a[[i, i]] += 1e-3;
    }
    let b = xt.t().dot(&yt);
    let w = solve(a, b);
    let pred = x.slice(ndarray::s![n.., ..]).dot(&w);
    let truth = y.slice(ndarray::s![n.., ..]);
    let mut mean_cos = 0.0;
    for (p, t) in pred.rows().into_iter().zip(truth.rows()) {
        mean_cos += p.dot(&t) / p.dot(&p).sqrt();
    }
    mean_cos /= (x.nrows() - n) as f64;
    assert!(
        (0.6..0.97).contains(&mean_cos),
        "held-out cosine {mean_cos}"
    );
}

fn solve(mut a: ndarray::Array2<f64>, mut b: ndarray::Array2<f64>) -> ndarray::Array2<f64> {
    let n = a.nrows();
    for k in 0..n {
        let piv = (k..n)
            .max_by(|&i, &j| a[[i, k]].abs().total_cmp(&a[[j, k]].abs()))
            .unwrap();
        for j in 0..n {
            a.swap([k, j], [piv, j]);
        }
        for j in 0..b.ncols() {
            b.swap([k, j], [piv, j]);
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
            let mut s = b[[k, j]];
            for i in k + 1..n {
                s -= a[[k, i]] * b[[i, j]];
            }
            b[[k, j]] = s / a[[k, k]];
        }
    }
    b
}

#[test]
fn refuses_to_overwrite_and_rejects_impossible_settings() {
    let d = tmp();
    let out = d.path().join("set");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let err = generate(&small(), &out, false, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("exists and is not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "mine"
    );
    // --force replaces an evaluation set, never a directory of someone else's files.
    let err = generate(&small(), &out, true, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not look like an evaluation set") && err.contains("keep.txt"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "mine"
    );
    std::fs::remove_file(out.join("keep.txt")).unwrap();
    generate(&small(), &out, false, &|_| {}).unwrap();
    generate(&small(), &out, true, &|_| {}).unwrap();
    let err = generate(
        &SynthSpec {
            docs: 100,
            queries: 20,
            ..small()
        },
        &d.path().join("x"),
        false,
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("20 queries × 10 relevant documents"), "{err}");
    assert!(!d.path().join("x").exists());
    let leftovers: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}
