//! Correlation rules over event streams: one test per type, windows, groups, chaining,
//! bounded memory.

use serde_json::{json, Value as Json};
use sigil_core::{load::load_str, Collection};
use sigil_match::{Detection, DetectionKind, Engine, EngineOptions};

const BASE: &str = r#"
title: failed logon
name: failed
logsource: {product: test}
detection:
    sel: {EventID: 4625}
    condition: sel
---
title: success logon
name: success
logsource: {product: test}
detection:
    sel: {EventID: 4624}
    condition: sel
---
title: transfer
name: transfer
logsource: {product: test}
detection:
    sel: {action: transfer}
    condition: sel
"#;

fn engine(corr: &str) -> Engine {
    let src = format!("{BASE}---\n{corr}");
    let lowered = Collection::from_files(vec![load_str(&src, "c.yml")]).lower();
    assert!(lowered.errors.is_empty(), "{:?}", lowered.errors);
    let (e, errors) = Engine::new(&lowered, EngineOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    e
}

fn ev(secs: i64, id: i64, user: &str) -> Json {
    json!({"@timestamp": format!("2024-01-01T00:{:02}:{:02}Z", secs / 60, secs % 60), "EventID": id, "User": user})
}

/// Correlation detections (title, group values, value) per event index.
fn run(e: &mut Engine, events: &[Json]) -> Vec<(usize, String, Vec<Option<String>>, f64)> {
    let mut out = vec![];
    for (i, x) in events.iter().enumerate() {
        for d in e.process(x) {
            if d.kind == DetectionKind::Correlation {
                let Detection {
                    meta, group, value, ..
                } = d;
                out.push((
                    i,
                    meta.title.clone(),
                    group.into_iter().map(|(_, v)| v).collect(),
                    value.unwrap_or(f64::NAN),
                ));
            }
        }
    }
    out
}

#[test]
fn event_count_window_and_groups() {
    let mut e = engine(
        "title: brute force\ncorrelation:\n    type: event_count\n    rules: [failed]\n    group-by: [User]\n    timespan: 1m\n    condition: {gte: 3}\n",
    );
    let events = [
        ev(0, 4625, "a"),
        ev(10, 4625, "b"),
        ev(20, 4625, "a"),
        ev(30, 4624, "a"), // other rule: ignored
        ev(70, 4625, "a"), // the event at 0 left the 60 s window: 2 in window
        ev(75, 4625, "a"), // 3 in [15, 75]: fires
        ev(76, 4625, "a"), // state cleared after firing: 1
        ev(80, 4625, "b"), // b: 10 expired → 1
    ];
    let got = run(&mut e, &events);
    assert_eq!(
        got,
        vec![(5, "brute force".into(), vec![Some("a".into())], 3.0)]
    );
}

#[test]
fn event_count_missing_group_field_is_its_own_group_and_range_conditions() {
    let mut e = engine(
        "title: range\ncorrelation:\n    type: event_count\n    rules: [failed]\n    group-by: [Host]\n    timespan: 10s\n    condition: {gt: 1, lte: 2}\n",
    );
    let got = run(&mut e, &[ev(0, 4625, "a"), ev(1, 4625, "b")]);
    assert_eq!(got, vec![(1, "range".into(), vec![None], 2.0)]);
}

#[test]
fn value_count() {
    let mut e = engine(
        "title: spray\ncorrelation:\n    type: value_count\n    rules: [failed]\n    group-by: [Src]\n    timespan: 5m\n    condition: {field: User, gte: 3}\n",
    );
    let mk = |s: i64, u: &str| {
        let mut x = ev(s, 4625, u);
        x["Src"] = json!("10.0.0.1");
        x
    };
    let got = run(
        &mut e,
        &[
            mk(0, "a"),
            mk(1, "a"),
            mk(2, "b"),
            mk(3, "b"),
            mk(4, "c"),
            mk(5, "d"),
        ],
    );
    assert_eq!(
        got,
        vec![(4, "spray".into(), vec![Some("10.0.0.1".into())], 3.0)]
    );
}

fn transfers(amounts: &[(i64, Json)]) -> Vec<Json> {
    amounts
        .iter()
        .map(|(s, a)| {
            json!({"@timestamp": format!("2024-01-01T00:00:{s:02}Z"), "action": "transfer", "User": "u", "amount": a})
        })
        .collect()
}

#[test]
fn value_sum_and_avg() {
    let mut e = engine(
        "title: sum\ncorrelation:\n    type: value_sum\n    rules: [transfer]\n    group-by: [User]\n    timespan: 10s\n    condition: {field: amount, gt: 100}\n",
    );
    let evs = transfers(&[
        (0, json!(50)),
        (1, json!("x")),
        (2, json!("40")),
        (20, json!(30)),
        (21, json!(80)),
    ]);
    // 50+40 = 90; at 20 the window restarts: 30, then 30+80 = 110 fires.
    assert_eq!(
        run(&mut e, &evs),
        vec![(4, "sum".into(), vec![Some("u".into())], 110.0)]
    );

    let mut e = engine(
        "title: avg\ncorrelation:\n    type: value_avg\n    rules: [transfer]\n    group-by: [User]\n    timespan: 10s\n    condition: {field: amount, gte: 20}\n",
    );
    let evs = transfers(&[(0, json!(10)), (1, json!(20)), (2, json!(40))]);
    assert_eq!(
        run(&mut e, &evs),
        vec![(2, "avg".into(), vec![Some("u".into())], 70.0 / 3.0)]
    );
}

#[test]
fn value_percentile_and_median() {
    let mut e = engine(
        "title: p90\ncorrelation:\n    type: value_percentile\n    rules: [transfer]\n    group-by: [User]\n    timespan: 1m\n    condition: {field: amount, percentile: 90, gte: 91}\n",
    );
    let evs = transfers(&(1..=10).map(|i| (i, json!(i * 10))).collect::<Vec<_>>());
    // Values 10..=100: p90 of the first n values by linear interpolation reaches 91 at n=10.
    let got = run(&mut e, &evs);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, 9);
    assert!((got[0].3 - 91.0).abs() < 1e-9, "{got:?}");

    let mut e = engine(
        "title: median\ncorrelation:\n    type: value_median\n    rules: [transfer]\n    group-by: [User]\n    timespan: 1m\n    condition: {field: amount, eq: 25}\n",
    );
    let evs = transfers(&[
        (0, json!(10)),
        (1, json!(40)),
        (2, json!(20)),
        (3, json!(30)),
    ]);
    // medians: 10, 25 (fires at the second event: mean of 10 and 40); the state is then
    // cleared: 20, then 25 again (mean of 20 and 30).
    assert_eq!(
        run(&mut e, &evs),
        vec![
            (1, "median".into(), vec![Some("u".into())], 25.0),
            (3, "median".into(), vec![Some("u".into())], 25.0)
        ]
    );
}

