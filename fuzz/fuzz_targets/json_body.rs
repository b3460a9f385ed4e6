//! Any bytes as a JSON projection body. The fast reader must answer exactly what serde's
//! reader answers whenever it answers at all.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shimkit_server::http::encoding::decode_json;
use shimkit_server::http::fast_json::read_request;
use shimkit_server::http::types::ProjectRequest;

fuzz_target!(
    // Decoder panics the product contains (and turns into errors) are not crashes.
    init: shimkit_data::install_panic_filter(),
    |data: &[u8]| {
    let decoded = decode_json(data);
    if let Some((rows, dim, values, normalize)) = read_request(data) {
        let slow: ProjectRequest =
            serde_json::from_slice(data).expect("the fast reader accepted what serde refuses");
        assert_eq!((slow.vectors.rows, slow.vectors.dim), (rows, dim));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&slow.vectors.data), bits(&values));
        assert_eq!(slow.normalize, normalize);
    }
    if let Ok((batch, _)) = decoded {
        assert_eq!(batch.data.len(), batch.rows * batch.dim);
    }
});
