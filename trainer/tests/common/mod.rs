//! What the trainer's integration tests share: the bundled Cranfield set, aligned as
//! `eval` aligns it.

use std::path::{Path, PathBuf};

use shimkit_data::{EvalSet, ReadOptions, Split};
use shimkit_trainer::eval::{AlignNotes, EvalData};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Cranfield set, minilm → mpnet, aligned as `eval` aligns it.
pub fn cranfield() -> (EvalData, AlignNotes) {
    let set = EvalSet::open(root().join("data/cranfield")).unwrap();
    let read = ReadOptions::default();
    let load = |m: &str, s| set.load(m, s, &read).unwrap();
    EvalData::align(
        &load("minilm", Split::Corpus),
        &load("mpnet", Split::Corpus),
        &load("minilm", Split::Queries),
        &load("mpnet", Split::Queries),
        &set.qrels().unwrap(),
    )
    .unwrap()
}
