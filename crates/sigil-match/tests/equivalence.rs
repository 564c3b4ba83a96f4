//! The speed machinery is exact: the indexed `RuleSet` (equality keys + literal
//! prefilter) and the flat `JsonEvent` give the same verdicts as evaluating every rule on
//! a `serde_json::Value`, over the SigmaHQ regression events (all Windows rules, with the
//! evtx pipelines) and the invictus CloudTrail events (all CloudTrail rules); and
//! `JsonEvent` reports the same field values as `serde_json::Value` on arbitrary JSON.

mod common;

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::Value as Json;
use sigil_core::Collection;
use sigil_match::{CompiledRule, Event, JsonEvent, RuleSet, Scratch, Value};

fn compiled(dir: PathBuf, pipelines: &[&str]) -> (RuleSet, Vec<(usize, CompiledRule)>) {
    let coll = Collection::load_paths(&[dir]).expect("load rules");
    let mut lowered = coll.lower();
    let p = sigil_pipeline::resolve(&pipelines.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("pipelines");
    let _ = p.apply_lowered(&mut lowered);
    let (set, _) = RuleSet::new(&lowered.rules);
    let each = lowered
        .rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| CompiledRule::compile(r).ok().map(|c| (i, c)))
        .collect();
    (set, each)
}

/// Returns the number of (event, rule) matches, after checking all three ways agree.
fn check(set: &RuleSet, each: &[(usize, CompiledRule)], events: &[Json]) -> usize {
    let mut scratch = Scratch::default();
    let mut out = vec![];
    let mut fast = JsonEvent::default();
    let mut total = 0;
    for (n, v) in events.iter().enumerate() {
        let naive: Vec<usize> = each
            .iter()
            .filter(|(_, r)| r.matches(v))
            .map(|(i, _)| *i)
            .collect();
        set.matching_into(v, &mut scratch, &mut out);
        assert_eq!(
            out, naive,
            "event {n}: RuleSet on Value differs from every rule"
        );
        fast.parse(&v.to_string()).expect("re-parse");
        set.matching_into(&fast, &mut scratch, &mut out);
        assert_eq!(
            out, naive,
            "event {n}: RuleSet on JsonEvent differs from every rule"
        );
        let naive_fast: Vec<usize> = each
            .iter()
            .filter(|(_, r)| r.matches(&fast))
            .map(|(i, _)| *i)
            .collect();
        assert_eq!(
            naive_fast, naive,
            "event {n}: rules on JsonEvent differ from Value"
        );
        total += naive.len();
    }
    total
}

#[test]
fn windows_rules_over_regression_events() {
    let c = common::corpus();
    let mut files = vec![];
    common::walk(
        &c.join("sigmahq/regression_data"),
        &|n| n.ends_with(".json"),
        &mut files,
    );
    let events: Vec<Json> = files.iter().flat_map(|f| common::json_values(f)).collect();
    assert!(events.len() >= 100, "{} regression events", events.len());
    let (set, each) = compiled(
        c.join("sigmahq/rules/windows"),
        &["windows-logsources", "windows-evtx-json"],
    );
    assert!(set.stats().keyed > 2000, "{:?}", set.stats());
    let total = check(&set, &each, &events);
    assert!(total >= events.len(), "only {total} matches");
}

#[test]
fn cloudtrail_rules_over_invictus_events() {
    let c = common::corpus();
    let mut files = vec![];
    common::walk(
        &c.join("cloudtrail/invictus-aws-dataset/CloudTrail"),
        &|n| n.ends_with(".json"),
        &mut files,
    );
    let mut events = vec![];
    for f in files {
        for v in common::json_values(&f) {
            events.extend(v["Records"].as_array().cloned().unwrap_or_default());
        }
    }
    assert!(events.len() >= 2000, "{} CloudTrail events", events.len());
    let (set, each) = compiled(c.join("sigmahq/rules/cloud/aws/cloudtrail"), &[]);
    assert!(set.stats().keyed > 40, "{:?}", set.stats());
    let total = check(&set, &each, &events);
    assert!(total > 0);
}

