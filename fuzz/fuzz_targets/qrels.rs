//! Any bytes as `qrels.tsv`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // Decoder panics the product contains (and turns into errors) are not crashes.
    init: shimkit_data::install_panic_filter(),
    |data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qrels.tsv");
    std::fs::write(&path, data).unwrap();
    if let Ok(q) = shimkit_data::Qrels::read(&path) {
        assert!(q.rows() > 0);
        assert!(q.grade_counts().keys().all(|&g| g >= 0), "a negative grade got in");
    }
});
