//! All SigmaHQ CloudTrail rules over the invictus-ir AWS attack-simulation dataset (2,900
//! real CloudTrail records, MIT): which rules fire on which events, as a reviewed snapshot.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value as Json;
use sigil_core::Collection;
use sigil_match::RuleSet;

#[test]
fn cloudtrail_rules_over_invictus_events() {
    let corpus = common::corpus();
    let rules_dir = corpus.join("sigmahq/rules/cloud/aws/cloudtrail");
    let lowered = Collection::load_paths(&[rules_dir])
        .expect("load rules")
        .lower();
    assert!(lowered.errors.is_empty(), "{:?}", lowered.errors);
    let (set, errors) = RuleSet::new(&lowered.rules);
    assert!(errors.is_empty(), "{errors:?}");

    let mut files = vec![];
    common::walk(
        &corpus.join("cloudtrail/invictus-aws-dataset/CloudTrail"),
        &|n| n.ends_with(".json"),
        &mut files,
    );
    let mut events: Vec<Json> = vec![];
    for f in &files {
        for doc in common::json_values(f) {
            match doc.get("Records").and_then(Json::as_array) {
                Some(records) => events.extend(records.iter().cloned()),
                None => panic!("{}: no Records array", f.display()),
            }
        }
    }
    assert_eq!(events.len(), 2900, "the dataset has 2,900 records");

    // rule title -> [(eventTime, eventName, eventID)]
    let mut fired: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut total = 0;
    for ev in &events {
        for m in set.matches(ev) {
            total += 1;
            let s = |k: &str| ev.get(k).and_then(Json::as_str).unwrap_or("?").to_string();
            fired
                .entry(format!("{} ({})", m.meta.title, m.meta.display_id()))
                .or_default()
                .push(format!(
                    "{} {} {}",
                    s("eventTime"),
                    s("eventName"),
                    s("eventID")
                ));
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} rules, {} events, {} matches, {} rules fired",
        set.len(),
        events.len(),
        total,
        fired.len()
    );
    for (rule, evs) in &mut fired {
        evs.sort();
        let _ = writeln!(out, "\n{rule}: {} events", evs.len());
        for e in evs {
            let _ = writeln!(out, "  {e}");
        }
    }
    insta::assert_snapshot!(out);
}
