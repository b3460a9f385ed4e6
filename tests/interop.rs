//! Interoperability with pyarrow, the reader most users will open shimkit's files with.
//!
//! Needs a Python with pyarrow: `SHIMKIT_PYTHON`, else `.venv/bin/python`, else `python3`.
//! Without one the tests say so and pass, unless `SHIMKIT_REQUIRE_PYTHON=1` (CI sets it).

use std::path::{Path, PathBuf};
use std::process::Command;

use shimkit_data::{ReadOptions, TableSource, read_table};

mod common;
use common::python;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/interop.py")
}

fn run(py: &Path, args: &[&str]) {
    let out = Command::new(py).arg(script()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "python {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn raw_f32(path: &Path) -> Vec<u32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn pyarrow_reads_what_shimkit_writes() {
    let Some(py) = python() else { return };
    let d = tempfile::tempdir().unwrap();
    let set = d.path().join("set");
    let status = Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args([
            "-q",
            "gen",
            "--docs",
            "9000",
            "--queries",
            "20",
            "--old-dim",
            "24",
            "--new-dim",
            "40",
        ])
        .arg("--out")
        .arg(&set)
        .status()
        .unwrap();
    assert!(status.success());
    let file = set.join("corpus.new.parquet");
    let dump = d.path().join("dump");
    run(
        &py,
        &["dump", file.to_str().unwrap(), dump.to_str().unwrap()],
    );
    let table = read_table(&TableSource::new(&file).unwrap(), &ReadOptions::default()).unwrap();
    let ids = std::fs::read_to_string(dump.with_extension("ids")).unwrap();
    let py_ids: Vec<&str> = ids.lines().collect();
    assert_eq!(py_ids, table.ids);
    let ours: Vec<u32> = table.vectors.iter().map(|v| v.to_bits()).collect();
    assert_eq!(
        raw_f32(&dump.with_extension("f32")),
        ours,
        "pyarrow sees other values"
    );
    let schema = std::fs::read_to_string(dump.with_extension("schema")).unwrap();
    assert!(
        schema.contains("id: string")
            && schema.contains("fixed_size_list<element: float not null>[40]"),
        "{schema}"
    );
}

#[test]
fn shimkit_reads_what_pyarrow_writes() {
    let Some(py) = python() else { return };
    let d = tempfile::tempdir().unwrap();
    run(&py, &["write", d.path().to_str().unwrap()]);
    let cases = std::fs::read_to_string(d.path().join("cases.txt")).unwrap();
    let mut n = 0;
    for name in cases.lines() {
        let table = read_table(
            &TableSource::new(d.path().join(format!("{name}.parquet"))).unwrap(),
            &ReadOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let ids = std::fs::read_to_string(d.path().join(format!("{name}.ids"))).unwrap();
        assert_eq!(ids.lines().collect::<Vec<_>>(), table.ids, "{name}");
        let ours: Vec<u32> = table.vectors.iter().map(|v| v.to_bits()).collect();
        assert_eq!(
            raw_f32(&d.path().join(format!("{name}.f32"))),
            ours,
            "{name}"
        );
        n += 1;
    }
    assert!(n >= 5, "only {n} cases");
}

#[test]
fn numpy_applies_a_shim_artifact_like_shimkit_project() {
    let Some(py) = python() else { return };
    let d = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cranfield");
    for (method, direction, input) in [
        ("ridge", "old-to-new", "corpus.minilm.parquet"),
        ("lowrank", "new-to-old", "corpus.mpnet.parquet"),
        ("procrustes", "old-to-new", "queries.minilm.parquet"),
        ("kernel", "new-to-old", "queries.mpnet.parquet"),
        ("kernel", "old-to-new", "corpus.minilm.parquet"),
        ("cluster", "old-to-new", "corpus.minilm.parquet"),
    ] {
        let shim = d.path().join(format!("{method}-{direction}.safetensors"));
        let out = d.path().join(format!("{method}-{direction}.parquet"));
        let status = Command::new(env!("CARGO_BIN_EXE_shimkit"))
            .args([
                "-q",
                "fit",
                "--method",
                method,
                "--direction",
                direction,
                "--old",
            ])
            .arg(data.join("corpus.minilm.parquet"))
            .arg("--new")
            .arg(data.join("corpus.mpnet.parquet"))
            .arg("--out")
            .arg(&shim)
            .status()
            .unwrap();
        assert!(status.success());
        let status = Command::new(env!("CARGO_BIN_EXE_shimkit"))
            .args(["-q", "project", "--shim"])
            .arg(&shim)
            .arg("--input")
            .arg(data.join(input))
            .arg("--output")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        run(
            &py,
            &[
                "apply",
                shim.to_str().unwrap(),
                data.join(input).to_str().unwrap(),
                out.to_str().unwrap(),
            ],
        );
    }
}

#[test]
fn fit_accepts_the_encodings_pyarrow_users_write() {
    let Some(py) = python() else { return };
    let d = tempfile::tempdir().unwrap();
    run(&py, &["write", d.path().to_str().unwrap()]);
    // float16 against list<double>; large_list<double> against snappy fixed_size_list<float>;
    // int64 ids on both sides.
    for (old, new, pairs) in [
        ("halffloat", "list_double", 700),
        ("large_list_double", "default_snappy", 700),
        ("int64_ids", "int64_ids", 700),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_shimkit"))
            .args(["fit", "--json", "--method", "ridge", "--old"])
            .arg(d.path().join(format!("{old}.parquet")))
            .arg("--new")
            .arg(d.path().join(format!("{new}.parquet")))
            .arg("--out")
            .arg(d.path().join("s.safetensors"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{old}/{new}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["pairs"], pairs, "{old}/{new}");
    }
}

#[test]
fn numpy_applies_a_trained_looking_mlp_shim_like_shimkit_project() {
    // Early stopping can keep an MLP at its ridge start (W₂ = 0), which would make the
    // check trivial; this shim has every branch non-zero.
    use ndarray::{Array1, Array2};
    use shimkit_trainer::adapter::Adapter;
    use shimkit_trainer::mlp::{MlpConfig, MlpResidual};
    use shimkit_trainer::{Direction, Shim, ShimMeta, artifact};
    let Some(py) = python() else { return };
    let d = tempfile::tempdir().unwrap();
    let (d_in, h, d_out) = (384, 32, 768);
    let wave = |r: usize, c: usize, s: f32| {
        Array2::from_shape_fn((r, c), |(i, j)| {
            ((i * 31 + j * 17) as f32 * 0.37 + s).sin() * 0.1
        })
    };
    let mlp = MlpResidual {
        weight: wave(d_in, d_out, 0.1),
        bias: Array1::from_shape_fn(d_out, |j| (j as f32 * 0.01).cos() * 0.01),
        w1: wave(d_in, h, 0.2) * 10.0,
        c: Array1::from_shape_fn(h, |j| j as f32 * 0.05 - 0.8),
        w2: wave(h, d_out, 0.3),
    };
    let mut meta = ShimMeta::new("mlp", Direction::OldToNew, d_in, d_out);
    meta.adapter = Some(MlpConfig::default().params(7, Some(0.1)).into());
    let mut shim = Shim::new(mlp.weight.clone(), mlp.bias.clone(), meta);
    shim.adapter = Some(Adapter::Mlp(mlp));
    let path = d.path().join("mlp.safetensors");
    artifact::save(&shim, &path).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cranfield/corpus.minilm.parquet");
    let out = d.path().join("mlp.parquet");
    let status = Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args(["-q", "project", "--shim"])
        .arg(&path)
        .arg("--input")
        .arg(&data)
        .arg("--output")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    run(
        &py,
        &[
            "apply",
            path.to_str().unwrap(),
            data.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
}

#[test]
fn an_exported_dense_module_computes_what_shimkit_project_computes() {
    let d = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cranfield");
    let shimkit = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_shimkit"))
            .args(args)
            .output()
            .unwrap()
    };
    let os = |s: &str| std::ffi::OsString::from(s);
    let mut checks = Vec::new();
    for (method, direction, input, drop_bias) in [
        ("ridge", "old-to-new", "corpus.minilm.parquet", false),
        ("lowrank", "new-to-old", "queries.mpnet.parquet", true),
        ("cluster", "old-to-new", "corpus.minilm.parquet", false),
    ] {
        let shim = d.path().join(format!("{method}.safetensors"));
        let mut args = vec![os("-q"), os("fit"), os("--method"), os(method)];
        args.extend([os("--direction"), os(direction), os("--old")]);
        args.extend([data.join("corpus.minilm.parquet").into(), os("--new")]);
        args.extend([data.join("corpus.mpnet.parquet").into(), os("--out")]);
        args.push(shim.clone().into());
        if drop_bias {
            args.push(os("--drop-bias"));
        }
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        assert!(shimkit(&refs).status.success(), "fit {method}");
        let module = d.path().join(format!("{method}_Dense"));
        let out = shimkit(&[
            "export".as_ref(),
            "--format".as_ref(),
            "sentence-transformers".as_ref(),
            shim.as_os_str(),
            module.as_os_str(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if method == "cluster" {
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(stderr.contains("cluster shim is not linear"), "{stderr}");
            assert!(!module.exists(), "a refused export left a folder");
            continue;
        }
        assert!(out.status.success(), "{stderr}");
        let readme = std::fs::read_to_string(module.join("README.md")).unwrap();
        assert_eq!(readme.contains("This shim has no bias"), drop_bias);
        // A second export into the same folder is refused and changes nothing.
        let before = std::fs::read(module.join("model.safetensors")).unwrap();
        let again = shimkit(&["export".as_ref(), shim.as_os_str(), module.as_os_str()]);
        assert_eq!(again.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
        assert_eq!(
            std::fs::read(module.join("model.safetensors")).unwrap(),
            before
        );

        let projected = d.path().join(format!("{method}.parquet"));
        let out = shimkit(&[
            "-q".as_ref(),
            "project".as_ref(),
            "--shim".as_ref(),
            shim.as_os_str(),
            "--input".as_ref(),
            data.join(input).as_os_str(),
            "--output".as_ref(),
            projected.as_os_str(),
        ]);
        assert!(out.status.success());
        checks.push((module, data.join(input), projected));
    }
    let Some(py) = python() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/export_check.py");
    for (module, input, projected) in checks {
        let out = Command::new(&py)
            .arg(&script)
            .args([&module, &input, &projected])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