#[test]
fn temporal() {
    let mut e = engine(
        "title: fail then success\ncorrelation:\n    type: temporal\n    rules: [failed, success]\n    group-by: [User]\n    timespan: 30s\n",
    );
    let got = run(
        &mut e,
        &[
            ev(0, 4624, "a"),  // success first: order does not matter
            ev(5, 4625, "b"),  // other user
            ev(10, 4625, "a"), // both seen within 30 s: fires
            ev(50, 4625, "a"),
            ev(90, 4624, "a"), // 40 s later: too late
        ],
    );
    assert_eq!(
        got,
        vec![(2, "fail then success".into(), vec![Some("a".into())], 2.0)]
    );
}

#[test]
fn temporal_extended_condition() {
    let mut e = engine(
        "title: failed no success\ncorrelation:\n    type: temporal\n    rules: [failed, success]\n    group-by: [User]\n    timespan: 30s\n    condition: failed and not success\n",
    );
    let got = run(
        &mut e,
        &[ev(0, 4624, "a"), ev(1, 4625, "a"), ev(2, 4625, "b")],
    );
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![2]);
}

#[test]
fn temporal_ordered() {
    let mut e = engine(
        "title: ordered\ncorrelation:\n    type: temporal_ordered\n    rules: [failed, success]\n    group-by: [User]\n    timespan: 30s\n",
    );
    let got = run(
        &mut e,
        &[
            ev(0, 4624, "a"),  // success before any failure: no chain
            ev(5, 4625, "a"),  // step 1
            ev(10, 4624, "a"), // step 2: fires
            ev(20, 4624, "b"),
            ev(21, 4625, "b"), // wrong order for b
            ev(60, 4625, "c"),
            ev(95, 4624, "c"), // 35 s: too late
        ],
    );
    assert_eq!(
        got,
        vec![(2, "ordered".into(), vec![Some("a".into())], 2.0)]
    );
}

