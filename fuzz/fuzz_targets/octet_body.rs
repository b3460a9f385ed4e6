//! Any bytes as a raw f32 projection body; the first bytes are its row and dimension
//! headers, as text.
#![no_main]

use axum::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use shimkit_server::http::encoding::{DIM_HEADER, ROWS_HEADER, decode_octet};

fuzz_target!(
    // Decoder panics the product contains (and turns into errors) are not crashes.
    init: shimkit_data::install_panic_filter(),
    |data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (a, b) = (data[0] as usize % 24, data[1] as usize % 24);
    let rest = &data[2..];
    if rest.len() < a + b {
        return;
    }
    let (rows, rest) = rest.split_at(a);
    let (dim, body) = rest.split_at(b);
    let mut headers = HeaderMap::new();
    for (name, value) in [(ROWS_HEADER, rows), (DIM_HEADER, dim)] {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.insert(name, v);
        }
    }
    if let Ok(batch) = decode_octet(&headers, body) {
        assert_eq!(batch.data.len() * 4, body.len());
        assert_eq!(batch.rows * batch.dim, batch.data.len());
    }
});
