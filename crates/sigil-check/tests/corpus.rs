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

/// `check_files` (one pass per file, rule files trimmed) reports exactly what loading the
/// set, lowering it whole and `check` report: on SigmaHQ's rules/ (rules only: the
/// per-file path) and on the project's testdata/ (filters, correlations and broken files:
/// the whole-set path, files read again). Trimmed files (no finding, no error) keep their
/// path and their rules' identity; the others their text and metadata.
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
        let reported: std::collections::HashSet<&str> = expected
            .iter()
            .map(|f| &*f.file)
            .chain(lowered.errors.iter().map(|e| &*e.file))
            .collect();
        let mut trimmed = 0;
        for (a, b) in got.collection.files.iter().zip(&set.files) {
            assert_eq!((&a.path, a.bom, &a.errors), (&b.path, b.bom, &b.errors));
            assert_eq!(a.documents.len(), b.documents.len(), "{}", a.path);
            if set_level {
                assert_eq!((&a.source, &a.documents), (&b.source, &b.documents));
            } else if a.source.is_empty() && !b.source.is_empty() {
                trimmed += 1;
                assert!(!reported.contains(&*a.path), "{} has findings", a.path);
                for (x, y) in a.documents.iter().zip(&b.documents) {
                    let (x, y) = (x.meta(), y.meta());
                    assert_eq!(
                        (&x.title, x.id, &x.name, &x.source),
                        (&y.title, y.id, &y.name, &y.source)
                    );
                }
            } else {
                assert_eq!(a.source, b.source, "{}", a.path);
                let metas = |f: &sigil_core::load::LoadedFile| -> Vec<_> {
                    f.documents.iter().map(|d| d.meta().clone()).collect()
                };
                assert_eq!(metas(a), metas(b), "{}", a.path);
            }
        }
        // Most SigmaHQ rules have no finding at any severity (2,603 of 3,141 when this
        // was written); nothing is trimmed on the whole-set path.
        assert!(
            if set_level {
                trimmed == 0
            } else {
                trimmed > 2500
            },
            "{trimmed} trimmed"
        );
    }
}

/// A set-level finding (duplicate id, title, file name) in files that were clean on their
/// own: their text, released after the per-file pass, is read again so the finding is
/// located and shown; a file changed since it was checked is reported without a position.
#[test]
fn set_level_findings_in_trimmed_files_are_located() {
    let src =
        "title: Same Title For Both\nid: 0b3a6f0e-5c9e-4b8e-9d7a-6b1f2f6f1a01\nstatus: test\n\
description: A rule used twice to test duplicate detection across files.\n\
references:\n    - https://example.org/a\nauthor: sigil\ndate: 2024-01-01\n\
tags:\n    - attack.execution\n    - attack.t1059\n\
logsource:\n    product: windows\n    category: process_creation\n\
detection:\n    selection:\n        Image|endswith: '\\\\cmd.exe'\n    condition: selection\n\
falsepositives:\n    - Unknown\nlevel: low\n";
    let dir = std::env::temp_dir().join(format!("sigil-trim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["a", "b"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        std::fs::write(dir.join(sub).join("proc_creation_win_same_rule.yml"), src).unwrap();
    }
    let files = find_rule_files(std::slice::from_ref(&dir)).unwrap();
    let single = sigil_check::check_files(&files[..1], &Config::default());
    assert!(single.findings.is_empty(), "{:?}", single.findings);
    assert!(single.collection.files[0].source.is_empty());

    let got = sigil_check::check_files(&files, &Config::default());
    let mut ids: Vec<&str> = got.findings.iter().map(|f| f.validator).collect();
    ids.sort();
    assert_eq!(
        ids,
        ["filename_duplicate", "id_duplicate", "title_duplicate"]
    );
    let second = &got.collection.files[1];
    assert_eq!(&*second.source, src);
    assert!(got.collection.files[0].source.is_empty());
    let mut findings = got.findings.clone();
    sigil_check::resolve_spans(&got.collection, &mut findings);
    let id = findings
        .iter()
        .find(|f| f.validator == "id_duplicate")
        .unwrap();
    assert_eq!(id.span.map(|s| (s.line, s.column)), Some((2, 5)));
    std::fs::remove_dir_all(&dir).unwrap();
}
