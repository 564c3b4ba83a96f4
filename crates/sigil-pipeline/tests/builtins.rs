//! Built-in pipelines: they load, are listed, and rewrite rules as documented.

use sigil_core::{Document, RuleIr};
use sigil_pipeline::{builtins, resolve, Pipeline};

fn rule(src: &str) -> RuleIr {
    let file = sigil_core::load::load_str(src, "rule.yml");
    assert!(file.errors.is_empty(), "{:?}", file.errors);
    let Document::Rule(r) = &file.documents[0] else {
        panic!("not a rule")
    };
    sigil_core::lower::lower_rule(r).expect("lowers")
}

fn apply(specs: &[&str], src: &str) -> String {
    let p = resolve(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("resolves");
    let mut r = rule(src);
    p.apply(&mut r).expect("applies");
    r.conditions
        .iter()
        .map(|c| format!("{c:#}"))
        .collect::<Vec<_>>()
        .join("\n---\n")
}

#[test]
fn every_builtin_loads() {
    for (name, desc) in builtins() {
        assert!(!desc.is_empty());
        let p = Pipeline::builtin(name).unwrap_or_else(|| panic!("{name} does not load"));
        assert_eq!(p.name, name);
        // Loading through from_yaml reports errors the builtin() shortcut would hide.
        assert!(resolve(&[name.to_string()]).is_ok());
    }
}

const PROC: &str = r#"
title: proc
logsource: {category: process_creation, product: windows}
detection:
  sel:
    Image|endswith: '\whoami.exe'
    CommandLine|contains: '/all'
  condition: sel
"#;

#[test]
fn windows_logsources_and_evtx_json() {
    insta::assert_snapshot!(apply(&["windows-evtx-json", "windows-logsources"], PROC));
}
