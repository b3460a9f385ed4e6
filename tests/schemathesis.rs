//! Schemathesis, a third-party API tester, against `shimkit serve` and the OpenAPI document
//! it serves, with every check on: once with no key file (the document declares no
//! security) and once with keys (every `/v1` route declared and enforced). The binary
//! encodings get valid bodies from `tests/python/schemathesis_hooks.py`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Server, root};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shimkit_trainer::{Direction, Shim, ShimMeta, artifact};

/// The Python that has schemathesis, or `None` (the test then says so and passes, unless
/// `SHIMKIT_REQUIRE_PYTHON=1`, as in CI).
fn schemathesis_python() -> Option<PathBuf> {
    let python = common::python()?;
    let ok = Command::new(&python)
        .args(["-c", "import schemathesis"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    if std::env::var("SHIMKIT_REQUIRE_PYTHON").is_ok_and(|v| v == "1") {
        panic!(
            "SHIMKIT_REQUIRE_PYTHON=1 but {} has no schemathesis",
            python.display()
        );
    }
    eprintln!("skipped: no schemathesis (pip install -r tests/python/requirements.txt)");
    None
}

fn shim_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, d_in, d_out) in [("bridge", 24, 12), ("wide", 8, 32)] {
        let mut rng = ChaCha8Rng::seed_from_u64(d_in as u64);
        let w = Array2::from_shape_fn((d_in, d_out), |_| rng.random_range(-1.0f32..1.0));
        let b = Array1::from_shape_fn(d_out, |_| rng.random_range(-0.1f32..0.1));
        let meta = ShimMeta::new("ridge", Direction::NewToOld, d_in, d_out);
        artifact::save(
            &Shim::new(w, b, meta),
            &d.path().join(format!("{name}.safetensors")),
        )
        .unwrap();
    }
    std::fs::write(d.path().join("aliases.json"), r#"{"prod": "bridge"}"#).unwrap();
    d
}

fn run(python: &PathBuf, server: &Server, key: Option<&str>) {
    let url = format!("http://{}", server.addr);
    // A deeper run: SHIMKIT_SCHEMATHESIS_EXAMPLES=500 SHIMKIT_SCHEMATHESIS_SEED=1.
    let setting = |name: &str, default: &str| std::env::var(name).unwrap_or(default.into());
    let examples = setting("SHIMKIT_SCHEMATHESIS_EXAMPLES", "25");
    let seed = setting("SHIMKIT_SCHEMATHESIS_SEED", "7");
    let mut cmd = Command::new(python);
    cmd.args(["-m", "schemathesis.cli", "run"])
        .arg(format!("{url}/openapi.json"))
        .args([
            "--checks",
            "all",
            "--max-examples",
            &examples,
            "--seed",
            &seed,
        ])
        .args(["--no-color"])
        .env("PYTHONPATH", root())
        .env("SCHEMATHESIS_HOOKS", "tests.python.schemathesis_hooks")
        .env("SHIMKIT_URL", &url)
        .current_dir(root());
    if let Some(key) = key {
        cmd.args(["-H", &format!("Authorization: Bearer {key}")])
            .env("SHIMKIT_KEY", key);
    }
    let out = cmd.output().expect("run schemathesis");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures (keys: {}):\n{text}\n{}",
        key.is_some(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("passed"), "{text}");
}

#[test]
fn schemathesis_passes_without_keys() {
    let Some(python) = schemathesis_python() else {
        return;
    };
    let shims = shim_dir();
    let server = Server::start(&["--shims", shims.path().to_str().unwrap()]);
    run(&python, &server, None);
}

#[test]
fn schemathesis_passes_with_keys() {
    let Some(python) = schemathesis_python() else {
        return;
    };
    let shims = shim_dir();
    let keys = shims.path().join("keys.txt");
    std::fs::write(
        &keys,
        "read read-key-0123456789abc\nadmin admin-key-0123456789abc\n",
    )
    .unwrap();
    let server = Server::start(&[
        "--shims",
        shims.path().to_str().unwrap(),
        "--api-key-file",
        keys.to_str().unwrap(),
    ]);
    run(&python, &server, Some("admin-key-0123456789abc"));
}
