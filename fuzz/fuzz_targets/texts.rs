//! Any bytes as a BEIR `corpus.jsonl`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // Decoder panics the product contains (and turns into errors) are not crashes.
    init: shimkit_data::install_panic_filter(),
    |data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corpus.jsonl");
    std::fs::write(&path, data).unwrap();
    if let Ok(records) = shimkit_data::read_texts(&path) {
        let mut ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), records.len(), "a duplicate id got in");
    }
});
