//! Any bytes as a shim artifact; a shim that loads must map a vector to finite values.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // Decoder panics the product contains (and turns into errors) are not crashes.
    init: shimkit_data::install_panic_filter(),
    |data: &[u8]| {
    let Ok(shim) = shimkit_trainer::artifact::from_bytes(data) else {
        return;
    };
    let d = shim.source_dim();
    if d > 4096 || shim.target_dim() > 4096 {
        return;
    }
    let x = ndarray::Array2::from_shape_fn((3, d), |(i, j)| ((i * 31 + j * 7) % 11) as f32 - 5.0);
    if let Ok(y) = shim.apply(x.view(), false) {
        assert!(y.iter().all(|v| v.is_finite()), "a loaded shim answered a non-finite value");
    }
    let _ = shim.apply(x.view(), true);
});
