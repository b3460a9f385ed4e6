//! Any bytes as an Arrow IPC projection body, with and without a named column.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shimkit_server::http::encoding::decode_arrow;

fuzz_target!(
    // Decoder panics the product contains (and turns into errors) are not crashes.
    init: shimkit_data::install_panic_filter(),
    |data: &[u8]| {
    for column in [None, Some("embedding")] {
        if let Ok((batch, request)) = decode_arrow(data, column) {
            assert_eq!(batch.data.len(), batch.rows * batch.dim);
            let _ = request.other_columns_bytes();
        }
    }
});
