//! Helpers shared by the end-to-end tests: running the program, and finding the Python
//! that the interoperability checks need.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `shimkit` binary built for these tests.
pub fn shimkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args(args)
        .output()
        .expect("run shimkit")
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A Python with pyarrow, numpy and safetensors: `SHIMKIT_PYTHON`, else `.venv/bin/python`,
/// else `python3`. Without one the caller's test says so and passes, unless
/// `SHIMKIT_REQUIRE_PYTHON=1` (CI sets it), which makes a missing Python a failure.
pub fn python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SHIMKIT_PYTHON").map(PathBuf::from),
        Some(root().join(".venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    for c in candidates.into_iter().flatten() {
        let ok = Command::new(&c)
            .args(["-c", "import pyarrow, numpy, safetensors"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(c);
        }
    }
    if std::env::var("SHIMKIT_REQUIRE_PYTHON").is_ok_and(|v| v == "1") {
        panic!("SHIMKIT_REQUIRE_PYTHON=1 but no Python with pyarrow, numpy and safetensors");
    }
    eprintln!(
        "skipped: no Python with pyarrow, numpy and safetensors (set SHIMKIT_PYTHON or create .venv)"
    );
    None
}
