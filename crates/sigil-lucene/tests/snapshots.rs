//! Fixture rules covering every predicate kind and escaping case, in every case mode.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sigil_core::backend::{Backend, BackendOptions};
use sigil_core::Collection;
use sigil_lucene::LuceneBackend;

fn fixture_rules() -> Vec<sigil_core::RuleIr> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"));
    let coll = Collection::load_paths(&[dir]).expect("fixtures load");
    let lowered = coll.lower();
    assert!(lowered.errors.is_empty(), "{:?}", lowered.errors);
    lowered.rules
}

fn backend(opts: &[(&str, &str)]) -> LuceneBackend {
    LuceneBackend::new(&BackendOptions {
        table: None,
        options: opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    })
    .expect("valid options")
}

fn convert_all(b: &LuceneBackend) -> String {
    let mut out = String::new();
    for r in fixture_rules() {
        out.push_str(&format!("# {}\n", r.meta.title));
        match b.convert_rule(&r) {
            Ok(qs) => {
                for q in qs {
                    assert!(!q.contains(['\n', '\r']), "line break in {q:?}");
                    out.push_str(&q);
                    out.push('\n');
                }
            }
            Err(e) => out.push_str(&format!(
                "{}: {e}\n",
                if e.unsupported {
                    "UNSUPPORTED"
                } else {
                    "ERROR"
                }
            )),
        }
    }
    out
}

#[test]
fn exact_mode() {
    insta::assert_snapshot!(convert_all(&backend(&[])));
}

#[test]
fn lowercase_mode() {
    insta::assert_snapshot!(convert_all(&backend(&[("case", "lowercase")])));
}

#[test]
fn regex_mode_keyword_cidr() {
    insta::assert_snapshot!(convert_all(&backend(&[
        ("case", "regex"),
        ("cidr", "keyword")
    ])));
}

#[test]
fn seed_rule() {
    let coll = Collection::load_paths(&[PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../rules/cloudtrail/sts_get_caller_identity.yml"
    ))])
    .expect("seed rule");
    let lowered = coll.lower();
    let q = backend(&[])
        .convert_rule(&lowered.rules[0])
        .expect("converts");
    assert_eq!(
        q,
        vec!["eventSource:*.sts.amazonaws.com AND eventName:GetCallerIdentity"]
    );
}

#[test]
fn options_are_checked() {
    let bad = |k: &str, v: &str| {
        LuceneBackend::new(&BackendOptions {
            table: None,
            options: [(k.to_string(), v.to_string())].into_iter().collect(),
        })
        .unwrap_err()
    };
    assert!(bad("case", "upper").contains("invalid value 'upper'"));
    assert!(bad("cidr", "x").contains("expected ip or keyword"));
    assert!(bad("colour", "x").contains("unknown option 'colour'"));
    assert!(bad("schedule_interval", "5 minutes").contains("schedule_interval"));
    assert!(LuceneBackend::new(&BackendOptions {
        table: Some("t".into()),
        options: Default::default()
    })
    .is_err());
}

#[test]
fn output_formats() {
    let rules = fixture_rules();
    let rule = rules
        .iter()
        .find(|r| r.meta.title == "exact value")
        .expect("fixture");
    let b = backend(&[]);
    let q = b.convert_rule(rule).expect("converts");
    let mut out = String::new();
    for f in b.formats() {
        out.push_str(&format!(
            "## {f}\n{}\n",
            b.render(f, &rule.meta, &q).expect("renders")
        ));
    }
    insta::assert_snapshot!(out);
    assert!(b.render("xml", &rule.meta, &q).is_err());
}