fn texts<E: Event>(ev: &E, name: &str) -> Vec<String> {
    let mut out = vec![];
    ev.field(name, &mut |v| {
        out.push(format!("{v:?}"));
        false
    });
    out
}

fn all_values<E: Event>(ev: &E) -> Vec<String> {
    let mut out = vec![];
    ev.values(&mut |v| {
        out.push(format!("{v:?}"));
        false
    });
    out
}

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        (-1e6f64..1e6).prop_map(Json::from),
        "[aAé\\\\\"]{0,4}".prop_map(Json::from),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec(("[ab.]{0,2}", inner), 0..4)
                .prop_map(|kv| Json::Object(kv.into_iter().collect())),
        ]
    })
}

/// Field names over the key alphabet of `json_value`.
const NAMES: &[&str] = &[
    "", "a", "b", "a.b", "b.a", "a.a", ".", "a.", ".a", "a.b.a", "a..b", "ab", "ab.a", "b.b.b",
];

proptest! {
    #[test]
    fn json_event_reads_like_value(
        kv in prop::collection::vec(("[ab.]{0,2}", json_value()), 0..5),
        dup in any::<bool>(),
    ) {
        let mut text = String::from("{");
        for (i, (k, v)) in kv.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!("{}:{}", Json::from(k.as_str()), v));
        }
        // Sometimes repeat the first key (the last one wins in Value).
        if dup && !kv.is_empty() {
            text.push_str(&format!(",{}:7", Json::from(kv[0].0.as_str())));
        }
        text.push('}');
        let v: Json = serde_json::from_str(&text).unwrap();
        let fast = JsonEvent::from_json_str(&text).unwrap();
        for name in NAMES {
            prop_assert_eq!(texts(&fast, name), texts(&v, name), "{} in {}", name, text);
        }
        prop_assert_eq!(all_values(&fast), all_values(&v), "{}", text);
    }

    #[test]
    fn json_event_folded_text_is_the_fold(s in "[aAéÉΣσßẞK\\\\ ]{0,8}") {
        let text = format!("{{\"f\": {}}}", Json::from(s.as_str()));
        let fast = JsonEvent::from_json_str(&text).unwrap();
        let mut seen = vec![];
        fast.field_folded("f", &mut |v, f| {
            seen.push((v == Value::Str(&s), f.map(str::to_string)));
            false
        });
        prop_assert_eq!(seen, vec![(true, Some(sigil_match::fold::fold(&s)))]);
    }
}

