//! Every malformed rule under testdata/invalid/ fails with an exact, located message.

use std::path::{Path, PathBuf};

use sigil_core::collection::Collection;
use sigil_core::load::load_file;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// All errors of one file (loading and lowering), as `sigil check --syntax` prints them.
fn errors_of(rel: &str) -> Vec<String> {
    let root = workspace();
    std::env::set_current_dir(&root).expect("workspace root");
    let collection = Collection::from_files(vec![load_file(Path::new(rel))]);
    let lowered = collection.lower();
    collection
        .load_errors()
        .chain(lowered.errors.iter())
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn every_invalid_rule_fails_with_a_located_message() {
    let dir = workspace().join("testdata/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/invalid")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "only {} invalid fixtures", files.len());
    // Files whose only error cannot have a position (no node to point at).
    let unlocated = ["37_empty_file.yml", "39_alias_bomb.yml"];
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let rel = format!("testdata/invalid/{name}");
        let errs = errors_of(&rel);
        assert!(!errs.is_empty(), "{rel} loaded without error");
        if !unlocated.contains(&name.as_str()) {
            for e in &errs {
                let prefix = format!("{rel}:");
                let rest = e.strip_prefix(&prefix).unwrap_or_else(|| panic!("{e}"));
                let mut parts = rest.splitn(3, ':');
                let line: u32 = parts
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap_or_else(|_| panic!("no line: {e}"));
                let col: u32 = parts
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap_or_else(|_| panic!("no column: {e}"));
                assert!(line >= 1 && col >= 1, "{e}");
            }
        }
        insta::assert_snapshot!(name.trim_end_matches(".yml"), errs.join("\n"));
    }
}
