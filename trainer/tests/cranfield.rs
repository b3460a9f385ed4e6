//! Held-out quality on the bundled Cranfield data, against an independent numpy
//! implementation (`benches/reference_shims.py`, figures in
//! `benches/reference/cranfield_shims.json`): the first 700 documents fit, the other 700
//! are held out, λ and rank fixed as in the script.
//!
//! Tolerance 1e-4 on a mean cosine: shimkit projects in f32 and sums its statistics from
//! f32 products; numpy does everything in f64.

use std::path::{Path, PathBuf};

use ndarray::{Array2, s};
use shimkit_data::{ReadOptions, TableSource, read_table};
use shimkit_trainer::{LinearMap, PairStats, mean_cosine, methods, normalize_rows};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(model: &str) -> (Vec<String>, Array2<f32>) {
    let path = root().join(format!("data/cranfield/corpus.{model}.parquet"));
    let t = read_table(&TableSource::new(path).unwrap(), &ReadOptions::default()).unwrap();
    (t.ids, normalize_rows(t.vectors))
}

fn reference() -> serde_json::Value {
    let text =
        std::fs::read_to_string(root().join("benches/reference/cranfield_shims.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn heldout_cosine_of_each_method_matches_numpy_in_both_directions() {
    let refs = reference();
    let (lambda, rank, train) = (
        refs["lambda"].as_f64().unwrap(),
        refs["rank"].as_u64().unwrap() as usize,
        refs["train"].as_u64().unwrap() as usize,
    );
    let (ids_old, old) = load("minilm");
    let (ids_new, new) = load("mpnet");
    assert_eq!(ids_old, ids_new);
    for (name, x, y) in [
        ("minilm-to-mpnet", &old, &new),
        ("mpnet-to-minilm", &new, &old),
    ] {
        let mut stats = PairStats::new(x.ncols(), y.ncols());
        stats.add(x.slice(s![..train, ..]), y.slice(s![..train, ..]));
        let (xv, yv) = (
            x.slice(s![train.., ..]).to_owned(),
            y.slice(s![train.., ..]).to_owned(),
        );
        let maps: [(&str, LinearMap); 3] = [
            ("ridge", methods::ridge(&stats, lambda).unwrap()),
            ("procrustes", methods::procrustes(&stats).unwrap()),
            ("lowrank", methods::lowrank(&stats, lambda, rank).unwrap()),
        ];
        for (method, map) in maps {
            let ours = mean_cosine(&map, &xv, &yv);
            let numpy = refs[name][method].as_f64().unwrap();
            assert!(
                (ours - numpy).abs() < 1e-4,
                "{name} {method}: shimkit {ours:.6}, numpy {numpy:.6}"
            );
        }
    }
}

#[test]
fn the_reference_figures_are_current() {
    // Regenerates the numpy figures when a Python with numpy and pyarrow is at hand (CI
    // has one), so the committed file cannot drift from the script.
    let python = std::env::var_os("SHIMKIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    let ok = std::process::Command::new(&python)
        .args(["-c", "import numpy, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("SHIMKIT_REQUIRE_PYTHON").ok().as_deref() != Some("1"),
            "SHIMKIT_REQUIRE_PYTHON=1 but {} has no numpy/pyarrow",
            python.display()
        );
        eprintln!("skipped: no Python with numpy and pyarrow");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ref.json");
    let status = std::process::Command::new(&python)
        .arg(root().join("benches/reference_shims.py"))
        .arg(root().join("data/cranfield"))
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let fresh: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let committed = reference();
    for name in ["minilm-to-mpnet", "mpnet-to-minilm"] {
        for method in ["ridge", "procrustes", "lowrank"] {
            let (a, b) = (
                fresh[name][method].as_f64().unwrap(),
                committed[name][method].as_f64().unwrap(),
            );
            assert!(
                (a - b).abs() < 1e-9,
                "{name} {method}: script gives {a}, file says {b}"
            );
        }
    }
}
