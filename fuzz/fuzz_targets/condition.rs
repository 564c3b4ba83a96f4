#![no_main]
//! Any text as a condition: parse errors are fine, panics and stack overflows are not.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = sigil_core::condition::parse(text) {
            assert!(e.offset <= text.len());
        }
    }
});
