//! RuleSet: the prefilter never hides a match (checked against evaluating every rule).

use proptest::prelude::*;
use serde_json::{json, Value as Json};
use sigil_core::{load::load_str, Collection};
use sigil_match::{CompiledRule, JsonEvent, RuleSet, Scratch};

const RULES: &str = r#"
title: r0 contains
id: 00000000-0000-0000-0000-000000000000
level: high
logsource: {product: test}
detection:
    sel:
        CommandLine|contains: 'mimikatz'
    condition: sel
---
title: r1 and with numbers
logsource: {product: test}
detection:
    sel:
        EventID: 1
        Image|endswith: '\rundll32.exe'
    condition: sel
---
title: r2 or of lists
logsource: {product: test}
detection:
    a:
        Image|endswith: ['\a.exe', '\b.exe']
    b:
        CommandLine|contains: 'zz'
    condition: a or b
---
title: r3 not only (always evaluated)
logsource: {product: test}
detection:
    f:
        Image|endswith: '\a.exe'
    condition: not f
---
title: r4 keyword
logsource: {product: test}
detection:
    kw:
        - 'Σίσυφος'
    condition: kw
---
title: r5 number as text
logsource: {product: test}
detection:
    sel:
        EventID|startswith: '46'
    condition: sel
---
title: r6 regex only
logsource: {product: test}
detection:
    sel:
        CommandLine|re: 'b[0-9]'
    condition: sel
---
title: r7 cased
logsource: {product: test}
detection:
    sel:
        CommandLine|contains|cased: 'Zz'
    condition: sel
"#;

/// A RuleSet over the rules in `yaml`, and each rule compiled alone (the reference).
fn build(yaml: &str) -> (RuleSet, Vec<CompiledRule>) {
    let lowered = Collection::from_files(vec![load_str(yaml, "rules.yml")]).lower();
    assert!(lowered.errors.is_empty(), "{:?}", lowered.errors);
    let (set, errors) = RuleSet::new(&lowered.rules);
    assert!(errors.is_empty(), "{errors:?}");
    let each = lowered
        .rules
        .iter()
        .map(|r| CompiledRule::compile(r).unwrap())
        .collect();
    (set, each)
}

fn set() -> (RuleSet, Vec<CompiledRule>) {
    build(RULES)
}

fn brute(each: &[CompiledRule], ev: &Json) -> Vec<usize> {
    (0..each.len()).filter(|i| each[*i].matches(ev)).collect()
}

#[test]
fn matches_and_stats() {
    let (set, each) = set();
    let s = set.stats();
    assert_eq!(s.rules, 8);
    assert_eq!(s.always, 1, "{s:?}"); // r3 (not); r6 requires a regex prefix `b0`..`b9`
    let ev = json!({"EventID": 4688, "Image": "C:\\A.EXE", "CommandLine": "MIMIKATZ Zz"});
    let got: Vec<usize> = set.matches(&ev).iter().map(|m| m.index).collect();
    assert_eq!(got, vec![0, 2, 5, 7]);
    assert_eq!(got, brute(&each, &ev));
    let m = &set.matches(&ev)[0];
    assert_eq!(m.meta.title, "r0 contains");
    let ev = json!({"x": ["ΣΊΣΥΦΟΣ was here"], "CommandLine": "b1"});
    let got: Vec<usize> = set.matches(&ev).iter().map(|m| m.index).collect();
    assert_eq!(got, vec![3, 4, 6]);
}

#[test]
fn failing_rules_are_reported_and_skipped() {
    let src = "title: bad\nlogsource: {product: test}\ndetection:\n    sel:\n        User|expand: '%Admins%'\n    condition: sel\n---\ntitle: good\nlogsource: {product: test}\ndetection:\n    sel:\n        User: root\n    condition: sel\n";
    let lowered = Collection::from_files(vec![load_str(src, "r.yml")]).lower();
    let (set, errors) = RuleSet::new(&lowered.rules);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].to_string().starts_with("bad: "), "{}", errors[0]);
    let got: Vec<usize> = set
        .matches(&json!({"User": "ROOT"}))
        .iter()
        .map(|m| m.index)
        .collect();
    assert_eq!(got, vec![1], "input positions are kept");
}

