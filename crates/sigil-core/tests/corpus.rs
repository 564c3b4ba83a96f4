//! The SigmaHQ corpus (../shared/corpus/sigmahq): every live rule loads and lowers; the
//! deprecated and unsupported folders fail only where they use removed syntax.

use std::path::PathBuf;

use sigil_core::collection::Collection;

fn corpus(dir: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/sigmahq")
        .join(dir);
    assert!(
        p.is_dir(),
        "SigmaHQ corpus not found at {} (the tests need ../shared next to the checkout)",
        p.display()
    );
    p
}

/// (documents, rules lowered, errors as text)
fn load(dir: &str) -> (usize, usize, Vec<String>) {
    let c = Collection::load_paths(&[corpus(dir)]).expect("corpus readable");
    let lowered = c.lower();
    let docs = c.documents().count();
    let errors: Vec<String> = c
        .load_errors()
        .chain(lowered.errors.iter())
        .map(|e| e.to_string())
        .collect();
    (docs, lowered.rules.len(), errors)
}

#[test]
fn live_rule_folders_load_and_lower_without_error() {
    let mut total = 0;
    for (dir, expected) in [
        ("rules", 3141),
        ("rules-emerging-threats", 473),
        ("rules-threat-hunting", 140),
        ("rules-placeholder", 23),
        ("rules-compliance", 3),
    ] {
        let (docs, rules, errors) = load(dir);
        assert!(errors.is_empty(), "{dir}: {}", errors.join("\n"));
        assert_eq!(docs, expected, "{dir}: documents");
        assert_eq!(rules, expected, "{dir}: lowered rules");
        total += rules;
    }
    assert_eq!(total, 3780);
}

#[test]
fn deprecated_and_unsupported_fail_only_on_removed_syntax() {
    let (docs, rules, errors) = load("deprecated");
    // Condition syntax errors are load errors: the document does not load.
    assert_eq!((docs, rules), (171, 171));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("pipe aggregation"), "{}", errors[0]);

    let (docs, rules, errors) = load("unsupported");
    // 89 rule documents after collection merging; 58 use v1 aggregations or other
    // non-Sigma condition syntax, each reported with its position.
    assert_eq!(docs + errors.len(), 89);
    assert_eq!(rules, 31);
    assert_eq!(errors.len(), 58);
    let pipes = errors
        .iter()
        .filter(|e| e.contains("pipe aggregation"))
        .count();
    assert_eq!(pipes, 54, "{}", errors.join("\n"));
    for e in &errors {
        assert!(e.contains(".yml:"), "unlocated: {e}");
        assert!(e.contains("condition"), "not a condition error: {e}");
    }
}
