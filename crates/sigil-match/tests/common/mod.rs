//! Shared helpers for the corpus tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

/// `../shared/corpus` next to the workspace; fails loudly when absent.
pub fn corpus() -> PathBuf {
    let p = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    assert!(
        p.join("sigmahq").is_dir() && p.join("cloudtrail").is_dir(),
        "the corpus is missing: expected SigmaHQ and CloudTrail data under {} (CI provides it)",
        p.display()
    );
    p.to_path_buf()
}

/// Every JSON value in a file of concatenated (possibly pretty-printed) JSON documents.
pub fn json_values(path: &Path) -> Vec<Json> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Json>()
        .map(|r| r.unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

pub fn walk(dir: &Path, name_ok: &dyn Fn(&str) -> bool, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, name_ok, out);
        } else if p.file_name().and_then(|n| n.to_str()).is_some_and(name_ok) {
            out.push(p);
        }
    }
}
