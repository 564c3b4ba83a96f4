#![no_main]
//! Any text: the matcher's hand-written JSON reader must fill a `JsonEvent` exactly as the
//! serde_json-driven reference does, and fail exactly when (and as) serde_json fails.

use libfuzzer_sys::fuzz_target;
use sigil_match::JsonEvent;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (mut fast, mut reference) = (JsonEvent::default(), JsonEvent::default());
    let a = fast.parse(text).map_err(|e| e.to_string());
    let b = reference.parse_reference(text).map_err(|e| e.to_string());
    assert_eq!(a, b, "result on {text:?}");
    assert_eq!(format!("{fast:?}"), format!("{reference:?}"), "entries of {text:?}");
    assert_eq!(fast.is_fallback(), reference.is_fallback(), "layout of {text:?}");
});