#[test]
fn literals_are_tied_to_their_field() {
    let (set, each) = set();
    let ev = json!({"Image": "mimikatz", "CommandLine": "x"});
    let (mut scratch, mut out) = (Scratch::default(), vec![]);
    // On a `Value` the field of a literal hit is unknown: r0 (mimikatz in CommandLine)
    // is evaluated besides the always-evaluated r3.
    set.matching_into(&ev, &mut scratch, &mut out);
    assert_eq!(scratch.last_candidates(), 2);
    assert_eq!(out, brute(&each, &ev));
    // A JsonEvent reports each value's field: "mimikatz" in Image wakes nothing.
    let fast = JsonEvent::from_json_str(&ev.to_string()).unwrap();
    set.matching_into(&fast, &mut scratch, &mut out);
    assert_eq!(scratch.last_candidates(), 1);
    assert_eq!(out, vec![3]);
    // A regex prefix literal (r6: `b[0-9]`) likewise only in its own field.
    let fast = JsonEvent::from_json_str(r#"{"Image": "B7", "CommandLine": "x"}"#).unwrap();
    set.matching_into(&fast, &mut scratch, &mut out);
    assert_eq!(scratch.last_candidates(), 1);
    let fast = JsonEvent::from_json_str(r#"{"CommandLine": "xb7"}"#).unwrap();
    set.matching_into(&fast, &mut scratch, &mut out);
    assert_eq!((scratch.last_candidates(), out.clone()), (2, vec![3, 6]));
    // ... while in CommandLine it does, and a keyword literal is found in any field.
    let fast = JsonEvent::from_json_str(r#"{"CommandLine": "MIMIKATZ", "x": {"y": ["ΣΊΣΥΦΟΣ"]}}"#)
        .unwrap();
    set.matching_into(&fast, &mut scratch, &mut out);
    assert_eq!(scratch.last_candidates(), 3);
    assert_eq!(out, vec![0, 3, 4]);
}

fn value() -> impl Strategy<Value = Json> {
    prop_oneof![
        "[a-zA-Z\\\\.ΣσςΊί ]{0,12}".prop_map(Json::from),
        prop::sample::select(vec![
            "C:\\a.exe",
            "x\\B.EXE",
            "\\rundll32.exe",
            "mimikatz",
            "MIMIKATZ",
            "zz",
            "Zz",
            "b7",
            "σίσυφος",
            "46",
            "4688",
        ])
        .prop_map(Json::from),
        (0i64..5000).prop_map(Json::from),
    ]
}

proptest! {
    #[test]
    fn prefilter_never_hides_a_match(
        image in value(), cmd in value(), id in value(), extra in prop::collection::vec(value(), 0..3)
    ) {
        let (set, each) = set();
        let ev = json!({"Image": image, "CommandLine": cmd, "EventID": id, "extra": extra});
        let got: Vec<usize> = set.matches(&ev).iter().map(|m| m.index).collect();
        let want = brute(&each, &ev);
        prop_assert_eq!(&got, &want);
        // The field-tied prefilter on a JsonEvent.
        let fast = JsonEvent::from_json_str(&ev.to_string()).unwrap();
        let got: Vec<usize> = set.matches(&fast).iter().map(|m| m.index).collect();
        prop_assert_eq!(got, want);
    }
}

/// Rules behind the key index (`EventID`), keyword rules with and without a key, and
/// regex prefixes: the scan gates and per-field automata never hide a match.
const KEYED: &str = r#"
title: k0 image under key 1
logsource: {product: test}
detection:
    sel:
        EventID: 1
        Image|endswith: '\rundll32.exe'
    condition: sel
---
title: k1 command line under key 1 or 2
logsource: {product: test}
detection:
    sel:
        EventID: [1, 2]
        CommandLine|contains: 'mimikatz'
    condition: sel
---
title: k2 keyword under key 2
logsource: {product: test}
detection:
    sel:
        EventID: 2
    kw:
        - 'zz'
    condition: sel and kw
---
title: k3 keyword without key
logsource: {product: test}
detection:
    kw:
        - 'b7'
    condition: kw
---
title: k4 regex under key 2
logsource: {product: test}
detection:
    sel:
        EventID: 2
        Image|re: '(?i)\\a\.exe$'
    condition: sel
"#;

/// Rules with neither a literal nor a key: evaluated on every event unless they need a
/// field to be present.
const GATED: &str = r#"
title: g0 negated filters, one of them `null`
logsource: {product: test}
detection:
    f1:
        Image|startswith: 'C:\Windows\'
    f2:
        Image: null
    condition: not 1 of f*
---
title: g1 field reference
logsource: {product: test}
detection:
    sel:
        TargetFilename|fieldref: Image
    condition: sel
---
title: g2 needs nothing
logsource: {product: test}
detection:
    f:
        Image|endswith: '.exe'
    condition: not f
"#;

#[test]
fn rules_needing_a_field_wait_for_it() {
    let (set, each) = build(GATED);
    let s = set.stats();
    assert_eq!((s.always, s.gated), (1, 2), "{s:?}");
    let (mut scratch, mut out) = (Scratch::default(), vec![]);
    for (ev, candidates, want) in [
        (json!({"CommandLine": "x"}), 1, vec![2]),
        (json!({"Image": null, "x": 1}), 2, vec![2]),
        (json!({"Image": "D:\\a.dll"}), 2, vec![0, 2]),
        (json!({"Image": "C:\\Windows\\a.exe"}), 2, vec![]),
        (
            json!({"Image": "a", "TargetFilename": "A"}),
            3,
            vec![0, 1, 2],
        ),
        // An empty array is no value: the field counts as absent.
        (json!({"Image": [], "TargetFilename": "a"}), 1, vec![2]),
    ] {
        assert_eq!(brute(&each, &ev), want, "{ev}");
        set.matching_into(&ev, &mut scratch, &mut out);
        assert_eq!(out, want, "{ev}");
        let fast = JsonEvent::from_json_str(&ev.to_string()).unwrap();
        set.matching_into(&fast, &mut scratch, &mut out);
        assert_eq!(out, want, "{ev}");
        assert_eq!(scratch.last_candidates(), candidates, "{ev}");
    }
}

fn keyed() -> (RuleSet, Vec<CompiledRule>) {
    build(KEYED)
}

#[test]
fn keyed_rules_wake_only_under_their_keys() {
    let (set, each) = keyed();
    assert_eq!(set.stats().keyed, 4, "{:?}", set.stats());
    assert_eq!(set.stats().always, 0, "{:?}", set.stats());
    let (mut scratch, mut out) = (Scratch::default(), vec![]);
    // Key 3 holds for no rule: only the keyword rule k3 can be woken ("zz" is k2's
    // keyword, but k2 needs EventID 2).
    let ev = json!({"EventID": 3, "Image": "x\\rundll32.exe", "CommandLine": "mimikatz zz"});
    let fast = JsonEvent::from_json_str(&ev.to_string()).unwrap();
    set.matching_into(&fast, &mut scratch, &mut out);
    assert_eq!(scratch.last_candidates(), 0);
    assert!(out.is_empty());
    let ev = json!({"EventID": "2", "Image": "C:\\A.EXE", "CommandLine": "mimikatz zz b7"});
    let fast = JsonEvent::from_json_str(&ev.to_string()).unwrap();
    set.matching_into(&fast, &mut scratch, &mut out);
    assert_eq!(out, vec![1, 2, 3, 4]);
    assert_eq!(out, brute(&each, &ev));
}

proptest! {
    #[test]
    fn keyed_prefilter_never_hides_a_match(
        image in value(), cmd in value(), extra in prop::collection::vec(value(), 0..3),
        id in prop::sample::select(vec![json!(1), json!(2), json!(3), json!("2"), json!(2.0)]),
    ) {
        let (set, each) = keyed();
        let ev = json!({"Image": image, "CommandLine": cmd, "EventID": id, "extra": extra});
        let want = brute(&each, &ev);
        let got: Vec<usize> = set.matches(&ev).iter().map(|m| m.index).collect();
        prop_assert_eq!(&got, &want);
        let fast = JsonEvent::from_json_str(&ev.to_string()).unwrap();
        let got: Vec<usize> = set.matches(&fast).iter().map(|m| m.index).collect();
        prop_assert_eq!(got, want);
    }
}

/// Rules whose literal formula (every positive literal of an `And`, not only the wake-up
/// set) drops woken rules before evaluation: nested `and`/`or`, `not`, a regex, a keyword
/// and a key among the operands.
const FORMULAS: &str = r#"
title: f0 two fields
logsource: {product: test}
detection:
    sel:
        Image|contains: '\Windows\'
        CommandLine|contains: 'mimikatz'
    condition: sel
---
title: f1 or of ands
logsource: {product: test}
detection:
    a:
        Image|endswith: '\rundll32.exe'
        CommandLine|contains: 'sekurlsa'
    b:
        CommandLine|contains: 'lsadump'
        ParentImage|endswith: ['\cmd.exe', '\powershell.exe']
    c:
        CommandLine|contains: 'b7b7b7'
    condition: 1 of them
---
title: f2 negation and regex
logsource: {product: test}
detection:
    sel:
        Image|endswith: '\rundll32.exe'
        CommandLine|re: 'lsadump\s+\w'
    f:
        CommandLine|contains: 'sekurlsa'
    condition: sel and not f
---
title: f3 keyword and field
logsource: {product: test}
detection:
    kw:
        - 'σίσυφος'
    sel:
        Image|contains: '\Windows\'
    condition: kw and sel
---
title: f4 under a key
logsource: {product: test}
detection:
    sel:
        EventID: 1
        Image|contains: '\Windows\'
        CommandLine|contains: 'mimikatz'
    condition: sel
---
title: f5 cased and startswith
logsource: {product: test}
detection:
    sel:
        Image|startswith: 'C:\Windows\'
        CommandLine|contains|cased: 'Sekurlsa'
    condition: sel
"#;

fn formula_value() -> impl Strategy<Value = Json> {
    prop_oneof![
        prop::sample::select(vec![
            "C:\\Windows\\rundll32.exe",
            "c:\\windows\\System32\\cmd.exe",
            "x\\POWERSHELL.EXE",
            "\\Windows\\",
            "mimikatz",
            "MimiKatz sekurlsa::logonpasswords",
            "lsadump::sam",
            "LSADUMP  x",
            "lsadump sam",
            "Sekurlsa",
            "b7b7b7",
            "ΣΊΣΥΦΟΣ",
            "σίσυφος",
            "",
        ])
        .prop_map(Json::from),
        (0i64..3).prop_map(Json::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn literal_formulas_never_hide_a_match(
        image in formula_value(), parent in formula_value(), cmd in formula_value(),
        cmd2 in formula_value(), id in formula_value(),
        extra in prop::collection::vec(formula_value(), 0..2),
    ) {
        let (set, each) = formulas();
        // A command line made of two pool values, so literals of different operands meet.
        let cmd = Json::from(format!("{} {}", cmd.as_str().unwrap_or("1"), cmd2.as_str().unwrap_or("")));
        let ev = json!({"Image": image, "ParentImage": parent, "CommandLine": cmd, "EventID": id, "extra": extra});
        let want = brute(each, &ev);
        let fast = JsonEvent::from_json_str(&ev.to_string()).unwrap();
        let got: Vec<usize> = set.matches(&fast).iter().map(|m| m.index).collect();
        prop_assert_eq!(&got, &want);
        let got: Vec<usize> = set.matches(&ev).iter().map(|m| m.index).collect();
        prop_assert_eq!(got, want);
    }
}

/// The FORMULAS set, built once (the property runs 2,000 cases).
fn formulas() -> &'static (RuleSet, Vec<CompiledRule>) {
    static SET: std::sync::OnceLock<(RuleSet, Vec<CompiledRule>)> = std::sync::OnceLock::new();
    SET.get_or_init(|| build(FORMULAS))
}

#[test]
fn literal_formulas_drop_woken_rules() {
    let (set, _) = formulas();
    let (mut scratch, mut out) = (Scratch::default(), vec![]);
    // `\windows\` wakes f0, f3 and f4's scanners, but none of their other literals occurs:
    // nothing is left to evaluate.
    let fast = JsonEvent::from_json_str(
        r#"{"EventID": 1, "Image": "C:\\Windows\\notepad.exe", "CommandLine": "notepad"}"#,
    )
    .unwrap();
    set.matching_into(&fast, &mut scratch, &mut out);
    assert_eq!((scratch.last_candidates(), out.len()), (0, 0));
    let fast = JsonEvent::from_json_str(
        r#"{"EventID": 1, "Image": "C:\\Windows\\x.exe", "CommandLine": "MIMIKATZ"}"#,
    )
    .unwrap();
    set.matching_into(&fast, &mut scratch, &mut out);
    assert_eq!(out, vec![0, 4]);
}
