#![no_main]
//! Any bytes: load (YAML → AST), lower (AST → IR) and print; nothing may panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = sigil_core::load::load_str(text, "fuzz.yml");
    for d in &file.documents {
        if let sigil_core::Document::Rule(r) = d {
            if let Ok(ir) = sigil_core::lower::lower_rule(r) {
                for c in &ir.conditions {
                    let _ = c.to_string();
                }
            }
        }
    }
    for e in &file.errors {
        let _ = e.to_string();
    }
});
