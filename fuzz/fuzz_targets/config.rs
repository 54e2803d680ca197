//! The config loader: any text loads, or gives errors that name where they are; never a panic, and in
//! bounded time and memory (aliases are counted before anything expands them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3logsbeat::config::{load, Mode, Settings};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match load::load_str(text, "fuzz.yml", &[]) {
        Ok(loaded) => {
            let _ = Settings::validate(loaded, std::path::Path::new("fuzz.yml"), Mode::All);
        }
        Err(errors) => assert!(!errors.is_empty()),
    }
});
