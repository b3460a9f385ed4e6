//! Any bytes as a Parquet embedding table, read whole and streamed: both readers must
//! agree on whether the table is valid and, when it is, on every id and value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shimkit_data::{BatchReader, ReadOptions, TableSource, read_table};

fuzz_target!(
    // Decoder panics the product contains (and turns into errors) are not crashes.
    init: shimkit_data::install_panic_filter(),
    |data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    std::fs::write(&path, data).unwrap();
    let Ok(source) = TableSource::new(&path) else {
        return;
    };
    let options = ReadOptions {
        batch_rows: 7,
        ..ReadOptions::default()
    };
    let whole = read_table(&source, &options);
    let streamed: Result<Vec<_>, _> =
        BatchReader::open(&source, options.clone()).and_then(|r| r.collect());
    match (whole, streamed) {
        (Ok(table), Ok(batches)) => {
            let ids: Vec<&String> = batches.iter().flat_map(|b| &b.ids).collect();
            assert_eq!(ids.len(), table.ids.len(), "row counts differ");
            assert!(ids.iter().zip(&table.ids).all(|(a, b)| *a == b), "ids differ");
            let values: Vec<u32> = batches
                .iter()
                .flat_map(|b| b.vectors.iter().map(|v| v.to_bits()))
                .collect();
            let whole: Vec<u32> = table.vectors.iter().map(|v| v.to_bits()).collect();
            assert_eq!(values, whole, "values differ");
        }
        (Err(_), Err(_)) => {}
        (w, s) => panic!(
            "the readers disagree: whole {:?}, streamed {:?}",
            w.map(|t| t.len()),
            s.map(|b| b.len())
        ),
    }
});
