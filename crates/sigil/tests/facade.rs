//! The facade API on the bundled rules and on the SigmaHQ corpus.

use std::path::PathBuf;

fn corpus() -> PathBuf {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/sigmahq/rules"
    ));
    assert!(
        p.is_dir(),
        "SigmaHQ corpus missing at {}; it must sit in ../shared/corpus next to the checkout",
        p.display()
    );
    p
}

#[test]
fn corpus_rule_set_converts_like_the_backends() {
    let set = sigil::RuleSet::from_dir(corpus()).expect("load");
    assert!(
        set.errors().is_empty(),
        "{:?}",
        &set.errors()[..3.min(set.errors().len())]
    );
    assert!(set.len() >= 3000, "{} rules", set.len());
    let lucene = set.to_lucene();
    assert_eq!(lucene.len(), set.len());
    // Same text as the backend crate gives for the same IR, in the same (path) order.
    let backend = sigil::lucene::LuceneBackend::new(&Default::default()).expect("backend");
    for ((rule, q), ir) in lucene.iter().zip(&set.lowered().rules) {
        use sigil::core::backend::Backend;
        assert_eq!(rule.ir(), ir);
        let direct = backend.convert_rule(ir).map(|v| v.join("\n"));
        assert_eq!(q.as_ref().ok(), direct.as_ref().ok(), "{}", ir.meta.title);
    }
    let ok = lucene.iter().filter(|(_, q)| q.is_ok()).count();
    assert!(
        ok * 100 >= set.len() * 99,
        "only {ok} of {} converted",
        set.len()
    );
    let paths: Vec<&str> = set
        .rules()
        .iter()
        .map(|r| r.meta().source.path.as_ref())
        .collect();
    let mut sorted = paths.clone();
    sorted.sort_by(|a, b| std::path::Path::new(a).cmp(std::path::Path::new(b)));
    assert_eq!(paths, sorted, "rules are not in path order");
}

#[test]
fn from_yaml_reports_what_is_wrong() {
    let none = sigil::Rule::from_yaml(
        "title: c\nname: c\ncorrelation: {type: event_count, rules: [x], timespan: 1m, condition: {gte: 2}}\n",
    )
    .unwrap_err();
    assert!(
        matches!(none, sigil::Error::Invalid(_) | sigil::Error::NoRule(_)),
        "{none}"
    );
    let empty = sigil::Rule::from_yaml("").unwrap_err();
    assert!(matches!(empty, sigil::Error::Invalid(_)), "{empty}");
    let bad = sigil::Rule::from_yaml_named(
        "title: t\nlogsource: {product: p}\ndetection: {sel: {a|contians: x}, condition: sel}\n",
        "bad.yml",
    )
    .unwrap_err();
    assert!(bad.to_string().starts_with("bad.yml:3:"), "{bad}");
    assert!(bad.to_string().contains("contians"), "{bad}");
}

#[test]
fn a_missing_directory_is_an_error() {
    let err = sigil::RuleSet::from_dir("/nonexistent/sigil-rules").unwrap_err();
    assert!(
        err.to_string().contains("no such file or directory"),
        "{err}"
    );
}

#[test]
fn rule_set_matcher_agrees_with_single_rule_matchers() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules");
    let set = sigil::RuleSet::from_dir(dir).expect("load");
    let (all, errors) = set.compile_matcher();
    assert!(errors.is_empty(), "{errors:?}");
    let event = serde_json::json!({
        "eventSource": "eu-west-1.sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
    });
    let single: Vec<bool> = set
        .rules()
        .iter()
        .map(|r| r.compile_matcher().expect("compile").matches(&event))
        .collect();
    assert!(single.iter().any(|m| *m));
    assert_eq!(
        all.matches(&event).len(),
        single.iter().filter(|m| **m).count()
    );
}
