//! The IR of fixtures covering every modifier, condition form, collection action, filter and
//! correlation type, in the readable `{:#}` form.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use sigil_core::collection::Collection;
use sigil_core::load::load_file;

fn render(rel: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let collection = Collection::from_files(vec![load_file(&root.join(rel))]);
    let lowered = collection.lower();
    let mut out = String::new();
    for e in collection.load_errors().chain(lowered.errors.iter()) {
        writeln!(out, "ERROR {}", e.message()).unwrap();
    }
    for (r, emit) in lowered.rules.iter().zip(&lowered.emit) {
        writeln!(
            out,
            "rule '{}' [{}]{}",
            r.meta.title,
            r.logsource,
            if *emit { "" } else { " (not emitted)" }
        )
        .unwrap();
        for c in &r.conditions {
            writeln!(out, "{c:#}").unwrap();
            writeln!(out, "--").unwrap();
        }
    }
    for c in &lowered.correlations {
        writeln!(
            out,
            "correlation '{}' {} refs={:?} names={:?} group_by={:?} aliases={:?} window={}s generate={}\n  condition={:?}",
            c.meta.title,
            c.kind.name(),
            c.refs,
            c.ref_names,
            c.group_by,
            c.aliases,
            c.timespan_secs,
            c.generate,
            c.condition
        )
        .unwrap();
    }
    out
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/ir");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("testdata/ir")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

#[test]
fn ir_of_fixtures() {
    let files = fixtures();
    assert!(files.len() >= 5);
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let text = render(&format!("testdata/ir/{name}.yml"));
        assert!(!text.contains("ERROR"), "{name}: {text}");
        insta::assert_snapshot!(name, text);
    }
}