#[test]
fn json_event_layouts_and_errors() {
    // Non-object roots and dotted keys are kept as Value; errors leave the event empty.
    for text in [
        r#"[{"a": 1}, {"a": 2}]"#,
        r#"{"a.b": 1, "a": {"b": 2}}"#,
        "3",
    ] {
        let v: Json = serde_json::from_str(text).unwrap();
        let fast = JsonEvent::from_json_str(text).unwrap();
        assert!(fast.is_fallback(), "{text}");
        for name in ["a", "a.b"] {
            assert_eq!(texts(&fast, name), texts(&v, name), "{text}");
        }
    }
    let mut ev = JsonEvent::from_json_str(r#"{"a": 1}"#).unwrap();
    assert!(!ev.is_fallback());
    assert!(ev.parse(r#"{"a": 1"#).is_err());
    assert!(texts(&ev, "a").is_empty());
    assert!(ev.parse(r#"{"a": 1} x"#).is_err());
    assert!(ev.parse(r#"{"a": "\ud800"}"#).is_err());
    ev.parse(r#"{"a": {"b": [1, {"c": "X"}, [], [[2]]]}, "e": []}"#)
        .unwrap();
    assert_eq!(texts(&ev, "a.b"), ["Int(1)", "Object", "Int(2)"]);
    assert_eq!(texts(&ev, "a.b.c"), ["Str(\"X\")"]);
    assert!(texts(&ev, "e").is_empty());
    assert!(!JsonEvent::from_value(&serde_json::json!({"x": [1]})).is_fallback());
}

/// Deep nesting of long keys: every leaf's path repeats the whole prefix, which would take
/// memory quadratic in the text; past a budget the event is kept as a `Value` instead, with
/// the same answers.
#[test]
fn json_event_bounds_path_memory() {
    let key = "k".repeat(20_000);
    let leaves: Vec<String> = (0..300).map(|i| format!(r#""l{i}": {i}"#)).collect();
    let mut text = String::new();
    for _ in 0..90 {
        text.push_str(&format!(r#"{{"{key}": "#));
    }
    text.push_str(&format!("{{{}}}", leaves.join(", ")));
    text.push_str(&"}".repeat(90));
    let v: Json = serde_json::from_str(&text).unwrap();
    let fast = JsonEvent::from_json_str(&text).unwrap();
    assert!(fast.is_fallback());
    let leaf = format!("{}.l299", vec![key.as_str(); 90].join("."));
    assert_eq!(texts(&fast, &leaf), ["Int(299)"]);
    assert_eq!(texts(&fast, &leaf), texts(&v, &leaf));
}

/// Keys: mostly plain (a dotted key sends the whole event to the `Value` layout, where
/// the readers cannot differ), sometimes dotted or repeated.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![9 => "[abé\"\\\\]{0,2}", 1 => "[ab.]{1,3}"]
}

/// JSON text with the layouts the hand-written reader must get right: random whitespace,
/// escapes (surrogate pairs, lone surrogates, control characters), numbers at the edges
/// of 64 bits, floats, leading zeros, nesting, and broken documents.
fn json_text() -> impl Strategy<Value = String> {
    let ws = prop::sample::select(vec!["", " ", "\n", "\t ", "\r\n", "\u{c}"]);
    let scalar = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("fals".to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|u| u.to_string()),
        prop::sample::select(vec![
            "-0",
            "0",
            "01",
            "-",
            "1.5",
            "-2e3",
            "1E400",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "9223372036854775807",
            "99999999999999999999",
            "1.",
            ".5",
        ])
        .prop_map(str::to_string),
        "[aé\"\\\\/\u{1}\n\t\u{7f}Σ]{0,6}".prop_map(|s| Json::from(s).to_string()),
        prop::sample::select(vec![
            r#""\ud83d\ude00""#,
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""\u00e9\u0000""#,
            r#""\b\f\n\r\t\/\\\"""#,
            r#""\x""#,
            r#""\u12""#,
            "\"a\u{1}b\"",
            "\"tab\tin\"",
            r#""\ud83dx""#,
            r#""unterminated"#,
        ])
        .prop_map(str::to_string),
    ];
    let value = scalar.prop_recursive(4, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key(), inner), 0..4).prop_map(|kv| {
                let members: Vec<String> = kv
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", Json::from(k)))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    });
    (
        prop::collection::vec((key(), value), 0..5),
        ws.clone(),
        ws,
        prop::sample::select(vec!["", ",", " x", "}"]),
    )
        .prop_map(|(kv, a, b, tail)| {
            let members: Vec<String> = kv
                .into_iter()
                .map(|(k, v)| format!("{a}{}{b}:{a}{v}{b}", Json::from(k)))
                .collect();
            format!("{a}{{{}}}{b}{tail}", members.join(","))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    /// The hand-written reader fills a JsonEvent exactly as the serde_json visitors do, and
    /// fails exactly when serde_json does.
    #[test]
    fn fast_reader_agrees_with_serde(text in json_text()) {
        let (mut fast, mut reference) = (JsonEvent::default(), JsonEvent::default());
        let a = fast.parse(&text);
        let b = reference.parse_reference(&text);
        prop_assert_eq!(a.is_ok(), b.is_ok(), "{:?}: {:?} vs {:?}", text, a, b);
        if let (Err(a), Err(b)) = (&a, &b) {
            prop_assert_eq!(a.to_string(), b.to_string());
        }
        prop_assert_eq!(format!("{fast:?}"), format!("{reference:?}"), "{}", text);
        prop_assert_eq!(fast.is_fallback(), reference.is_fallback());
        for name in NAMES {
            prop_assert_eq!(texts(&fast, name), texts(&reference, name), "{} in {}", name, text);
        }
    }
}
