//! Every SigmaHQ regression case must match its own rule, with the built-in pipelines
//! `windows-logsources` (log source → Channel/EventID conditions, per SigmaHQ's thor.yml)
//! and `windows-evtx-json` (field names → the evtx_dump JSON layout) applied.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use sigil_core::Collection;
use sigil_match::CompiledRule;

/// Cases that cannot match with the built-in pipelines, and why. Each must still miss (a
/// fix makes this test fail until the entry is removed).
// Empty since windows-evtx-json maps the WMI-Activity UserData elements (commit 7cb5d3e);
// before that, win_wmi_activity_nteventlogfile_cleareventlog missed here.
const KNOWN_GAPS: &[(&str, &str)] = &[];

#[test]
fn regression_events_match_their_rules() {
    let corpus = common::corpus();
    let sigmahq = corpus.join("sigmahq");
    let rule_dirs: Vec<PathBuf> = std::fs::read_dir(&sigmahq)
        .expect("sigmahq dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("rules"))
        })
        .collect();
    let coll = Collection::load_paths(&rule_dirs).expect("load SigmaHQ rules");
    let mut lowered = coll.lower();
    let pipeline = sigil_pipeline::resolve(&[
        "windows-logsources".to_string(),
        "windows-evtx-json".to_string(),
    ])
    .expect("built-in pipelines");
    let perrs = pipeline.apply_lowered(&mut lowered);
    let by_id: HashMap<String, usize> = lowered
        .rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.meta.id.map(|id| (id.to_string(), i)))
        .collect();

    // The whole corpus in one RuleSet: the prefilter must not hide any of these matches.
    let (set, _) = sigil_match::RuleSet::new(&lowered.rules);
    let mut infos = vec![];
    common::walk(
        &sigmahq.join("regression_data"),
        &|n| n == "info.yml",
        &mut infos,
    );
    let mut all_events = vec![];
    let mut total = 0;
    let mut matched = 0;
    let mut report = vec![];
    let mut notes = vec![];
    let mut known_misses = 0;
    for info in &infos {
        let meta: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(info).expect("info.yml")).expect("yaml");
        let Some(tests) = meta["regression_tests_info"].as_sequence() else {
            continue; // commented out (a `raw` case without JSON events)
        };
        let id = meta["rule_metadata"][0]["id"]
            .as_str()
            .expect("rule id")
            .to_string();
        for t in tests {
            let Some(path) = t["path"].as_str() else {
                continue;
            };
            let json = sigmahq.join(path).with_extension("json");
            total += 1;
            let case = json
                .strip_prefix(&sigmahq)
                .unwrap_or(&json)
                .display()
                .to_string();
            let Some(&ri) = by_id.get(&id) else {
                let why = perrs
                    .iter()
                    .find(|e| e.to_string().contains(&id))
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "rule not found in the corpus".into());
                report.push(format!("MISS {case}: {why}"));
                continue;
            };
            let rule = match CompiledRule::compile(&lowered.rules[ri]) {
                Ok(r) => r,
                Err(e) => {
                    report.push(format!("MISS {case}: {e}"));
                    continue;
                }
            };
            let events = common::json_values(&json);
            all_events.extend(events.iter().map(|e| (*e).clone()));
            let hits = events.iter().filter(|e| rule.matches(*e)).count();
            for e in events.iter().filter(|e| rule.matches(*e)) {
                assert!(
                    set.matches(e).iter().any(|m| m.index == ri),
                    "{case}: the RuleSet prefilter hid the match of rule {id}"
                );
            }
            // The JSON export holds every event of the case's .evtx, not only the ones
            // that match: the rule must match at least one. `match_count` is compared and
            // reported, not enforced (see the notes printed below).
            let want = t["match_count"].as_u64().map(|n| n as usize);
            let known = KNOWN_GAPS.iter().find(|(c, _)| case.contains(c));
            if hits >= 1 {
                assert!(
                    known.is_none(),
                    "{case} now matches: remove it from KNOWN_GAPS"
                );
                matched += 1;
                if want.is_some_and(|n| n != hits) {
                    notes.push(format!(
                        "note {case}: {hits} of {} events match, info.yml says match_count {}",
                        events.len(),
                        want.unwrap_or_default()
                    ));
                }
            } else if let Some((_, why)) = known {
                known_misses += 1;
                report.push(format!("KNOWN GAP {case}: {why}"));
            } else {
                report.push(format!(
                    "MISS {case}: none of {} events match rule {id}:\n  {}",
                    events.len(),
                    lowered.rules[ri].conditions[0]
                ));
            }
        }
    }
    // Every event against every rule: the RuleSet (both prefilters and the literal
    // formulas) reports exactly the rules that match when evaluated one by one.
    let each: Vec<(usize, CompiledRule)> = lowered
        .rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| CompiledRule::compile(r).ok().map(|c| (i, c)))
        .collect();
    let mut scratch = sigil_match::Scratch::default();
    let mut out = vec![];
    let mut fast = sigil_match::JsonEvent::default();
    let mut pairs = 0;
    for ev in &all_events {
        let want: Vec<usize> = each
            .iter()
            .filter(|(_, r)| r.matches(ev))
            .map(|(i, _)| *i)
            .collect();
        fast.parse(&ev.to_string()).expect("re-parse");
        set.matching_into(&fast, &mut scratch, &mut out);
        assert_eq!(out, want, "RuleSet vs every rule, event {ev}");
        pairs += want.len();
    }
    eprintln!(
        "RuleSet agrees with evaluating all {} rules on {} events ({pairs} matches)",
        each.len(),
        all_events.len()
    );
    eprintln!("regression recall: {matched}/{total}");
    for r in report.iter().chain(&notes) {
        eprintln!("{r}");
    }
    assert!(total >= 130, "only {total} regression cases found");
    assert_eq!(
        matched + known_misses,
        total,
        "regression cases that do not match:\n{}",
        report.join("\n")
    );
}
