//! pySigma-format pipeline fixtures (one per transformation type) applied to a fixed rule
//! set; the transformed IR is snapshotted. Invalid pipelines snapshot their located error.

use std::path::Path;

use sigil_core::collection::Collection;
use sigil_pipeline::Pipeline;

fn fixture_dir(sub: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

fn lowered() -> sigil_core::Lowered {
    let c = Collection::load_paths(&[fixture_dir("rules.yml")]).expect("rules load");
    let errs: Vec<_> = c.load_errors().collect();
    assert!(errs.is_empty(), "{errs:?}");
    let l = c.lower();
    assert!(l.errors.is_empty(), "{:?}", l.errors);
    assert_eq!(l.rules.len(), 4);
    l
}

/// Everything a pipeline can change about the rule set, as text.
fn render(set: &sigil_core::Lowered, errors: &[sigil_pipeline::PipelineError]) -> String {
    let mut out = String::new();
    for r in &set.rules {
        out.push_str(&format!("## {} [{}]\n", r.meta.title, r.logsource));
        if !r.fields.is_empty() {
            out.push_str(&format!("fields: {}\n", r.fields.join(", ")));
        }
        for (k, v) in &r.meta.custom {
            out.push_str(&format!("custom {k}: {v}\n"));
        }
        for c in &r.conditions {
            out.push_str(&format!("{c:#}\n"));
        }
    }
    for e in errors {
        // The rule file path is absolute; keep the snapshot machine-independent.
        let text = e.to_string();
        let text = text
            .rsplit_once("tests/fixtures/")
            .map(|(_, t)| t.to_string())
            .unwrap_or(text);
        out.push_str(&format!("error: {text}\n"));
    }
    out
}

#[test]
fn transformation_fixtures() {
    let mut names: Vec<_> = std::fs::read_dir(fixture_dir("pipelines"))
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{} fixtures", names.len());
    let base = render(&lowered(), &[]);
    for path in names {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let src = std::fs::read_to_string(&path).unwrap();
        let p = Pipeline::from_yaml(&src, &name).unwrap_or_else(|e| panic!("{e}"));
        let mut set = lowered();
        let errors = p.apply_lowered(&mut set);
        let text = render(&set, &errors);
        // A fixture that changes nothing proves nothing.
        assert_ne!(text, base, "{name} changed nothing");
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn invalid_pipelines_are_located() {
    let mut names: Vec<_> = std::fs::read_dir(fixture_dir("invalid"))
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    let mut out = String::new();
    for path in names {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let src = std::fs::read_to_string(&path).unwrap();
        match Pipeline::from_yaml(&src, &name) {
            Ok(_) => panic!("{name} loaded"),
            Err(e) => {
                assert!(e.span.is_some(), "{name}: no position: {e}");
                out.push_str(&format!("{e}\n"));
            }
        }
    }
    insta::assert_snapshot!(out);
}
