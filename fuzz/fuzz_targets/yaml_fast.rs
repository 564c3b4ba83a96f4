#![no_main]
//! Any text: wherever the fast YAML reader accepts it, it must read exactly what
//! serde_yaml reads (same documents, same values, and serde_yaml reports no error).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(Err(why)) = sigil_core::load::fast_reader_agrees(text) {
        panic!("fast reader disagrees with serde_yaml on {text:?}:\n{why}");
    }
});
