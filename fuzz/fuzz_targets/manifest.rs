//! Any bytes as an evaluation set's `MANIFEST.json` (beside the files it describes).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // Decoder panics the product contains (and turns into errors) are not crashes.
    init: shimkit_data::install_panic_filter(),
    |data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    for name in ["corpus.a.parquet", "queries.a.parquet", "qrels.tsv"] {
        std::fs::write(dir.path().join(name), b"").unwrap();
    }
    std::fs::write(dir.path().join("MANIFEST.json"), data).unwrap();
    let _ = shimkit_data::EvalSet::open(dir.path());
});
