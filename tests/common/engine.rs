//! Helpers of the tests that run jobs through an engine (`tests/engine.rs`,
//! `tests/cluster.rs`): running shimkit, the bundled tables, and comparing outputs by id.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use ndarray::{Array2, Axis};
use shimkit_data::{EmbeddingWriter, ReadOptions, TableSource, read_table};

use super::{root, shimkit};

pub fn ok(args: &[&str]) -> String {
    let out = shimkit(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn fails(args: &[&str]) -> String {
    let out = shimkit(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn cranfield(file: &str) -> String {
    root()
        .join("data/cranfield")
        .join(file)
        .to_string_lossy()
        .into_owned()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn by_id(path: &Path) -> HashMap<String, Vec<f32>> {
    let t = read_table(&TableSource::new(path).unwrap(), &ReadOptions::default()).unwrap();
    let mut out = HashMap::new();
    for (id, row) in t.ids.iter().zip(t.vectors.rows()) {
        assert!(
            out.insert(id.clone(), row.to_vec()).is_none(),
            "{id} twice in {}",
            path.display()
        );
    }
    out
}

/// A shim fitted by `method` on the bundled corpora (minilm -> mpnet), and their paths.
pub fn fitted(dir: &Path, method: &str) -> (PathBuf, String, String) {
    let old = cranfield("corpus.minilm.parquet");
    let new = cranfield("corpus.mpnet.parquet");
    let shim = dir.join(format!("{method}.safetensors"));
    ok(&[
        "fit",
        "-q",
        "--old",
        &old,
        "--new",
        &new,
        "--method",
        method,
        "--out",
        s(&shim),
    ]);
    (shim, old, new)
}

/// `input` through shimkit's own `project`, by id: what the engine must equal.
pub fn projected_locally(dir: &Path, shim: &Path, input: &str) -> HashMap<String, Vec<f32>> {
    let local = dir.join("local.parquet");
    ok(&[
        "project",
        "-q",
        "--shim",
        s(shim),
        "--input",
        input,
        "--output",
        s(&local),
    ]);
    by_id(&local)
}

/// The error output of a run that must fail.
pub fn failed(out: Output) -> String {
    assert!(!out.status.success(), "succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn fit_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["fit", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(&all)).unwrap()
}

pub fn weights(path: &Path) -> Array2<f32> {
    shimkit_trainer::artifact::load(path).unwrap().weight
}

pub fn write(path: &Path, ids: &[String], m: &Array2<f32>) {
    let mut w = EmbeddingWriter::create(path, m.ncols()).unwrap();
    w.write(ids, m.view()).unwrap();
    w.finish().unwrap();
}

/// The Cranfield minilm corpus as `parts` files in a directory, rows in another order.
pub fn split_corpus(dir: &Path, parts: usize) -> PathBuf {
    split_corpus_as(dir, parts, false)
}

/// The Cranfield minilm corpus as `parts` files in a directory; `in_order` keeps the rows
/// in the order of the other models' files (row-aligned with them), in runs of unequal
/// length, else deals them out in reverse.
pub fn split_corpus_as(dir: &Path, parts: usize, in_order: bool) -> PathBuf {
    let t = read_table(
        &TableSource::new(cranfield("corpus.minilm.parquet")).unwrap(),
        &ReadOptions::default(),
    )
    .unwrap();
    let out = dir.join(if in_order {
        "corpus-aligned-parts"
    } else {
        "corpus-parts"
    });
    std::fs::create_dir_all(&out).unwrap();
    let n = t.ids.len();
    // Cut points at 1/7, 3/7, ...: no file boundary falls on another table's batch edge.
    let cut = |p: usize| (n * (2 * p).saturating_sub(1) / (2 * parts + 1)).min(n);
    for p in 0..parts {
        let rows: Vec<usize> = if in_order {
            let end = if p + 1 == parts { n } else { cut(p + 1) };
            (cut(p)..end).collect()
        } else {
            (0..n).rev().filter(|i| i % parts == p).collect()
        };
        let ids: Vec<String> = rows.iter().map(|&i| t.ids[i].clone()).collect();
        write(
            &out.join(format!("part-{p}.parquet")),
            &ids,
            &t.vectors.select(Axis(0), &rows),
        );
    }
    out
}

/// `got` holds every id of `want` once, each vector within 1e-6.
pub fn assert_same(got: &HashMap<String, Vec<f32>>, want: &HashMap<String, Vec<f32>>) {
    assert_eq!(got.len(), want.len(), "nothing lost or duplicated");
    let mut worst = 0.0f32;
    for (id, row) in want {
        let g = got.get(id).unwrap_or_else(|| panic!("{id} missing"));
        for (a, b) in g.iter().zip(row) {
            worst = worst.max((a - b).abs());
        }
    }
    assert!(worst <= 1e-6, "largest difference {worst}");
}

/// No staging directory (`.NAME.tmp-PID`) is left in `dir`.
pub fn no_staging_left(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
