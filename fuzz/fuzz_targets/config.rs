//! Any bytes as the server's TOML config file, then resolved into settings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shimkit_server::config::PartialConfig;

fuzz_target!(
    // Decoder panics the product contains (and turns into errors) are not crashes.
    init: shimkit_data::install_panic_filter(),
    |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cfg) = PartialConfig::from_toml_str(text, std::path::Path::new("/etc/shimkit")) {
        let _ = cfg.resolve();
    }
});
