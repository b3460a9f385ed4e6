//! Any bytes as an API key file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // Decoder panics the product contains (and turns into errors) are not crashes.
    init: shimkit_data::install_panic_filter(),
    |data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(keys) = shimkit_server::auth::ApiKeys::parse(text)
    {
        assert!(keys.enabled());
    }
});
