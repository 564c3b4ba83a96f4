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
