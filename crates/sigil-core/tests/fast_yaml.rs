//! The fast YAML reader must read exactly what serde_yaml reads: every YAML file of the
//! SigmaHQ corpus (all folders, including deprecated/, unsupported/ and the pipelines under
//! tests/) and of this repository is read both ways; where the fast reader accepts a file,
//! the documents must be identical. It must also accept nearly all real rules, or the
//! loader's speed work is silently lost.

use std::path::{Path, PathBuf};

use sigil_core::load::fast_reader_agrees;

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
}

fn check(files: &[PathBuf]) -> (usize, usize, Vec<String>) {
    let (mut accepted, mut declined, mut wrong) = (0, 0, vec![]);
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue; // not UTF-8: the loader rejects it before any YAML reader runs
        };
        match fast_reader_agrees(&text) {
            None => declined += 1,
            Some(Ok(())) => accepted += 1,
            Some(Err(why)) => wrong.push(format!("{}: {why}", f.display())),
        }
    }
    (accepted, declined, wrong)
}

#[test]
fn fast_reader_reads_the_corpus_like_serde_yaml() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/sigmahq");
    assert!(
        root.is_dir(),
        "SigmaHQ corpus not found at {} (../shared beside the project)",
        root.display()
    );
    let mut rules = vec![];
    yaml_files(&root.join("rules"), &mut rules);
    let mut others = vec![];
    for entry in std::fs::read_dir(&root).unwrap().flatten() {
        if entry.path().is_dir() && entry.file_name() != "rules" {
            yaml_files(&entry.path(), &mut others);
        }
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for dir in ["rules", "testdata", "crates/sigil-pipeline"] {
        yaml_files(&repo.join(dir), &mut others);
    }

    let (acc, dec, wrong) = check(&rules);
    eprintln!("SigmaHQ rules/: {acc} read by the fast reader, {dec} left to serde_yaml");
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        acc * 100 >= rules.len() * 98,
        "the fast reader accepts only {acc} of {} SigmaHQ rules",
        rules.len()
    );

    let (acc, dec, wrong) = check(&others);
    eprintln!("other YAML files: {acc} read by the fast reader, {dec} left to serde_yaml");
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