#[test]
fn aliases_generate_and_chaining() {
    let src = r#"
title: failed by target
name: f2
logsource: {product: test}
detection:
    sel: {EventID: 4625}
    condition: sel
---
title: success by subject
name: s2
logsource: {product: test}
detection:
    sel: {EventID: 4624}
    condition: sel
---
title: inner
name: inner
correlation:
    type: temporal
    rules: [f2, s2]
    aliases:
        u:
            f2: TargetUserName
            s2: SubjectUserName
    group-by: [u]
    timespan: 1m
---
title: outer
correlation:
    type: event_count
    rules: [inner]
    group-by: [u]
    timespan: 1h
    condition: {gte: 2}
"#;
    let lowered = Collection::from_files(vec![load_str(src, "c.yml")]).lower();
    assert!(lowered.errors.is_empty(), "{:?}", lowered.errors);
    let (mut e, errors) = Engine::new(&lowered, EngineOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let f = |s: i64| json!({"eventTime": format!("2024-01-01T00:{:02}:{:02}Z", s / 60, s % 60), "EventID": 4625, "TargetUserName": "x"});
    let s = |t: i64| json!({"eventTime": format!("2024-01-01T00:{:02}:{:02}Z", t / 60, t % 60), "EventID": 4624, "SubjectUserName": "x"});
    let mut titles = vec![];
    for (i, x) in [f(0), s(1), f(100), s(110)].iter().enumerate() {
        for d in e.process(x) {
            titles.push((i, d.meta.title.clone(), d.group.clone()));
        }
    }
    // generate: false (default): the base rules are not reported on their own.
    assert_eq!(
        titles,
        vec![
            (
                1,
                "inner".to_string(),
                vec![("u".to_string(), Some("x".to_string()))]
            ),
            (
                3,
                "inner".to_string(),
                vec![("u".to_string(), Some("x".to_string()))]
            ),
            (
                3,
                "outer".to_string(),
                vec![("u".to_string(), Some("x".to_string()))]
            ),
        ]
    );
}

#[test]
fn memory_is_bounded_by_the_window() {
    let mut e = engine(
        "title: per user\ncorrelation:\n    type: event_count\n    rules: [failed]\n    group-by: [User]\n    timespan: 10s\n    condition: {gte: 1000}\n",
    );
    for i in 0..3000 {
        // A new user every event, 1 s apart: at most ~10 s of groups stay alive.
        let x = json!({"@timestamp": 1_700_000_000 + i, "EventID": 4625, "User": format!("u{i}")});
        e.process(&x);
    }
    assert!(e.live_groups() <= 25, "{} groups alive", e.live_groups());
}

#[test]
fn invalid_correlations_are_reported() {
    let src = format!(
        "{BASE}---\ntitle: bad ordered\ncorrelation:\n    type: temporal_ordered\n    rules: [failed, success]\n    group-by: [User]\n    timespan: 30s\n    condition: failed and success\n"
    );
    let lowered = Collection::from_files(vec![load_str(&src, "c.yml")]).lower();
    let (_, errors) = Engine::new(&lowered, EngineOptions::default());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].to_string().contains("bad ordered"),
        "{}",
        errors[0]
    );
}
