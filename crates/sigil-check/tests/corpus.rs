//! Every validator over SigmaHQ's rules/ (../shared/corpus/sigmahq). The corpus passes
//! SigmaHQ's own CI (pySigma validators, tests/test_logsource.py, test_rules.py), so an
//! error-level finding there is a false positive of ours; the per-validator counts are
//! snapshotted so any change in what we report is reviewed.

use std::collections::BTreeMap;
use std::path::Path;

use sigil_check::{check, Config, Severity};
use sigil_core::collection::find_rule_files;
use sigil_core::load::load_file;
use sigil_core::Collection;

#[test]
fn sigmahq_rules() {
    let root = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/sigmahq/rules"
    ));
    assert!(
        root.is_dir(),
        "SigmaHQ corpus missing at {}: this test needs ../shared/corpus next to the checkout",
        root.display()
    );
    let files = find_rule_files(&[root.to_path_buf()]).unwrap();
    assert!(files.len() > 3000, "{} files", files.len());
    let set = Collection::from_files(files.iter().map(|p| load_file(p)).collect());
    assert_eq!(set.load_errors().count(), 0);
    let lowered = set.lower();
    assert!(lowered.errors.is_empty(), "{:?}", lowered.errors.first());
    let findings = check(&set, &lowered, &Config::default());
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{}: {}: {}", f.file, f.validator, f.message))
        .collect();
    assert!(
        errors.is_empty(),
        "error-level findings on SigmaHQ rules:\n{}",
        errors.join("\n")
    );
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for f in &findings {
        *counts
            .entry(format!("{} {}", f.severity, f.validator))
            .or_default() += 1;
    }
    insta::assert_yaml_snapshot!("sigmahq_rules_findings", counts);
}

/// `check_files` (one pass per file, detection trees released) reports exactly what
/// loading the set, lowering it whole and `check` report: on SigmaHQ's rules/ (rules
/// only: the per-file path) and on the project's testdata/ (filters, correlations and
/// broken files: the whole-set path, trees read again from the kept text).
#[test]
fn check_files_agrees_with_check() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sigmahq = here.join("../../../shared/corpus/sigmahq/rules");
    assert!(
        sigmahq.is_dir(),
        "SigmaHQ corpus missing at {}",
        sigmahq.display()
    );
    for (root, set_level) in [(sigmahq, false), (here.join("../../testdata"), true)] {
        let files = find_rule_files(std::slice::from_ref(&root)).unwrap();
        let set = Collection::from_files(files.iter().map(|p| load_file(p)).collect());
        assert_eq!(
            set.has_set_level_documents(),
            set_level,
            "{}",
            root.display()
        );
        let lowered = set.lower();
        let expected = check(&set, &lowered, &Config::default());
        let got = sigil_check::check_files(&files, &Config::default());
        assert_eq!(got.findings, expected, "{}", root.display());
        assert_eq!(got.errors, lowered.errors, "{}", root.display());
        assert_eq!(got.collection.files.len(), set.files.len());
        for (a, b) in got.collection.files.iter().zip(&set.files) {
            assert_eq!((&a.path, &a.source, a.bom), (&b.path, &b.source, b.bom));
            assert_eq!(a.errors, b.errors, "{}", a.path);
            let metas = |f: &sigil_core::load::LoadedFile| -> Vec<_> {
                f.documents.iter().map(|d| d.meta().clone()).collect()
            };
            assert_eq!(metas(a), metas(b), "{}", a.path);
            if set_level {
                assert_eq!(a.documents, b.documents, "{}", a.path);
            }
        }
    }
}
